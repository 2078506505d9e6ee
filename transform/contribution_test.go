package transform

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// magnitude returns the cell's magnitude called name, failing the test if
// it has none.
func magnitude(t *testing.T, c outcome.Cell, name string) outcome.Magnitude {
	t.Helper()
	for _, m := range c.Magnitudes {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("%s of %s: no magnitude %s in %+v", c.Metric, outcome.CellID(c), name, c.Magnitudes)
	return outcome.Magnitude{}
}

func wantMagnitude(t *testing.T, m map[outcomeCell]outcome.Cell, k outcomeCell, name string, want outcome.Magnitude) {
	t.Helper()
	c, ok := m[k]
	if !ok {
		t.Errorf("%+v: no cell", k)
		return
	}
	want.Name = name
	if got := magnitude(t, c, name); got != want {
		t.Errorf("%+v %s: got %+v, want %+v", k, name, got, want)
	}
}

// TestContributions: each family's contributors at the floors and its
// magnitudes, per team, per unit (a person's parts in several teams
// summed first) and for the org.
func TestContributions(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	commit(t, s, mem,
		// Time in t1: person 1 3 h of meetings, 2 a 2 h meeting, 3 a 1 h
		// meeting on Saturday (an overwork day), 4 half an hour.
		g.ev(event.TimeLogged, 0, 9, who(1), logged("meeting", 3)),
		g.ev(event.TimeLogged, 0, 9, who(2), logged("meeting", 2)),
		g.ev(event.TimeLogged, 5, 9, who(3), logged("meeting", 1)),
		g.ev(event.TimeLogged, 1, 9, who(4), logged("focus", 0.5)),
		// Person 4 logs another half hour in t2, same unit: a contributor
		// of u1, of neither team.
		g.ev(event.TimeLogged, 1, 11, who(4), team("t2"), logged("focus", 0.5)),
		// Person 1 has 2 h of focus in t2 as well: u1's largest part is
		// her 5 h.
		g.ev(event.TimeLogged, 2, 9, who(1), team("t2"), logged("focus", 2)),
		// An entry without a person counts in the metric, for nobody.
		g.ev(event.TimeLogged, 2, 9, logged("meeting", 4)),
		// Flow: person 5 started and completed a task, 6 only started one.
		g.ev(event.TaskStarted, 1, 9, task("A"), who(5)),
		g.ev(event.TaskCompleted, 1, 12, task("A"), who(5)),
		g.ev(event.TaskStarted, 1, 9, task("B"), who(6)),
		// Async in t3 (unit u2): 7 opened two requests, 8 answered one.
		g.ev(event.RequestOpened, 1, 9, team("t3"), request("R"), who(7)),
		g.ev(event.RequestOpened, 1, 10, team("t3"), request("S"), who(7)),
		g.ev(event.RequestResponded, 1, 11, team("t3"), request("R"), who(8)),
	)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0, at(30, 0))
	team := func(name, metric string) outcomeCell { return outcomeCell{day0, outcome.LevelTeam, name, metric} }
	u1 := func(metric string) outcomeCell { return outcomeCell{day0, outcome.LevelUnit, "u1", metric} }
	org := func(metric string) outcomeCell { return outcomeCell{day0, outcome.LevelOrg, "", metric} }
	const h = hour

	wantPeople(t, m, team("t1", "meeting_load"), 3) // 1, 2, 3; not 4's half hour
	wantPeople(t, m, team("t2", "meeting_load"), 1) // 1; not 4's half hour
	wantPeople(t, m, u1("meeting_load"), 4)         // 1, 2, 3 and 4 (an hour over two teams)
	wantPeople(t, m, org("meeting_load"), 4)
	wantMagnitude(t, m, team("t1", "meeting_load"), "meeting_seconds", outcome.Magnitude{Total: 6 * h, Top1: 3 * h, Top2: 2 * h})
	wantMagnitude(t, m, team("t1", "focus_ratio"), "logged_seconds", outcome.Magnitude{Total: 6.5 * h, Top1: 3 * h, Top2: 2 * h})
	wantMagnitude(t, m, team("t1", "overwork_ratio"), "person_days", outcome.Magnitude{Total: 4, Top1: 1, Top2: 1})
	wantMagnitude(t, m, team("t1", "overwork_ratio"), "overwork_days", outcome.Magnitude{Total: 1, Top1: 1})
	wantMagnitude(t, m, u1("focus_ratio"), "logged_seconds", outcome.Magnitude{Total: 9 * h, Top1: 5 * h, Top2: 2 * h})
	wantMagnitude(t, m, u1("focus_ratio"), "focus_seconds", outcome.Magnitude{Total: 3 * h, Top1: 2 * h, Top2: h})
	// Person-days add over teams, as the metric's do: person 4 has one in
	// each team on Tuesday.
	wantMagnitude(t, m, u1("overwork_ratio"), "person_days", outcome.Magnitude{Total: 6, Top1: 2, Top2: 2})
	// The metric counts the 4 h without a person; the magnitudes do not.
	want(t, m, team("t1", "meeting_load"), 10*h/3)

	wantPeople(t, m, team("t1", "tasks_completed"), 1) // 5; 6's one start is below the floor of 2
	wantMagnitude(t, m, team("t1", "tasks_completed"), "task_starts", outcome.Magnitude{Total: 2, Top1: 1, Top2: 1})
	wantMagnitude(t, m, team("t1", "tasks_completed"), "task_completions", outcome.Magnitude{Total: 1, Top1: 1})

	t3 := team("t3", "response_within_sla_ratio")
	wantPeople(t, m, t3, 1) // 7; 8 answered one request, below the floor of 2
	wantMagnitude(t, m, t3, "requests_opened", outcome.Magnitude{Total: 2, Top1: 2})
	wantMagnitude(t, m, t3, "requests_answered", outcome.Magnitude{Total: 1, Top1: 1})
	// A family nobody contributed to has all-zero magnitudes.
	wantMagnitude(t, m, team("t3", "meeting_load"), "meeting_seconds", outcome.Magnitude{})

	// Floors from the teams file: 30 minutes counts person 4 in each team.
	low := mustOrg(t, "min_contribution:\n  time_logged: 30m\n  flow_tasks: 1\n"+outcomeOrg)
	m = outcomes(t, s, low, day0, day0, at(30, 0))
	wantPeople(t, m, team("t1", "meeting_load"), 4)
	wantPeople(t, m, team("t2", "meeting_load"), 2)
	wantPeople(t, m, team("t1", "tasks_completed"), 2)
}

