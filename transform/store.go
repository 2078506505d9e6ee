package transform

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/marcboeker/go-duckdb"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// Errors returned (wrapped) by Open, Commit and Checkpoint.
var (
	// ErrLocked means the DuckDB file is held by another process or Store.
	ErrLocked = errors.New("duckdb file is in use")
	// ErrBadBatch means a Batch was malformed; nothing of it was written.
	ErrBadBatch = errors.New("bad batch")
	// ErrNotPseudonym means a batch carried a person value that is not a
	// keyed pseudonym; nothing of it was written.
	ErrNotPseudonym = errors.New("person is not a pseudonym")
	// ErrClosed is returned by Commit, Rebuild and Checkpoint after Close.
	ErrClosed = errors.New("store is closed")
	// ErrCheckpointBusy means DuckDB refused a Checkpoint because another
	// transaction was open (a query of the outputs); try again later.
	ErrCheckpointBusy = errors.New("another transaction is open")
)

// TeamDay is one row of the team_day rollup. Durations are in seconds.
type TeamDay struct {
	Team string
	Day  int32 // days since 1970-01-01

	Events           int64
	TasksCreated     int64
	TasksStarted     int64
	TasksCompleted   int64
	LeadTimeSSum     float64
	LeadTimeN        int64
	CycleTimeSSum    float64
	CycleTimeN       int64
	CompletedWithDue int64
	CompletedOnTime  int64
	TasksReopened    int64
	TasksBlocked     int64

	FocusS         float64
	MeetingS       float64
	CollaborationS float64
	SupportS       float64
	AdminS         float64
	LearningS      float64
	OtherS         float64

	RequestsOpened    int64
	RequestsResponded int64
	ResponseTimeSSum  float64
	ResponseTimeN     int64

	Contributors int64
}

// The Arrow view batches are scanned through lives in an in-memory database
// attached to the DuckDB instance, never in the file: duckdb_arrow_scan
// creates a persistent (non-temporary) view whose definition holds raw C
// pointers, and a crash would leave it in the file for the next reader to
// dereference. Other connections only reach it by naming scratchDB.
const (
	scratchDB = "shoal_transform_scratch"
	viewName  = "shoal_batch"
	viewRef   = scratchDB + ".main." + viewName
)

// personColumn is the person's column in event.Schema.
var personColumn = event.Schema.FieldIndices("person")[0]

// Store is Shoal's DuckDB database. Commit and Rebuild are serialised and
// use one dedicated connection; the read methods use other connections of
// the pool and may run concurrently with them, seeing committed data only.
type Store struct {
	path   string
	abs    string
	cfg    Config
	logger *slog.Logger
	db     *sql.DB
	// dbMu is held for reading by every reader of db, and for writing while
	// Compact swaps the file (and with it db).
	dbMu sync.RWMutex

	mu     sync.Mutex // guards the fields below and serialises writes
	conn   *sql.Conn
	view   *batchView
	closed bool
	// failed is the commit error after which the store takes no more
	// writes and never checkpoints (markFailed); nil while healthy.
	failed error

	lastCommit atomic.Int64 // unix nanoseconds of the last successful commit
	// releasedThrough is the last day of the last released week
	// (noRelease before the first): a new event dated on or before it is
	// counted as CommitResult.AfterRelease.
	releasedThrough atomic.Int32
	// keys is the dedup key filter (keyfilter.go; nil: not built now),
	// keysOff that there is none (every landing scans event_keys), staged
	// the hashes of the batch being committed, added to it once committed.
	keys    *keyFilter
	keysOff bool
	staged  []uint64
	// derivedInTx reports that the commit being made derived pending.
	derivedInTx bool
	// corrections and correctionsLate total the time-entry corrections
	// derived (TimeCorrections).
	corrections, correctionsLate atomic.Int64
	// pending is how many stored events wait in the pending table to be
	// derived (derive.go), pendingSince when the oldest of them was
	// stored; guarded by mu. pendingCount mirrors pending for readers
	// that check it without mu (flush).
	pending      int64
	pendingSince time.Time
	pendingCount atomic.Int64
	// deriveEvents and deriveAfter are Config.DeriveEvents and
	// Config.DeriveAfter with their defaults.
	deriveEvents int64
	deriveAfter  time.Duration
	// retainedFrom is the retention horizon (noHorizon before the first
	// Retain): a new event dated before it is not stored (lifecycle.go).
	retainedFrom atomic.Int32
	// checkpointed holds the offsets of every topic as of the last
	// checkpoint (recordCheckpointed).
	checkpointed atomic.Pointer[map[string]map[int32]int64]
	steps        stepTimes // wall time per step of the current commit, for the debug log

	// failpoint, when set by a test, is called before each write step and
	// fails the step with its error.
	failpoint func(step string) error
	// checkpointEvery is CheckpointEvery (tests shorten it).
	checkpointEvery time.Duration
	// rebuildSlice is about how many stored events Rebuild derives state
	// from at a time (defaultRebuildSlice; tests lower it).
	rebuildSlice int64
	// threads is DuckDB's thread count; scanThreads, if more, is what the
	// write steps that scan stored tables run with (step.scan).
	threads, scanThreads int
}

// defaultRebuildSlice bounds the events one slice of a Rebuild reads. The
// window and hash operators of the merge need memory in proportion to their
// input and DuckDB 1.1 does not spill all of them: deriving 20 M events in
// one pass failed under a 512 MB memory limit ("compute requests: failed
// to pin block"), while 2 M at a time stays well inside it.
const defaultRebuildSlice = 2_000_000

// openPaths guards against two Stores on one file in one process: DuckDB's
// file lock is a process-wide POSIX lock, so it only stops other processes.
var (
	openMu    sync.Mutex
	openPaths = map[string]bool{}
)

const inUseHint = "another shoal process may be running; stop it or use another --data-dir"

