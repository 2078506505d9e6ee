package transform

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/marcboeker/go-duckdb"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// The release ledger: every released week, its decided cells (weekly and
// daily, a dense grid) and its data-quality counts. Rows are only ever
// inserted, one week in one transaction; nothing updates or deletes them,
// and Rebuild does not touch them (they are not derived from the events
// as they are now, but from the events as they were at release).
const (
	releasesDDL = `CREATE TABLE IF NOT EXISTS releases (
		week           DATE      NOT NULL PRIMARY KEY,
		released_at    TIMESTAMP NOT NULL,
		min_group_size INTEGER   NOT NULL,
		hierarchy      VARCHAR   NOT NULL,
		cells          BIGINT    NOT NULL
	)`
	// period is the week's Monday (days = 7) or a day (days = 1). value is
	// NULL for a withheld or undefined cell; reason is NULL for a visible
	// one.
	releasedCellsDDL = `CREATE TABLE IF NOT EXISTS released_cells (
		week    DATE     NOT NULL,
		period  DATE     NOT NULL,
		days    TINYINT  NOT NULL,
		level   VARCHAR  NOT NULL,
		unit    VARCHAR,
		team    VARCHAR,
		metric  VARCHAR  NOT NULL,
		value   DOUBLE,
		visible BOOLEAN  NOT NULL,
		reason  VARCHAR
	)`
	releasedQualityDDL = `CREATE TABLE IF NOT EXISTS released_quality (
		week     DATE    NOT NULL,
		period   DATE    NOT NULL,
		days     TINYINT NOT NULL,
		accepted BIGINT,
		reason   VARCHAR
	)`
)

// ErrReleased is returned (wrapped) by Release for a week already released:
// a released week never changes.
var ErrReleased = errors.New("week already released")

// ReleaseInfo describes one released week.
type ReleaseInfo struct {
	Week       int32 // Monday, days since 1970-01-01
	ReleasedAt time.Time
	K          int
	Hierarchy  privacy.Hierarchy
	Cells      int64
}

