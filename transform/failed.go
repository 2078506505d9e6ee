package transform

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// markFailed decides, after err failed a commit, whether the store must stop
// writing: when DuckDB reports an I/O or fatal error (a full disk among
// them), or no longer answers on the write connection, what it holds in
// memory may differ from the file and its write-ahead log. From then on
// every write returns event.ErrSinkFailed and Close does not checkpoint,
// so the failed state never reaches the file; a restart replays the log
// and the batch is read from Kafka again. An error DuckDB rolled back
// cleanly (the store still answers) is left to the caller to retry. It
// reports whether the store is now failed. Call it with mu held.
func (s *Store) markFailed(err error) bool {
	if s.failed != nil {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if s.answers() {
			return false
		}
	} else if !fatalDuckDBError(err) && s.answers() {
		return false
	}
	s.failed = err
	s.logger.Error("a commit failed and DuckDB may no longer match its file: the store takes no more batches and will not checkpoint; "+
		"nothing is lost (the batch's offsets were not committed): restart Shoal and it replays the write-ahead log and reads the batch again"+s.diskHint(err),
		"path", s.path, "err", err)
	return true
}

// answers reports whether the write connection still runs a statement.
func (s *Store) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var one int
	return s.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one) == nil
}

// fatalDuckDBError reports whether err is an error after which DuckDB's
// state cannot be trusted: an I/O error (a full disk, a failed write or
// fsync), a fatal or internal error, or a database already invalidated.
func fatalDuckDBError(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"IO Error", "FATAL Error", "INTERNAL Error", "database has been invalidated", "No space left on device"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// diskHint is what to do when err says the disk is full.
func (s *Store) diskHint(err error) string {
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "No space left on device") {
		return "; the disk is full: free space in " + filepath.Dir(s.abs) + " first"
	}
	return ""
}

// failedError is what every write returns once the store failed.
func (s *Store) failedError() error {
	return fmt.Errorf("%w (%s): restart Shoal; it replays the write-ahead log and reads the failed batch from Kafka again, so nothing is lost%s: %w",
		event.ErrSinkFailed, s.path, s.diskHint(s.failed), s.failed)
}

// writable is nil while the store takes writes: ErrClosed after Close,
// the failure after a failed commit (markFailed). The caller holds s.mu.
func (s *Store) writable() error {
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		return s.failedError()
	}
	return nil
}