// Open opens (creating if missing) the DuckDB file at cfg.Path and creates
// the schema if it is missing. It fails with ErrLocked if another process
// or Store holds the file, and with ErrRawIDs, changing nothing, if the
// file is from a Shoal that stored raw task and request ids.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transform config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("duckdb path %s: %w", cfg.Path, err)
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs)) // one key per directory, however it is spelled
	}
	openMu.Lock()
	if openPaths[abs] {
		openMu.Unlock()
		return nil, fmt.Errorf("open duckdb file %s: %w by this process; %s", cfg.Path, ErrLocked, inUseHint)
	}
	openPaths[abs] = true
	openMu.Unlock()

	s := &Store{path: cfg.Path, abs: abs, cfg: cfg, logger: logger.With("component", "transform"), rebuildSlice: defaultRebuildSlice, checkpointEvery: CheckpointEvery,
		deriveEvents: cmp.Or(cfg.DeriveEvents, DefaultDeriveEvents), deriveAfter: cmp.Or(cfg.DeriveAfter, DefaultDeriveAfter)}
	if err := s.open(ctx, cfg); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.compactIfPending(ctx); err != nil {
		s.closeAll()
		return nil, err
	}
	// Built now, not at the first small batch, so that a stream does not
	// wait for it (about 0.4 s per million stored keys); a catch-up's
	// first large batch drops it again (keyfilter.go).
	if err := s.loadKeyFilter(ctx); err != nil {
		s.closeAll()
		return nil, err
	}
	s.logger.Info("duckdb store open", "path", cfg.Path, "threads", cmp.Or(cfg.Threads, DefaultThreads()), "memory_limit", cfg.MemoryLimit)
	return s, nil
}

// readLock holds the database for a reader until the returned func is
// called: Compact waits for readers and keeps new ones waiting while it
// swaps the file.
func (s *Store) readLock() func() {
	s.dbMu.RLock()
	return s.dbMu.RUnlock
}

// walPath is where DuckDB keeps the write-ahead log of the file at path.
func walPath(path string) string { return path + ".wal" }

// setWALAside handles a write-ahead log DuckDB cannot replay (a process
// killed while DuckDB wrote it can leave an entry whose checksum fails,
// and DuckDB 1.1 then refuses to open the file): it moves the log aside
// and opens the last checkpoint. Nothing is lost that Kafka does not still
// hold: the batches committed since that checkpoint took their offsets
// with them, so they are consumed again, exactly once (dead letters of
// those batches may be written a second time). The log is kept, renamed,
// for inspection.
func (s *Store) setWALAside(path, dsn string, replayErr error) (*duckdb.Connector, error) {
	wal := walPath(path)
	aside := wal + ".unreplayable-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(wal, aside); err != nil {
		return nil, fmt.Errorf("%w; moving the write-ahead log aside failed too: %w", replayErr, err)
	}
	s.logger.Warn("the DuckDB write-ahead log could not be replayed (the process was killed while writing it?); it was moved aside and the last checkpoint opened: "+
		"the batches committed since then are consumed from Kafka again, with their offsets, so nothing is counted twice; if the topic's retention has dropped them they are lost",
		"path", path, "moved_to", aside, "error", replayErr)
	return duckdb.NewConnector(dsn, nil)
}

func (s *Store) open(ctx context.Context, cfg Config) error {
	params := url.Values{}
	s.threads, s.scanThreads = cfg.Threads, cfg.Threads
	if cfg.Threads == 0 {
		s.threads, s.scanThreads = DefaultThreads(), runtime.NumCPU()
	}
	params.Set("threads", strconv.Itoa(s.threads))
	if cfg.MemoryLimit != "" {
		params.Set("memory_limit", strings.TrimSpace(cfg.MemoryLimit))
	}
	dsn := cfg.Path
	if len(params) > 0 {
		dsn += "?" + params.Encode()
	}
	if fi, err := os.Stat(walPath(cfg.Path)); err == nil && fi.Size() > 0 {
		s.logger.Info("replaying the write-ahead log the last run left (it stopped without a checkpoint)", "path", cfg.Path, "wal_bytes", fi.Size())
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil && strings.Contains(err.Error(), "Failure while replaying WAL file") {
		connector, err = s.setWALAside(cfg.Path, dsn, err)
	}
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock") {
			return fmt.Errorf("open duckdb file %s: %w by another process: %w; %s", cfg.Path, ErrLocked, err, inUseHint)
		}
		return fmt.Errorf("open duckdb file %s: %w (check the path, its directory and permissions; a damaged file must be moved aside)", cfg.Path, err)
	}
	s.db = sql.OpenDB(connector)
	s.conn, err = s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to duckdb file %s: %w", cfg.Path, err)
	}
	var stale bool
	if err := s.inTx(ctx, func() error {
		if err := s.refuseRawIDs(ctx); err != nil {
			return err
		}
		var err error
		if stale, err = s.derivedStale(ctx); err != nil {
			return err
		}
		for _, q := range schemaSQL {
			if _, err := s.conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if err := s.addPendingKey(ctx); err != nil {
			return err
		}
		_, err = s.conn.ExecContext(ctx, `INSERT INTO shoal_meta VALUES ('`+keyedIDsMeta+`', 1) ON CONFLICT (name) DO NOTHING`)
		return err
	}); err != nil {
		if errors.Is(err, ErrRawIDs) {
			return fmt.Errorf("open %s: %w", cfg.Path, err)
		}
		return fmt.Errorf("create schema in %s: %w", cfg.Path, err)
	}
	// DuckDB checkpoints when it closes, whatever happened before: after a
	// failed commit that would write a state that never committed over the
	// file and delete the write-ahead log, the only good copy. Close
	// checkpoints itself, and only a healthy store.
	if _, err := s.conn.ExecContext(ctx, "PRAGMA disable_checkpoint_on_shutdown"); err != nil {
		return fmt.Errorf("disable the checkpoint on shutdown: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, "SET checkpoint_threshold = '"+cmp.Or(strings.TrimSpace(cfg.CheckpointThreshold), DefaultCheckpointThreshold)+"'"); err != nil {
		return fmt.Errorf("set checkpoint threshold: %w", err)
	}
	for _, q := range tempSQL {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create scratch tables: %w", err)
		}
	}
	if err := s.registerView(ctx); err != nil {
		return err
	}
	if err := s.loadReleasedThrough(ctx); err != nil {
		return err
	}
	if err := s.loadLifecycle(ctx); err != nil {
		return err
	}
	if err := s.loadPending(ctx); err != nil {
		return err
	}
	s.pendingCount.Store(s.pending)
	if stale {
		return s.upgrade(ctx)
	}
	return nil
}