// Release writes r to the ledger in one transaction, at time at. A week
// already released is refused with ErrReleased and left as it was.
func (s *Store) Release(ctx context.Context, r privacy.Release, at time.Time) error {
	h, err := json.Marshal(r.Hierarchy)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	week := calendar.DayTime(r.Week)
	err = s.inTx(ctx, func() error {
		var n int
		if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM releases WHERE week = ?`, week).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", ErrReleased, week.Format(time.DateOnly))
		}
		cells := int64(len(r.Weekly) + len(r.Daily))
		if _, err := s.conn.ExecContext(ctx, `INSERT INTO releases VALUES (?, ?, ?, ?, ?)`, week, at.UTC(), r.K, string(h), cells); err != nil {
			return err
		}
		return s.conn.Raw(func(dc any) error {
			dconn, ok := dc.(driver.Conn)
			if !ok {
				return fmt.Errorf("%T is not a database/sql/driver.Conn", dc)
			}
			if err := appendCells(dconn, week, 7, r.Weekly); err != nil {
				return err
			}
			if err := appendCells(dconn, week, 1, r.Daily); err != nil {
				return err
			}
			a, err := duckdb.NewAppenderFromConn(dconn, "", "released_quality")
			if err != nil {
				return err
			}
			for _, q := range r.Quality {
				var accepted, reason driver.Value
				if q.Visible {
					accepted = q.Accepted
				} else {
					reason = string(q.Reason)
				}
				if err := a.AppendRow(week, calendar.DayTime(q.Period), int8(q.Days), accepted, reason); err != nil {
					a.Close()
					return err
				}
			}
			return a.Close()
		})
	})
	if err == nil {
		s.releasedThrough.Store(max(s.releasedThrough.Load(), r.Week+6))
	}
	if err != nil {
		if errors.Is(err, ErrReleased) {
			return err
		}
		if s.markFailed(err) {
			return s.failedError()
		}
		return fmt.Errorf("release the week of %s: %w", week.Format(time.DateOnly), err)
	}
	return nil
}

func appendCells(dconn driver.Conn, week time.Time, days int8, cells []privacy.Published) error {
	a, err := duckdb.NewAppenderFromConn(dconn, "", "released_cells")
	if err != nil {
		return err
	}
	for _, c := range cells {
		var value, reason driver.Value
		if c.Visible && c.Defined {
			value = c.Value
		}
		if !c.Visible {
			reason = string(c.Reason)
		}
		if err := a.AppendRow(week, calendar.DayTime(c.Week), days, string(c.Level), nullString(c.Unit), nullString(c.Team), c.Metric, value, c.Visible, reason); err != nil {
			a.Close()
			return err
		}
	}
	return a.Close()
}

func nullString(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// noRelease is releasedThrough before the first release.
const noRelease = math.MinInt32

// loadReleasedThrough sets releasedThrough from the ledger.
func (s *Store) loadReleasedThrough(ctx context.Context) error {
	var last sql.NullInt32
	if err := s.conn.QueryRowContext(ctx, `SELECT CAST(max(week) - DATE '1970-01-01' AS INTEGER) FROM releases`).Scan(&last); err != nil {
		return fmt.Errorf("read the release ledger: %w", err)
	}
	s.releasedThrough.Store(noRelease)
	if last.Valid {
		s.releasedThrough.Store(last.Int32 + 6)
	}
	return nil
}

// Releases lists the released weeks, oldest first.
func (s *Store) Releases(ctx context.Context) ([]ReleaseInfo, error) {
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT CAST(week - DATE '1970-01-01' AS INTEGER), released_at, min_group_size, hierarchy, cells
		FROM releases ORDER BY week`)
	if err != nil {
		return nil, fmt.Errorf("read the release ledger: %w", err)
	}
	defer rows.Close()
	var out []ReleaseInfo
	for rows.Next() {
		var r ReleaseInfo
		var h string
		if err := rows.Scan(&r.Week, &r.ReleasedAt, &r.K, &h, &r.Cells); err != nil {
			return nil, fmt.Errorf("read the release ledger: %w", err)
		}
		if err := json.Unmarshal([]byte(h), &r.Hierarchy); err != nil {
			return nil, fmt.Errorf("read the release ledger: the hierarchy of %s: %w", calendar.DayTime(r.Week).Format(time.DateOnly), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the release ledger: %w", err)
	}
	return out, nil
}

// Released returns the released cells of the weeks whose Monday is in
// [fromWeek, toWeek]: the weekly cells, and the daily ones when daily is
// true (Cell.Week holds the day), sorted by period, metric, level, unit
// and team. Withheld cells have no value; no cell has people or samples.
func (s *Store) Released(ctx context.Context, fromWeek, toWeek int32, daily bool) (weekly, days []privacy.Published, err error) {
	defer s.readLock()()
	q := `SELECT CAST(period - DATE '1970-01-01' AS INTEGER), days, level, coalesce(unit, ''), coalesce(team, ''), metric, value, visible, coalesce(reason, '')
		FROM released_cells WHERE week BETWEEN DATE '1970-01-01' + CAST(? AS INTEGER) AND DATE '1970-01-01' + CAST(? AS INTEGER)`
	if !daily {
		q += ` AND days = 7`
	}
	// Sorted in Go, not by DuckDB: 8 weeks of 2,000 teams are ≈ 256 k
	// rows, and DuckDB's sort of them is memory outside the Go heap's
	// limit, at the moment (the weekly report after a release) that set
	// the large preset's peak RSS.
	rows, err := s.db.QueryContext(ctx, q, fromWeek, toWeek)
	if err != nil {
		return nil, nil, fmt.Errorf("read released cells: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p      privacy.Published
			n      int8
			level  string
			value  sql.NullFloat64
			reason string
		)
		if err := rows.Scan(&p.Week, &n, &level, &p.Unit, &p.Team, &p.Metric, &value, &p.Visible, &reason); err != nil {
			return nil, nil, fmt.Errorf("read released cells: %w", err)
		}
		p.Level, p.Reason = outcome.Level(level), privacy.Reason(reason)
		p.Value, p.Defined = value.Float64, value.Valid
		if n == 7 {
			weekly = append(weekly, p)
		} else {
			days = append(days, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read released cells: %w", err)
	}
	slices.SortFunc(weekly, releasedOrder)
	slices.SortFunc(days, releasedOrder)
	return weekly, days, nil
}

// releasedOrder orders released cells by period, metric, level (org,
// unit, team), unit and team.
func releasedOrder(a, b privacy.Published) int {
	return cmp.Or(cmp.Compare(a.Week, b.Week), strings.Compare(a.Metric, b.Metric), cmp.Compare(a.Level.Rank(), b.Level.Rank()),
		strings.Compare(a.Unit, b.Unit), strings.Compare(a.Team, b.Team))
}

// ReleasedQuality returns the released data-quality counts of the weeks
// whose Monday is in [fromWeek, toWeek], by period (the week, then its
// days).
func (s *Store) ReleasedQuality(ctx context.Context, fromWeek, toWeek int32) ([]privacy.QualityCell, error) {
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT CAST(period - DATE '1970-01-01' AS INTEGER), days, accepted, coalesce(reason, '')
		FROM released_quality WHERE week BETWEEN DATE '1970-01-01' + CAST(? AS INTEGER) AND DATE '1970-01-01' + CAST(? AS INTEGER)
		ORDER BY week, days DESC, period`, fromWeek, toWeek)
	if err != nil {
		return nil, fmt.Errorf("read released data quality: %w", err)
	}
	defer rows.Close()
	var out []privacy.QualityCell
	for rows.Next() {
		var q privacy.QualityCell
		var n int8
		var accepted sql.NullInt64
		var reason string
		if err := rows.Scan(&q.Period, &n, &accepted, &reason); err != nil {
			return nil, fmt.Errorf("read released data quality: %w", err)
		}
		q.Days, q.Accepted, q.Visible, q.Reason = int32(n), accepted.Int64, accepted.Valid, privacy.Reason(reason)
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read released data quality: %w", err)
	}
	return out, nil
}

// Teams lists every team that has ever had an event, sorted: with the
// teams file, the hierarchy a release is decided under.
func (s *Store) Teams(ctx context.Context) ([]string, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT team FROM team_day ORDER BY team`)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("list teams: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// FirstEventDay is the earliest team-local day with an accepted event, and
// false for an empty store.
func (s *Store) FirstEventDay(ctx context.Context) (int32, bool, error) {
	if err := s.flush(ctx); err != nil {
		return 0, false, err
	}
	defer s.readLock()()
	var d sql.NullInt32
	if err := s.db.QueryRowContext(ctx, `SELECT CAST(min(day) - DATE '1970-01-01' AS INTEGER) FROM team_day WHERE events > 0`).Scan(&d); err != nil {
		return 0, false, fmt.Errorf("first event day: %w", err)
	}
	return d.Int32, d.Valid, nil
}
