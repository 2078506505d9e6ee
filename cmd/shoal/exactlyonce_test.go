package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/synth"
)

var (
	batchesRe  = regexp.MustCompile(`(?m)^shoal_ingest_batches_committed_total (\d+)`)
	consumedRe = regexp.MustCompile(`(?m)^shoal_ingest_messages_consumed_total (\d+)`)
)

// committedBatches reads the batch counter of a running shoal, or -1.
func committedBatches(url string) int { return counter(url, batchesRe) }

// counter reads the counter re matches from a running shoal's /metrics,
// or -1.
func counter(url string, re *regexp.Regexp) int {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	m := re.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// killTestSetup publishes a small organisation's weeks of events to a
// test broker and returns them, the data dir and the `shoal run` arguments
// of the kill tests for one HTTP address (small batches, so that a run
// commits many).
func killTestSetup(t *testing.T, weeks int) ([]synth.Message, string, func(httpAddr string, extra ...string) []string) {
	t.Helper()
	_, msgs := synth.Generate(synth.Options{Seed: 9, Teams: 10, Units: 3, People: 80, Weeks: weeks,
		End: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)})
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dir := t.TempDir()
	keyPath, _ := apptest.TestKey(t, dir)
	dataDir := filepath.Join(dir, "data")
	return msgs, dataDir, func(httpAddr string, extra ...string) []string {
		return append([]string{"run", "--brokers", addr, "--data-dir", dataDir, "--pseudonym-key-file", keyPath,
			"--http-addr", httpAddr, "--batch-size", "250", "--batch-latency", "20ms"}, extra...)
	}
}

// TestExactlyOnceUnderSIGKILL kills `shoal run` with SIGKILL at random
// points while it ingests, restarts it each time, and checks that the final
// rollups equal the oracle: nothing lost, nothing counted twice.
func TestExactlyOnceUnderSIGKILL(t *testing.T) {
	needBinary(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("kill-point seed %d", seed)

	// make test-kill runs 20 (SHOAL_KILL_TEST_KILLS); make test 4.
	runs := 4
	if n, err := strconv.Atoi(os.Getenv("SHOAL_KILL_TEST_KILLS")); err == nil && n > 0 {
		runs = n
	}
	msgs, dataDir, args := killTestSetup(t, 2+runs/2)
	dir := filepath.Dir(dataDir)
	kills := 0
	for i := 0; i < runs; i++ {
		httpAddr := apptest.FreeAddr(t)
		log, err := os.Create(filepath.Join(dir, fmt.Sprintf("run-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(shoalBin, args(httpAddr)...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until this run has committed a few batches, then kill it at a
		// random moment shortly after; the last three runs are killed under
		// a second after they start, committed or not.
		if i < runs-3 || runs <= 3 {
			target := 1 + rng.IntN(8)
			wait.Until(60*time.Second, func() bool { return committedBatches("http://"+httpAddr) >= target })
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(300+rng.IntN(600)) * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		log.Close()
		kills++
	}

	began := time.Now()
	out, err := exec.Command(shoalBin, args(apptest.FreeAddr(t), "--once")...).CombinedOutput()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	// Reported, not asserted: every partition is read from the start of
	// the final run (no group session to wait out).
	t.Logf("after %d kills the final run read every partition and caught up in %s: %s", kills, time.Since(began).Round(time.Millisecond), out)

	store := apptest.OpenStoreMatchingOracle(t, dataDir, msgs)
	defer store.Close()
	_, bad := apptest.CountBad(msgs)
	rej, err := store.Rejections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range rej {
		total += n
	}
	if total != bad {
		t.Errorf("stored rejections %d, want %d (each refused event counted once)", total, bad)
	}
}

// TestExactlyOnceAfterWALSetAside kills `shoal run` while its batches are
// still only in DuckDB's write-ahead log, corrupts that log as a kill in
// the middle of writing it can, and checks that the next run, which sets
// the log aside and opens the last checkpoint, reads the lost batches again
// although the consumer group had committed their offsets: nothing lost,
// nothing counted twice.
func TestExactlyOnceAfterWALSetAside(t *testing.T) {
	needBinary(t)
	msgs, dataDir, args := killTestSetup(t, 2)
	httpAddr := apptest.FreeAddr(t)
	cmd := exec.Command(shoalBin, args(httpAddr)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait.Until(60*time.Second, func() bool { return committedBatches("http://"+httpAddr) >= 8 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// A checksum that fails near the start of the log: everything after
	// the last checkpoint is gone, while the group has committed offsets.
	wal := filepath.Join(dataDir, "shoal.duckdb.wal")
	b, err := os.ReadFile(wal)
	if err != nil || len(b) < 64<<10 {
		t.Fatalf("want a write-ahead log of some batches after the kill: %d bytes, %v", len(b), err)
	}
	for i := 16 << 10; i < 32<<10; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(wal, b, 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(shoalBin, args(apptest.FreeAddr(t), "--once")...).CombinedOutput()
	if err != nil {
		t.Fatalf("run after the corrupted log: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("could not be replayed")) {
		t.Fatalf("the run did not set the write-ahead log aside:\n%s", out)
	}
	store := apptest.OpenStoreMatchingOracle(t, dataDir, msgs)
	store.Close()
}
