package transform

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"time"
)

// IdleCheckpointAfter is how long after the last commit the pipeline
// checkpoints DuckDB's write-ahead log. Until DuckDB's own checkpoint at
// --duckdb-checkpoint-threshold (1GB by default), the log keeps growing
// across bursts: every restart replays it (about 37 s for 1 GB at 20 M
// events) and every outcome query reads its data uncompressed. A pause of
// this long in the stream ends that.
const IdleCheckpointAfter = 10 * time.Second

// CheckpointEvery bounds how long a steady stream, which never pauses for
// the idle interval, leaves its commits in the write-ahead log.
const CheckpointEvery = 5 * time.Minute

// CheckpointWhenIdle checkpoints the store (IdleCheckpoint) once the
// stream has paused for idle after a commit, or once commits have waited
// CheckpointEvery in the log of a stream that never pauses, until ctx ends.
// While a query of the outputs runs DuckDB refuses; the next tick tries
// again. after, if not nil, is called after each checkpoint that
// succeeded (CheckpointedOffsets then says what the file holds).
func (s *Store) CheckpointWhenIdle(ctx context.Context, idle time.Duration, after func(context.Context)) {
	t := time.NewTicker(min(idle, s.checkpointEvery) / 4)
	defer t.Stop()
	var done time.Time    // the last commit the log was checkpointed after
	var waiting time.Time // when a commit after done was first seen
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := s.LastCommit()
		if last.IsZero() || !last.After(done) {
			continue
		}
		if waiting.IsZero() {
			waiting = last
		}
		if time.Since(last) < idle && time.Since(waiting) < s.checkpointEvery {
			continue
		}
		_, _, err := s.IdleCheckpoint(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrCheckpointBusy):
			s.logger.Debug("checkpoint deferred: a query is running")
			continue
		case err != nil:
			s.logger.Warn("write-ahead log not checkpointed; DuckDB checkpoints it at --duckdb-checkpoint-threshold, and a restart replays it", "err", err)
		case after != nil:
			after(ctx)
		}
		done, waiting = last, time.Time{}
	}
}

// IdleCheckpoint is what the pipeline does once the stream has paused:
// it checkpoints the store's write-ahead log (Checkpoint) and then
// returns the Go heap's free pages to the system (released, in bytes).
// While batches flow, the batches in flight keep the heap near
// --go-memory-limit; once they are committed that memory is free but stays
// resident until Go's background scavenger gets to it. At 20 M events
// the resident set fell from 864-973 MiB when ingest caught up to 589-657
// MiB after it, and the pause took no longer than before (2.9-3.2 s, most
// of it the checkpoint; BENCHMARKS.md). It does not lower the peak: the
// weekly report computed later takes DuckDB's memory back up to its limit.
func (s *Store) IdleCheckpoint(ctx context.Context) (walBytes, released int64, err error) {
	walBytes, err = s.Checkpoint(ctx)
	if err != nil {
		return walBytes, 0, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	released = int64(after.HeapReleased) - int64(before.HeapReleased)
	s.logger.Debug("stream paused: free Go heap returned to the system", "released_bytes", released)
	return walBytes, released, nil
}
