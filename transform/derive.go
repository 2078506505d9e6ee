package transform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// Landing and deriving (issue 24: cost that follows the events). A Commit
// lands the batch: its new events, their dedup keys, a copy of them in
// pending, the offsets and the refusal counts. The derived state
// (rollup.go) is brought up to date from pending, which it empties, only
// when that is due: when pending holds DeriveEvents events or its oldest
// has waited DeriveAfter (then in the same transaction as the commit that
// made it due, so a failure leaves nothing of either), before anything
// reads the derived state (flush), before a checkpoint, an erasure or a
// retention pass. Each derivation scans the derived tables once, whatever
// the number of events it derives, so a trickle of small batches pays
// those scans every few minutes instead of once per batch, and a catch-up
// once per DeriveEvents events instead of once per batch. pending is
// durable: a crash loses nothing, and exactly-once holds because an event
// enters pending in the transaction that stores it and its offsets.
// pending has staging's layout (events and h, the dedup key), so the
// derive steps read it directly instead of a staged copy.
const pendingDDL = `CREATE TABLE IF NOT EXISTS pending AS SELECT *, CAST(NULL AS HUGEINT) AS h FROM events LIMIT 0`

// Defaults of Config.DeriveEvents and Config.DeriveAfter.
const (
	// DefaultDeriveEvents bounds one derivation's input: Rebuild derives
	// 2 M events at a time within a 512 MB DuckDB memory limit
	// (defaultRebuildSlice).
	DefaultDeriveEvents = 1_000_000
	// DefaultDeriveAfter is how long an event may wait in pending while the
	// stream flows: the outputs read released weeks only, so nothing shows
	// the derived state before a release, which flushes first.
	DefaultDeriveAfter = 5 * time.Minute
)

var (
	stepResetLanding = step{name: "reset landing tables", sql: tempSQL[0] + ";\n" + tempSQL[1]}
	stepPending      = step{name: "keep for deriving", sql: `INSERT INTO pending SELECT * FROM staging`}
	stepClearPending = step{name: "clear pending", sql: `DELETE FROM pending`}
	// pendingSteps derive pending's events (batchSteps read staging).
	pendingSteps = derive("pending")
)

// addPendingKey gives a pending table of an earlier version (events'
// columns only) the h column, filled (Open).
func (s *Store) addPendingKey(ctx context.Context) error {
	var has bool
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'pending' AND column_name = 'h'`).Scan(&has); err != nil {
		return fmt.Errorf("look for pending's key column: %w", err)
	}
	if has {
		return nil
	}
	if _, err := s.conn.ExecContext(ctx, `ALTER TABLE pending ADD COLUMN h HUGEINT; UPDATE pending SET h = `+keyExpr); err != nil {
		return fmt.Errorf("add the key column to pending: %w", err)
	}
	return nil
}

// loadPending reads how many events wait in pending (Open).
func (s *Store) loadPending(ctx context.Context) error {
	var n int64
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM pending`).Scan(&n); err != nil {
		return fmt.Errorf("count pending events: %w", err)
	}
	s.pending = n
	if n > 0 {
		s.pendingSince = time.Now()
	}
	return nil
}

// deriveLocked brings the derived state up to date with pending, in a
// transaction of its own, and returns the cells it touched. Call it with
// mu held.
func (s *Store) deriveLocked(ctx context.Context) (int64, error) {
	if s.pending == 0 {
		return 0, nil
	}
	var cells int64
	var res event.CommitResult
	err := s.inTx(ctx, func() error {
		var err error
		cells, err = s.deriveTx(ctx, &res)
		return err
	})
	if err != nil {
		if s.markFailed(err) {
			return 0, s.failedError()
		}
		return 0, fmt.Errorf("derive %d events: %w", s.pending, err)
	}
	s.pending = 0
	s.countedCorrections(res)
	return cells, nil
}

// countedCorrections adds a committed derivation's time-entry
// corrections to the store's totals (TimeCorrections).
func (s *Store) countedCorrections(res event.CommitResult) {
	s.corrections.Add(res.TimeCorrections)
	s.correctionsLate.Add(res.TimeCorrectionsAfterRelease)
}

// TimeCorrections is how many time-entry corrections this process has
// derived, and how many of them touched a released week: they are
// counted when the stored events are derived (derive.go), within minutes
// of their commit.
func (s *Store) TimeCorrections() (total, afterRelease int64) {
	return s.corrections.Load(), s.correctionsLate.Load()
}

// deriveTx derives pending and empties it, in the caller's transaction
// (a Commit's, when deriving is due, or deriveLocked's), and counts the
// time-entry corrections it applied into res.
//
// Every step runs on all the cores (Store.scanThreads): a derivation is
// up to DeriveEvents events at once, long enough that the Go side has
// the next batch ready and waits for it.
func (s *Store) deriveTx(ctx context.Context, res *event.CommitResult) (_ int64, err error) {
	if s.scanThreads > s.threads {
		if err := s.setThreads(ctx, s.scanThreads); err != nil {
			return 0, err
		}
		threads := s.threads
		s.threads = s.scanThreads // exec leaves the count alone meanwhile
		defer func() {
			s.threads = threads
			if tErr := s.setThreads(context.Background(), threads); tErr != nil {
				err = errors.Join(err, tErr)
			}
		}()
	}
	if _, err := s.exec(ctx, stepResetScratch); err != nil {
		return 0, err
	}
	cells, err := s.run(ctx, pendingSteps)
	if err != nil {
		return 0, err
	}
	if err := s.countCorrections(ctx, res, "pending"); err != nil {
		return 0, err
	}
	_, err = s.exec(ctx, stepClearPending)
	return cells, err
}

// deriveNow is deriveLocked for a caller that only needs it done (mu held).
func (s *Store) deriveNow(ctx context.Context) error {
	_, err := s.deriveLocked(ctx)
	s.pendingCount.Store(s.pending)
	return err
}

// flush derives what pending holds, if anything, so that a reader of the
// derived state sees every stored event. Readers call it before readLock.
func (s *Store) flush(ctx context.Context) error {
	if s.pendingCount.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	return s.deriveNow(ctx)
}

// Flush derives the events that wait in pending (see the top of this
// file); the read methods do it themselves.
func (s *Store) Flush(ctx context.Context) error { return s.flush(ctx) }

// Pending is how many stored events wait to be derived.
func (s *Store) Pending() int64 { return s.pendingCount.Load() }
