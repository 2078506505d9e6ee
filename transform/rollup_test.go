package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// TestRollupScenarios commits batches and checks chosen cells. Every
// scenario is also checked against Rebuild and the Go reference.
func TestRollupScenarios(t *testing.T) {
	type check struct {
		team string
		day  int
		want func(TeamDay) bool
		desc string
	}
	hours := func(h float64) float64 { return h * 3600 }
	for _, sc := range []struct {
		name    string
		batches func(g *ids) [][]event.Event
		after   []int // CellsTouched per batch, if set
		checks  []check
	}{
		{
			name: "late created event after completion fixes lead time in the completion cell",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCompleted, 2, 10, task("k1"))},
					{g.ev(event.TaskCreated, 0, 10, task("k1"))},
				}
			},
			after: []int{1, 2},
			checks: []check{
				{"t1", 2, func(c TeamDay) bool {
					return c.TasksCompleted == 1 && c.LeadTimeN == 1 && c.LeadTimeSSum == hours(48)
				}, "completed once with 48h lead time"},
				{"t1", 0, func(c TeamDay) bool { return c.TasksCreated == 1 && c.TasksCompleted == 0 }, "created"},
			},
		},
		{
			name: "reopen after completion removes the completion",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCreated, 0, 9, task("k1")), g.ev(event.TaskCompleted, 1, 9, task("k1"))},
					{g.ev(event.TaskReopened, 2, 9, task("k1"))},
				}
			},
			checks: []check{
				{"t1", 1, func(c TeamDay) bool { return c.Events == 1 && c.TasksCompleted == 0 && c.LeadTimeN == 0 }, "no completion left"},
				{"t1", 2, func(c TeamDay) bool { return c.TasksReopened == 1 }, "reopened"},
			},
		},
		{
			name: "reopen at the same time as the completion also removes it",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCompleted, 1, 9, task("k1"))},
					{g.ev(event.TaskReopened, 1, 9, task("k1"))},
				}
			},
			checks: []check{{"t1", 1, func(c TeamDay) bool { return c.TasksCompleted == 0 && c.TasksReopened == 1 }, "not complete"}},
		},
		{
			name: "completion after a reopen counts again on its own day",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCreated, 0, 9, task("k1")), g.ev(event.TaskCompleted, 1, 9, task("k1"))},
					{g.ev(event.TaskReopened, 2, 9, task("k1"))},
					{g.ev(event.TaskCompleted, 3, 9, task("k1"))},
				}
			},
			checks: []check{
				{"t1", 1, func(c TeamDay) bool { return c.TasksCompleted == 0 }, "old completion gone"},
				{"t1", 3, func(c TeamDay) bool { return c.TasksCompleted == 1 && c.LeadTimeSSum == hours(72) }, "completed with 72h lead"},
			},
		},
		{
			name: "a later completion moves the cell; a weeks-late earlier one does not",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCreated, 0, 9, task("k1")), g.ev(event.TaskCompleted, 1, 9, task("k1"))},
					{g.ev(event.TaskCompleted, 4, 9, task("k1"))},
					{g.ev(event.TaskCompleted, 3, 9, task("k1"))}, // arrives late, happened before day 4
				}
			},
			after: []int{2, 2, 2},
			checks: []check{
				{"t1", 1, func(c TeamDay) bool { return c.TasksCompleted == 0 && c.Events == 1 }, "moved away"},
				{"t1", 3, func(c TeamDay) bool { return c.TasksCompleted == 0 && c.Events == 1 }, "not the latest"},
				{"t1", 4, func(c TeamDay) bool { return c.TasksCompleted == 1 && c.LeadTimeSSum == hours(96) }, "moved here"},
			},
		},
		{
			name: "date-only due: on time through the due day, late after; due_at wins over due_date",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{{
					g.ev(event.TaskCreated, 0, 9, task("ontime"), dueDate(2)),
					g.ev(event.TaskCompleted, 2, 23.9, task("ontime")),
					g.ev(event.TaskCreated, 0, 9, task("late"), dueDate(1)),
					g.ev(event.TaskCompleted, 2, 1, task("late")),
					g.ev(event.TaskCreated, 0, 9, task("dueat"), dueAt(at(2, 12)), dueDate(5)),
					g.ev(event.TaskCompleted, 2, 13, task("dueat")),
					g.ev(event.TaskCreated, 0, 9, task("dueat-ok"), dueAt(at(2, 12))),
					g.ev(event.TaskCompleted, 2, 12, task("dueat-ok")),
					g.ev(event.TaskCreated, 0, 9, task("nodue")),
					g.ev(event.TaskCompleted, 2, 14, task("nodue")),
				}}
			},
			checks: []check{{"t1", 2, func(c TeamDay) bool {
				return c.TasksCompleted == 5 && c.CompletedWithDue == 4 && c.CompletedOnTime == 2
			}, "5 completed, 4 with due, 2 on time"}},
		},
		{
			name: "due comes from the earliest created event",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCreated, 1, 9, task("k"), dueDate(9)), g.ev(event.TaskCompleted, 3, 9, task("k"))},
					{g.ev(event.TaskCreated, 0, 9, task("k"), dueDate(2))},
				}
			},
			checks: []check{{"t1", 3, func(c TeamDay) bool {
				return c.CompletedWithDue == 1 && c.CompletedOnTime == 0 && c.LeadTimeSSum == hours(72)
			}, "late against the earliest due"}},
		},
		{
			name: "cycle time from the first start; negative lead time is null",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{{
					g.ev(event.TaskStarted, 0, 12, task("k")),
					g.ev(event.TaskStarted, 0, 10, task("k")),
					g.ev(event.TaskCreated, 1, 11, task("k")), // after the completion
					g.ev(event.TaskCompleted, 1, 10, task("k")),
				}}
			},
			checks: []check{
				{"t1", 1, func(c TeamDay) bool {
					return c.TasksCompleted == 1 && c.CycleTimeN == 1 && c.CycleTimeSSum == hours(24) && c.LeadTimeN == 0 && c.LeadTimeSSum == 0
				}, "cycle 24h, no lead"},
				{"t1", 0, func(c TeamDay) bool { return c.TasksStarted == 1 && c.Events == 2 }, "one task started"},
			},
		},
		{
			name: "created and started count distinct tasks; reopened and blocked count events",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{{
					g.ev(event.TaskCreated, 0, 9, task("a")), g.ev(event.TaskCreated, 0, 10, task("a")), g.ev(event.TaskCreated, 0, 9, task("b")),
					g.ev(event.TaskBlocked, 0, 9, task("a")), g.ev(event.TaskBlocked, 0, 11, task("a")),
					g.ev(event.TaskReopened, 0, 9, task("b")), g.ev(event.TaskReopened, 0, 12, task("b")),
					g.ev(event.TaskUnblocked, 0, 12, task("a")), g.ev(event.TaskCancelled, 0, 12, task("a")),
				}}
			},
			checks: []check{{"t1", 0, func(c TeamDay) bool {
				return c.Events == 9 && c.TasksCreated == 2 && c.TasksBlocked == 2 && c.TasksReopened == 2
			}, "2 created, 2 blocked, 2 reopened"}},
		},
		{
			name: "time by category",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{{
					g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2)),
					g.ev(event.TimeLogged, 0, 12, who(2), logged("focus", 1.5)),
					g.ev(event.TimeLogged, 0, 14, who(1), logged("meeting", 1)),
					g.ev(event.TimeLogged, 0, 15, who(1), logged("collaboration", 0.25)),
					g.ev(event.TimeLogged, 0, 15, who(1), logged("support", 0.5)),
					g.ev(event.TimeLogged, 0, 15, who(1), logged("admin", 0.75)),
					g.ev(event.TimeLogged, 0, 15, who(1), logged("learning", 3)),
					g.ev(event.TimeLogged, 0, 16, who(3), logged("other", 0.5)),
					g.ev(event.TimeLogged, 0, 16, who(3), logged("focus", 4), team("t2")),
				}}
			},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool {
					return c.FocusS == hours(3.5) && c.MeetingS == hours(1) && c.CollaborationS == hours(0.25) &&
						c.SupportS == hours(0.5) && c.AdminS == hours(0.75) && c.LearningS == hours(3) && c.OtherS == hours(0.5) &&
						c.Contributors == 3
				}, "sums per category"},
				{"t2", 0, func(c TeamDay) bool { return c.FocusS == hours(4) && c.Contributors == 1 }, "other team"},
			},
		},
		{
			name: "requests: earliest response, negative response time, late opened event",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{
						g.ev(event.RequestOpened, 0, 9, request("r1")),
						g.ev(event.RequestResponded, 0, 11, request("r1")),
						g.ev(event.RequestResponded, 1, 9, request("r1")), // not the first response
						g.ev(event.RequestOpened, 0, 10, request("r2")),
						g.ev(event.RequestResponded, 0, 9, request("r2")), // before it was opened
						g.ev(event.RequestResponded, 1, 12, request("r3")),
					},
					{g.ev(event.RequestOpened, 0, 12, request("r3"))}, // arrives late
				}
			},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool {
					return c.RequestsOpened == 3 && c.RequestsResponded == 2 && c.ResponseTimeN == 1 && c.ResponseTimeSSum == hours(2)
				}, "3 opened, 2 responded, one 2h response"},
				{"t1", 1, func(c TeamDay) bool {
					return c.RequestsResponded == 1 && c.ResponseTimeN == 1 && c.ResponseTimeSSum == hours(24)
				}, "r3 responded after 24h"},
			},
		},
		{
			name: "contributors are distinct people with events that day",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TaskCreated, 0, 9, task("a"), who(1)), g.ev(event.TaskStarted, 0, 9, task("a"), who(1)), g.ev(event.TaskBlocked, 0, 9, task("a"), who(2))},
					{g.ev(event.TaskCompleted, 0, 19, task("a"), who(2)), g.ev(event.TaskCreated, 0, 9, task("b"))},
				}
			},
			checks: []check{{"t1", 0, func(c TeamDay) bool { return c.Contributors == 2 && c.Events == 5 }, "2 people"}},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			mem := checkedMem(t)
			s, _ := openStore(t)
			var g ids
			var all []event.Event
			for i, batch := range sc.batches(&g) {
				all = append(all, batch...)
				res := commit(t, s, mem, batch...)
				if sc.after != nil && res.CellsTouched != int64(sc.after[i]) {
					t.Errorf("batch %d touched %d cells, want %d", i, res.CellsTouched, sc.after[i])
				}
			}
			for _, c := range sc.checks {
				if got := cell(t, s, c.team, c.day); !c.want(got) {
					t.Errorf("cell (%s, day %d): want %s, got %+v", c.team, c.day, c.desc, got)
				}
			}
			incremental := teamDays(t, s)
			if d := diffTeamDays(incremental, reference(all)); d != "" {
				t.Errorf("incremental vs Go reference:\n%s", d)
			}
			if err := s.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := diffTeamDays(teamDays(t, s), incremental); d != "" {
				t.Errorf("rebuild vs incremental:\n%s", d)
			}
		})
	}
}

