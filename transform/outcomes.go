package transform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
)

// The metric families, for People.
const (
	famFlow = iota
	famTime
	famAsync
	numFamilies
)

// magnitudes are the additive quantities behind each family that the
// dominance rule is applied to, per person (contributions): name is the
// outcome.Magnitude's, col the column of contributions' per-person rows.
// Every quantity a family's metrics add up (both parts of each ratio) is
// here, or is per task or request rather than per person (lead, cycle and
// blocked time, due dates, reopens: their tasks were started or completed
// by someone, whose count is).
var magnitudes = []struct {
	fam       int
	name, col string
}{
	{famFlow, "task_starts", "starts"},
	{famFlow, "task_completions", "completions"},
	{famTime, "logged_seconds", "all_s"},
	{famTime, "focus_seconds", "focus_s"},
	{famTime, "meeting_seconds", "meeting_s"},
	{famTime, "deep_work_blocks", "deep"},
	{famTime, "person_days", "days"},
	{famTime, "overwork_days", "over_days"},
	{famAsync, "requests_opened", "opened"},
	{famAsync, "requests_answered", "answered"},
}

// contrib is what the suppression policy decides a cell's families on: the
// people who reached each family's contribution floor, and each family's
// magnitudes with their two largest single-person parts.
type contrib struct {
	people [numFamilies]int
	mags   [numFamilies][]outcome.Magnitude
	set    bool // computed (by contributions)
}

// familyExpr is the metric family of an event (famFlow, famTime, famAsync,
// -1 for none), from its type.
var familyExpr = `CAST(CASE WHEN type = '` + event.TimeLogged + `' THEN ` + fmt.Sprint(famTime) + `
	WHEN type LIKE 'work.task.%' THEN ` + fmt.Sprint(famFlow) + `
	WHEN type LIKE 'work.request.%' THEN ` + fmt.Sprint(famAsync) + `
	ELSE -1 END AS TINYINT)`

// periodEnd returns the end of the period of length days that starts on
// day start: the next period's first day at 00:00 in loc.
func periodEnd(start, length int32, loc *time.Location) time.Time {
	y, m, d := calendar.DayTime(start + length).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// outcomeKey is one (team, period); week is the period's first day.
type outcomeKey struct {
	team string
	week int32
}

// outcomeAcc holds the raw material of one cell: counts and sums that add
// across teams and samples that are concatenated, so that unit and org
// values come from the union of the rows, and each family's contributors
// and magnitudes, which DuckDB computes at each level (a person may act in
// several teams of a unit).
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

	contrib
}

func newOutcomeAcc() *outcomeAcc { return &outcomeAcc{} }

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