// upgrade rebuilds the derived tables derivedStale dropped and records
// derivedVersion, in one transaction (if it fails, the next Open starts
// over).
func (s *Store) upgrade(ctx context.Context) error {
	var events int64
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&events); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	start := time.Now()
	if events > 0 {
		s.logger.Info("the derived tables are from another version of Shoal; rebuilding them from the stored events (once)",
			"events", events, "version", derivedVersion)
	}
	err := s.inTx(ctx, func() error {
		if _, err := s.rebuildTx(ctx); err != nil {
			return err
		}
		_, err := s.conn.ExecContext(ctx, `INSERT INTO shoal_meta VALUES ('derived_version', ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, derivedVersion)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild derived tables of %s for this version of Shoal: %w", s.path, err)
	}
	s.pending = 0
	s.pendingCount.Store(0)
	if events > 0 {
		s.logger.Info("derived tables rebuilt", "events", events, "duration", time.Since(start))
	}
	return nil
}

// registerView registers the batch view in scratchDB: duckdb_arrow_scan
// creates it in the connection's current database, so the writer switches
// to scratchDB for the call and back.
func (s *Store) registerView(ctx context.Context) error {
	var fileDB string
	if err := s.conn.QueryRowContext(ctx, "SELECT current_database()").Scan(&fileDB); err != nil {
		return fmt.Errorf("current database: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, "ATTACH ':memory:' AS "+scratchDB); err != nil {
		return fmt.Errorf("attach scratch database: %w", err)
	}
	if _, err := s.conn.ExecContext(ctx, "USE "+scratchDB); err != nil {
		return fmt.Errorf("use scratch database: %w", err)
	}
	err := s.conn.Raw(func(dc any) error {
		v, err := registerBatchView(dc.(driver.Conn), viewName)
		s.view = v
		return err
	})
	if _, useErr := s.conn.ExecContext(ctx, "USE "+quoteIdent(fileDB)); useErr != nil {
		err = errors.Join(err, fmt.Errorf("use database %s: %w", fileDB, useErr))
	}
	return err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// inTx runs f in a transaction on the writer connection and commits it, or
// rolls back if f or ctx fails.
func (s *Store) inTx(ctx context.Context, f func() error) error {
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	err := f()
	if err == nil && s.failpoint != nil {
		err = s.failpoint(stepCommit)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		// Not ctx: a cancelled context must still roll back.
		if _, rbErr := s.conn.ExecContext(context.Background(), "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	began := time.Now()
	_, err = s.conn.ExecContext(context.Background(), "COMMIT")
	s.steps.add(stepCommit, time.Since(began))
	if err != nil {
		// DuckDB aborts a transaction whose COMMIT fails; make sure of it.
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// stepCommit names the COMMIT for failure injection.
const stepCommit = "commit"

// exec runs one named step on the writer connection.
func (s *Store) exec(ctx context.Context, st step, args ...any) (_ int64, err error) {
	if st.scan && s.scanThreads > s.threads {
		if err := s.setThreads(ctx, s.scanThreads); err != nil {
			return 0, fmt.Errorf("%s: %w", st.name, err)
		}
		defer func() {
			if tErr := s.setThreads(context.Background(), s.threads); tErr != nil {
				err = errors.Join(err, fmt.Errorf("%s: %w", st.name, tErr))
			}
		}()
	}
	if s.failpoint != nil {
		if err := s.failpoint(st.name); err != nil {
			return 0, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	if st.guard != "" {
		var n int64
		if err := s.conn.QueryRowContext(ctx, st.guard).Scan(&n); err != nil {
			return 0, fmt.Errorf("%s: guard: %w", st.name, err)
		}
		if n == 0 {
			return 0, nil
		}
	}
	began := time.Now()
	res, err := s.conn.ExecContext(ctx, st.sql, args...)
	s.steps.add(st.name, time.Since(began))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", st.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", st.name, err)
	}
	return n, nil
}

// setThreads sets DuckDB's thread count (a database-wide setting; about
// 0.3 ms). The write steps that scan a stored table raise it to all the
// cores and restore it afterwards: such a scan is most of a commit once the
// store is large, and splits across threads by row group, while DuckDB's
// client thread busy-waits for its workers in every other step, where the
// spare core is better left to the Go side preparing the next batch
// (DefaultThreads). On 2 cores at 20 M stored events, a commit of 100 k
// events took 2.2-2.4 s with 1 thread and 1.8-2.1 s with 2 (BENCHMARKS.md).
func (s *Store) setThreads(ctx context.Context, n int) error {
	if _, err := s.conn.ExecContext(ctx, "SET threads = "+strconv.Itoa(n)); err != nil {
		return fmt.Errorf("set duckdb threads to %d: %w", n, err)
	}
	return nil
}

func (s *Store) run(ctx context.Context, steps []step) (cells int64, err error) {
	for _, st := range steps {
		n, err := s.exec(ctx, st)
		if err != nil {
			return 0, err
		}
		if st.name == stepCells {
			cells = n
		}
	}
	return cells, nil
}

func checkBatch(b *event.Batch) error {
	if b.Record != nil && !b.Record.Schema().Equal(event.Schema) {
		return fmt.Errorf("%w: record schema is not event.Schema: %s", ErrBadBatch, b.Record.Schema())
	}
	if len(b.Offsets) > 0 && b.Topic == "" {
		return fmt.Errorf("%w: offsets without a topic", ErrBadBatch)
	}
	for p, o := range b.Offsets {
		if p < 0 || o < 0 {
			return fmt.Errorf("%w: negative partition or offset %d:%d", ErrBadBatch, p, o)
		}
	}
	for _, r := range b.Rejected {
		if r.Count < 0 || r.Reason == "" {
			return fmt.Errorf("%w: rejection %+v needs a reason and a count >= 0", ErrBadBatch, r)
		}
	}
	return nil
}

var (
	// The scratch tables are recreated rather than emptied: DuckDB keeps
	// counting deleted rows of a temporary table in its cardinality estimate
	// (temporary tables are never checkpointed), and after a few batches the
	// optimizer builds its hash tables on the wrong side of the joins, which
	// also disables join filter pushdown into the events scan.
	stepResetScratch = step{name: "reset scratch tables", sql: strings.Join(tempSQL, ";\n")}
	// stepExpire drops the events dated before the retention horizon.
	stepExpire = step{name: "drop expired events", sql: `DELETE FROM staging WHERE day < ` + dayArg}
	stepStage  = step{name: "stage batch", sql: `INSERT INTO staging SELECT *, ` + keyExpr + ` FROM ` + viewRef}
	// Checked in Go over the batch's person column (checkPseudonyms); the
	// step is named for failure injection.
	stepPseudonyms = step{name: "check pseudonyms"}
	// After the dedup steps staging holds exactly the batch's new events.
	// Duplicates within a batch are rare: the window only runs over keys
	// that occur more than once.
	stepDedupBatch = step{name: "dedup within batch", guard: `SELECT count(*) - count(DISTINCT h) FROM staging`, sql: `DELETE FROM staging WHERE rowid IN (
		SELECT rowid FROM (
			SELECT s.rowid, row_number() OVER (PARTITION BY s.h ORDER BY s.kafka_partition, s.kafka_offset) AS n
			FROM staging s
			SEMI JOIN (SELECT h FROM staging GROUP BY h HAVING count(*) > 1) d ON s.h = d.h
		) WHERE n > 1)`}
	// Finding the batch's keys that are already stored scans event_keys
	// once (16 bytes per stored event), probing a hash table of the batch.
	stepKnown = step{name: "find stored ids", scan: true, sql: `INSERT INTO known_keys
		SELECT k.h FROM event_keys k SEMI JOIN staging s ON k.h = s.h`}
	stepDedup = step{name: "drop stored ids", guard: `SELECT count(*) FROM known_keys`,
		sql: `DELETE FROM staging WHERE h IN (SELECT h FROM known_keys)`}
	stepInsert     = step{name: "insert events", sql: `INSERT INTO events SELECT * EXCLUDE (h) FROM staging`}
	stepInsertKeys = step{name: "insert event keys", sql: `INSERT INTO event_keys SELECT h FROM staging`}
	// The offsets and the refusal counts of a batch are one statement
	// each, whatever the number of partitions and reasons (valuesStep).
	stepOffsets = step{name: "store offsets", sql: `INSERT INTO offsets SELECT * FROM (VALUES %s)
		ON CONFLICT (topic, part) DO UPDATE SET next_offset = greatest(offsets.next_offset, excluded.next_offset)`}
	stepRejections = step{name: "count rejections", sql: `INSERT INTO rejections SELECT DATE '1970-01-01' + CAST(d AS INTEGER), r, n FROM (VALUES %s) v(d, r, n)
		ON CONFLICT (day, reason) DO UPDATE SET events = rejections.events + excluded.events`}
)

// valuesStep is st (stepOffsets, stepRejections) for rows tuples of
// width placeholders each.
func valuesStep(st step, rows, width int) step {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	st.sql = fmt.Sprintf(st.sql, strings.TrimSuffix(strings.Repeat(tuple+", ", rows), ", "))
	return st
}

// Commit writes a batch in one transaction: its new events (duplicates by
// (source, id) are skipped and counted), the task and request state and
// the team_day and team_day_people cells they touch, the offsets and the
// rejection counts. On any error nothing of the batch is visible. Commit
// calls are serialised; the caller keeps ownership of b.Record.
func (s *Store) Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	if err := checkBatch(b); err != nil {
		return event.CommitResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return event.CommitResult{}, err
	}
	start := time.Now()
	s.steps.reset()
	s.staged, s.derivedInTx = nil, false
	var res event.CommitResult
	err := s.inTx(ctx, func() error {
		var err error
		res, err = s.commitTx(ctx, b)
		return err
	})
	if err != nil {
		if s.markFailed(err) {
			return event.CommitResult{}, s.failedError()
		}
		return event.CommitResult{}, fmt.Errorf("commit batch: %w", err)
	}
	s.lastCommit.Store(time.Now().UnixNano())
	s.remember(ctx, s.staged)
	s.staged = nil
	switch {
	case s.derivedInTx:
		s.countedCorrections(res)
		s.pending = 0
	case res.Inserted > 0:
		if s.pending == 0 {
			s.pendingSince = time.Now()
		}
		s.pending += res.Inserted
	}
	s.pendingCount.Store(s.pending)
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.Debug("batch committed", "inserted", res.Inserted, "duplicates", res.Duplicates,
			"cells", res.CellsTouched, "partitions", len(b.Offsets), "duration", time.Since(start), "slowest_steps", s.steps.slowest(6),
			"duckdb_memory", s.duckdbMemory(ctx))
	}
	return res, nil
}

// duckdbMemory describes what DuckDB's buffer manager accounts for
// (duckdb_memory()): in memory and spilled to temporary storage, with the
// largest tags, for the debug log. Memory DuckDB allocates outside its
// buffer manager is not in it: the process's RSS minus the Go runtime's
// minus this is that part.
func (s *Store) duckdbMemory(ctx context.Context) string {
	rows, err := s.conn.QueryContext(ctx, `SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()
		WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0 ORDER BY memory_usage_bytes DESC`)
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer rows.Close()
	var total, temp int64
	var tags []string
	for rows.Next() {
		var tag string
		var mem, tmp int64
		if err := rows.Scan(&tag, &mem, &tmp); err != nil {
			return "unknown: " + err.Error()
		}
		total, temp = total+mem, temp+tmp
		if len(tags) < 4 && mem > 0 {
			tags = append(tags, fmt.Sprintf("%s %dMiB", tag, mem>>20))
		}
	}
	if err := rows.Err(); err != nil {
		return "unknown: " + err.Error()
	}
	return fmt.Sprintf("%dMiB (%s), temporary %dMiB", total>>20, strings.Join(tags, ", "), temp>>20)
}

func (s *Store) commitTx(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	var res event.CommitResult
	if _, err := s.exec(ctx, stepResetLanding); err != nil {
		return res, err
	}
	if b.Record != nil && b.Record.NumRows() > 0 {
		rows := b.Record.NumRows()
		if err := s.checkPseudonyms(b.Record); err != nil {
			return res, err
		}
		s.view.reader.feed(b.Record)
		staged, err := s.exec(ctx, stepStage)
		s.view.reader.feed(nil)
		if err != nil {
			return res, err
		}
		if staged != rows {
			return res, fmt.Errorf("%s: staged %d of %d rows", stepStage.name, staged, rows)
		}
		if rf := s.retainedFrom.Load(); rf != noHorizon {
			if res.Expired, err = s.exec(ctx, stepExpire, rf); err != nil {
				return res, err
			}
		}
		// The stored keys are scanned only if the filter cannot tell that
		// every key of the batch is new, and the batch deduplicated only
		// if two of its keys may be equal (keyfilter.go).
		lk, err := s.landedKeys(ctx)
		if err != nil {
			return res, err
		}
		s.staged = lk.hashes
		if lk.repeats {
			if _, err := s.exec(ctx, stepDedupBatch); err != nil {
				return res, err
			}
		}
		if lk.mayBeStored {
			for _, st := range []step{stepKnown, stepDedup} {
				if _, err := s.exec(ctx, st); err != nil {
					return res, err
				}
			}
		}
		if res.Inserted, err = s.exec(ctx, stepInsert); err != nil {
			return res, err
		}
		if _, err := s.exec(ctx, stepInsertKeys); err != nil {
			return res, err
		}
		if res.Inserted > 0 {
			if _, err := s.exec(ctx, stepPending); err != nil {
				return res, err
			}
		}
		res.Duplicates = rows - res.Inserted - res.Expired
		if rt := s.releasedThrough.Load(); rt != noRelease && res.Inserted > 0 && lk.exact() {
			res.AfterRelease = lk.through(rt)
		} else if rt != noRelease && res.Inserted > 0 {
			if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM staging WHERE day <= DATE '1970-01-01' + CAST(? AS INTEGER)`, rt).Scan(&res.AfterRelease); err != nil {
				return res, fmt.Errorf("count events after their week's release: %w", err)
			}
		}
	}
	// Derive in the same transaction when it is due (derive.go): a
	// failure then leaves nothing of the batch either.
	if s.pending+res.Inserted > 0 && (s.pending+res.Inserted >= s.deriveEvents ||
		s.pending > 0 && time.Since(s.pendingSince) >= s.deriveAfter) {
		cells, err := s.deriveTx(ctx, &res)
		if err != nil {
			return res, err
		}
		res.CellsTouched, s.derivedInTx = cells, true
	}
	if len(b.Offsets) > 0 {
		args := make([]any, 0, 3*len(b.Offsets))
		for p, o := range b.Offsets {
			args = append(args, b.Topic, p, o)
		}
		if _, err := s.exec(ctx, valuesStep(stepOffsets, len(b.Offsets), 3), args...); err != nil {
			return res, err
		}
	}
	rej := map[event.Rejected]int64{}
	for _, r := range b.Rejected {
		rej[event.Rejected{Day: r.Day, Reason: r.Reason}] += r.Count
	}
	var args []any
	for r, n := range rej {
		if n > 0 {
			args = append(args, r.Day, r.Reason, n)
		}
	}
	if len(args) > 0 {
		if _, err := s.exec(ctx, valuesStep(stepRejections, len(args)/3, 3), args...); err != nil {
			return res, err
		}
	}
	return res, nil
}