func TestTeamContributors(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TaskCreated, 0, 9, who(1)), g.ev(event.TaskCreated, 0, 9, who(2)),
		g.ev(event.TaskCreated, 1, 9, who(2)), g.ev(event.TaskCreated, 1, 9, who(3)),
		g.ev(event.TaskCreated, 2, 9, who(4)), g.ev(event.TaskCreated, 2, 9), // no person
		g.ev(event.TaskCreated, 1, 9, who(1), team("t2")),
	)
	for _, tc := range []struct {
		name     string
		from, to int32
		want     map[string]int
	}{
		{"one day", day0, day0, map[string]int{"t1": 2}},
		{"two days count people once", day0, day0 + 1, map[string]int{"t1": 3, "t2": 1}},
		{"all", day0 - 5, day0 + 5, map[string]int{"t1": 4, "t2": 1}},
		{"none", day0 + 3, day0 + 9, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.TeamContributors(context.Background(), tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("TeamContributors = %v, want %v", got, tc.want)
			}
		})
	}
}

// randomEvents returns n events over teams t0..t2 and two weeks, with
// duplicates (same source and id, different content), events out of order,
// tasks and requests whose events straddle batches, events whose time
// falls outside their team-local day, and time entries with revisions
// (ties, older ones arriving last) and deletions that move them between
// teams, days and people.
func randomEvents(r *rand.Rand, n int) []event.Event {
	types := []string{
		event.TaskCreated, event.TaskCreated, event.TaskStarted, event.TaskCompleted, event.TaskCompleted,
		event.TaskBlocked, event.TaskUnblocked, event.TaskReopened, event.TaskCancelled,
		event.TimeLogged, event.TimeLogged, event.RequestOpened, event.RequestResponded, event.RequestResponded,
		event.TimeDeleted,
	}
	evs := make([]event.Event, 0, n)
	for i := range n {
		if i > 10 && r.IntN(20) == 0 { // a re-sent id with other content
			dup := evs[r.IntN(len(evs))]
			e := randomEvent(r, types)
			e.Source, e.ID = dup.Source, dup.ID
			e.Offset = int64(i)
			evs = append(evs, e)
			continue
		}
		e := randomEvent(r, types)
		e.ID = fmt.Sprintf("e%d", i)
		e.Offset = int64(i)
		evs = append(evs, e)
	}
	return evs
}

