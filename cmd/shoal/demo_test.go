package main

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/synth"
)

// TestDemoOnce runs the README's first command the way a user does (with
// --once so it exits) and checks the summary.
func TestDemoOnce(t *testing.T) {
	needBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(shoalBin, "demo", "--once", "--data-dir", dir, "--embedded-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--sql-addr", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"Caught up in", "events accepted", "refused surveillance_field", "refused malformed_json",
		"teams shown", "rolled up into their unit", "pseudonym key:", "kept in the demo's data dir because this is a demo", "`shoal run` refuses a key inside its --data-dir"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pseudonym.key")); err != nil {
		t.Errorf("demo did not write its generated key: %v", err)
	}
	// Its data dir (key, teams file, DuckDB, broker log, reports) is
	// private to the user who ran it.
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o, want no group or other access", path, info.Mode().Perm())
		}
		return nil
	})
	// A second demo run starts afresh in the same directory.
	out, err = exec.Command(shoalBin, "demo", "--once", "--data-dir", dir, "--embedded-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--sql-addr", "127.0.0.1:0", "--org-weeks", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("second demo: %v\n%s", err, out)
	}
	// A directory demo did not create is refused, not wiped.
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "precious.txt"), []byte("x"), 0o600)
	out, err = exec.Command(shoalBin, "demo", "--once", "--data-dir", foreign).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not created by `shoal demo`") {
		t.Errorf("demo on a foreign dir: err %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(foreign, "precious.txt")); err != nil {
		t.Error("demo removed a file it did not create")
	}
}

// TestEmbeddedBrokerSurvivesKill: events acknowledged by the embedded broker
// of `shoal run` survive a SIGKILL of the process; the restarted run reads
// them from the broker's log under the data dir.
func TestEmbeddedBrokerSurvivesKill(t *testing.T) {
	needBinary(t)
	_, msgs := synth.Generate(synth.Options{Seed: 3, Teams: 6, Units: 2, People: 40, Weeks: 2,
		End: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)})
	dir := t.TempDir()
	keyPath, _ := apptest.TestKey(t, dir)
	dataDir := filepath.Join(dir, "data")
	brokerAddr := apptest.FreeAddr(t)
	args := []string{"run", "--data-dir", dataDir, "--pseudonym-key-file", keyPath, "--embedded-addr", brokerAddr,
		"--batch-latency", "20ms"}

	httpAddr := apptest.FreeAddr(t)
	cmd := exec.Command(shoalBin, append(args, "--http-addr", httpAddr)...)
	logf, _ := os.Create(filepath.Join(dir, "run1.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait.Until(30*time.Second, func() bool { return committedBatches("http://"+httpAddr) >= 0 })
	if err := publishAll(context.Background(), []string{brokerAddr}, "shoal.events", msgs, nil); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	out, err := exec.Command(shoalBin, append(args, "--http-addr", "127.0.0.1:0", "--once")...).CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	store := apptest.OpenStoreMatchingOracle(t, dataDir, msgs)
	store.Close()
}
