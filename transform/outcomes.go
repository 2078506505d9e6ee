package transform

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event"
)

// Outcome is one value of one catalog metric for one team, unit or the org
// over one period: an ISO week (Outcomes) or a day (DailyOutcomes). It
// converts field for field to metrics.Cell (transform does not import
// metrics).
type Outcome struct {
	// Week is the first day of the period, days since 1970-01-01: the
	// Monday of the ISO week for Outcomes, the day itself for DailyOutcomes.
	Week  int32
	Level string // OutcomeTeam, OutcomeUnit or OutcomeOrg
	Team  string // "" above team level
	Unit  string // "" at org level
	// Metric is the catalog ID.
	Metric string
	Value  float64
	// Defined is false when the value has no meaning for the week (nothing
	// to divide by, no samples). Counts are always defined.
	Defined bool
	// People is the number of distinct people of the metric's family behind
	// the cell in the week.
	People int
}

// The levels of an Outcome, as privacy.Level spells them.
const (
	OutcomeTeam = "team"
	OutcomeUnit = "unit"
	OutcomeOrg  = "org"
)

// The metric families, for People.
const (
	famFlow = iota
	famTime
	famAsync
	numFamilies
)

// OutcomeMetrics are the catalog IDs Outcomes computes, in catalog order,
// with their family (TestOutcomeMetricIDs ties them to metrics.Catalog).
var OutcomeMetrics = []struct {
	ID     string
	Family string
}{
	{"tasks_completed", "flow"},
	{"lead_time_p50", "flow"},
	{"lead_time_p85", "flow"},
	{"cycle_time_p50", "flow"},
	{"cycle_time_p85", "flow"},
	{"work_in_progress", "flow"},
	{"on_time_ratio", "flow"},
	{"reopen_ratio", "flow"},
	{"blocked_time_ratio", "flow"},
	{"focus_ratio", "time"},
	{"deep_work_blocks", "time"},
	{"meeting_load", "time"},
	{"overwork_ratio", "time"},
	{"response_within_sla_ratio", "async"},
	{"response_time_p50", "async"},
	{"requests_open_past_sla", "async"},
}

// weekOf returns the Monday of day's ISO week (day 0, 1970-01-01, is a
// Thursday).
func weekOf(day int32) int32 {
	m := (int64(day) + 3) % 7
	if m < 0 {
		m += 7
	}
	return int32(int64(day) - m)
}

