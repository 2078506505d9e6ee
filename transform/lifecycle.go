package transform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
)

// The data lifecycle: what is deleted, and when (docs/privacy.md,
// "Retention and erasure").
//
// Retention (Retain) deletes the rows that hold or follow one person from
// the days before a horizon the caller picks (app: a number of weeks after
// the week's release): the events, their dedup keys, team_day_people and
// team_day_tasks, and the task and request state rows of tasks and
// requests that were completed, cancelled or answered before it. The
// ledger (releases), team_day (team aggregates, no person), the refusal
// counts and the state of tasks and requests still open stay. It deletes a
// week of days per transaction, oldest first, recording the horizon
// reached in shoal_meta, so a stop halfway loses nothing and the next run
// goes on. A new event dated before the horizon is not stored
// (CommitResult.Expired): its week was released long ago and its
// neighbours are gone.
//
// Erasure (Erase) deletes every event and team_day_people row of the given
// pseudonyms and derives the touched teams' state again from the events
// that remain, as if the person's events had never arrived, then records
// an entry in erasures (time and counts, never a pseudonym). Released
// cells stay: they were decided over at least k contributors under the
// disclosure rules. DuckDB leaves a deleted row's bytes in its blocks
// (and a rewritten table's old blocks are only marked free), so the erasure
// ends with Compact: the file is copied, live rows only, into a new file
// that replaces it.
//
// What neither can do, and why (measured on DuckDB 1.1.2): derived state
// is computed from the events, so a Rebuild or an erasure after retention
// derives a team's tasks from the events still stored. A task or request
// still open whose earliest events are past the horizon is recomputed from
// its later events only (its created or started time is then unknown, and
// its lead or cycle time is not counted when it completes); a task with no
// stored event keeps its row as it was.

const (
	// retainedFromMeta is the shoal_meta row holding the retention horizon:
	// no row of a day before it holds or follows a person.
	retainedFromMeta = "retained_from_day"
	// compactPendingMeta is 1 from an erasure's commit until the file has
	// been compacted (Compact): a crash in between compacts at the next Open.
	compactPendingMeta = "compact_pending"
)

// erasuresDDL: one row per erasure, never a pseudonym. persons is how many
// ids were asked for, found how many had rows.
const erasuresDDL = `CREATE TABLE IF NOT EXISTS erasures (
	erased_at TIMESTAMP NOT NULL,
	persons   INTEGER   NOT NULL,
	found     INTEGER   NOT NULL,
	events    BIGINT    NOT NULL,
	rows      BIGINT    NOT NULL
)`

// dayArg is a day number (days since 1970-01-01) as a DATE in SQL.
const dayArg = `(DATE '1970-01-01' + CAST(? AS INTEGER))`

// RetainResult is what one Retain deleted.
type RetainResult struct {
	// From is the horizon before the call, To after it (no row of a day
	// before To holds or follows a person).
	From, To int32
	// Rows deleted per table.
	Deleted map[string]int64
}

// Total is the number of rows deleted.
func (r RetainResult) Total() int64 {
	var n int64
	for _, v := range r.Deleted {
		n += v
	}
	return n
}

// RetainedFrom is the retention horizon: the first day whose rows are
// kept (false before the first Retain).
func (s *Store) RetainedFrom() (int32, bool) {
	rf := s.retainedFrom.Load()
	return rf, rf != noHorizon
}

// noHorizon is retainedFrom before any retention.
const noHorizon = -1 << 31

// loadLifecycle reads the retention horizon from shoal_meta.
func (s *Store) loadLifecycle(ctx context.Context) error {
	s.retainedFrom.Store(noHorizon)
	var v sql.NullInt64
	err := s.conn.QueryRowContext(ctx, `SELECT value FROM shoal_meta WHERE name = '`+retainedFromMeta+`'`).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the retention horizon: %w", err)
	}
	if v.Valid {
		s.retainedFrom.Store(int32(v.Int64))
	}
	return nil
}