// countCorrections sets res.TimeCorrections and res.TimeCorrectionsAfterRelease
// (event.CommitResult): the batch's revisions of time entries are applied
// one by one, in partition and offset order, on top of the stored state
// of their entries, and each that supersedes a state it changes (other
// times, category, person, team or day, or deleted or brought back) is a
// correction, so the count does not depend on how events are cut into
// batches; of those, the ones whose old or new day is in a released week
// are late. A revision that only repeats the one it supersedes (a re-send
// under another event id) or replaces a deletion by another is none.
func (s *Store) countCorrections(ctx context.Context, res *event.CommitResult, src string) error {
	rt, released := s.releasedThrough.Load(), true
	if rt == noRelease {
		rt, released = 0, false
	}
	const st = `{'r': revision, 'd': deleted, 's': source, 'i': id, 'team': team, 'day': day, 'person': person,
		'category': category, 'started_at': started_at, 'ended_at': ended_at}`
	if err := s.conn.QueryRowContext(ctx, `WITH b AS (
			SELECT k, kafka_partition AS p, kafka_offset AS o, `+st+` AS st FROM (
				SELECT *, type = '`+event.TimeDeleted+`' AS deleted, `+pairKey("source", "entry")+` AS k FROM `+src+`
				WHERE entry IS NOT NULL AND type IN ('`+event.TimeLogged+`', '`+event.TimeDeleted+`'))
			UNION ALL SELECT k, -1, -1, `+st+` FROM old_entries
		),
		w AS (SELECT st, max(st) OVER (PARTITION BY k ORDER BY p, o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM b)
		SELECT count(*), count(*) FILTER (WHERE ? AND (
			(NOT prev.d AND prev.day <= DATE '1970-01-01' + CAST(? AS INTEGER)) OR (NOT st.d AND st.day <= DATE '1970-01-01' + CAST(? AS INTEGER))))
		FROM w WHERE prev IS NOT NULL AND st > prev AND (st.d <> prev.d OR (NOT st.d AND (st.team <> prev.team OR st.day <> prev.day
			OR st.person IS DISTINCT FROM prev.person OR st.category IS DISTINCT FROM prev.category
			OR st.started_at IS DISTINCT FROM prev.started_at OR st.ended_at IS DISTINCT FROM prev.ended_at)))`,
		released, rt, rt).Scan(&res.TimeCorrections, &res.TimeCorrectionsAfterRelease); err != nil {
		return fmt.Errorf("count corrected time entries: %w", err)
	}
	return nil
}

