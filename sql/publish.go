package sql

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/transform"
)

// The SQL endpoint queries transform's serving database, in process or in
// its engine process.
var (
	_ Engine = (*transform.Serving)(nil)
	_ Engine = (*transform.ServingProcess)(nil)
	_ Target = (*transform.Serving)(nil)
	_ Target = (*transform.ServingProcess)(nil)
)

// Target is what a Publisher publishes to: the serving database.
type Target interface {
	Publish(ctx context.Context, tables []transform.ServingTable) error
}

// servingWeeks is how many released ISO weeks (the latest ones) the SQL
// endpoint's outcome tables cover.
const servingWeeks = 26

// RefreshInterval is how often the publisher looks for a new release or a
// reloaded teams file (at least four times the last publication's
// duration apart).
const RefreshInterval = 15 * time.Second

// Publisher composes the SQL endpoint's tables from the release ledger:
// released weeks only, as privacy.NewRelease decided them (a dense grid,
// rounded, withheld cells NULL). Nothing else about outcomes is published
// to it, so a query can never see a week that is still open.
type Publisher struct {
	store   *transform.Store
	serving Target
	teams   func() *agreements.Org
	log     *slog.Logger

	mu   sync.Mutex
	last struct {
		releases int
		org      *agreements.Org
	}
}

// NewPublisher returns a publisher of store's releases into serving, with
// the agreements teams returns as the team_agreements table.
func NewPublisher(store *transform.Store, serving Target, teams func() *agreements.Org, logger *slog.Logger) *Publisher {
	return &Publisher{store: store, serving: serving, teams: teams, log: logger}
}

// Refresh republishes the serving database if a week was released or the
// agreements changed since the last publication (force: always).
func (s *Publisher) Refresh(ctx context.Context, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.teams()
	rels, err := s.store.Releases(ctx)
	if err != nil {
		return err
	}
	if !force && len(rels) == s.last.releases && org == s.last.org {
		return nil
	}
	began := time.Now()
	var dailyRows int
	tables, err := s.tables(ctx, org, rels, &dailyRows)
	if err != nil {
		return err
	}
	if err := s.serving.Publish(ctx, tables); err != nil {
		return err
	}
	s.log.Info("SQL tables published", "component", "sql", "released_weeks", min(len(rels), servingWeeks), "weekly_rows", len(tables[0].Rows), "daily_rows", dailyRows, "took", time.Since(began).Round(time.Millisecond))
	s.last.releases, s.last.org = len(rels), org
	return nil
}

// outcomeColumns are the columns of the weekly and daily tables after the
// period column.
func outcomeColumns(period string) []transform.ServingColumn {
	cols := []transform.ServingColumn{{Name: period, Type: "DATE"}, {Name: "level", Type: "VARCHAR"}, {Name: "unit", Type: "VARCHAR"}, {Name: "team", Type: "VARCHAR"}}
	for _, m := range outcome.Catalog {
		cols = append(cols, transform.ServingColumn{Name: m.ID, Type: "DOUBLE"})
	}
	return append(cols,
		transform.ServingColumn{Name: "flow_suppressed", Type: "BOOLEAN"},
		transform.ServingColumn{Name: "time_suppressed", Type: "BOOLEAN"},
		transform.ServingColumn{Name: "async_suppressed", Type: "BOOLEAN"},
		transform.ServingColumn{Name: "suppressed", Type: "BOOLEAN"},
		transform.ServingColumn{Name: "suppression_reason", Type: "VARCHAR"},
	)
}

