package transform

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/outcome"
)

// outcomeOrg: t1 and t2 in unit u1 (UTC, Mon-Fri), t3 in u2 (New York).
const outcomeOrg = `
units:
  - id: u1
    teams:
      - id: t1
      - id: t2
        focus_block_min: 12h
        overwork_hours_per_day: 9h
  - id: u2
    defaults:
      timezone: America/New_York
    teams:
      - id: t3
`

func mustOrg(t *testing.T, yaml string) *agreements.Org {
	t.Helper()
	o, err := agreements.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return o
}

type outcomeCell struct {
	week   int32
	level  outcome.Level
	name   string // team, unit or "" for the org
	metric string
}

// outcomes runs Outcomes and indexes the cells, failing on duplicates.
func outcomes(t *testing.T, s *Store, org *agreements.Org, from, to int32, now time.Time) map[outcomeCell]outcome.Cell {
	t.Helper()
	out, err := s.Outcomes(context.Background(), org, from, to, now)
	if err != nil {
		t.Fatalf("Outcomes: %v", err)
	}
	m := map[outcomeCell]outcome.Cell{}
	for _, o := range out {
		name := o.Team
		switch o.Level {
		case outcome.LevelUnit:
			name = o.Unit
			if o.Team != "" {
				t.Errorf("unit cell with a team: %+v", o)
			}
		case outcome.LevelOrg:
			if o.Team != "" || o.Unit != "" {
				t.Errorf("org cell with a team or unit: %+v", o)
			}
		}
		k := outcomeCell{o.Week, o.Level, name, o.Metric}
		if _, dup := m[k]; dup {
			t.Errorf("duplicate cell %+v", k)
		}
		m[k] = o
	}
	return m
}

// want checks one cell: defined with value v (within 1e-9), or undefined
// when v is NaN.
func want(t *testing.T, m map[outcomeCell]outcome.Cell, k outcomeCell, v float64) {
	t.Helper()
	o, ok := m[k]
	if !ok {
		t.Errorf("%+v: no cell", k)
		return
	}
	if math.IsNaN(v) {
		if o.Defined {
			t.Errorf("%+v: got defined %v, want undefined", k, o.Value)
		}
		return
	}
	if !o.Defined || math.Abs(o.Value-v) > 1e-9*math.Max(1, math.Abs(v)) {
		t.Errorf("%+v: got %v (defined %v), want %v", k, o.Value, o.Defined, v)
	}
}

func wantPeople(t *testing.T, m map[outcomeCell]outcome.Cell, k outcomeCell, n int) {
	t.Helper()
	if o, ok := m[k]; !ok {
		t.Errorf("%+v: no cell", k)
	} else if o.People != n {
		t.Errorf("%+v: people %d, want %d", k, o.People, n)
	}
}

const hour = 3600.0

// flowWeek is one team's week of task events (t1, Monday day0 to Sunday),
// hand-computed in TestOutcomeFlow and per day in TestDailyOutcomes.
func flowWeek(g *ids) []event.Event {
	return []event.Event{
		// A: created Mon 09, started Tue 09, completed Fri 23:30, due Fri.
		g.ev(event.TaskCreated, 0, 9, task("A"), who(1), dueDate(4)),
		g.ev(event.TaskStarted, 1, 9, task("A"), who(1)),
		g.ev(event.TaskCompleted, 4, 23.5, task("A"), who(1)),
		// B: completed then reopened: not completed, in progress.
		g.ev(event.TaskCreated, 0, 9, task("B"), who(2)),
		g.ev(event.TaskStarted, 0, 10, task("B"), who(2)),
		g.ev(event.TaskCompleted, 2, 10, task("B"), who(2)),
		g.ev(event.TaskReopened, 3, 10, task("B"), who(2)),
		// C: no created event (so no due), blocked 2h then from Wed 10 to completion.
		g.ev(event.TaskStarted, 1, 9, task("C"), who(1)),
		g.ev(event.TaskBlocked, 1, 12, task("C"), who(1)),
		g.ev(event.TaskUnblocked, 1, 14, task("C"), who(1)),
		g.ev(event.TaskBlocked, 2, 10, task("C"), who(1)),
		g.ev(event.TaskCompleted, 2, 12, task("C"), who(1)),
		// D: started on Sunday, in progress.
		g.ev(event.TaskStarted, 6, 10, task("D"), who(3)),
		// E: started and cancelled: not in progress.
		g.ev(event.TaskStarted, 0, 10, task("E")),
		g.ev(event.TaskCancelled, 3, 10, task("E")),
		// F: due Wed, completed, reopened, completed again Thu: counts, reopened, late.
		g.ev(event.TaskCreated, 0, 8, task("F"), who(4), dueDate(2)),
		g.ev(event.TaskStarted, 0, 8, task("F"), who(4)),
		g.ev(event.TaskCompleted, 1, 8, task("F"), who(4)),
		g.ev(event.TaskReopened, 2, 8, task("F"), who(4)),
		g.ev(event.TaskCompleted, 3, 8, task("F"), who(4)),
	}
}