// Checkpoint writes what the write-ahead log holds into the database file
// (DuckDB's CHECKPOINT), so that a restart has nothing to replay and the
// outcome queries read compressed, checkpointed row groups instead of the
// uncompressed ones DuckDB keeps for committed data until then. It returns
// the size the log had (0: nothing to do, no checkpoint run). Commits wait
// for it. DuckDB refuses it while another transaction writes; the caller
// tries again later (ErrCheckpointBusy).
func (s *Store) Checkpoint(ctx context.Context) (walBytes int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return 0, err
	}
	// A paused stream's state is complete in the file: derive what waits.
	if err := s.deriveNow(ctx); err != nil {
		return 0, err
	}
	fi, err := os.Stat(walPath(s.path))
	if errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		return 0, s.recordCheckpointed(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	began := time.Now()
	if _, err := s.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		if strings.Contains(err.Error(), "Cannot CHECKPOINT") {
			err = fmt.Errorf("%w: %w", ErrCheckpointBusy, err)
		}
		return fi.Size(), fmt.Errorf("checkpoint a %d-byte write-ahead log: %w", fi.Size(), err)
	}
	// A pause in a slow stream checkpoints a small log every few minutes:
	// only the large ones are worth an info line.
	level := slog.LevelDebug
	if fi.Size() >= 64<<20 {
		level = slog.LevelInfo
	}
	s.logger.Log(ctx, level, "write-ahead log checkpointed into the database file", "wal_bytes", fi.Size(), "took", time.Since(began).Round(time.Millisecond))
	return fi.Size(), s.recordCheckpointed(ctx)
}

