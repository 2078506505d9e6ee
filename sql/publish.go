package sql

import (
	"context"
	"log/slog"
	"maps"
	"math"
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

// The SQL endpoint queries transform's serving database.
var _ Engine = (*transform.Serving)(nil)

// servingWeeks is how many ISO weeks (up to the current one) the SQL
// endpoint's outcome tables cover.
const servingWeeks = 26

// RefreshInterval is how often the serving database should be republished
// when data or agreements changed (at least four times the last
// publication's duration apart).
const RefreshInterval = 15 * time.Second

// Publisher composes the SQL endpoint's tables: transform's weekly
// and daily outcomes → privacy.Apply / privacy.ApplyDaily (the one
// suppression policy) → rows of the serving database. Nothing else is
// published to it.
type Publisher struct {
	store   *transform.Store
	serving *transform.Serving
	teams   func() *agreements.Org
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex
	last struct {
		commit time.Time
		day    int32
		org    *agreements.Org
	}
}

// NewPublisher returns a publisher of store's outcomes into serving under
// the agreements teams returns, with now as the clock.
func NewPublisher(store *transform.Store, serving *transform.Serving, teams func() *agreements.Org, now func() time.Time, logger *slog.Logger) *Publisher {
	return &Publisher{store: store, serving: serving, teams: teams, now: now, log: logger}
}

// Refresh republishes the serving database if data, agreements or the
// current day changed since the last publication (force: always).
func (s *Publisher) Refresh(ctx context.Context, force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.teams()
	now := s.now()
	y, m, d := now.In(org.Location("")).Date()
	today := calendar.DateOf(y, m, d)
	commit := s.store.LastCommit()
	if !force && commit.Equal(s.last.commit) && today == s.last.day && org == s.last.org {
		return nil
	}
	began := time.Now()
	var dailyRows int
	tables, err := s.tables(ctx, org, now, today, &dailyRows)
	if err != nil {
		return err
	}
	if err := s.serving.Publish(ctx, tables); err != nil {
		return err
	}
	s.log.Info("SQL tables published", "component", "sql", "weekly_rows", len(tables[0].Rows), "daily_rows", dailyRows, "took", time.Since(began).Round(time.Millisecond))
	s.last.commit, s.last.day, s.last.org = commit, today, org
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

// tables are the serving tables; the daily table's rows are counted into
// *dailyRows as Publish fills it.
func (s *Publisher) tables(ctx context.Context, org *agreements.Org, now time.Time, today int32, dailyRows *int) ([]transform.ServingTable, error) {
	policy := org.Policy()
	quality, err := s.store.Quality(ctx, 0, math.MaxInt32) // refusals are dated by their commit
	if err != nil {
		return nil, err
	}
	curWeek := calendar.WeekStart(today)
	fromWeek := curWeek - 7*(servingWeeks-1)
	if len(quality) > 0 {
		first := calendar.WeekStart(quality[0].Day)
		fromWeek = max(fromWeek, first)
	}
	weekRows, err := s.store.Outcomes(ctx, org, fromWeek, curWeek, now)
	if err != nil {
		return nil, err
	}
	weekly, err := privacy.Apply(policy, weekRows)
	if err != nil {
		return nil, err
	}
	// The days are computed, decided and appended an ISO week at a time,
	// inside the publication (Fill): ApplyDaily solves each week's system
	// on its own, against that week's weekly cells only, and only one
	// week's cells and rows are held at once. Holding all 26 weeks' rows
	// (280 k at 2,000 teams) kept Go's collector busy for 45 % of the
	// publication's CPU under --go-memory-limit, and handing ApplyDaily
	// every week's cells each time rebuilt their index 26 times.
	weeklyOf := map[int32][]privacy.Published{}
	for _, c := range weekly {
		weeklyOf[c.Week] = append(weeklyOf[c.Week], c)
	}
	dayPeople := map[int32]int{}
	fillDays := func(add func([]any) error) error {
		for w := fromWeek; w <= curWeek; w += 7 {
			dayRows, err := s.store.DailyOutcomes(ctx, org, w, min(w+6, today), now)
			if err != nil {
				return err
			}
			daily, err := privacy.ApplyDaily(policy, weeklyOf[w], dayRows)
			if err != nil {
				return err
			}
			for _, r := range outcomeRows(daily) {
				if err := add(r); err != nil {
					return err
				}
				*dailyRows++
			}
			maps.Copy(dayPeople, orgDayPeople(dayRows))
		}
		return nil
	}
	// After the days (Publish fills the tables in order): it needs their
	// people.
	fillQuality := func(add func([]any) error) error {
		for _, r := range qualityRows(quality, dayPeople, policy) {
			if err := add(r); err != nil {
				return err
			}
		}
		return nil
	}
	return []transform.ServingTable{
		{Name: "weekly_outcomes", Columns: outcomeColumns("week"), Rows: outcomeRows(weekly)},
		{Name: "daily_outcomes", Columns: outcomeColumns("day"), Fill: fillDays},
		catalogTable(),
		agreementsTable(org),
		{Name: "data_quality", Columns: qualityColumns, Fill: fillQuality},
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
	type acc struct {
		values  []any
		hidden  map[outcome.Family]bool
		reasons map[string]bool
	}
	rows := map[key]*acc{}
	var keys []key
	for _, c := range cells {
		k := key{c.Week, c.Level, c.Unit, c.Team}
		a := rows[k]
		if a == nil {
			a = &acc{values: make([]any, n), hidden: map[outcome.Family]bool{}, reasons: map[string]bool{}}
			rows[k] = a
			keys = append(keys, k)
		}
		m, _ := outcome.ByID(c.Metric)
		switch {
		case !c.Visible:
			if c.Reason.WholeFamily() {
				a.hidden[m.Family] = true
			}
			if c.Reason != privacy.ReasonWeeklyOnly {
				a.reasons[string(m.Family)+":"+string(c.Reason)] = true
			}
		case c.Defined:
			a.values[col[c.Metric]] = c.Value
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.period != b.period {
			return a.period < b.period
		}
		if a.level != b.level {
			return levelRank(a.level) < levelRank(b.level)
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
		row = append(row, a.hidden[outcome.Flow], a.hidden[outcome.Time], a.hidden[outcome.Async], anyHidden, reason)
		out = append(out, row)
	}
	return out
}

func levelRank(l outcome.Level) int {
	switch l {
	case outcome.LevelOrg:
		return 0
	case outcome.LevelUnit:
		return 1
	}
	return 2
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

// orgDayPeople is, per day, the most people behind any metric family of
// the org's cell (a lower bound on the distinct people active that day).
func orgDayPeople(rows []outcome.Cell) map[int32]int {
	out := map[int32]int{}
	for _, r := range rows {
		if r.Level == outcome.LevelOrg {
			out[r.Week] = max(out[r.Week], r.People)
		}
	}
	return out
}

// qualityColumns and qualityRows are the data_quality table: the accepted
// and refused events per day. The accepted count of a day on which fewer
// than k people were active is NULL: it would describe those few people's
// activity. (Refused events carry no person and are counted by reason, as
// on /metrics.)
var qualityColumns = []transform.ServingColumn{{Name: "day", Type: "DATE"}, {Name: "reason", Type: "VARCHAR"}, {Name: "events", Type: "BIGINT"}}

func qualityRows(days []outcome.QualityDay, people map[int32]int, policy privacy.Policy) [][]any {
	var rows [][]any
	for _, d := range days {
		if d.Accepted > 0 {
			var n any = d.Accepted
			if !policy.Visible(people[d.Day]) {
				n = nil
			}
			rows = append(rows, []any{calendar.DayTime(d.Day), "accepted", n})
		}
		reasons := make([]string, 0, len(d.Rejected))
		for r := range d.Rejected {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			rows = append(rows, []any{calendar.DayTime(d.Day), r, d.Rejected[r]})
		}
	}
	return rows
}