func randomEvent(r *rand.Rand, types []string) event.Event {
	d := r.IntN(14)
	// Whole seconds most of the time so equal times (ties) happen.
	h := float64(r.IntN(30*60)-3*60) / 60
	if r.IntN(4) == 0 {
		h += float64(r.IntN(1000)) / 1e6
	}
	e := event.Event{
		Source: []string{"jira", "github"}[r.IntN(2)],
		Type:   types[r.IntN(len(types))],
		Time:   at(d, h),
		Day:    day0 + int32(d),
		Team:   fmt.Sprintf("t%d", r.IntN(3)),
	}
	if r.IntN(5) > 0 {
		e.Person = person(r.IntN(10))
	}
	switch e.Type {
	case event.TimeLogged:
		e.Category = event.Categories[r.IntN(len(event.Categories))]
		e.Start = e.Time
		e.End = e.Start.Add(time.Duration(r.IntN(4*3600*1000)) * time.Millisecond)
		if r.IntN(10) == 0 {
			e.Task = fmt.Sprintf("k%d", r.IntN(15))
		}
		if r.IntN(2) == 0 { // a revision of an entry, on any team and day
			e.Entry, e.Revision = fmt.Sprintf("x%d", r.IntN(25)), int64(r.IntN(5))
		}
	case event.TimeDeleted:
		e.Person, e.Entry, e.Revision = "", fmt.Sprintf("x%d", r.IntN(25)), int64(r.IntN(5))
	case event.RequestOpened, event.RequestResponded:
		e.Request = fmt.Sprintf("r%d", r.IntN(15))
		if e.Type == event.RequestOpened {
			e.Kind = event.RequestKinds[r.IntN(len(event.RequestKinds))]
		}
	default:
		e.Task = fmt.Sprintf("k%d", r.IntN(15))
		if e.Type == event.TaskCreated {
			e.Kind = event.TaskKinds[r.IntN(len(event.TaskKinds))]
			switch r.IntN(3) {
			case 0:
				e.DueAt = at(r.IntN(14), float64(r.IntN(24)))
			case 1:
				e.DueDate, e.HasDueDate = day0+int32(r.IntN(14)), true
			}
			if r.IntN(2) == 0 {
				e.EstimateHours, e.HasEstimate = float64(r.IntN(16))/2, true
			}
		}
	}
	return e
}