func TestOutcomeFlow(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	org := mustOrg(t, outcomeOrg)
	commit(t, s, mem, flowWeek(&g)...)
	m := outcomes(t, s, org, day0, day0, at(30, 0))
	c := func(metric string) outcomeCell { return outcomeCell{day0, outcome.LevelTeam, "t1", metric} }
	for _, tc := range []struct {
		metric string
		want   float64
	}{
		{"tasks_completed", 3},
		{"lead_time_p50", (72 + 110.5) / 2 * hour},
		{"lead_time_p85", (72 + 0.85*38.5) * hour},
		{"cycle_time_p50", 72 * hour},
		{"cycle_time_p85", (72 + 0.7*14.5) * hour},
		{"work_in_progress", 2},
		{"on_time_ratio", 0.5},
		{"reopen_ratio", 1.0 / 3},
		{"blocked_time_ratio", 4 / (86.5 + 27 + 72)},
		{"focus_ratio", math.NaN()},
		{"deep_work_blocks", math.NaN()},
		{"meeting_load", math.NaN()},
		{"overwork_ratio", math.NaN()},
		{"response_within_sla_ratio", math.NaN()},
		{"response_time_p50", math.NaN()},
		{"requests_open_past_sla", 0},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			want(t, m, c(tc.metric), tc.want)
			want(t, m, outcomeCell{day0, outcome.LevelUnit, "u1", tc.metric}, tc.want)
			want(t, m, outcomeCell{day0, outcome.LevelOrg, "", tc.metric}, tc.want)
		})
	}
	// Task events started or completed: person 1 four (A, C), 2 two (B),
	// 4 three (F), 3 one (D), below the floor of 2.
	wantPeople(t, m, c("tasks_completed"), 3)
	wantPeople(t, m, c("focus_ratio"), 0)
	if len(m) != 3*len(outcome.Catalog) {
		t.Errorf("%d cells, want %d (one team, its unit, the org)", len(m), 3*len(outcome.Catalog))
	}
	if o := m[c("tasks_completed")]; o.Unit != "u1" {
		t.Errorf("team cell unit %q, want u1", o.Unit)
	}
}

// TestOutcomeLocalWeek: a task completed Friday 23:30 in New York (Saturday
// in UTC) counts in the team-local week, and so does its work in progress.
func TestOutcomeLocalWeek(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	local := func(d int, h float64) func(*event.Event) {
		return func(e *event.Event) {
			y, mo, dd := base.AddDate(0, 0, d).Date()
			e.Time = time.Date(y, mo, dd, 0, 0, 0, 0, ny).Add(time.Duration(h * float64(time.Hour))).UTC()
			e.Day = day0 + int32(d)
		}
	}
	commit(t, s, mem,
		g.ev(event.TaskStarted, 0, 0, team("t3"), task("X"), local(0, 9)),
		g.ev(event.TaskCompleted, 0, 0, team("t3"), task("X"), local(4, 23.5)),
		// Started Sunday 22:00 local (Monday in UTC): in progress this week.
		g.ev(event.TaskStarted, 0, 0, team("t3"), task("Y"), local(6, 22)),
	)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0+7, at(30, 0))
	want(t, m, outcomeCell{day0, outcome.LevelTeam, "t3", "tasks_completed"}, 1)
	want(t, m, outcomeCell{day0, outcome.LevelTeam, "t3", "cycle_time_p50"}, (4*24+14.5)*hour)
	want(t, m, outcomeCell{day0, outcome.LevelTeam, "t3", "work_in_progress"}, 1)
	want(t, m, outcomeCell{day0, outcome.LevelUnit, "u2", "tasks_completed"}, 1)
	if _, ok := m[outcomeCell{day0 + 7, outcome.LevelTeam, "t3", "tasks_completed"}]; ok {
		t.Error("cells for a week without events")
	}
}