// recordCheckpointed keeps the offsets the database file holds after a
// checkpoint (CheckpointedOffsets); the caller holds s.mu, so no commit
// is in between.
func (s *Store) recordCheckpointed(ctx context.Context) error {
	rows, err := s.conn.QueryContext(ctx, `SELECT topic, part, next_offset FROM offsets`)
	if err != nil {
		return fmt.Errorf("read the checkpointed offsets: %w", err)
	}
	defer rows.Close()
	out := map[string]map[int32]int64{}
	for rows.Next() {
		var topic string
		var p int32
		var o int64
		if err := rows.Scan(&topic, &p, &o); err != nil {
			return fmt.Errorf("read the checkpointed offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][p] = o
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the checkpointed offsets: %w", err)
	}
	s.checkpointed.Store(&out)
	return nil
}

// CheckpointedOffsets returns, per partition of topic, the next offset
// the database file holds as of the last checkpoint (nil before one):
// every record below it is in the checkpointed file, so the broker may
// delete it without a restart ever needing it again.
func (s *Store) CheckpointedOffsets(topic string) map[int32]int64 {
	m := s.checkpointed.Load()
	if m == nil {
		return nil
	}
	return (*m)[topic]
}

// checkPseudonyms refuses a batch with a person value that does not have
// the shape of a pseudonym (privacy.IsPseudonym).
func (s *Store) checkPseudonyms(rec arrow.Record) error {
	if s.failpoint != nil {
		if err := s.failpoint(stepPseudonyms.name); err != nil {
			return fmt.Errorf("%s: %w", stepPseudonyms.name, err)
		}
	}
	var bad int64
	col := rec.Column(personColumn).(*array.String) // checkBatch checked the schema
	for i := range col.Len() {
		if col.IsValid(i) && !privacy.IsPseudonym(col.Value(i)) {
			bad++
		}
	}
	if bad > 0 {
		// Never put the offending value in the error: it may be a raw id.
		return fmt.Errorf("%w: %d events carry a person value that is not a keyed pseudonym (%s + 24 hex digits); ingest must pseudonymize before transform",
			ErrNotPseudonym, bad, privacy.PseudonymPrefix)
	}
	return nil
}

// Rebuild recomputes all task and request state and every team_day and
// team_day_people row from the events table, in one transaction, with the
// same SQL Commit runs for a batch.
func (s *Store) Rebuild(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	start := time.Now()
	var cells int64
	err := s.inTx(ctx, func() error {
		var err error
		cells, err = s.rebuildTx(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	s.pending = 0
	s.pendingCount.Store(0)
	s.logger.Info("rollups rebuilt", "cells", cells, "duration", time.Since(start))
	return nil
}

// rebuildTx recomputes event_keys and the derived state from events, in
// the caller's transaction. The derived tables start empty and the stored
// events are merged into them a slice of teams at a time, with the steps of
// a Commit, so memory is bounded by the slice, not the store. Tasks and
// requests are keyed by their team, so a slice never meets another's; a
// time entry whose revisions name several teams is merged across slices
// as across batches.
func (s *Store) rebuildTx(ctx context.Context) (cells int64, err error) {
	// After retention, what the deleted events left in the derived state
	// stays (lifecycle.go): the team_day rows before the horizon and the
	// tasks and requests with no stored event.
	rf, retained := s.RetainedFrom()
	if retained {
		if _, err := s.exec(ctx, keepBeyondHorizon(rf)); err != nil {
			return 0, err
		}
	}
	for _, st := range []step{stepResetScratch, stepRebuildKeys, stepRecreateDerived, stepRecreatePending} {
		if _, err := s.exec(ctx, st); err != nil {
			return 0, err
		}
	}
	if retained {
		defer func() {
			if err == nil {
				_, err = s.exec(ctx, stepRestoreBeyondHorizon)
			}
		}()
	}
	var events int64
	if err := s.conn.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&events); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	parts := max(1, (events+s.rebuildSlice-1)/s.rebuildSlice)
	began := time.Now()
	for i := range parts {
		if _, err := s.exec(ctx, stepResetScratch); err != nil {
			return 0, err
		}
		if _, err := s.exec(ctx, stepRebuildSlice, parts, i); err != nil {
			return 0, err
		}
		n, err := s.run(ctx, batchSteps)
		if err != nil {
			return 0, fmt.Errorf("slice %d of %d: %w", i+1, parts, err)
		}
		cells += n
		if parts > 1 { // a long rebuild shows its progress
			s.logger.Info("rebuilding derived tables", "slice", i+1, "of", parts, "events", events, "elapsed", time.Since(began).Round(time.Second))
		}
	}
	return cells, nil
}

var (
	stepRebuildKeys = step{name: "recreate event keys",
		sql: "DROP TABLE event_keys; " + eventKeysDDL + "; INSERT INTO event_keys SELECT " + keyExpr + " FROM events"}
	stepRecreateDerived = step{name: "recreate derived tables", sql: recreateDerivedSQL()}
	// A rebuild derives every stored event: none waits any more, and the
	// pending table takes the events table's layout again.
	stepRecreatePending      = step{name: "recreate pending", sql: "DROP TABLE pending; " + pendingDDL}
	stepRestoreBeyondHorizon = step{name: "restore the state past the retention horizon", sql: `
		INSERT INTO team_day BY NAME SELECT * FROM keep_team_day;
		INSERT INTO tasks BY NAME SELECT * FROM keep_tasks;
		INSERT INTO requests BY NAME SELECT * FROM keep_requests;
		DROP TABLE keep_team_day; DROP TABLE keep_tasks; DROP TABLE keep_requests`}
	stepRebuildSlice = step{name: "stage rebuild slice", sql: stageEvents("events", "hash(team) % ? = ?")}
)

// stageEvents stages the stored rows of table from (events or pending)
// that match where, for the derive steps: they read h only as the key of
// a time entry without an entry id.
func stageEvents(from, where string) string {
	return `INSERT INTO staging SELECT *, CASE WHEN type = '` + event.TimeLogged + `' AND entry IS NULL THEN ` + keyExpr + ` END
		FROM ` + from + ` WHERE ` + where
}

// keepBeyondHorizon copies aside the derived state that the events
// deleted by retention left (horizon: the first retained day); Rebuild
// puts it back (stepRestoreBeyondHorizon).
func keepBeyondHorizon(horizon int32) step {
	return step{name: "keep the state past the retention horizon", sql: fmt.Sprintf(`
		CREATE OR REPLACE TEMP TABLE keep_team_day AS SELECT * FROM team_day WHERE day < DATE '1970-01-01' + %d;
		CREATE OR REPLACE TEMP TABLE keep_tasks AS SELECT * FROM tasks WHERE k NOT IN (
			SELECT %s FROM events WHERE task IS NOT NULL AND type LIKE 'work.task.%%');
		CREATE OR REPLACE TEMP TABLE keep_requests AS SELECT * FROM requests WHERE k NOT IN (
			SELECT %s FROM events WHERE request IS NOT NULL AND type LIKE 'work.request.%%')`, horizon, pairKey("team", "task"), pairKey("team", "request"))}
}

// keyedIDsMeta is the shoal_meta row that says the file's task and
// request ids are keyed ids (ingest stores them so): every file this
// version creates or opens has it.
const keyedIDsMeta = "keyed_ids"

// ErrRawIDs is returned (wrapped) by Open for a file written by a Shoal
// from before task and request ids were stored as keyed ids.
var ErrRawIDs = errors.New("the file holds raw task and request ids, from a Shoal before they were stored as keyed ids; " +
	"this version does not mix them with keyed ids (tasks would not match across the change) and cannot key them without re-reading the events: " +
	"move the data directory aside and start with an empty one, which re-reads the event topic from its start; " +
	"events the topic no longer holds stay in the old file only, so delete it once the new one has caught up, as its raw ids join back to the tracker")

// refuseRawIDs returns ErrRawIDs if the file holds events with raw task or
// request ids: it lacks the keyedIDsMeta row and an id is not of the keyed
// shape. A new file, or one without such events, passes (Open marks it).
func (s *Store) refuseRawIDs(ctx context.Context) error {
	var hasMeta, hasEvents bool
	if err := s.conn.QueryRowContext(ctx, `SELECT
			count(*) FILTER (WHERE table_name = 'shoal_meta') > 0, count(*) FILTER (WHERE table_name = 'events') > 0
		FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()`).Scan(&hasMeta, &hasEvents); err != nil {
		return fmt.Errorf("look for shoal_meta and events: %w", err)
	}
	if hasMeta {
		var keyed bool
		if err := s.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM shoal_meta WHERE name = '`+keyedIDsMeta+`'`).Scan(&keyed); err != nil {
			return fmt.Errorf("read %s: %w", keyedIDsMeta, err)
		}
		if keyed {
			return nil
		}
	}
	if !hasEvents {
		return nil
	}
	var raw bool
	if err := s.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events
		WHERE (task IS NOT NULL AND NOT regexp_full_match(task, 't_[0-9a-f]{32}'))
		   OR (request IS NOT NULL AND NOT regexp_full_match(request, 'r_[0-9a-f]{32}')))`).Scan(&raw); err != nil {
		return fmt.Errorf("look for raw task and request ids: %w", err)
	}
	if raw {
		return ErrRawIDs
	}
	return nil
}

// derivedVersion is the version of the derived tables' layout and
// semantics. A file whose shoal_meta says otherwise (or nothing: files of
// Shoal before the table existed) has its derived tables dropped,
// recreated and rebuilt from its events by Open. Raise it whenever the
// derived tables or the meaning of their columns change.
const derivedVersion = 5

// derivedStale reports whether the file's derived tables are missing or
// from another derivedVersion, and if so drops them so that schemaSQL
// recreates them in the current layout.
func (s *Store) derivedStale(ctx context.Context) (bool, error) {
	var hasMeta bool
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables()
		WHERE table_name = 'shoal_meta' AND schema_name = 'main' AND database_name = current_database()`).Scan(&hasMeta); err != nil {
		return false, fmt.Errorf("look for shoal_meta: %w", err)
	}
	var version int64 // 0: a new file, or one from before shoal_meta
	if hasMeta {
		err := s.conn.QueryRowContext(ctx, `SELECT value FROM shoal_meta WHERE name = 'derived_version'`).Scan(&version)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("read derived_version: %w", err)
		}
	}
	if version == derivedVersion {
		differs, err := s.derivedLayoutDiffers(ctx)
		if err != nil || differs == "" {
			return false, err
		}
		// A file this version wrote whose tables another version replaced
		// (one that was stopped before its rebuild committed).
		s.logger.Warn("the derived tables do not have this version's layout", "table", differs, "version", version)
	}
	for _, t := range derivedTables {
		if _, err := s.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t.name); err != nil {
			return true, fmt.Errorf("drop stale derived table %s: %w", t.name, err)
		}
	}
	// Until the rebuild commits, the file's derived tables are of no
	// version: an Open of any version that follows rebuilds them again.
	if hasMeta {
		if _, err := s.conn.ExecContext(ctx, `DELETE FROM shoal_meta WHERE name = 'derived_version'`); err != nil {
			return true, fmt.Errorf("clear derived_version: %w", err)
		}
	}
	return true, nil
}

// derivedTables are the tables Rebuild recomputes from events, with the
// DDL of their current layout; event_keys is last.
var derivedTables = []struct{ name, ddl string }{
	{"tasks", tasksDDL}, {"requests", requestsDDL}, {"team_day", teamDayDDL},
	{"team_day_people", teamDayPeopleDDL}, {"team_day_tasks", teamDayTasksDDL}, {"time_entries", timeEntriesDDL},
	{"event_keys", eventKeysDDL},
}

// recreateDerivedSQL drops and recreates the derived tables but event_keys
// (stepRebuildKeys fills that one from events).
func recreateDerivedSQL() string {
	var q []string
	for _, t := range derivedTables[:len(derivedTables)-1] {
		q = append(q, "DROP TABLE "+t.name, t.ddl)
	}
	return strings.Join(q, ";\n")
}

// derivedLayoutDiffers returns the first derived table whose columns
// (names, types, order) are not those of its DDL, or "" if all match: it
// creates each DDL as an empty temporary table and compares the two in
// duckdb_columns().
func (s *Store) derivedLayoutDiffers(ctx context.Context) (string, error) {
	for _, t := range derivedTables {
		ddl := strings.Replace(t.ddl, "CREATE TABLE IF NOT EXISTS "+t.name, "CREATE OR REPLACE TEMP TABLE layout_"+t.name, 1)
		if _, err := s.conn.ExecContext(ctx, ddl); err != nil {
			return "", fmt.Errorf("check the layout of %s: %w", t.name, err)
		}
		var differs bool
		err := s.conn.QueryRowContext(ctx, `WITH c AS (
				SELECT table_name = ? AS stored, column_index AS i, column_name AS name, data_type AS type
				FROM duckdb_columns() WHERE (table_name = ? AND schema_name = 'main' AND database_name = current_database())
					OR (table_name = ? AND database_name = 'temp'))
			SELECT count(*) > 0 FROM (SELECT i, name, type FROM c WHERE stored) a
				FULL JOIN (SELECT i, name, type FROM c WHERE NOT stored) b USING (i)
			WHERE a.name IS DISTINCT FROM b.name OR a.type IS DISTINCT FROM b.type`,
			t.name, t.name, "layout_"+t.name).Scan(&differs)
		if _, derr := s.conn.ExecContext(ctx, "DROP TABLE temp.layout_"+t.name); err == nil {
			err = derr
		}
		if err != nil {
			return "", fmt.Errorf("check the layout of %s: %w", t.name, err)
		}
		if differs {
			return t.name, nil
		}
	}
	return "", nil
}

// Offsets returns the stored next offset per partition of topic.
func (s *Store) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT part, next_offset FROM offsets WHERE topic = ?`, topic)
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var o int64
		if err := rows.Scan(&p, &o); err != nil {
			return nil, fmt.Errorf("read offsets of %s: %w", topic, err)
		}
		out[p] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", topic, err)
	}
	return out, nil
}

// TeamDays returns every team_day row, ordered by team and day.
func (s *Store) TeamDays(ctx context.Context) ([]TeamDay, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT team, CAST(day - DATE '1970-01-01' AS INTEGER),
		events, tasks_created, tasks_started, tasks_completed,
		lead_time_s_sum, lead_time_n, cycle_time_s_sum, cycle_time_n,
		completed_with_due, completed_on_time, tasks_reopened, tasks_blocked,
		focus_s, meeting_s, collaboration_s, support_s, admin_s, learning_s, other_s,
		requests_opened, requests_responded, response_time_s_sum, response_time_n, contributors
		FROM team_day ORDER BY team, day`)
	if err != nil {
		return nil, fmt.Errorf("read team_day: %w", err)
	}
	defer rows.Close()
	var out []TeamDay
	for rows.Next() {
		var d TeamDay
		if err := rows.Scan(&d.Team, &d.Day,
			&d.Events, &d.TasksCreated, &d.TasksStarted, &d.TasksCompleted,
			&d.LeadTimeSSum, &d.LeadTimeN, &d.CycleTimeSSum, &d.CycleTimeN,
			&d.CompletedWithDue, &d.CompletedOnTime, &d.TasksReopened, &d.TasksBlocked,
			&d.FocusS, &d.MeetingS, &d.CollaborationS, &d.SupportS, &d.AdminS, &d.LearningS, &d.OtherS,
			&d.RequestsOpened, &d.RequestsResponded, &d.ResponseTimeSSum, &d.ResponseTimeN, &d.Contributors,
		); err != nil {
			return nil, fmt.Errorf("read team_day: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read team_day: %w", err)
	}
	return out, nil
}

// Rejections returns the total of rejected events per reason.
func (s *Store) Rejections(ctx context.Context) (map[string]int64, error) {
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT reason, CAST(sum(events) AS BIGINT) FROM rejections GROUP BY reason`)
	if err != nil {
		return nil, fmt.Errorf("read rejections: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var r string
		var n int64
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("read rejections: %w", err)
		}
		out[r] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rejections: %w", err)
	}
	return out, nil
}

// EventCount returns the number of stored events.
func (s *Store) EventCount(ctx context.Context) (int64, error) {
	defer s.readLock()()
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// TeamContributors returns the number of distinct people per team over the
// days [fromDay, toDay] (days since 1970-01-01). Teams without any are
// absent. No suppression is applied: callers pass results through privacy.
func (s *Store) TeamContributors(ctx context.Context, fromDay, toDay int32) (map[string]int, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT team, count(DISTINCT person) FROM team_day_people
		WHERE day BETWEEN DATE '1970-01-01' + CAST(? AS INTEGER) AND DATE '1970-01-01' + CAST(? AS INTEGER)
		GROUP BY team`, fromDay, toDay)
	if err != nil {
		return nil, fmt.Errorf("read team contributors: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("read team contributors: %w", err)
		}
		out[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read team contributors: %w", err)
	}
	return out, nil
}

// LastCommit returns when the last successful Commit of this Store
// finished, or the zero time if there was none since Open.
func (s *Store) LastCommit() time.Time {
	ns := s.lastCommit.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Close closes the database. It waits for a running Commit or Rebuild.
// Calling it again is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var cerr error
	if s.failed == nil && s.conn != nil {
		if _, err := s.conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
			cerr = fmt.Errorf("checkpoint before closing (the next start replays the write-ahead log): %w", err)
		}
	}
	err := errors.Join(cerr, s.closeAll())
	if err != nil {
		return fmt.Errorf("close duckdb file %s: %w", s.path, err)
	}
	if s.failed != nil {
		s.logger.Warn("duckdb store closed without a checkpoint after a failed commit: the next start replays the write-ahead log and reads the failed batch from Kafka again", "path", s.path)
		return nil
	}
	s.logger.Info("duckdb store closed", "path", s.path)
	return nil
}

// closeAll releases whatever open or Open got to.
func (s *Store) closeAll() error {
	err := s.closeDB()
	openMu.Lock()
	delete(openPaths, s.abs)
	openMu.Unlock()
	return err
}

// closeDB closes the view, the write connection and the database.
func (s *Store) closeDB() error {
	var errs []error
	if s.view != nil {
		s.view.reader.feed(nil)
		if _, err := s.conn.ExecContext(context.Background(), "DROP VIEW IF EXISTS "+viewRef); err != nil {
			errs = append(errs, fmt.Errorf("drop arrow view: %w", err))
		}
		s.view.release()
		s.view = nil
	}
	if s.conn != nil {
		if err := s.conn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	// db stays, closed: a reader gets "database is closed", not a nil.
	s.view, s.conn = nil, nil
	return errors.Join(errs...)
}

// stepTimes adds up the wall time of each step of one commit. Only the
// writer (under Store.mu) touches it.
type stepTimes struct {
	names []string
	total map[string]time.Duration
}

func (t *stepTimes) reset() {
	t.names = t.names[:0]
	clear(t.total)
}

func (t *stepTimes) add(name string, d time.Duration) {
	if t.total == nil {
		t.total = map[string]time.Duration{}
	}
	if _, ok := t.total[name]; !ok {
		t.names = append(t.names, name)
	}
	t.total[name] += d
}

// slowest lists the n slowest steps as "name=duration", slowest first.
func (t *stepTimes) slowest(n int) string {
	names := slices.Clone(t.names)
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(t.total[b], t.total[a]) })
	parts := make([]string, 0, n)
	for _, name := range names[:min(n, len(names))] {
		parts = append(parts, fmt.Sprintf("%s=%s", name, t.total[name].Round(time.Millisecond)))
	}
	return strings.Join(parts, " ")
}
