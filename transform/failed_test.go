package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// TestFatalCommitStopsTheStore: a commit that fails with an I/O error (a
// full disk) stops the store: every later write returns
// event.ErrSinkFailed with what to do, and Close does not checkpoint, so
// the write-ahead log (the last good state) is still there. Reopened, the
// store holds exactly what committed before, and the failed batch commits.
// A healthy Close checkpoints and leaves no log.
func TestFatalCommitStopsTheStore(t *testing.T) {
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: path, Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	commit(t, s, mem, g.ev(event.TaskCreated, 0, 9, task("A")), g.ev(event.TaskStarted, 0, 10, task("A")))
	before := takeSnapshot(t, s)

	later := []event.Event{g.ev(event.TaskCompleted, 1, 9, task("A")), g.ev(event.TaskCreated, 1, 10, task("B"))}
	s.failpoint = func(step string) error {
		if step == stepInsert.name {
			return errors.New(`IO Error: Could not write file "shoal.duckdb.wal": No space left on device`)
		}
		return nil
	}
	rec := record(mem, later)
	defer rec.Release()
	batch := &event.Batch{Record: rec, Topic: "shoal.events", Offsets: map[int32]int64{0: 4}}
	_, err = s.Commit(ctx, batch)
	if !errors.Is(err, event.ErrSinkFailed) {
		t.Fatalf("commit with a full disk: %v, want event.ErrSinkFailed", err)
	}
	for _, want := range []string{"No space left on device", "free space in " + filepath.Dir(path), "nothing is lost"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	s.failpoint = nil
	if _, err := s.Commit(ctx, batch); !errors.Is(err, event.ErrSinkFailed) {
		t.Errorf("commit after the failure: %v, want event.ErrSinkFailed (no retry on the same handle)", err)
	}
	if _, err := s.Checkpoint(ctx); !errors.Is(err, event.ErrSinkFailed) {
		t.Errorf("checkpoint after the failure: %v, want event.ErrSinkFailed", err)
	}
	if err := s.Rebuild(ctx); !errors.Is(err, event.ErrSinkFailed) {
		t.Errorf("rebuild after the failure: %v, want event.ErrSinkFailed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(walPath(path)); err != nil || fi.Size() == 0 {
		t.Fatalf("the failed store's close checkpointed: write-ahead log %v, %v", fi, err)
	}

	s, err = Open(ctx, Config{Path: path, Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(before, after) {
		t.Fatalf("reopened store differs from the last commit:\nbefore %+v\nafter  %+v", before, after)
	}
	res, err := s.Commit(ctx, batch)
	if err != nil || res.Inserted != 2 {
		t.Fatalf("the failed batch after the restart: %+v, %v; want 2 inserted", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(walPath(path)); err == nil && fi.Size() > 0 {
		t.Errorf("a healthy close left a %d-byte write-ahead log: it should checkpoint", fi.Size())
	}
}

// TestRolledBackCommitIsRetried: an error DuckDB rolls back cleanly (the
// store still answers) does not stop the store.
func TestRolledBackCommitIsRetried(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	evs := []event.Event{g.ev(event.TaskCreated, 0, 9, task("A"))}
	s.failpoint = func(string) error { return errors.New("Constraint Error: injected") }
	rec := record(mem, evs)
	defer rec.Release()
	if _, err := s.Commit(context.Background(), &event.Batch{Record: rec, Topic: "shoal.events", Offsets: map[int32]int64{0: 1}}); err == nil || errors.Is(err, event.ErrSinkFailed) {
		t.Fatalf("commit with a statement error: %v, want a retryable error", err)
	}
	s.failpoint = nil
	if res := commit(t, s, mem, evs...); res.Inserted != 1 {
		t.Fatalf("retried commit: %+v", res)
	}
}

// TestSteadyStreamIsCheckpointed: a stream that never pauses for the idle
// interval still has its write-ahead log checkpointed every
// checkpointEvery.
func TestSteadyStreamIsCheckpointed(t *testing.T) {
	mem := checkedMem(t)
	var logs syncLog
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "shoal.duckdb"), Threads: 2},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.checkpointEvery = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.CheckpointWhenIdle(ctx, time.Hour, nil); close(done) }()
	var g ids
	for i := range 40 {
		commit(t, s, mem, g.ev(event.TaskCreated, 0, 9, task(fmt.Sprint("T", i))))
		time.Sleep(25 * time.Millisecond)
	}
	cancel()
	<-done
	if n := strings.Count(logs.String(), "write-ahead log checkpointed"); n == 0 {
		t.Errorf("a 1 s steady stream was never checkpointed with checkpointEvery 300ms; log:\n%s", logs.String())
	}
}

// syncLog is a goroutine-safe log sink.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