// TestOutcomeLateEvent: events arriving after their week change its values.
func TestOutcomeLateEvent(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	org := mustOrg(t, outcomeOrg)
	k := outcomeCell{day0, outcome.LevelTeam, "t1", "tasks_completed"}
	commit(t, s, mem,
		g.ev(event.TaskCompleted, 4, 10, task("A")),
		g.ev(event.TaskCompleted, 3, 10, task("B")),
		g.ev(event.TaskStarted, 8, 10, task("N")),
	)
	now := at(9, 12)
	want(t, outcomes(t, s, org, day0, day0+7, now), k, 2)
	for _, tc := range []struct {
		name string
		ev   event.Event
		want float64
	}{
		{"late completion", g.ev(event.TaskCompleted, 2, 10, task("C")), 3},
		{"late reopen after completion", g.ev(event.TaskReopened, 4, 12, task("A")), 2},
		{"reopen before completion", g.ev(event.TaskReopened, 3, 9, task("B")), 2},
		{"duplicate", g.ev(event.TaskCompleted, 2, 10, task("C"), withID("e4")), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commit(t, s, mem, tc.ev)
			m := outcomes(t, s, org, day0, day0+7, now)
			want(t, m, k, tc.want)
			want(t, m, outcomeCell{day0 + 7, outcome.LevelTeam, "t1", "tasks_completed"}, 0)
		})
	}
}

func TestOutcomeTime(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2)),
		g.ev(event.TimeLogged, 0, 11, who(1), logged("meeting", 1)),
		g.ev(event.TimeLogged, 0, 12, who(1), logged("focus", 1)),
		g.ev(event.TimeLogged, 1, 8, who(2), logged("focus", 11)),             // block, over 10h
		g.ev(event.TimeLogged, 5, 10, who(2), logged("other", 1)),             // Saturday
		g.ev(event.TimeLogged, 0, 8, who(1), team("t2"), logged("focus", 10)), // under t2's 12h block, over its 9h
	)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0, at(30, 0))
	for _, tc := range []struct {
		name   string
		level  outcome.Level
		metric string
		want   float64
	}{
		{"t1", outcome.LevelTeam, "focus_ratio", 14.0 / 16},
		{"t1", outcome.LevelTeam, "deep_work_blocks", 1},
		{"t1", outcome.LevelTeam, "meeting_load", hour / 2},
		{"t1", outcome.LevelTeam, "overwork_ratio", 2.0 / 3},
		{"t2", outcome.LevelTeam, "focus_ratio", 1},
		{"t2", outcome.LevelTeam, "deep_work_blocks", 0},
		{"t2", outcome.LevelTeam, "meeting_load", 0},
		{"t2", outcome.LevelTeam, "overwork_ratio", 1},
		{"u1", outcome.LevelUnit, "focus_ratio", 24.0 / 26},
		{"u1", outcome.LevelUnit, "deep_work_blocks", 1},
		{"u1", outcome.LevelUnit, "meeting_load", hour / 2},
		{"u1", outcome.LevelUnit, "overwork_ratio", 3.0 / 4},
		{"", outcome.LevelOrg, "overwork_ratio", 3.0 / 4},
		{"t1", outcome.LevelTeam, "tasks_completed", 0},
		{"t1", outcome.LevelTeam, "reopen_ratio", math.NaN()},
	} {
		t.Run(tc.name+"/"+tc.metric, func(t *testing.T) {
			want(t, m, outcomeCell{day0, tc.level, tc.name, tc.metric}, tc.want)
		})
	}
	wantPeople(t, m, outcomeCell{day0, outcome.LevelTeam, "t1", "focus_ratio"}, 2)
	wantPeople(t, m, outcomeCell{day0, outcome.LevelTeam, "t2", "focus_ratio"}, 1)
	wantPeople(t, m, outcomeCell{day0, outcome.LevelUnit, "u1", "focus_ratio"}, 2)
}