// periodEnd returns the end of the period of length days that starts on
// day start: the next period's first day at 00:00 in loc.
func periodEnd(start, length int32, loc *time.Location) time.Time {
	y, m, d := event.DayTime(start + length).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// outcomeKey is one (team, period); week is the period's first day.
type outcomeKey struct {
	team string
	week int32
}

// outcomeAcc holds the raw material of one cell: counts and sums that add
// across teams, samples that are concatenated and people sets that are
// united, so that unit and org values come from the union of the rows.
type outcomeAcc struct {
	completed, reopened  int
	lead, cycle          []float64
	onTime, withDue      int
	blockedS, blockCycle float64
	wip                  int

	focusS, allS, meetingS float64
	deepBlocks             int
	personDays, overDays   int

	slaIn, slaAll int
	response      []float64
	openPastSLA   int

	people [numFamilies]map[string]struct{}
}

func newOutcomeAcc() *outcomeAcc {
	a := &outcomeAcc{}
	for i := range a.people {
		a.people[i] = map[string]struct{}{}
	}
	return a
}

func (a *outcomeAcc) add(b *outcomeAcc) {
	a.completed += b.completed
	a.reopened += b.reopened
	a.lead = append(a.lead, b.lead...)
	a.cycle = append(a.cycle, b.cycle...)
	a.onTime += b.onTime
	a.withDue += b.withDue
	a.blockedS += b.blockedS
	a.blockCycle += b.blockCycle
	a.wip += b.wip
	a.focusS += b.focusS
	a.allS += b.allS
	a.meetingS += b.meetingS
	a.deepBlocks += b.deepBlocks
	a.personDays += b.personDays
	a.overDays += b.overDays
	a.slaIn += b.slaIn
	a.slaAll += b.slaAll
	a.response = append(a.response, b.response...)
	a.openPastSLA += b.openPastSLA
	for i := range a.people {
		for p := range b.people[i] {
			a.people[i][p] = struct{}{}
		}
	}
}

// quantileCont is DuckDB's quantile_cont: linear interpolation between the
// closest ranks. It sorts xs.
func quantileCont(xs []float64, q float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	sort.Float64s(xs)
	pos := q * float64(len(xs)-1)
	lo := math.Floor(pos)
	hi := math.Ceil(pos)
	x := xs[int(lo)]
	return x + (pos-lo)*(xs[int(hi)]-x), true
}

func ratio(n, d float64) (float64, bool) {
	if d == 0 {
		return 0, false
	}
	return n / d, true
}

// cells returns the acc's value of every metric, in OutcomeMetrics order.
func (a *outcomeAcc) cells(week int32, level, team, unit string) []Outcome {
	people := [numFamilies]int{len(a.people[famFlow]), len(a.people[famTime]), len(a.people[famAsync])}
	timePeople := float64(people[famTime])
	out := make([]Outcome, 0, len(OutcomeMetrics))
	for _, m := range OutcomeMetrics {
		var v float64
		ok := true
		switch m.ID {
		case "tasks_completed":
			v = float64(a.completed)
		case "lead_time_p50":
			v, ok = quantileCont(a.lead, 0.5)
		case "lead_time_p85":
			v, ok = quantileCont(a.lead, 0.85)
		case "cycle_time_p50":
			v, ok = quantileCont(a.cycle, 0.5)
		case "cycle_time_p85":
			v, ok = quantileCont(a.cycle, 0.85)
		case "work_in_progress":
			v = float64(a.wip)
		case "on_time_ratio":
			v, ok = ratio(float64(a.onTime), float64(a.withDue))
		case "reopen_ratio":
			v, ok = ratio(float64(a.reopened), float64(a.completed))
		case "blocked_time_ratio":
			v, ok = ratio(a.blockedS, a.blockCycle)
		case "focus_ratio":
			v, ok = ratio(a.focusS, a.allS)
		case "deep_work_blocks":
			v, ok = ratio(float64(a.deepBlocks), timePeople)
		case "meeting_load":
			v, ok = ratio(a.meetingS, timePeople)
		case "overwork_ratio":
			v, ok = ratio(float64(a.overDays), float64(a.personDays))
		case "response_within_sla_ratio":
			v, ok = ratio(float64(a.slaIn), float64(a.slaAll))
		case "response_time_p50":
			v, ok = quantileCont(a.response, 0.5)
		case "requests_open_past_sla":
			v = float64(a.openPastSLA)
		}
		var n int
		switch m.Family {
		case "flow":
			n = people[famFlow]
		case "time":
			n = people[famTime]
		default:
			n = people[famAsync]
		}
		if !ok {
			v = 0
		}
		out = append(out, Outcome{Week: week, Level: level, Team: team, Unit: unit, Metric: m.ID, Value: v, Defined: ok, People: n})
	}
	return out
}

// outcomeRun is one Outcomes call in progress.
type outcomeRun struct {
	ctx      context.Context
	s        *Store
	org      *agreements.Org
	weeks    []int32 // first days of the periods, ascending
	period   int32   // days per period: 7 (ISO weeks) or 1 (days)
	from, to int32   // first and last day of the periods
	now      time.Time
	acc      map[outcomeKey]*outcomeAcc
	active   map[outcomeKey]bool
}

func (r *outcomeRun) get(team string, week int32) *outcomeAcc {
	k := outcomeKey{team, week}
	a := r.acc[k]
	if a == nil {
		a = newOutcomeAcc()
		r.acc[k] = a
	}
	return a
}

func (r *outcomeRun) inRange(day int32) bool { return day >= r.from && day <= r.to }

// periodOf returns the first day of day's period.
func (r *outcomeRun) periodOf(day int32) int32 {
	if r.period == 1 {
		return day
	}
	return weekOf(day)
}

// Outcomes computes every catalog metric for every team with any event in
// each ISO week whose Monday is in [fromWeek, toWeek], for every unit
// having such a team (teams grouped by org.UnitOf) and for the org. Weeks
// are team-local: a row counts in the week of its team-local day column.
// Unit and org cells are computed from the union of the rows of their
// teams that have events in the week, never from team values. now bounds
// the working time of open requests in a week that has not ended. It reads
// the task and request state and the events of the weeks, never writes,
// and may run concurrently with Commit.
func (s *Store) Outcomes(ctx context.Context, org *agreements.Org, fromWeek, toWeek int32, now time.Time) ([]Outcome, error) {
	if org == nil {
		org = agreements.Default()
	}
	first := weekOf(fromWeek)
	if first < fromWeek {
		first += 7
	}
	var weeks []int32
	for w := first; w <= toWeek; w += 7 {
		weeks = append(weeks, w)
	}
	return s.outcomes(ctx, org, weeks, 7, now)
}

// DailyOutcomes is Outcomes with days for periods: every catalog metric
// for every team with any event on each day in [fromDay, toDay] (the
// team-local day, as for weeks), its unit and the org. Each Outcome's Week
// is its day. Snapshot metrics (work_in_progress, requests_open_past_sla)
// are taken at the end of the day, so a Sunday's value is its ISO week's;
// deep_work_blocks and meeting_load are per person who logged time that
// day.
func (s *Store) DailyOutcomes(ctx context.Context, org *agreements.Org, fromDay, toDay int32, now time.Time) ([]Outcome, error) {
	if org == nil {
		org = agreements.Default()
	}
	var days []int32
	for d := fromDay; d <= toDay; d++ {
		days = append(days, d)
	}
	return s.outcomes(ctx, org, days, 1, now)
}

// outcomes computes the cells of the periods of length days starting on
// each of starts (ascending).
func (s *Store) outcomes(ctx context.Context, org *agreements.Org, starts []int32, length int32, now time.Time) ([]Outcome, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	r := &outcomeRun{
		ctx: ctx, s: s, org: org, weeks: starts, period: length,
		from: starts[0], to: starts[len(starts)-1] + length - 1, now: now,
		acc: map[outcomeKey]*outcomeAcc{}, active: map[outcomeKey]bool{},
	}
	for _, f := range []struct {
		name string
		run  func() error
	}{
		{"people", r.people},
		{"completed tasks", r.completedTasks},
		{"blocked time", r.blockedTime},
		{"work in progress", r.workInProgress},
		{"time entries", r.timeEntries},
		{"requests", r.requests},
	} {
		if err := f.run(); err != nil {
			return nil, fmt.Errorf("outcomes of %s to %s: %s: %w",
				event.DayTime(r.from).Format(time.DateOnly), event.DayTime(r.to).Format(time.DateOnly), f.name, err)
		}
	}
	return r.emit(), nil
}

// emit builds the cells of the active teams, their units and the org.
func (r *outcomeRun) emit() []Outcome {
	var out []Outcome
	for _, w := range r.weeks {
		var teams []string
		for k := range r.active {
			if k.week == w {
				teams = append(teams, k.team)
			}
		}
		if len(teams) == 0 {
			continue
		}
		slices.Sort(teams)
		units := map[string]*outcomeAcc{}
		orgAcc := newOutcomeAcc()
		for _, t := range teams {
			a := r.get(t, w)
			u := r.org.UnitOf(t)
			out = append(out, a.cells(w, OutcomeTeam, t, u)...)
			if units[u] == nil {
				units[u] = newOutcomeAcc()
			}
			units[u].add(a)
			orgAcc.add(a)
		}
		unitIDs := make([]string, 0, len(units))
		for u := range units {
			unitIDs = append(unitIDs, u)
		}
		slices.Sort(unitIDs)
		for _, u := range unitIDs {
			out = append(out, units[u].cells(w, OutcomeUnit, "", u)...)
		}
		out = append(out, orgAcc.cells(w, OutcomeOrg, "", "")...)
	}
	return out
}

// query runs q on a pool connection and calls row for each row.
func (r *outcomeRun) query(q string, args []any, dest []any, row func() error) error {
	rows, err := r.s.db.QueryContext(r.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := row(); err != nil {
			return err
		}
	}
	return rows.Err()
}

const (
	dayExpr  = `CAST(%s - DATE '1970-01-01' AS INTEGER)`
	dateExpr = `DATE '1970-01-01' + CAST(? AS INTEGER)`
)

func usTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// people marks the active (team, week)s and collects each family's people
// from the events of the weeks.
func (r *outcomeRun) people() error {
	var (
		team   string
		period int32
		fam    int
		person sql.NullString
	)
	// One row per (team, period, family, person), the period computed in
	// SQL like periodOf (1970-01-01 was a Thursday: its week's Monday is day
	// -3), so a person who acted on many days and events crosses into Go once
	// per period and family. Family -1 marks events of no family; a team's
	// period is active if it has any event at all.
	periodSQL := fmt.Sprintf(dayExpr, "day")
	if r.period != 1 {
		periodSQL = "(" + periodSQL + " - ((" + periodSQL + " + 3) % 7 + 7) % 7)"
	}
	q := `SELECT DISTINCT team, ` + periodSQL + `,
			CASE WHEN type = '` + event.TimeLogged + `' THEN ` + fmt.Sprint(famTime) + `
				WHEN type LIKE 'work.task.%' THEN ` + fmt.Sprint(famFlow) + `
				WHEN type LIKE 'work.request.%' THEN ` + fmt.Sprint(famAsync) + `
				ELSE -1 END,
			person
		FROM events WHERE day BETWEEN ` + dateExpr + ` AND ` + dateExpr
	return r.query(q, []any{r.from, r.to}, []any{&team, &period, &fam, &person}, func() error {
		k := outcomeKey{team, period}
		r.active[k] = true
		a := r.get(team, period)
		if person.Valid && fam >= 0 {
			a.people[fam][person.String] = struct{}{}
		}
		return nil
	})
}

// completedTasks adds the tasks completed in the weeks (the tasks table
// keeps completed_at only for a completion not followed by a reopen).
func (r *outcomeRun) completedTasks() error {
	var (
		team         string
		day          int32
		reopens      int64
		lead, cycle  sql.NullFloat64
		onTime       sql.NullBool
		completedAtN sql.NullInt64
	)
	q := `SELECT team, ` + fmt.Sprintf(dayExpr, "completed_day") + `, reopens, lead_time_s, cycle_time_s, on_time, epoch_us(completed_at)
		FROM tasks WHERE completed_at IS NOT NULL AND completed_day BETWEEN ` + dateExpr + ` AND ` + dateExpr
	return r.query(q, []any{r.from, r.to}, []any{&team, &day, &reopens, &lead, &cycle, &onTime, &completedAtN}, func() error {
		a := r.get(team, r.periodOf(day))
		a.completed++
		if reopens > 0 {
			a.reopened++
		}
		if lead.Valid {
			a.lead = append(a.lead, lead.Float64)
		}
		if cycle.Valid {
			a.cycle = append(a.cycle, cycle.Float64)
			a.blockCycle += cycle.Float64
		}
		if onTime.Valid {
			a.withDue++
			if onTime.Bool {
				a.onTime++
			}
		}
		return nil
	})
}

// blockedTime adds, for the tasks completed in the weeks that were started,
// the time between each blocked event and the next unblocked event or the
// completion, within the cycle [first started, completed]. Overlapping
// blocked spans (a blocked event while already blocked) count once.
func (r *outcomeRun) blockedTime() error {
	var (
		team, task, typ       string
		day                   int32
		startUS, doneUS, atUS int64
	)
	// The events scan is bounded by a constant day (which DuckDB prunes
	// with zone maps): a day before the earliest creation or start of the
	// tasks, as no task is blocked before it exists.
	var since0 sql.NullInt32
	if err := r.s.db.QueryRowContext(r.ctx, `SELECT `+fmt.Sprintf(dayExpr, "min(coalesce(created_day, CAST(first_started_at AS DATE)))")+`
		FROM tasks WHERE completed_at IS NOT NULL AND cycle_time_s IS NOT NULL AND blocked_count > 0
			AND completed_day BETWEEN `+dateExpr+` AND `+dateExpr, r.from, r.to).Scan(&since0); err != nil {
		return err
	}
	if !since0.Valid {
		return nil
	}
	q := `SELECT t.team, t.task, ` + fmt.Sprintf(dayExpr, "t.completed_day") + `, epoch_us(t.first_started_at), epoch_us(t.completed_at),
			e.type, epoch_us(e.event_time)
		FROM tasks t
		JOIN events e ON e.team = t.team AND e.task = t.task
		WHERE t.completed_at IS NOT NULL AND t.cycle_time_s IS NOT NULL
			AND t.completed_day BETWEEN ` + dateExpr + ` AND ` + dateExpr + `
			AND e.type IN ('` + event.TaskBlocked + `', '` + event.TaskUnblocked + `')
			AND t.blocked_count > 0
			AND e.day >= ` + dateExpr + `
		ORDER BY t.team, t.task, e.event_time, e.type DESC`
	var (
		curTeam, curTask string
		curDay           int32
		curStart, curEnd int64
		blocked          bool
		since, sum       int64
		have             bool
	)
	flush := func() {
		if !have {
			return
		}
		if blocked && curEnd > since {
			sum += curEnd - since
		}
		r.get(curTeam, r.periodOf(curDay)).blockedS += float64(sum) / 1e6
	}
	err := r.query(q, []any{r.from, r.to, since0.Int32 - 1}, []any{&team, &task, &day, &startUS, &doneUS, &typ, &atUS}, func() error {
		if !have || team != curTeam || task != curTask {
			flush()
			curTeam, curTask, curDay, curStart, curEnd = team, task, day, startUS, doneUS
			blocked, since, sum, have = false, 0, 0, true
		}
		t := min(max(atUS, curStart), curEnd)
		switch typ {
		case event.TaskBlocked:
			if !blocked && atUS <= curEnd {
				blocked, since = true, t
			}
		case event.TaskUnblocked:
			if blocked {
				sum += t - since
				blocked = false
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	return nil
}

// workInProgress counts, per period, the tasks first started on or before
// its last day (a week's Sunday; team-local) and neither completed nor
// cancelled by then.
func (r *outcomeRun) workInProgress() error {
	var (
		team              string
		startUS           int64
		doneDay           sql.NullInt32
		cancelUS          sql.NullInt64
		lastEnd, firstEnd = r.to, r.from + r.period - 1
	)
	// A day of slack on each side covers every zone offset.
	q := `SELECT team, epoch_us(first_started_at), ` + fmt.Sprintf(dayExpr, "completed_day") + `, epoch_us(cancelled_at)
		FROM tasks
		WHERE first_started_at IS NOT NULL AND first_started_at < ` + dateExpr + `
			AND (completed_day IS NULL OR completed_day > ` + dateExpr + `)
			AND (cancelled_at IS NULL OR cancelled_at >= ` + dateExpr + `)`
	return r.query(q, []any{lastEnd + 2, firstEnd, firstEnd - 1}, []any{&team, &startUS, &doneDay, &cancelUS}, func() error {
		loc := r.org.Location(team)
		startDay := event.DayOf(usTime(startUS), loc)
		cancelDay := int32(math.MaxInt32)
		if cancelUS.Valid {
			cancelDay = event.DayOf(usTime(cancelUS.Int64), loc)
		}
		for _, w := range r.weeks {
			last := w + r.period - 1
			if startDay <= last && (!doneDay.Valid || doneDay.Int32 > last) && cancelDay > last {
				r.get(team, w).wip++
			}
		}
		return nil
	})
}

// timeEntries adds the work.time.logged entries of the weeks.
func (r *outcomeRun) timeEntries() error {
	// DuckDB sums the entries of each (team, day, person), so a few rows per
	// person-day cross into Go instead of every entry: seconds logged, of
	// which focus and meeting, and the focus entries at least as long as the
	// team's focus_block_min (an entry missing start or end counts 0 s and
	// is never a block). The thresholds of the listed teams are inlined; any
	// other team has the org default.
	var th strings.Builder
	th.WriteString("(VALUES (NULL::VARCHAR, NULL::BIGINT)")
	for _, a := range r.org.Teams() {
		fmt.Fprintf(&th, ", ('%s', %d)", strings.ReplaceAll(a.Team, "'", "''"), a.FocusBlockMin.Microseconds())
	}
	th.WriteString(") AS th(team, min_us)")
	defaultMin := r.org.Team("").FocusBlockMin.Microseconds()
	var (
		team                   string
		day                    int32
		person                 sql.NullString
		allS, focusS, meetingS float64
		deep                   int
	)
	q := `WITH e AS (
			SELECT team, day, person, category, started_at IS NOT NULL AND ended_at IS NOT NULL AS timed,
				coalesce(epoch_us(ended_at) - epoch_us(started_at), 0) AS us
			FROM events WHERE type = '` + event.TimeLogged + `' AND day BETWEEN ` + dateExpr + ` AND ` + dateExpr + `
		)
		SELECT e.team, ` + fmt.Sprintf(dayExpr, "e.day") + `, e.person,
			coalesce(sum(e.us / 1e6), 0),
			coalesce(sum(e.us / 1e6) FILTER (WHERE e.category = 'focus'), 0),
			coalesce(sum(e.us / 1e6) FILTER (WHERE e.category = 'meeting'), 0),
			count(*) FILTER (WHERE e.category = 'focus' AND e.timed AND e.us >= coalesce(th.min_us, ` + fmt.Sprint(defaultMin) + `))
		FROM e LEFT JOIN ` + th.String() + ` ON th.team = e.team
		GROUP BY e.team, e.day, e.person`
	return r.query(q, []any{r.from, r.to}, []any{&team, &day, &person, &allS, &focusS, &meetingS, &deep}, func() error {
		a := r.get(team, r.periodOf(day))
		a.allS += allS
		a.focusS += focusS
		a.meetingS += meetingS
		a.deepBlocks += deep
		if person.Valid {
			a.personDays++
			if allS > r.org.Team(team).OverworkPerDay.Seconds() || !r.org.IsWorkingDay(team, day) {
				a.overDays++
			}
		}
		return nil
	})
}

// requests adds the SLA adherence, response times and open requests.
func (r *outcomeRun) requests() error {
	var (
		team                  string
		openedUS, respondedUS sql.NullInt64
		openedDay, respDay    sql.NullInt32
		respTime              sql.NullFloat64
	)
	type teamInfo struct {
		sla  float64
		ends []time.Time // end of each of r.weeks' periods
	}
	infos := map[string]*teamInfo{}
	info := func(team string) *teamInfo {
		ti := infos[team]
		if ti == nil {
			a := r.org.Team(team)
			ti = &teamInfo{sla: a.ResponseSLA.Seconds()}
			for _, w := range r.weeks {
				ti.ends = append(ti.ends, periodEnd(w, r.period, r.org.Location(team)))
			}
			infos[team] = ti
		}
		return ti
	}
	// Every request that can count in the weeks: opened by the end of the
	// last week and not answered before the first (a day of slack on each
	// side for zones).
	q := `SELECT team, epoch_us(opened_at), ` + fmt.Sprintf(dayExpr, "opened_day") + `,
			epoch_us(responded_at), ` + fmt.Sprintf(dayExpr, "responded_day") + `, response_time_s
		FROM requests
		WHERE (opened_day IS NULL OR opened_day <= ` + dateExpr + `)
			AND (responded_day IS NULL OR responded_day >= ` + dateExpr + `)`
	return r.query(q, []any{r.to + 1, r.from - 1}, []any{&team, &openedUS, &openedDay, &respondedUS, &respDay, &respTime}, func() error {
		if respDay.Valid && r.inRange(respDay.Int32) && respTime.Valid {
			a := r.get(team, r.periodOf(respDay.Int32))
			a.response = append(a.response, respTime.Float64)
		}
		if !openedUS.Valid {
			return nil
		}
		ti := info(team)
		opened := usTime(openedUS.Int64)
		var responded time.Time
		if respondedUS.Valid {
			responded = usTime(respondedUS.Int64)
		}
		for i, w := range r.weeks {
			end := ti.ends[i]
			cutoff := end
			if r.now.Before(cutoff) {
				cutoff = r.now
			}
			if openedDay.Valid && r.periodOf(openedDay.Int32) == w {
				a := r.get(team, w)
				if respondedUS.Valid {
					a.slaAll++
					if r.org.WorkingSeconds(team, opened, responded) <= ti.sla {
						a.slaIn++
					}
				} else if r.org.WorkingSeconds(team, opened, cutoff) > ti.sla {
					a.slaAll++
				}
			}
			if opened.Before(end) && (!respondedUS.Valid || !responded.Before(end)) &&
				r.org.WorkingSeconds(team, opened, cutoff) > ti.sla {
				r.get(team, w).openPastSLA++
			}
		}
		return nil
	})
}
