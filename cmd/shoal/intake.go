package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/privacy"
)

const intakeSummary = `Run only the signed webhook intake, for a deployment apart from shoal run: verify each
source's signature (GitHub, GitLab, Jira, CloudEvents), map its deliveries to contract
events (ids, times, states, the person, the team: never titles, bodies or URLs), resolve the
person through --people, pseudonymize them with the pipeline's key and produce to --brokers
with acks from all replicas, answering the source only once the broker has. /metrics and
/healthz are on --http-addr. SIGHUP reloads the sources and people files. docs/sources.md
sets up each source.`

func runIntake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.DefaultIntakeOnlyConfig()
	fs := newFlagSet("intake", intakeSummary, stdout, stderr)
	cfg.RegisterFlags(fs)
	if err := parseFlags(fs, args, &cfg, &cfg.ConfigFile, stdout); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	lc := app.DefaultConfig("")
	lc.LogLevel, lc.LogFormat = cfg.LogLevel, cfg.LogFormat
	logger := app.NewLogger(&lc, stderr)
	key, err := privacy.LoadKeyFile(cfg.PseudonymKeyFile)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	defer signal.Stop(sig)
	hup := make(chan struct{}, 1)
	go func() {
		for range sig {
			select {
			case hup <- struct{}{}:
			default:
			}
		}
	}()
	return app.RunIntake(ctx, cfg, key, hup, logger)
}