func TestOutcomeSLA(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sla          string
		now          time.Time
		within, past float64 // week 0
		past1        float64 // week 1
	}{
		// R1: Fri 17:00 → Mon 09:00 = 7h + 9h = 16h of working time.
		// R2: opened Wed 10:00, never answered: 62h by the end of the week.
		{name: "sla 24h", sla: "24h", now: at(30, 0), within: 0.5, past: 1, past1: 1},
		{name: "sla 8h", sla: "8h", now: at(30, 0), within: 0, past: 1, past1: 1},
		{name: "sla 24h, now Wed 20:00", sla: "24h", now: at(2, 20), within: 1, past: 0, past1: 0},
		{name: "sla 72h", sla: "72h", now: at(30, 0), within: 1, past: 0, past1: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t)
			mem := checkedMem(t)
			var g ids
			commit(t, s, mem,
				g.ev(event.RequestOpened, 4, 17, request("R1"), who(1)),
				g.ev(event.RequestResponded, 7, 9, request("R1"), who(2)),
				g.ev(event.RequestOpened, 2, 10, request("R2"), who(3)),
			)
			// Each person opened or answered one request: a floor of 1
			// counts them.
			org := mustOrg(t, "min_contribution:\n  async_requests: 1\nunits:\n  - id: u1\n    teams:\n      - id: t1\n        response_sla: "+tc.sla+"\n")
			m := outcomes(t, s, org, day0, day0+7, tc.now)
			c := func(week int32, metric string) outcomeCell { return outcomeCell{week, outcome.LevelTeam, "t1", metric} }
			want(t, m, c(day0, "response_within_sla_ratio"), tc.within)
			want(t, m, c(day0, "requests_open_past_sla"), tc.past)
			want(t, m, c(day0, "response_time_p50"), math.NaN())
			want(t, m, c(day0+7, "response_time_p50"), 64*hour)
			want(t, m, c(day0+7, "response_within_sla_ratio"), math.NaN())
			want(t, m, c(day0+7, "requests_open_past_sla"), tc.past1)
			wantPeople(t, m, c(day0, "response_within_sla_ratio"), 2)
			wantPeople(t, m, c(day0+7, "response_time_p50"), 1)
		})
	}
}