// dumpState returns the derived tables as text rows, for comparing
// incremental and rebuilt state exactly.
func dumpState(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, order := range map[string]string{
		"tasks": "team, task", "requests": "team, request", "team_day_people": "team, day, family, person",
		"time_entries": "k",
	} {
		rows, err := s.db.Query(`SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ` + table + ` ORDER BY ` + order)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		rows.Close()
	}
	return out
}

// TestRebuildEqualsIncremental is the key correctness test: random events
// split into random batches give the same state incrementally as a full
// Rebuild, and the same team_day as the Go reference.
func TestRebuildEqualsIncremental(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			mem := checkedMem(t)
			s, _ := openStore(t)
			evs := randomEvents(r, 1500)
			var cells, corrections int64
			for i := 0; i < len(evs); {
				n := 1 + r.IntN(120)
				if r.IntN(3) == 0 {
					n = 1 + r.IntN(4) // runs of tiny batches
				}
				n = min(n, len(evs)-i)
				res := commit(t, s, mem, evs[i:i+n]...)
				cells += res.CellsTouched
				corrections += res.TimeCorrections
				i += n
			}
			if corrections < 20 {
				t.Errorf("only %d time entries corrected: generator too narrow", corrections)
			}
			incremental := teamDays(t, s)
			if len(incremental) < 30 {
				t.Fatalf("only %d cells: generator too narrow", len(incremental))
			}
			if d := diffTeamDays(incremental, reference(evs)); d != "" {
				t.Errorf("incremental vs Go reference:\n%s", d)
			}
			state := dumpState(t, s)
			if seed%2 == 1 {
				s.rebuildSlice = int64(100 + r.IntN(400)) // several slices of teams
			}
			if err := s.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := diffTeamDays(teamDays(t, s), incremental); d != "" {
				t.Errorf("rebuild vs incremental:\n%s", d)
			}
			if rebuilt := dumpState(t, s); !reflect.DeepEqual(rebuilt, state) {
				for table := range state {
					if !reflect.DeepEqual(rebuilt[table], state[table]) {
						t.Errorf("%s differs after rebuild: %d rows incremental, %d rebuilt", table, len(state[table]), len(rebuilt[table]))
					}
				}
			}
			contrib, err := s.TeamContributors(context.Background(), day0, day0+13)
			if err != nil {
				t.Fatal(err)
			}
			if len(contrib) != 3 {
				t.Errorf("TeamContributors = %v, want 3 teams", contrib)
			}
		})
	}
}

