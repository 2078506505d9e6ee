package transform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/marcboeker/go-duckdb"
)

// The baselines `shoal bench` measures Shoal against. The pipeline never
// uses them. They live here because transform is the only package that may
// import DuckDB. Neither stores a raw person identifier: the naive path
// stores the pseudonyms its caller gives it, and the loader hashes person
// values inside DuckDB with a secret salt before any row is written.

// baselineRollup is the rollup both baselines run at the end: per team and
// day, the counts and sums that team_day holds for those columns, as one
// GROUP BY over the raw rows (UTC days; Shoal's rollup uses team-local days
// and also keeps task and request state, which these do not).
const baselineRollup = `CREATE OR REPLACE TABLE baseline_team_day AS
	SELECT team, CAST(event_time AS DATE) AS day,
		count(*) AS events,
		count(*) FILTER (WHERE type = 'work.task.created') AS tasks_created,
		count(*) FILTER (WHERE type = 'work.task.started') AS tasks_started,
		count(*) FILTER (WHERE type = 'work.task.completed') AS tasks_completed,
		count(*) FILTER (WHERE type = 'work.request.opened') AS requests_opened,
		count(*) FILTER (WHERE type = 'work.request.responded') AS requests_responded,
		sum(epoch(ended_at) - epoch(started_at)) FILTER (WHERE category = 'focus') AS focus_s,
		sum(epoch(ended_at) - epoch(started_at)) FILTER (WHERE category = 'meeting') AS meeting_s,
		count(DISTINCT person) AS contributors
	FROM baseline_events GROUP BY ALL`

const baselineEventsDDL = `CREATE TABLE IF NOT EXISTS baseline_events (
	source VARCHAR, id VARCHAR, type VARCHAR, event_time TIMESTAMP,
	team VARCHAR, task VARCHAR, request VARCHAR, person VARCHAR,
	category VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP)`

// NaiveEvent is the row the naive baseline inserts.
type NaiveEvent struct {
	Source, ID, Type        string
	Time                    time.Time
	Team, Task, Request     string
	Person                  string // a pseudonym, never a raw id
	Category                string
	Start, End              time.Time
	HasTimeEntry, HasPerson bool
}

// NaiveStore is the pipeline most teams write first: database/sql, one
// INSERT per event in autocommit mode.
type NaiveStore struct {
	db   *sql.DB
	stmt *sql.Stmt
}

// OpenNaive creates (or opens) the DuckDB file at path for the naive
// baseline.
func OpenNaive(ctx context.Context, path string) (*NaiveStore, error) {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return nil, fmt.Errorf("open naive baseline %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, baselineEventsDDL); err != nil {
		db.Close()
		return nil, fmt.Errorf("create naive baseline table: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, `INSERT INTO baseline_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare naive insert: %w", err)
	}
	return &NaiveStore{db: db, stmt: stmt}, nil
}

// Insert stores one event in its own transaction.
func (n *NaiveStore) Insert(ctx context.Context, e NaiveEvent) error {
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var start, end, person any
	if e.HasTimeEntry {
		start, end = e.Start.UTC(), e.End.UTC()
	}
	if e.HasPerson {
		person = e.Person
	}
	_, err := n.stmt.ExecContext(ctx, e.Source, e.ID, e.Type, e.Time.UTC(), e.Team, opt(e.Task), opt(e.Request), person, opt(e.Category), start, end)
	return err
}

// Rollup runs the baseline rollup and returns the number of cells.
func (n *NaiveStore) Rollup(ctx context.Context) (int64, error) { return baselineRollupOn(ctx, n.db) }

// Close closes the file.
func (n *NaiveStore) Close() error {
	return errors.Join(n.stmt.Close(), n.db.Close())
}

func baselineRollupOn(ctx context.Context, db *sql.DB) (int64, error) {
	if _, err := db.ExecContext(ctx, baselineRollup); err != nil {
		return 0, fmt.Errorf("baseline rollup: %w", err)
	}
	var cells int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM baseline_team_day`).Scan(&cells); err != nil {
		return 0, fmt.Errorf("count baseline cells: %w", err)
	}
	return cells, nil
}

// LoadResult is what LoadNDJSON measured.
type LoadResult struct {
	Rows, Cells   int64
	Load, Rollups time.Duration
}

// LoadNDJSON is DuckDB's own loader as a baseline: read_json of a file of
// CloudEvents (one per line; lines that are not JSON objects are skipped)
// into a table, person values replaced by a salted SHA-256 in the same
// statement, then the baseline rollup. threads caps DuckDB's threads (0:
// all cores).
func LoadNDJSON(ctx context.Context, dbPath, ndjsonPath, salt string, threads int) (LoadResult, error) {
	dsn := dbPath
	if threads > 0 {
		dsn += fmt.Sprintf("?threads=%d", threads)
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return LoadResult{}, fmt.Errorf("open loader baseline %s: %w", dbPath, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if _, err := db.ExecContext(ctx, baselineEventsDDL); err != nil {
		return LoadResult{}, fmt.Errorf("create loader baseline table: %w", err)
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	began := time.Now()
	res, err := db.ExecContext(ctx, `INSERT INTO baseline_events
		SELECT source, id, type, CAST(try_cast("time" AS TIMESTAMPTZ) AS TIMESTAMP),
			data.team, data.task, data.request,
			CASE WHEN data.person IS NULL THEN NULL ELSE sha256(`+lit(salt)+` || data.person) END,
			data.category,
			CAST(try_cast(data.start AS TIMESTAMPTZ) AS TIMESTAMP), CAST(try_cast(data."end" AS TIMESTAMPTZ) AS TIMESTAMP)
		FROM read_json(`+lit(ndjsonPath)+`, format = 'newline_delimited', ignore_errors = true,
			columns = {source: 'VARCHAR', id: 'VARCHAR', type: 'VARCHAR', "time": 'VARCHAR',
				data: 'STRUCT(team VARCHAR, task VARCHAR, request VARCHAR, person VARCHAR, category VARCHAR, start VARCHAR, "end" VARCHAR)'})
		WHERE source IS NOT NULL AND id IS NOT NULL AND data.team IS NOT NULL AND try_cast("time" AS TIMESTAMPTZ) IS NOT NULL`)
	if err != nil {
		return LoadResult{}, fmt.Errorf("read_json %s: %w", ndjsonPath, err)
	}
	out := LoadResult{Load: time.Since(began)}
	out.Rows, _ = res.RowsAffected()
	began = time.Now()
	if out.Cells, err = baselineRollupOn(ctx, db); err != nil {
		return LoadResult{}, err
	}
	out.Rollups = time.Since(began)
	return out, nil
}
