package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
)

// TestDiskFullCostsNothing fills the filesystem under DATA_DIR while
// `shoal run` ingests: the commit fails, shoal run exits non-zero saying
// the disk is full and nothing was lost, without checkpointing the failed
// state. Once space is freed, a restart ends with rollups equal to the
// oracle's over every event: nothing lost, nothing counted twice.
func TestDiskFullCostsNothing(t *testing.T) {
	needBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", dataDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root or CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dataDir).Run() })

	_, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	half := len(msgs) / 2
	apptest.Publish(t, addr, "shoal.events", msgs[:half])
	keyPath, _ := apptest.TestKey(t, t.TempDir())
	httpAddr := apptest.FreeAddr(t)
	args := []string{"run", "--brokers", addr, "--data-dir", dataDir, "--pseudonym-key-file", keyPath,
		"--http-addr", httpAddr, "--batch-size", "500", "--batch-latency", "20ms"}
	logs := &apptest.SyncBuffer{}
	cmd := exec.Command(shoalBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if !wait.Until(90*time.Second, func() bool { return counter("http://"+httpAddr, consumedRe) >= half }) {
		cmd.Process.Kill()
		t.Fatalf("shoal run did not consume the first %d messages; its log:\n%s", half, logs.Bytes())
	}

	// Fill the disk, then send the rest: its first commit cannot be written.
	filler := filepath.Join(dataDir, "filler")
	fillDisk(t, filler)
	apptest.Publish(t, addr, "shoal.events", msgs[half:])
	var err error
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("shoal run kept running with a full disk; its log:\n%s", logs.Bytes())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("shoal run with a full disk ended with %v, want exit code 1; its log:\n%s", err, logs.Bytes())
	}
	for _, want := range []string{"the disk is full: free space in", "nothing is lost"} {
		if !strings.Contains(string(logs.Bytes()), want) {
			t.Errorf("shoal run's log does not say %q:\n%s", want, logs.Bytes())
		}
	}

	// Space freed: a restart replays what committed and reads the rest.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(shoalBin, append(args[:len(args):len(args)], "--once")...).CombinedOutput()
	if err != nil {
		t.Fatalf("restart after freeing space: %v\n%s", err, out)
	}
	apptest.OpenStoreMatchingOracle(t, dataDir, msgs).Close()
	t.Logf("shoal run with a full disk:\n%s", logs.Bytes())
}

// fillDisk writes path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	small := make([]byte, 4096) // the last partial blocks too
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
}