// TestOutcomeUnion: unit and org values come from the union of the teams'
// rows, people are distinct across teams, and every unit gets its cells.
func TestOutcomeUnion(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	cycle := func(tm, id string, p int, hours float64) []event.Event {
		return []event.Event{
			g.ev(event.TaskStarted, 1, 8, team(tm), task(id), who(p)),
			g.ev(event.TaskCompleted, 1, 8+hours, team(tm), task(id), who(p)),
		}
	}
	var evs []event.Event
	evs = append(evs, cycle("t1", "a", 1, 1)...)
	evs = append(evs, cycle("t1", "b", 2, 2)...)
	evs = append(evs, cycle("t2", "c", 1, 10)...)
	evs = append(evs, cycle("t3", "d", 3, 4)...)
	evs = append(evs, cycle("zz", "e", 4, 6)...)
	evs = append(evs,
		g.ev(event.TimeLogged, 2, 9, team("t1"), who(5), logged("focus", 1)),
		g.ev(event.RequestOpened, 2, 9, team("t2"), request("r"), who(5)),
		g.ev(event.RequestResponded, 3, 9, team("t2"), request("r"), who(5)),
	)
	commit(t, s, mem, evs...)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0, at(30, 0))
	for _, tc := range []struct {
		level      outcome.Level
		name       string
		p50        float64
		flow, time int
		async      int
		samples    int // the cycles the percentile is over
	}{
		{outcome.LevelTeam, "t1", 1.5 * hour, 2, 1, 0, 2},
		{outcome.LevelTeam, "t2", 10 * hour, 1, 0, 1, 1},
		{outcome.LevelUnit, "u1", 2 * hour, 2, 1, 1, 3}, // not the mean of 1.5h and 10h
		{outcome.LevelUnit, "u2", 4 * hour, 1, 0, 0, 1},
		{outcome.LevelUnit, agreements.UnassignedUnit, 6 * hour, 1, 0, 0, 1},
		{outcome.LevelOrg, "", 4 * hour, 4, 1, 1, 5},
	} {
		t.Run(string(tc.level)+"/"+tc.name, func(t *testing.T) {
			c := func(metric string) outcomeCell { return outcomeCell{day0, tc.level, tc.name, metric} }
			want(t, m, c("cycle_time_p50"), tc.p50)
			wantPeople(t, m, c("cycle_time_p50"), tc.flow)
			wantPeople(t, m, c("meeting_load"), tc.time)
			wantPeople(t, m, c("response_time_p50"), tc.async)
			for _, id := range []string{"cycle_time_p50", "cycle_time_p85"} {
				if got := m[c(id)].Samples; got != tc.samples {
					t.Errorf("%s samples %d, want %d", id, got, tc.samples)
				}
			}
			if got := m[c("tasks_completed")].Samples; got != 0 {
				t.Errorf("tasks_completed samples %d, want 0 (not a percentile)", got)
			}
		})
	}
	if o := m[outcomeCell{day0, outcome.LevelTeam, "zz", "tasks_completed"}]; o.Unit != agreements.UnassignedUnit {
		t.Errorf("unlisted team in unit %q, want %q", o.Unit, agreements.UnassignedUnit)
	}
	if len(m) != (4+3+1)*len(outcome.Catalog) {
		t.Errorf("%d cells, want %d", len(m), 8*len(outcome.Catalog))
	}
}

// TestOutcomeBlocked: blocked spans are clipped to the cycle, a repeated
// blocked event does not count twice and events after completion are ignored.
func TestOutcomeBlocked(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TaskStarted, 1, 10, task("G")),
		g.ev(event.TaskBlocked, 1, 11, task("G")),
		g.ev(event.TaskBlocked, 1, 12, task("G")),
		g.ev(event.TaskUnblocked, 1, 13, task("G")),
		g.ev(event.TaskCompleted, 1, 14, task("G")),
		g.ev(event.TaskBlocked, 1, 15, task("G")),
		g.ev(event.TaskBlocked, 0, 9, task("H"), team("t2")),
		g.ev(event.TaskStarted, 0, 10, task("H"), team("t2")),
		g.ev(event.TaskUnblocked, 0, 11, task("H"), team("t2")),
		g.ev(event.TaskCompleted, 0, 14, task("H"), team("t2")),
	)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0, at(30, 0))
	for _, tc := range []struct {
		level outcome.Level
		name  string
		want  float64
	}{
		{outcome.LevelTeam, "t1", 2.0 / 4},
		{outcome.LevelTeam, "t2", 1.0 / 4},
		{outcome.LevelUnit, "u1", 3.0 / 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, m, outcomeCell{day0, tc.level, tc.name, "blocked_time_ratio"}, tc.want)
		})
	}
}

func TestOutcomeWeeks(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	commit(t, s, mem, g.ev(event.TaskCompleted, 8, 10, task("A")))
	org := mustOrg(t, outcomeOrg)
	for _, tc := range []struct {
		name     string
		from, to int32
		cells    int
	}{
		{"no data", day0, day0, 0},
		{"empty range", day0 + 7, day0, 0},
		{"from not a monday", day0 + 1, day0 + 7, 3 * len(outcome.Catalog)},
		{"to not a monday", day0, day0 + 9, 3 * len(outcome.Catalog)},
		{"from after the only monday", day0 + 8, day0 + 13, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.Outcomes(context.Background(), org, tc.from, tc.to, at(30, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tc.cells {
				t.Errorf("%d cells, want %d", len(out), tc.cells)
			}
			for _, o := range out {
				if o.Week != day0+7 {
					t.Errorf("cell of week %d, want %d", o.Week, day0+7)
				}
			}
		})
	}
}