// appendCells appends the acc's value of every metric to out, in
// catalog order.
func (a *outcomeAcc) appendCells(out []outcome.Cell, week int32, level outcome.Level, team, unit string) []outcome.Cell {
	people := a.people
	timePeople := float64(people[famTime])
	for _, m := range outcome.Catalog {
		var v float64
		var samples int
		ok := true
		switch m.ID {
		case "tasks_completed":
			v = float64(a.completed)
		case "lead_time_p50":
			v, ok = quantileCont(a.lead, 0.5)
			samples = len(a.lead)
		case "lead_time_p85":
			v, ok = quantileCont(a.lead, 0.85)
			samples = len(a.lead)
		case "cycle_time_p50":
			v, ok = quantileCont(a.cycle, 0.5)
			samples = len(a.cycle)
		case "cycle_time_p85":
			v, ok = quantileCont(a.cycle, 0.85)
			samples = len(a.cycle)
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
			samples = len(a.response)
		case "requests_open_past_sla":
			v = float64(a.openPastSLA)
		}
		f := famAsync
		switch m.Family {
		case outcome.Flow:
			f = famFlow
		case outcome.Time:
			f = famTime
		}
		if !ok {
			v = 0
		}
		out = append(out, outcome.Cell{Week: week, Level: level, Team: team, Unit: unit, Metric: m.ID, Value: v, Defined: ok,
			People: people[f], Samples: samples, Magnitudes: a.mags[f]})
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
	// Each family's contributors and magnitudes per (unit, period) and per
	// period (the org), computed by contributions().
	unitContrib map[outcomeKey]contrib
	orgContrib  map[int32]contrib
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
	return calendar.WeekStart(day)
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
func (s *Store) Outcomes(ctx context.Context, org *agreements.Org, fromWeek, toWeek int32, now time.Time) ([]outcome.Cell, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
	if org == nil {
		org = agreements.Default()
	}
	first := calendar.WeekStart(fromWeek)
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
// team-local day, as for weeks), its unit and the org. Each cell's Week
// is its day. Snapshot metrics (work_in_progress, requests_open_past_sla)
// are taken at the end of the day, so a Sunday's value is its ISO week's;
// deep_work_blocks and meeting_load are per person who logged time that
// day.
func (s *Store) DailyOutcomes(ctx context.Context, org *agreements.Org, fromDay, toDay int32, now time.Time) ([]outcome.Cell, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
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
func (s *Store) outcomes(ctx context.Context, org *agreements.Org, starts []int32, length int32, now time.Time) ([]outcome.Cell, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	r := &outcomeRun{
		ctx: ctx, s: s, org: org, weeks: starts, period: length,
		from: starts[0], to: starts[len(starts)-1] + length - 1, now: now,
	}
	// The queries are independent: each fills its own accumulators on its
	// own connection, outcomeParallel at a time (DuckDB runs concurrent
	// queries on their callers' threads, so this uses the cores even with
	// one DuckDB thread), and they are merged at the end. Costliest first
	// (BENCHMARKS.md and the commit messages have the measurements).
	parts := []struct {
		name string
		run  func(*outcomeRun) error
	}{
		{"contributions", (*outcomeRun).contributions},
		{"time entries", (*outcomeRun).timeEntries},
		{"requests", (*outcomeRun).requests},
		{"blocked time", (*outcomeRun).blockedTime},
		{"completed tasks", (*outcomeRun).completedTasks},
		{"work in progress", (*outcomeRun).workInProgress},
	}
	subs := make([]*outcomeRun, len(parts))
	errs := make([]error, len(parts))
	next := make(chan int, len(parts))
	for i := range parts {
		subs[i] = r.fork()
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range outcomeParallel() {
		wg.Go(func() {
			for i := range next {
				began := time.Now()
				if err := parts[i].run(subs[i]); err != nil {
					errs[i] = fmt.Errorf("outcomes of %s to %s: %s: %w",
						calendar.DayTime(r.from).Format(time.DateOnly), calendar.DayTime(r.to).Format(time.DateOnly), parts[i].name, err)
					continue
				}
				s.logger.Debug("outcome query", "query", parts[i].name, "periods", len(starts), "period_days", length, "duration", time.Since(began))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r = r.fork()
	for _, sub := range subs {
		r.merge(sub)
	}
	began := time.Now()
	out := r.emit()
	s.logger.Debug("outcome cells", "cells", len(out), "duration", time.Since(began))
	return out, nil
}

// outcomeParallel is how many outcome queries run at once: the cores, at
// least 2 and at most 4 (each holds its own hash tables in DuckDB's memory).
func outcomeParallel() int { return min(4, max(2, runtime.NumCPU())) }

// fork returns a run of the same periods with empty accumulators.
func (r *outcomeRun) fork() *outcomeRun {
	f := *r
	f.acc, f.active = map[outcomeKey]*outcomeAcc{}, map[outcomeKey]bool{}
	f.unitContrib, f.orgContrib = map[outcomeKey]contrib{}, map[int32]contrib{}
	return &f
}

// merge adds what sub accumulated. Each query fills only its own fields,
// so adding them (and taking the contributions contributions() found)
// merges.
func (r *outcomeRun) merge(sub *outcomeRun) {
	for k, a := range sub.acc {
		dst := r.get(k.team, k.week)
		dst.add(a)
		if a.set {
			dst.contrib = a.contrib
		}
	}
	for k := range sub.active {
		r.active[k] = true
	}
	maps.Copy(r.unitContrib, sub.unitContrib)
	maps.Copy(r.orgContrib, sub.orgContrib)
}

// emit builds the cells of the active teams, their units and the org.
// The cells are counted first and go into one slice of that size: at
// 2,000 teams and 8 weeks, growing it by appending allocated about five
// times its final 24 MB, the weekly report's largest allocation.
func (r *outcomeRun) emit() []outcome.Cell {
	teams := map[int32][]string{}
	for k := range r.active {
		teams[k.week] = append(teams[k.week], k.team)
	}
	units := map[int32]map[string]*outcomeAcc{}
	n := 0
	for _, w := range r.weeks {
		if len(teams[w]) == 0 {
			continue
		}
		units[w] = map[string]*outcomeAcc{}
		for _, t := range teams[w] {
			units[w][r.org.UnitOf(t)] = nil
		}
		n += len(teams[w]) + len(units[w]) + 1
	}
	out := make([]outcome.Cell, 0, n*len(outcome.Catalog))
	for _, w := range r.weeks {
		if len(teams[w]) == 0 {
			continue
		}
		slices.Sort(teams[w])
		wUnits := units[w]
		orgAcc := newOutcomeAcc()
		for _, t := range teams[w] {
			a := r.get(t, w)
			u := r.org.UnitOf(t)
			out = a.appendCells(out, w, outcome.LevelTeam, t, u)
			if wUnits[u] == nil {
				wUnits[u] = newOutcomeAcc()
			}
			wUnits[u].add(a)
			orgAcc.add(a)
		}
		unitIDs := make([]string, 0, len(wUnits))
		for u := range wUnits {
			unitIDs = append(unitIDs, u)
		}
		slices.Sort(unitIDs)
		for _, u := range unitIDs {
			wUnits[u].contrib = r.unitContrib[outcomeKey{u, w}]
			out = wUnits[u].appendCells(out, w, outcome.LevelUnit, "", u)
		}
		orgAcc.contrib = r.orgContrib[w]
		out = orgAcc.appendCells(out, w, outcome.LevelOrg, "", "")
	}
	return out
}

// query runs q on a pool connection and calls row for each row, its
// values in dest (queryArrow).
func (r *outcomeRun) query(q string, args []any, dest []any, row func() error) error {
	return queryArrow(r.ctx, r.s.db, q, args, dest, row)
}

const (
	dayExpr  = `CAST(%s - DATE '1970-01-01' AS INTEGER)`
	dateExpr = `DATE '1970-01-01' + CAST(? AS INTEGER)`
)

func usTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// periodSQL is the first day of the period of the DATE column col, as
// days since 1970-01-01, computed like periodOf (1970-01-01 was a Thursday:
// its week's Monday is day -3).
func (r *outcomeRun) periodSQL(col string) string {
	day := fmt.Sprintf(dayExpr, col)
	if r.period == 1 {
		return day
	}
	return "(" + day + " - ((" + day + " + 3) % 7 + 7) % 7)"
}

// teamTable is a VALUES table named name of the listed teams with their
// values of cols (SQL literals from val), and a NULL row so it is never
// empty; a team it does not list has the org defaults.
func (r *outcomeRun) teamTable(name string, cols []string, types []string, val func(a agreements.Agreement) []string) string {
	var b strings.Builder
	b.WriteString("(VALUES (NULL::VARCHAR")
	for _, t := range types {
		b.WriteString(", NULL::" + t)
	}
	b.WriteString(")")
	for _, a := range r.org.Teams() {
		fmt.Fprintf(&b, ", (%s, %s)", sqlString(a.Team), strings.Join(val(a), ", "))
	}
	fmt.Fprintf(&b, ") AS %s(team, %s)", name, strings.Join(cols, ", "))
	return b.String()
}

func sqlString(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// contributions marks the active (team, period)s, those with any event at
// all (team_day), and computes what the suppression policy decides each
// family on, at team, unit (org.UnitOf) and org level: the people who
// reached the family's contribution floor (the teams file's
// min_contribution; the same floors for a day as for a week) and each of
// the family's magnitudes with its two largest single-person parts. A
// person's contributions are taken from the events they made (the person
// column holds the pseudonym): flow, the tasks they started and completed;
// time, their time entries (seconds logged, of which focus and meeting,
// deep-work blocks, person-days and overwork days, decided per team-local
// day like timeEntries); async, the requests they opened and answered.
// Each person's contributions are summed over the teams of a unit (or of
// the org) before the floor is tested and the largest are taken, so a
// person in two teams is one contributor of their unit. DuckDB does all of
// it; only counts and sums cross into Go.
func (r *outcomeRun) contributions() error {
	var (
		team, unit   string
		byTeam, byUn bool
		period       int32
	)
	err := r.query(`SELECT DISTINCT team, `+r.periodSQL("day")+` FROM team_day
		WHERE events > 0 AND day BETWEEN `+dateExpr+` AND `+dateExpr, []any{r.from, r.to}, []any{&team, &period}, func() error {
		r.active[outcomeKey{team, period}] = true
		return nil
	})
	if err != nil {
		return err
	}
	floors := r.org.Floors()
	units := r.teamTable("tu", []string{"unit"}, []string{"VARCHAR"}, func(a agreements.Agreement) []string {
		return []string{sqlString(a.Unit)}
	})
	var sums, tops []string
	for _, m := range magnitudes {
		sums = append(sums, "sum("+m.col+") AS "+m.col)
		tops = append(tops, "sum("+m.col+")", "max("+m.col+", 2)[1]", "coalesce(max("+m.col+", 2)[2], 0)")
	}
	q := `WITH ` + r.personDaysSQL(true) + `,
		tp AS (
			SELECT team, ` + r.periodSQL("day") + ` AS period, person,
				sum(all_s) AS all_s, sum(focus_s) AS focus_s, sum(meeting_s) AS meeting_s,
				CAST(sum(deep) AS DOUBLE) AS deep, CAST(count(*) AS DOUBLE) AS days,
				CAST(count(*) FILTER (WHERE over) AS DOUBLE) AS over_days
			FROM pd GROUP BY team, period, person
		),
		fa AS (
			SELECT team, ` + r.periodSQL("day") + ` AS period, person,
				CAST(count(*) FILTER (WHERE type = '` + event.TaskStarted + `') AS DOUBLE) AS starts,
				CAST(count(*) FILTER (WHERE type = '` + event.TaskCompleted + `') AS DOUBLE) AS completions,
				CAST(count(*) FILTER (WHERE type = '` + event.RequestOpened + `') AS DOUBLE) AS opened,
				CAST(count(*) FILTER (WHERE type = '` + event.RequestResponded + `') AS DOUBLE) AS answered
			FROM events
			WHERE type IN ('` + event.TaskStarted + `', '` + event.TaskCompleted + `', '` + event.RequestOpened + `', '` + event.RequestResponded + `')
				AND person IS NOT NULL AND day BETWEEN ` + dateExpr + ` AND ` + dateExpr + `
			GROUP BY team, period, person
		),
		c AS (
			SELECT coalesce(fa.team, tp.team) AS team, coalesce(fa.period, tp.period) AS period, coalesce(fa.person, tp.person) AS person,
				coalesce(starts, 0) AS starts, coalesce(completions, 0) AS completions,
				coalesce(all_s, 0) AS all_s, coalesce(focus_s, 0) AS focus_s, coalesce(meeting_s, 0) AS meeting_s,
				coalesce(deep, 0) AS deep, coalesce(days, 0) AS days, coalesce(over_days, 0) AS over_days,
				coalesce(opened, 0) AS opened, coalesce(answered, 0) AS answered
			FROM fa FULL OUTER JOIN tp ON fa.team = tp.team AND fa.period = tp.period AND fa.person = tp.person
		),
		u AS (SELECT c.*, coalesce(tu.unit, ` + sqlString(agreements.UnassignedUnit) + `) AS unit
			FROM c LEFT JOIN ` + units + ` ON tu.team = c.team),
		g AS (
			SELECT team, unit, period, person, grouping(team) = 0 AS by_team, grouping(unit) = 0 AS by_unit,
				` + strings.Join(sums, ", ") + `
			FROM u GROUP BY GROUPING SETS ((team, unit, period, person), (unit, period, person), (period, person))
		)
		SELECT coalesce(team, ''), coalesce(unit, ''), by_team, by_unit, period,
			count(*) FILTER (WHERE starts + completions >= ` + fmt.Sprint(floors.FlowTasks) + `),
			count(*) FILTER (WHERE all_s >= ` + fmt.Sprint(floors.TimeLogged.Seconds()) + `),
			count(*) FILTER (WHERE opened + answered >= ` + fmt.Sprint(floors.AsyncRequests) + `),
			` + strings.Join(tops, ", ") + `
		FROM g GROUP BY team, unit, by_team, by_unit, period`
	var people [numFamilies]int
	vals := make([]float64, 3*len(magnitudes))
	dest := []any{&team, &unit, &byTeam, &byUn, &period, &people[famFlow], &people[famTime], &people[famAsync]}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	return r.query(q, []any{r.from, r.to, r.from, r.to}, dest, func() error {
		c := contrib{people: people, set: true}
		for i, m := range magnitudes {
			c.mags[m.fam] = append(c.mags[m.fam], outcome.Magnitude{Name: m.name, Total: vals[3*i], Top1: vals[3*i+1], Top2: vals[3*i+2]})
		}
		switch {
		case byTeam:
			r.get(team, period).contrib = c
		case byUn:
			r.unitContrib[outcomeKey{unit, period}] = c
		default:
			r.orgContrib[period] = c
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
		startDay := calendar.DayOf(usTime(startUS), loc)
		cancelDay := int32(math.MaxInt32)
		if cancelUS.Valid {
			cancelDay = calendar.DayOf(usTime(cancelUS.Int64), loc)
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

// timeEntries adds the time entries of the periods (their newest
// revisions, deleted ones left out). DuckDB
// sums the entries of each (team, day, person) (personDaysSQL), and those
// per (team, period), so one row per team and period crosses into Go.
func (r *outcomeRun) timeEntries() error {
	var (
		team                   string
		period                 int32
		allS, focusS, meetingS float64
		deep, personDays, over int
	)
	q := `WITH ` + r.personDaysSQL(false) + `
		SELECT team, ` + r.periodSQL("day") + ` AS period, sum(all_s), sum(focus_s), sum(meeting_s), CAST(sum(deep) AS BIGINT),
			count(person), count(person) FILTER (WHERE over)
		FROM pd GROUP BY team, period`
	return r.query(q, []any{r.from, r.to}, []any{&team, &period, &allS, &focusS, &meetingS, &deep, &personDays, &over}, func() error {
		a := r.get(team, period)
		a.allS += allS
		a.focusS += focusS
		a.meetingS += meetingS
		a.deepBlocks += deep
		a.personDays += personDays
		a.overDays += over
		return nil
	})
}

// personDaysSQL is the common table expressions te, the time entries of
// the periods as their newest revisions say (time_entries: a replaced
// revision or a deleted entry counts nothing; those with a person only,
// when personal), and pd: per
// (team, team-local day, person) the seconds logged, of which focus and
// meeting, the focus entries at least as long as the team's
// focus_block_min (an entry missing start or end counts 0 s and is never a
// block), and whether the day is overwork (more than the team's
// overwork_per_day, or not one of its working days). The settings of the
// listed teams are inlined; any other team has the org defaults. It takes
// two arguments, the first and last day.
func (r *outcomeRun) personDaysSQL(personal bool) string {
	def := r.org.Team("")
	settings := r.teamTable("th", []string{"min_us", "over_s", "workdays"}, []string{"BIGINT", "DOUBLE", "VARCHAR"},
		func(a agreements.Agreement) []string {
			return []string{fmt.Sprint(a.FocusBlockMin.Microseconds()), fmt.Sprint(a.OverworkPerDay.Seconds()), workdayMask(a)}
		})
	who := ""
	if personal {
		who = " AND person IS NOT NULL"
	}
	return `te AS (
			SELECT team, day, person, category, started_at IS NOT NULL AND ended_at IS NOT NULL AS timed,
				coalesce(epoch_us(ended_at) - epoch_us(started_at), 0) AS us
			FROM time_entries WHERE NOT deleted` + who + ` AND day BETWEEN ` + dateExpr + ` AND ` + dateExpr + `
		),
		pd AS (
			SELECT e.team, e.day, e.person,
				coalesce(sum(e.us / 1e6), 0) AS all_s,
				coalesce(sum(e.us / 1e6) FILTER (WHERE e.category = 'focus'), 0) AS focus_s,
				coalesce(sum(e.us / 1e6) FILTER (WHERE e.category = 'meeting'), 0) AS meeting_s,
				count(*) FILTER (WHERE e.category = 'focus' AND e.timed AND e.us >= coalesce(th.min_us, ` + fmt.Sprint(def.FocusBlockMin.Microseconds()) + `)) AS deep,
				coalesce(sum(e.us / 1e6), 0) > coalesce(any_value(th.over_s), ` + fmt.Sprint(def.OverworkPerDay.Seconds()) + `)
					OR substr(coalesce(any_value(th.workdays), ` + workdayMask(def) + `), dayofweek(e.day) + 1, 1) <> '1' AS over
			FROM te e LEFT JOIN ` + settings + ` ON th.team = e.team
			GROUP BY e.team, e.day, e.person
		)`
}

// workdayMask is a's working days as a SQL string of 7 '0'/'1', indexed
// like DuckDB's dayofweek (0 = Sunday, as time.Weekday).
func workdayMask(a agreements.Agreement) string {
	var b [7]byte
	for i, w := range a.WorkingDays {
		b[i] = '0'
		if w {
			b[i] = '1'
		}
	}
	return "'" + string(b[:]) + "'"
}

// requests adds the SLA adherence, response times and open requests.
func (r *outcomeRun) requests() error {
	var (
		team                  string
		openedUS, respondedUS sql.NullInt64
		openedDay, respDay    sql.NullInt32
		respTime              sql.NullFloat64
	)
	// Per team: its SLA, the end of each period in its zone and its
	// accumulators, looked up once per row.
	type teamInfo struct {
		sla  float64
		ends []time.Time // end of each of r.weeks' periods
		accs []*outcomeAcc
	}
	infos := map[string]*teamInfo{}
	info := func(team string) *teamInfo {
		ti := infos[team]
		if ti == nil {
			a := r.org.Team(team)
			ti = &teamInfo{sla: a.ResponseSLA.Seconds(), accs: make([]*outcomeAcc, len(r.weeks))}
			for _, w := range r.weeks {
				ti.ends = append(ti.ends, periodEnd(w, r.period, r.org.Location(team)))
			}
			infos[team] = ti
		}
		return ti
	}
	acc := func(team string, ti *teamInfo, i int) *outcomeAcc {
		if ti.accs[i] == nil {
			ti.accs[i] = r.get(team, r.weeks[i])
		}
		return ti.accs[i]
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
		ti := info(team)
		if respDay.Valid && r.inRange(respDay.Int32) && respTime.Valid {
			i := (r.periodOf(respDay.Int32) - r.weeks[0]) / r.period
			a := acc(team, ti, int(i))
			a.response = append(a.response, respTime.Float64)
		}
		if !openedUS.Valid {
			return nil
		}
		opened := usTime(openedUS.Int64)
		var responded time.Time
		if respondedUS.Valid {
			responded = usTime(respondedUS.Int64)
		}
		openedIn := int32(math.MaxInt32) // matches no period
		if openedDay.Valid {
			openedIn = r.periodOf(openedDay.Int32)
		}
		// Periods ending by the opening count nothing. The working time
		// open grows with the cutoff, which never falls from one period to
		// the next, so once past the SLA it stays past: isPast computes it
		// only for a period that needs it (most requests are answered in
		// the period they were opened, which needs only the working time
		// to the response). Once answered before a period's end, the
		// request is open at no later end.
		past := false
		isPast := func(end time.Time) bool {
			if !past {
				cutoff := end
				if r.now.Before(cutoff) {
					cutoff = r.now
				}
				past = r.org.WorkingSeconds(team, opened, cutoff) > ti.sla
			}
			return past
		}
		for i, w := range r.weeks {
			end := ti.ends[i]
			inPeriod := openedIn == w
			if !inPeriod && !opened.Before(end) {
				continue
			}
			if inPeriod {
				a := acc(team, ti, i)
				if respondedUS.Valid {
					a.slaAll++
					if r.org.WorkingSeconds(team, opened, responded) <= ti.sla {
						a.slaIn++
					}
				} else if isPast(end) {
					a.slaAll++
				}
			}
			if !opened.Before(end) {
				continue
			}
			if respondedUS.Valid && responded.Before(end) {
				if openedIn <= w {
					break
				}
				continue
			}
			if isPast(end) {
				acc(team, ti, i).openPastSLA++
			}
		}
		return nil
	})
}
