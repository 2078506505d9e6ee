package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

var shoalBin string // built once by TestMain for whole-binary tests

func TestMain(m *testing.M) {
	transform.RunEngine() // the SQL endpoint's engine process is this binary
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "shoal-bin")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			shoalBin = filepath.Join(dir, "shoal")
			out, err := exec.Command("go", "build", "-o", shoalBin, ".").CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "building shoal for whole-binary tests: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if shoalBin == "" {
		t.Skip("whole-binary test skipped in -short mode")
	}
}

// startApp runs an in-process Shoal (package app) against a fresh broker
// loaded with msgs, its clock at apptest.OrgNow and org's teams file, and
// waits until it has caught up and released the weeks before apptest.OrgNow
// (settle delay 0): the running server the client commands (report, sql)
// talk to.
func startApp(t *testing.T, org *synth.Org, msgs []synth.Message, opts ...func(*app.Config)) *app.App {
	t.Helper()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dir := t.TempDir()
	cfg := app.DefaultConfig(dir)
	cfg.Brokers, cfg.HTTPAddr = []string{addr}, "127.0.0.1:0"
	cfg.Teams = filepath.Join(dir, "teams.yaml")
	if err := os.WriteFile(cfg.Teams, org.TeamsYAML(), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return apptest.OrgNow }
	cfg.SettleDelay = 0
	for _, o := range opts {
		o(&cfg)
	}
	_, key := apptest.TestKey(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := app.New(ctx, cfg, key, apptest.DiscardLogger())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := p.WaitCaughtUp(wctx, nil); err != nil {
		t.Fatalf("app did not catch up: %v", err)
	}
	if _, err := p.PublishReleases(wctx); err != nil {
		t.Fatal(err)
	}
	return p
}