// Retain deletes the rows of the days before horizon that hold or follow a
// person (see the top of this file), a week of days per transaction,
// oldest first. Days that are not released yet are never deleted: the
// caller passes a horizon at or before the end of the last released week
// (ErrUnreleased otherwise). progress, if set, is called after each
// transaction.
func (s *Store) Retain(ctx context.Context, horizon int32, progress func(RetainResult)) (RetainResult, error) {
	res := RetainResult{Deleted: map[string]int64{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return res, err
	}
	// pending's copies of events before the horizon would bring their
	// rows back: derive them first.
	if err := s.deriveNow(ctx); err != nil {
		return res, err
	}
	res.From, res.To = s.retainedFrom.Load(), s.retainedFrom.Load()
	if rt := s.releasedThrough.Load(); rt == noRelease || horizon > rt+1 {
		return res, fmt.Errorf("retain before %s: %w", calendar.DayTime(horizon).Format(time.DateOnly), ErrUnreleased)
	}
	if horizon <= res.From {
		return res, nil
	}
	var oldest sql.NullInt32
	if err := s.conn.QueryRowContext(ctx, `SELECT CAST(min(day) - DATE '1970-01-01' AS INTEGER) FROM events`).Scan(&oldest); err != nil {
		return res, fmt.Errorf("retain: oldest event: %w", err)
	}
	from := horizon
	if oldest.Valid {
		from = min(oldest.Int32, horizon)
	}
	// Whole weeks of days per transaction, then the state rows of what
	// ended before the horizon in the last one.
	for lo := from; ; lo += 7 {
		hi := min(lo+7, horizon)
		last := hi == horizon
		err := s.inTx(ctx, func() error {
			for _, st := range retainSteps(last) {
				n, err := s.exec(ctx, st.step, st.args(lo, hi)...)
				if err != nil {
					return err
				}
				if st.table != "" {
					res.Deleted[st.table] += n
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("retain: delete the rows of %s to %s: %w", calendar.DayTime(lo).Format(time.DateOnly), calendar.DayTime(hi-1).Format(time.DateOnly), s.writeError(err))
		}
		s.retainedFrom.Store(hi)
		res.To = hi
		if progress != nil {
			progress(res)
		}
		if last {
			return res, nil
		}
	}
}

// ErrUnreleased is returned (wrapped) by Retain for a horizon past the
// last released week: rows are only deleted once their week is released.
var ErrUnreleased = errors.New("the days are not released yet")

// retainStep is one statement of a retention transaction over the days
// [lo, hi); table names what it deletes from, for the counts.
type retainStep struct {
	step
	table string
	args  func(lo, hi int32) []any
}

func retainSteps(last bool) []retainStep {
	span := func(lo, hi int32) []any { return []any{lo, hi} }
	before := func(_, hi int32) []any { return []any{hi} }
	steps := []retainStep{
		// The keys first: they are found through the events.
		{step{name: "retain event keys", sql: `DELETE FROM event_keys WHERE h IN (SELECT ` + keyExpr + ` FROM events WHERE day >= ` + dayArg + ` AND day < ` + dayArg + `)`, scan: true}, "event_keys", span},
		{step{name: "retain events", sql: `DELETE FROM events WHERE day >= ` + dayArg + ` AND day < ` + dayArg}, "events", span},
		{step{name: "retain team_day_people", sql: `DELETE FROM team_day_people WHERE day < ` + dayArg, scan: true}, "team_day_people", before},
		{step{name: "retain team_day_tasks", sql: `DELETE FROM team_day_tasks WHERE day < ` + dayArg, scan: true}, "team_day_tasks", before},
		{step{name: "retain time_entries", sql: `DELETE FROM time_entries WHERE day < ` + dayArg, scan: true}, "time_entries", before},
	}
	if last {
		steps = append(steps,
			retainStep{step{name: "retain tasks", sql: `DELETE FROM tasks WHERE completed_day < ` + dayArg + `
				OR completed_at IS NULL AND cancelled_at < CAST(` + dayArg + ` AS TIMESTAMP)`, scan: true}, "tasks",
				func(_, hi int32) []any { return []any{hi, hi} }},
			retainStep{step{name: "retain requests", sql: `DELETE FROM requests WHERE responded_day < ` + dayArg, scan: true}, "requests", before},
		)
	}
	return append(steps, retainStep{step{name: "record retention horizon", sql: `INSERT INTO shoal_meta VALUES ('` + retainedFromMeta + `', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`}, "", before})
}

// OldestEventDay is the day of the oldest stored event (false when none).
func (s *Store) OldestEventDay(ctx context.Context) (int32, bool, error) {
	defer s.readLock()()
	var d sql.NullInt32
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(min(day) - DATE '1970-01-01' AS INTEGER) FROM events`).Scan(&d); err != nil {
		return 0, false, fmt.Errorf("oldest event: %w", err)
	}
	return d.Int32, d.Valid, nil
}

// Erased is what Erase found and deleted of one pseudonym.
type Erased struct {
	Pseudonym string
	// Events and PersonRows (team_day_people) deleted.
	Events, PersonRows int64
}

// EraseResult is one erasure.
type EraseResult struct {
	At      time.Time
	Persons []Erased // in the order asked
	// Teams is how many teams' state was derived again.
	Teams int
	// Compacted reports that the file was rewritten without the deleted
	// rows' bytes; CompactTook is how long that took.
	Compacted   bool
	CompactTook time.Duration
}

// Found is how many of the pseudonyms had rows.
func (r EraseResult) Found() int {
	n := 0
	for _, p := range r.Persons {
		if p.Events+p.PersonRows > 0 {
			n++
		}
	}
	return n
}

// Erase deletes every stored event and per-person row of the given
// pseudonyms, derives the touched teams' state again from the events that
// remain and records an erasure entry, in one transaction; then it
// checkpoints and compacts the file (Compact) so no byte of the deleted
// rows is left in it. Released cells do not change. at is the entry's
// time.
func (s *Store) Erase(ctx context.Context, pseudonyms []string, at time.Time) (EraseResult, error) {
	res := EraseResult{At: at.UTC()}
	for _, p := range pseudonyms {
		if !privacy.IsPseudonym(p) {
			return res, fmt.Errorf("erase: %q is not a pseudonym (transform erases pseudonyms; the caller pseudonymizes a person id with the key first)", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return res, err
	}
	// The person's events still in pending: derived first, then erased
	// with the rest.
	if err := s.deriveNow(ctx); err != nil {
		return res, err
	}
	err := s.inTx(ctx, func() error {
		if _, err := s.conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE erase_people (person VARCHAR)`); err != nil {
			return err
		}
		for _, p := range pseudonyms {
			if _, err := s.conn.ExecContext(ctx, `INSERT INTO erase_people VALUES (?)`, p); err != nil {
				return err
			}
		}
		counts := map[string]*Erased{}
		for _, p := range pseudonyms {
			if counts[p] == nil {
				counts[p] = &Erased{Pseudonym: p}
			}
		}
		for _, q := range []struct {
			sql string
			add func(e *Erased, n int64)
		}{
			{`SELECT person, count(*) FROM events WHERE person IN (SELECT person FROM erase_people) GROUP BY person`, func(e *Erased, n int64) { e.Events = n }},
			{`SELECT person, count(*) FROM team_day_people WHERE person IN (SELECT person FROM erase_people) GROUP BY person`, func(e *Erased, n int64) { e.PersonRows = n }},
		} {
			if err := scanCounts(ctx, s.conn, q.sql, func(p string, n int64) { q.add(counts[p], n) }); err != nil {
				return fmt.Errorf("count the rows to erase: %w", err)
			}
		}
		for _, p := range pseudonyms {
			res.Persons = append(res.Persons, *counts[p])
		}
		if res.Found() > 0 {
			teams, err := s.eraseTx(ctx)
			if err != nil {
				return err
			}
			res.Teams = teams
		}
		var events, rows int64
		for _, e := range counts {
			events += e.Events
			rows += e.Events + e.PersonRows
		}
		_, err := s.conn.ExecContext(ctx, `INSERT INTO erasures VALUES (?, ?, ?, ?, ?)`, res.At, len(counts), res.Found(), events, rows)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("erase: %w", s.writeError(err))
	}
	if res.Found() == 0 {
		return res, nil
	}
	began := time.Now()
	if err := s.compactLocked(ctx); err != nil {
		return res, fmt.Errorf("erase: the rows are deleted, but compacting the file failed (the next start tries again): %w", err)
	}
	res.Compacted, res.CompactTook = true, time.Since(began)
	return res, nil
}

// writeError is err from a lifecycle transaction: the store stops taking
// writes if DuckDB may no longer match its file (markFailed), and a full
// disk says so.
func (s *Store) writeError(err error) error {
	if s.markFailed(err) {
		return s.failedError()
	}
	return fmt.Errorf("%w%s", err, s.diskHint(err))
}

// scanCounts runs a (string, count) query and hands each row to f.
func scanCounts(ctx context.Context, conn *sql.Conn, q string, f func(string, int64)) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		f(k, n)
	}
	return rows.Err()
}