// attackOrg: the victim's team and a calm team of six in one unit, and a
// second unit, so that the unit and the org have people enough.
const attackOrg = `
units:
  - id: u1
    teams:
      - id: victim
      - id: calm
  - id: u2
    teams:
      - id: other
`

// calmWeek adds a team of six who each log 8 h a day, Monday to Friday,
// half focus and half meetings (11 h on Monday: one overwork day each),
// and start and complete two tasks and open and answer a request.
func calmWeek(g *ids, tm string, first int) []event.Event {
	var evs []event.Event
	for p := first; p < first+6; p++ {
		for d := range 5 {
			focus := 4.0
			if d == 0 {
				focus = 7
			}
			evs = append(evs,
				g.ev(event.TimeLogged, d, 8, team(tm), who(p), logged("focus", focus)),
				g.ev(event.TimeLogged, d, 15, team(tm), who(p), logged("meeting", 4)))
		}
		for i := range 2 {
			id := fmt.Sprintf("%s-%d-%d", tm, p, i)
			evs = append(evs, g.ev(event.TaskStarted, i, 9, team(tm), task(id), who(p)), g.ev(event.TaskCompleted, i+1, 9, team(tm), task(id), who(p)))
		}
		r := fmt.Sprintf("%s-r%d", tm, p)
		evs = append(evs, g.ev(event.RequestOpened, 0, 10, team(tm), request(r), who(p)), g.ev(event.RequestResponded, 0, 12, team(tm), request(r), who(p+1)))
	}
	return evs
}

// published runs the week's outcomes through the suppression policy of
// org and indexes them by metric and team.
func published(t *testing.T, s *Store, yaml string) map[string]privacy.Published {
	t.Helper()
	org := mustOrg(t, yaml)
	cells, err := s.Outcomes(context.Background(), org, day0, day0, at(30, 0))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := privacy.Apply(org.Policy(), cells)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]privacy.Published{}
	for _, p := range pub {
		if p.Level == outcome.LevelTeam {
			out[p.Metric+"/"+p.Team] = p
		}
	}
	return out
}

// withheld checks that every metric of family is withheld for team, with
// one of the reasons.
func withheld(t *testing.T, pub map[string]privacy.Published, team string, family outcome.Family, reasons ...privacy.Reason) {
	t.Helper()
	for _, m := range outcome.Catalog {
		if m.Family != family {
			continue
		}
		p, ok := pub[m.ID+"/"+team]
		if !ok {
			t.Errorf("%s of %s: no cell", m.ID, team)
			continue
		}
		okReason := false
		for _, r := range reasons {
			okReason = okReason || p.Reason == r
		}
		if p.Visible || !okReason {
			t.Errorf("%s of %s (%d people, magnitudes %+v): visible %v, reason %q; want withheld for %v", m.ID, team, p.People, p.Magnitudes, p.Visible, p.Reason, reasons)
		}
	}
}

