package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/privacy"
)

const runSummary = `Consume events from Kafka (or the embedded broker when --brokers is empty), refuse
malformed and monitoring data to the dead-letter topic, pseudonymize person fields and
land everything in DuckDB exactly once. Releases each ISO week once it has ended plus
--settle-delay, under one disclosure policy; every output reads the released weeks only.
Serves /metrics, /healthz, /readyz and the weekly HR reports at /reports/, which it also
writes to DATA_DIR/reports when a week is released.`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.DefaultConfig("data")
	fs := newFlagSet("run", runSummary, stdout, stderr)
	cfg.RegisterFlags(fs)
	once := fs.Bool("once", false, "exit after catching up with everything published when the run started")
	if err := parseFlags(fs, args, &cfg, &cfg.ConfigFile, stdout); err != nil {
		return err
	}
	if err := cfg.Validate(true); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	logger := app.NewLogger(&cfg, stderr)
	key, err := privacy.LoadKeyFile(cfg.PseudonymKeyFile)
	if err != nil {
		return err
	}
	p, err := app.New(ctx, cfg, key, logger)
	if err != nil {
		return err
	}
	if !*once {
		return p.Run(ctx)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	began := time.Now()
	err = p.WaitCaughtUp(rctx, nil)
	st := p.Stats()
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	fmt.Fprintf(stdout, "caught up in %s: %d messages, %d events accepted, %d duplicates ignored, %d refused to %s\n",
		time.Since(began).Round(time.Millisecond), st.Consumed, st.Accepted, st.Duplicates, st.Rejected, cfg.DLQTopic)
	return nil
}