// eraseTx deletes erase_people's events and team_day_people rows and
// derives the touched teams' state again from their remaining events, in
// the caller's transaction; it returns the number of teams. The team_day
// rows before the retention horizon and the state of tasks and requests
// with no stored event are kept (the events they came from are gone).
func (s *Store) eraseTx(ctx context.Context) (int, error) {
	steps := []step{
		{name: "erase: touched teams", sql: `CREATE OR REPLACE TEMP TABLE erase_teams AS
			SELECT DISTINCT team FROM events WHERE person IN (SELECT person FROM erase_people)
			UNION SELECT DISTINCT team FROM team_day_people WHERE person IN (SELECT person FROM erase_people)`},
		// The tasks and requests with stored events in those teams, before
		// the person's go: their rows are derived again (or go, when the
		// person's were their only events).
		{name: "erase: touched tasks", sql: `CREATE OR REPLACE TEMP TABLE erase_tasks AS SELECT DISTINCT ` + pairKey("team", "task") + ` AS k
			FROM events WHERE team IN (SELECT team FROM erase_teams) AND task IS NOT NULL AND type LIKE 'work.task.%'`},
		{name: "erase: touched requests", sql: `CREATE OR REPLACE TEMP TABLE erase_requests AS SELECT DISTINCT ` + pairKey("team", "request") + ` AS k
			FROM events WHERE team IN (SELECT team FROM erase_teams) AND request IS NOT NULL AND type LIKE 'work.request.%'`},
		// Their time entries (keyed by source and entry id, or by the
		// event's own key without one), derived again from what remains.
		{name: "erase: touched time entries", sql: `CREATE OR REPLACE TEMP TABLE erase_entries AS
			SELECT DISTINCT CASE WHEN entry IS NULL THEN ` + keyExpr + ` ELSE ` + pairKey("source", "entry") + ` END AS k
			FROM events WHERE team IN (SELECT team FROM erase_teams) AND type IN ('` + event.TimeLogged + `', '` + event.TimeDeleted + `')`},
		{name: "erase: time_entries", sql: `DELETE FROM time_entries WHERE k IN (SELECT k FROM erase_entries) OR person IN (SELECT person FROM erase_people)`},
		{name: "erase: events", sql: `DELETE FROM events WHERE person IN (SELECT person FROM erase_people)`},
		{name: "erase: team_day_people", sql: `DELETE FROM team_day_people WHERE team IN (SELECT team FROM erase_teams)`},
		{name: "erase: team_day_tasks", sql: `DELETE FROM team_day_tasks WHERE team IN (SELECT team FROM erase_teams)`},
		{name: "erase: team_day", sql: `DELETE FROM team_day WHERE team IN (SELECT team FROM erase_teams) AND day >= ` + dayArg},
		{name: "erase: tasks", sql: `DELETE FROM tasks WHERE k IN (SELECT k FROM erase_tasks)`},
		{name: "erase: requests", sql: `DELETE FROM requests WHERE k IN (SELECT k FROM erase_requests)`},
	}
	horizon := max(s.retainedFrom.Load(), -1<<20)
	for _, st := range steps {
		var args []any
		if strings.Contains(st.sql, "?") {
			args = []any{horizon}
		}
		if _, err := s.exec(ctx, st, args...); err != nil {
			return 0, err
		}
	}
	var teams int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM erase_teams`).Scan(&teams); err != nil {
		return 0, err
	}
	if _, err := s.exec(ctx, stepResetScratch); err != nil {
		return 0, err
	}
	if _, err := s.exec(ctx, step{name: "erase: stage the teams' events", sql: stageEvents("events", "team IN (SELECT team FROM erase_teams)")}); err != nil {
		return 0, err
	}
	if _, err := s.run(ctx, batchSteps); err != nil {
		return 0, err
	}
	return teams, nil
}

// Compact rewrites the DuckDB file with its live rows only (a deleted
// row's bytes stay in DuckDB's blocks, and freed blocks are not
// overwritten): see compactLocked. Erase calls it; app calls it after a
// retention pass that deleted rows.
func (s *Store) Compact(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	return s.compactLocked(ctx)
}

// compactLocked checkpoints, copies every table (live rows only) into a
// new file with DuckDB's COPY FROM DATABASE, and puts it in the old one's
// place: readers wait (readLock) while the files change, the writer holds
// s.mu. The old file's blocks, deleted rows' bytes included, go with it.
// If the copy fails the old file stays and compact_pending makes the next
// Open try again; if reopening fails the store takes no more writes.
func (s *Store) compactLocked(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, `INSERT INTO shoal_meta VALUES ('`+compactPendingMeta+`', 1) ON CONFLICT (name) DO UPDATE SET value = 1`); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("compact: checkpoint: %w", s.writeError(err))
	}
	tmp := s.path + ".compact"
	for _, f := range []string{tmp, walPath(tmp)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("compact: remove the leftover %s: %w", f, err)
		}
	}
	var dbName string
	if err := s.conn.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	// One statement at a time: in one multi-statement Exec the copy
	// silently copied nothing (go-duckdb v1.8.2).
	for _, q := range []string{
		fmt.Sprintf(`ATTACH '%s' AS shoal_compact`, strings.ReplaceAll(tmp, "'", "''")),
		fmt.Sprintf(`COPY FROM DATABASE "%s" TO shoal_compact`, strings.ReplaceAll(dbName, `"`, `""`)),
		`UPDATE shoal_compact.shoal_meta SET value = 0 WHERE name = '` + compactPendingMeta + `'`,
		// Into the new file itself: what DETACH leaves in its write-ahead
		// log would not follow the rename.
		`CHECKPOINT shoal_compact`,
		`DETACH shoal_compact`,
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			_, _ = s.conn.ExecContext(context.Background(), `DETACH DATABASE IF EXISTS shoal_compact`)
			os.Remove(tmp)
			os.Remove(walPath(tmp))
			return fmt.Errorf("compact: copy the live rows to %s: %w", tmp, s.writeError(err))
		}
	}
	if fi, err := os.Stat(walPath(tmp)); err == nil && fi.Size() > 0 {
		os.Remove(tmp)
		os.Remove(walPath(tmp))
		return fmt.Errorf("compact: the copy left a %d-byte write-ahead log; the old file stays", fi.Size())
	}
	os.Remove(walPath(tmp))
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	// From here the files change: no reader may be in the old instance.
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if err := s.closeDB(); err != nil {
		return s.failWith(fmt.Errorf("compact: close the old file: %w", err))
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return s.failWith(fmt.Errorf("compact: put %s in place of %s: %w", tmp, s.path, err))
	}
	os.Remove(walPath(s.path)) // empty after the checkpoint
	if err := syncFile(filepath.Dir(s.path)); err != nil {
		s.logger.Warn("compact: fsync of the data directory failed", "err", err)
	}
	if err := s.open(ctx, s.cfg); err != nil {
		return s.failWith(fmt.Errorf("compact: reopen %s: %w", s.path, err))
	}
	return nil
}