// TestAttack2 is issue 20's attack 2 against the real outcome path: in a
// team of five, one person logged 60 h of meetings (12 h a day, so five
// overwork days) and did 10 tasks; four logged a minute each. Counting
// pseudonyms, the team had five people and published her 60 h (meeting
// load 43200 × 5), her overwork days (5/9) and her tasks. Now the four
// are below the time floor and the team's time figures are withheld; with
// an hour and a half each (above the floor) the dominance rule withholds
// them. The calm team beside it stays visible where it can.
func TestAttack2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		minutes float64 // what each of the four logged
		people  int     // the time family's contributors
		reasons []privacy.Reason
	}{
		{"four log a minute", 1, 1, []privacy.Reason{privacy.ReasonBelowK}},
		{"four log 90 minutes", 90, 5, []privacy.Reason{privacy.ReasonDominance}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t)
			mem := checkedMem(t)
			var g ids
			var evs []event.Event
			for d := range 5 {
				evs = append(evs, g.ev(event.TimeLogged, d, 8, team("victim"), who(1), logged("meeting", 12)))
			}
			for i := range 10 {
				id := fmt.Sprintf("v%d", i)
				evs = append(evs, g.ev(event.TaskStarted, i%5, 9, team("victim"), task(id), who(1)), g.ev(event.TaskCompleted, i%5, 15, team("victim"), task(id), who(1)))
			}
			for p := 2; p <= 5; p++ {
				evs = append(evs, g.ev(event.TimeLogged, 0, 8, team("victim"), who(p), logged("meeting", tc.minutes/60)))
			}
			evs = append(evs, calmWeek(&g, "calm", 10)...)
			evs = append(evs, calmWeek(&g, "other", 20)...)
			commit(t, s, mem, evs...)

			m := outcomes(t, s, mustOrg(t, attackOrg), day0, day0, at(30, 0))
			v := func(metric string) outcomeCell { return outcomeCell{day0, outcome.LevelTeam, "victim", metric} }
			want(t, m, v("meeting_load"), (60*hour+4*tc.minutes*60)/float64(tc.people))
			wantPeople(t, m, v("meeting_load"), tc.people)
			wantPeople(t, m, v("tasks_completed"), 1)
			if got := magnitude(t, m[v("meeting_load")], "meeting_seconds"); got.Top1 != 60*hour {
				t.Errorf("meeting_seconds %+v: her 60 h are the largest part", got)
			}

			pub := published(t, s, attackOrg)
			withheld(t, pub, "victim", outcome.Time, tc.reasons...)
			withheld(t, pub, "victim", outcome.Flow, privacy.ReasonBelowK) // her tasks: one contributor
			withheld(t, pub, "calm", outcome.Time, privacy.ReasonComplementary)
			if p := pub["tasks_completed/other"]; !p.Visible {
				t.Errorf("an even team's flow in another unit: %+v", p)
			}
		})
	}
}

// TestInventedPeople: one real person in a team, and four invented
// accounts with one event each. Counting pseudonyms, that made a 1-person
// team visible; one event reaches no floor (and an hour each, which
// reaches the time floor, is dominated by her week), so every family of
// the team stays withheld.
func TestInventedPeople(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event func(g *ids, p int) event.Event
	}{
		{"a minute of time each", func(g *ids, p int) event.Event {
			return g.ev(event.TimeLogged, 1, 9, team("victim"), who(p), logged("meeting", 1.0/60))
		}},
		{"an hour of time each", func(g *ids, p int) event.Event {
			return g.ev(event.TimeLogged, 1, 9, team("victim"), who(p), logged("meeting", 1))
		}},
		{"a started task each", func(g *ids, p int) event.Event {
			return g.ev(event.TaskStarted, 1, 9, team("victim"), task(fmt.Sprint("x", p)), who(p))
		}},
		{"an answered request each", func(g *ids, p int) event.Event {
			return g.ev(event.RequestResponded, 1, 9, team("victim"), request("v0"), who(p))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t)
			mem := checkedMem(t)
			var g ids
			var evs []event.Event
			for d := range 5 { // her week: 40 h, 5 tasks, 5 requests
				evs = append(evs,
					g.ev(event.TimeLogged, d, 8, team("victim"), who(1), logged("focus", 8)),
					g.ev(event.TaskStarted, d, 9, team("victim"), task(fmt.Sprint("v", d)), who(1)),
					g.ev(event.TaskCompleted, d, 15, team("victim"), task(fmt.Sprint("v", d)), who(1)),
					g.ev(event.RequestOpened, d, 10, team("victim"), request(fmt.Sprint("v", d)), who(1)))
			}
			for p := 2; p <= 5; p++ {
				evs = append(evs, tc.event(&g, p))
			}
			evs = append(evs, calmWeek(&g, "calm", 10)...)
			evs = append(evs, calmWeek(&g, "other", 20)...)
			commit(t, s, mem, evs...)
			pub := published(t, s, attackOrg)
			for _, f := range []outcome.Family{outcome.Flow, outcome.Time, outcome.Async} {
				withheld(t, pub, "victim", f, privacy.ReasonBelowK, privacy.ReasonDominance)
			}
		})
	}
}