// TestColumnLists checks the column lists the update steps use against the
// tables: key columns plus the list, in table order (and k, the match
// key, last for tasks and requests).
func TestColumnLists(t *testing.T) {
	s, _ := openStore(t)
	for table, want := range map[string][]string{
		"tasks":        append(append([]string{"team", "task"}, taskColumns...), "k"),
		"requests":     append(append([]string{"team", "request"}, requestColumns...), "k"),
		"team_day":     append([]string{"team", "day"}, teamDayColumns...),
		"time_entries": append(slices.Clone(entryColumns), "k"),
	} {
		rows, err := s.db.Query(`SELECT column_name FROM information_schema.columns
			WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position`, table)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
		rows.Close()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s columns\n got %v\nwant %v", table, got, want)
		}
	}
}

// TestRebuild checks that Rebuild removes rows no event supports, and that
// a failed Rebuild changes nothing.
func TestRebuild(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TaskCreated, 0, 9, task("k1"), who(1)),
		g.ev(event.TaskCompleted, 1, 9, task("k1"), who(1)),
		g.ev(event.RequestOpened, 1, 9, request("r1"), who(2)))
	want := teamDays(t, s)
	for _, q := range []string{
		`INSERT INTO team_day (team, day, events) VALUES ('ghost', DATE '2025-01-01', 3)`,
		`UPDATE team_day SET events = 99 WHERE day = DATE '2025-03-03'`,
		`INSERT INTO tasks (team, task, reopens, blocked_count, k) VALUES ('ghost', 'k', 0, 0, 1)`,
		`INSERT INTO team_day_people VALUES ('ghost', DATE '2025-01-01', 0, 'p_000000000000000000000001')`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	damaged := takeSnapshot(t, s)

	s.failpoint = func(step string) error {
		if step == "insert new tasks" {
			return errors.New("injected")
		}
		return nil
	}
	if err := s.Rebuild(context.Background()); err == nil {
		t.Fatal("Rebuild with an injected failure succeeded")
	}
	if after := takeSnapshot(t, s); !reflect.DeepEqual(after, damaged) {
		t.Fatalf("failed Rebuild changed the store:\nbefore %+v\nafter  %+v", damaged, after)
	}

	s.failpoint = nil
	if err := s.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffTeamDays(teamDays(t, s), want); d != "" {
		t.Fatalf("after Rebuild:\n%s", d)
	}
	if sn := takeSnapshot(t, s); sn.Tasks != 1 || sn.Requests != 1 || sn.People != 3 {
		t.Fatalf("after Rebuild: %d tasks, %d requests, %d team_day_people rows; want 1, 1, 3", sn.Tasks, sn.Requests, sn.People)
	}
}