// failWith makes the store take no more writes after a compaction that
// closed the old file but could not open the new one: a restart opens
// whichever file is in place (both hold every committed row).
func (s *Store) failWith(err error) error {
	s.failed = err
	s.logger.Error("the store takes no more writes: restart Shoal", "path", s.path, "err", err)
	return s.failedError()
}

// syncFile fsyncs a file or directory.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// compactIfPending finishes a compaction an erasure asked for and a crash
// interrupted (Open).
func (s *Store) compactIfPending(ctx context.Context) error {
	var v sql.NullInt64
	err := s.conn.QueryRowContext(ctx, `SELECT value FROM shoal_meta WHERE name = '`+compactPendingMeta+`'`).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read %s: %w", compactPendingMeta, err)
	}
	if v.Int64 != 1 {
		return nil
	}
	s.logger.Info("compacting the file: an erasure's compaction did not finish before the last stop")
	return s.compactLocked(ctx)
}

// Erasures lists the erasure entries, oldest first.
func (s *Store) Erasures(ctx context.Context) ([]ErasureEntry, error) {
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT erased_at, persons, found, events, rows FROM erasures ORDER BY erased_at`)
	if err != nil {
		return nil, fmt.Errorf("erasures: %w", err)
	}
	defer rows.Close()
	var out []ErasureEntry
	for rows.Next() {
		var e ErasureEntry
		if err := rows.Scan(&e.At, &e.Persons, &e.Found, &e.Events, &e.Rows); err != nil {
			return nil, fmt.Errorf("erasures: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ErasureEntry is one recorded erasure: when, how many ids were asked for
// and found, and how many rows went. It never holds an id.
type ErasureEntry struct {
	At             time.Time
	Persons, Found int
	Events, Rows   int64
}

// RemoveSetAsideWALs deletes the write-ahead logs that setWALAside moved
// aside (kept for inspection after a crash left one DuckDB could not
// replay) last modified before cutoff: they hold the pseudonymized events
// of the minutes before that crash, which Kafka delivered again. It
// returns how many it deleted.
func (s *Store) RemoveSetAsideWALs(cutoff time.Time) (int, error) {
	files, err := filepath.Glob(walPath(s.path) + ".unreplayable-*")
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(f); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