// tables are the serving tables of the last servingWeeks releases; the
// daily table's rows are counted into *dailyRows as Publish fills it.
func (s *Publisher) tables(ctx context.Context, org *agreements.Org, rels []transform.ReleaseInfo, dailyRows *int) ([]transform.ServingTable, error) {
	rels = rels[max(0, len(rels)-servingWeeks):]
	var weekly []privacy.Published
	var quality []privacy.QualityCell
	var refused []outcome.QualityDay
	if len(rels) > 0 {
		from, to := rels[0].Week, rels[len(rels)-1].Week
		var err error
		if weekly, _, err = s.store.Released(ctx, from, to, false); err != nil {
			return nil, err
		}
		if quality, err = s.store.ReleasedQuality(ctx, from, to); err != nil {
			return nil, err
		}
		if refused, err = s.store.Quality(ctx, from, to+6); err != nil {
			return nil, err
		}
	}
	// The days are read and appended a released week at a time, inside
	// the publication (Fill), so only one week's daily cells are held at
	// once (2,000 teams: about 200 k cells a week).
	fillDays := func(add func([]any) error) error {
		for _, r := range rels {
			_, days, err := s.store.Released(ctx, r.Week, r.Week, true)
			if err != nil {
				return err
			}
			for _, row := range outcomeRows(days) {
				if err := add(row); err != nil {
					return err
				}
				*dailyRows++
			}
		}
		return nil
	}
	return []transform.ServingTable{
		{Name: "weekly_outcomes", Columns: outcomeColumns("week"), Rows: outcomeRows(weekly)},
		{Name: "daily_outcomes", Columns: outcomeColumns("day"), Fill: fillDays},
		catalogTable(),
		agreementsTable(org),
		{Name: "data_quality", Columns: qualityColumns, Rows: qualityRows(quality, refused)},
		releasesTable(rels),
	}, nil
}