// TestDistinctPeople covers people.go: distinct people across teams, not the
// sum of the teams' counts.
func TestDistinctPeople(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TaskCreated, 0, 9, who(1)), g.ev(event.TaskCreated, 0, 9, who(2)),
		g.ev(event.TaskCreated, 1, 9, who(1), team("t2")), g.ev(event.TaskCreated, 1, 9, who(3), team("t2")),
		g.ev(event.TaskCreated, 1, 9, who(4), team("t3")))
	for _, tc := range []struct {
		name     string
		teams    []string
		from, to int32
		want     int
	}{
		{"one team", []string{"t1"}, day0, day0 + 1, 2},
		{"shared person counted once", []string{"t1", "t2"}, day0, day0 + 1, 3},
		{"day range", []string{"t1", "t2"}, day0 + 1, day0 + 1, 2},
		{"all", []string{"t1", "t2", "t3"}, day0, day0 + 1, 4},
		{"no teams", nil, day0, day0 + 1, 0},
		{"unknown team", []string{"nope"}, day0, day0 + 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.DistinctPeople(context.Background(), tc.teams, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("DistinctPeople = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestOpenUpgradesDerivedTables opens a file whose derived tables are from
// an older layout (no derived_version, no event_keys or team_day_tasks,
// tasks without the merge columns, a damaged team_day): Open rebuilds them
// from the events, and deduplication and incremental commits work on after.
func TestOpenUpgradesDerivedTables(t *testing.T) {
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 42))
	evs := randomEvents(r, 600)
	s, err := Open(ctx, Config{Path: path, DeriveEvents: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, mem, evs[:400]...)
	want := dumpState(t, s)
	for _, q := range []string{
		`DELETE FROM shoal_meta WHERE name = 'derived_version'`, `DROP TABLE event_keys`, `DROP TABLE team_day_tasks`,
		`ALTER TABLE tasks DROP COLUMN created_source`, `ALTER TABLE requests DROP COLUMN opened_id`,
		`UPDATE team_day SET events = 999`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{Path: path, DeriveEvents: 1}, nil)
	if err != nil {
		t.Fatalf("Open of an old-layout file: %v", err)
	}
	defer s.Close()
	if got := dumpState(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("derived state after the upgrade differs from before")
	}
	if d := diffTeamDays(teamDays(t, s), reference(evs[:400])); d != "" {
		t.Errorf("team_day after the upgrade vs Go reference:\n%s", d)
	}
	if res := commit(t, s, mem, evs[:400]...); res.Inserted != 0 || res.Duplicates != 400 {
		t.Errorf("recommitting stored events after the upgrade: %+v, want 0 inserted, 400 duplicates", res)
	}
	commit(t, s, mem, evs[400:]...)
	if d := diffTeamDays(teamDays(t, s), reference(evs)); d != "" {
		t.Errorf("team_day after a commit on the upgraded file vs Go reference:\n%s", d)
	}
	var version int64
	if err := s.db.QueryRow(`SELECT value FROM shoal_meta WHERE name = 'derived_version'`).Scan(&version); err != nil || version != derivedVersion {
		t.Errorf("derived_version = %d (%v), want %d", version, err, derivedVersion)
	}
}

// TestOpenRebuildsAForeignLayout: a file that says it has this version's
// derived tables but whose tables another version replaced (it dropped and
// recreated them in its own layout, then was stopped before its rebuild
// committed) is rebuilt by Open, not read with the wrong columns; and until
// a rebuild commits, the file claims no version.
func TestOpenRebuildsAForeignLayout(t *testing.T) {
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	ctx := context.Background()
	evs := randomEvents(rand.New(rand.NewPCG(3, 9)), 300)
	s, err := Open(ctx, Config{Path: path, DeriveEvents: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, mem, evs...)
	want := dumpState(t, s)
	for _, q := range []string{
		`DROP TABLE team_day_people`,
		`CREATE TABLE team_day_people (team VARCHAR NOT NULL, day DATE NOT NULL, person VARCHAR NOT NULL)`,
		`DELETE FROM tasks`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	s, err = Open(ctx, Config{Path: path}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("Open of a file with a foreign layout: %v", err)
	}
	if got := dumpState(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("derived state after Open differs from before the layout was replaced")
	}
	if !strings.Contains(logs.String(), "do not have this version's layout") || !strings.Contains(logs.String(), "team_day_people") {
		t.Errorf("no warning naming the table:\n%s", logs)
	}

	// Dropping stale tables also drops the claim of a version, so an Open
	// after a rebuild that did not commit starts over.
	if _, err := s.db.Exec(`UPDATE shoal_meta SET value = 1 WHERE name = 'derived_version'`); err != nil {
		t.Fatal(err)
	}
	if stale, err := s.derivedStale(ctx); err != nil || !stale {
		t.Fatalf("derivedStale of version 1 = %v, %v; want true", stale, err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM shoal_meta WHERE name = 'derived_version'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("derived_version rows after dropping the stale tables: %d (%v), want 0", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{Path: path, DeriveEvents: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dumpState(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("derived state after an interrupted and a completed upgrade differs")
	}
}