// outcomeRows turns published cells into one row per (period, level,
// unit, team). A hidden cell is NULL whatever its value, and whether or
// not it was defined (an undefined hidden cell would say something about
// the hidden group); a visible cell is NULL only when undefined.
func outcomeRows(cells []privacy.Published) [][]any {
	type key struct {
		period     int32
		level      outcome.Level
		unit, team string
	}
	col := map[string]int{}
	for i, m := range outcome.Catalog {
		col[m.ID] = i
	}
	n := len(outcome.Catalog)
	// A family is flagged suppressed in a row when none of its metrics
	// there is shown and some are withheld (a weekly-only snapshot on a day
	// does not count either way).
	type acc struct {
		values      []any
		held, shown map[outcome.Family]bool
		reasons     map[string]bool
	}
	rows := map[key]*acc{}
	var keys []key
	for _, c := range cells {
		k := key{c.Week, c.Level, c.Unit, c.Team}
		a := rows[k]
		if a == nil {
			a = &acc{values: make([]any, n), held: map[outcome.Family]bool{}, shown: map[outcome.Family]bool{}, reasons: map[string]bool{}}
			rows[k] = a
			keys = append(keys, k)
		}
		m, _ := outcome.ByID(c.Metric)
		switch {
		case !c.Visible:
			if c.Reason != privacy.ReasonWeeklyOnly {
				a.held[m.Family] = true
				a.reasons[string(m.Family)+":"+string(c.Reason)] = true
			}
		default:
			a.shown[m.Family] = true
			if c.Defined {
				a.values[col[c.Metric]] = c.Value
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.period != b.period {
			return a.period < b.period
		}
		if a.level != b.level {
			return a.level.Rank() < b.level.Rank()
		}
		if a.unit != b.unit {
			return a.unit < b.unit
		}
		return a.team < b.team
	})
	out := make([][]any, 0, len(keys))
	for _, k := range keys {
		a := rows[k]
		row := []any{calendar.DayTime(k.period), string(k.level), nullIfEmpty(k.unit), nullIfEmpty(k.team)}
		row = append(row, a.values...)
		reasons := make([]string, 0, len(a.reasons))
		for r := range a.reasons {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		anyHidden := len(reasons) > 0
		var reason any
		if anyHidden {
			reason = strings.Join(reasons, ",")
		}
		hidden := func(f outcome.Family) bool { return a.held[f] && !a.shown[f] }
		row = append(row, hidden(outcome.Flow), hidden(outcome.Time), hidden(outcome.Async), anyHidden, reason)
		out = append(out, row)
	}
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func catalogTable() transform.ServingTable {
	t := transform.ServingTable{Name: "metric_catalog", Columns: []transform.ServingColumn{
		{Name: "id", Type: "VARCHAR"}, {Name: "name", Type: "VARCHAR"}, {Name: "title", Type: "VARCHAR"},
		{Name: "help", Type: "VARCHAR"}, {Name: "definition", Type: "VARCHAR"}, {Name: "unit", Type: "VARCHAR"},
		{Name: "direction", Type: "VARCHAR"}, {Name: "family", Type: "VARCHAR"}, {Name: "daily", Type: "BOOLEAN"},
	}}
	for _, m := range outcome.Catalog {
		t.Rows = append(t.Rows, []any{m.ID, m.Name, m.Title, m.Help, m.Definition, string(m.Unit), string(m.Direction), string(m.Family), !outcome.WeeklyOnly(m.ID)})
	}
	return t
}

func agreementsTable(org *agreements.Org) transform.ServingTable {
	t := transform.ServingTable{Name: "team_agreements", Columns: []transform.ServingColumn{
		{Name: "team", Type: "VARCHAR"}, {Name: "team_name", Type: "VARCHAR"}, {Name: "unit", Type: "VARCHAR"},
		{Name: "unit_name", Type: "VARCHAR"}, {Name: "time_zone", Type: "VARCHAR"}, {Name: "response_sla_seconds", Type: "DOUBLE"},
		{Name: "working_days", Type: "VARCHAR"}, {Name: "focus_block_min_seconds", Type: "DOUBLE"},
		{Name: "overwork_hours_per_day", Type: "DOUBLE"}, {Name: "min_group_size", Type: "BIGINT"},
	}}
	for _, a := range org.Teams() {
		var days []string
		for _, wd := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
			if a.WorkingDays[wd] {
				days = append(days, strings.ToLower(wd.String()[:3]))
			}
		}
		t.Rows = append(t.Rows, []any{a.Team, a.TeamName, a.Unit, a.UnitName, a.TimeZone, a.ResponseSLA.Seconds(),
			strings.Join(days, ","), a.FocusBlockMin.Seconds(), a.OverworkPerDay.Hours(), int64(org.MinGroupSize())})
	}
	return t
}

// qualityColumns and qualityRows are the data_quality table of the
// released weeks: per week and per day, the events accepted as the release
// decided them (NULL where withheld: a count of fewer than k people's
// events, or a day that the week minus the visible days would give), and
// the events refused on each day by reason (refused events carry no
// person and are counted by reason, as on /metrics).
var qualityColumns = []transform.ServingColumn{
	{Name: "week", Type: "DATE"}, {Name: "day", Type: "DATE"}, {Name: "reason", Type: "VARCHAR"}, {Name: "events", Type: "BIGINT"}, {Name: "withheld_reason", Type: "VARCHAR"},
}

func qualityRows(cells []privacy.QualityCell, refused []outcome.QualityDay) [][]any {
	var rows [][]any
	weekOf := map[int32]bool{}
	for _, c := range cells {
		week, day := calendar.DayTime(calendar.WeekStart(c.Period)), any(calendar.DayTime(c.Period))
		if c.Days == 7 {
			day = nil
			weekOf[c.Period] = true
		}
		var n, why any = c.Accepted, nil
		if !c.Visible {
			n, why = nil, string(c.Reason)
		}
		rows = append(rows, []any{week, day, "accepted", n, why})
	}
	for _, d := range refused {
		if !weekOf[calendar.WeekStart(d.Day)] {
			continue
		}
		reasons := make([]string, 0, len(d.Rejected))
		for r := range d.Rejected {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			rows = append(rows, []any{calendar.DayTime(calendar.WeekStart(d.Day)), calendar.DayTime(d.Day), r, d.Rejected[r], nil})
		}
	}
	return rows
}

// releasesTable lists the released weeks the tables cover.
func releasesTable(rels []transform.ReleaseInfo) transform.ServingTable {
	t := transform.ServingTable{Name: "releases", Columns: []transform.ServingColumn{
		{Name: "week", Type: "DATE"}, {Name: "released_at", Type: "TIMESTAMP"}, {Name: "min_group_size", Type: "BIGINT"},
	}}
	for _, r := range rels {
		t.Rows = append(t.Rows, []any{calendar.DayTime(r.Week), r.ReleasedAt, int64(r.K)})
	}
	return t
}
