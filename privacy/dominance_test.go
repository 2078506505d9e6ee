package privacy

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy/privacytest"
)

// TestSensitive: the p % rule on one magnitude, at the default p and
// others.
func TestSensitive(t *testing.T) {
	const h = 3600.0
	for _, tc := range []struct {
		name string
		p    float64
		m    outcome.Magnitude
		want bool
	}{
		{"nothing in it", 0, outcome.Magnitude{}, false},
		{"one person", 0, outcome.Magnitude{Total: 7, Top1: 7}, true},
		{"two people, even", 0, outcome.Magnitude{Total: 10, Top1: 5, Top2: 5}, true},
		{"three people, even", 0, outcome.Magnitude{Total: 15, Top1: 5, Top2: 5}, false},
		// Issue 20's attack: 60 h of meetings and four people with a minute.
		{"one person with 60 h, four with a minute", 0, outcome.Magnitude{Total: 60*h + 4*60, Top1: 60 * h, Top2: 60}, true},
		{"one person with 60 h, four with 2 h", 0, outcome.Magnitude{Total: 68 * h, Top1: 60 * h, Top2: 2 * h}, false},
		{"an even team of five, 8 h each", 0, outcome.Magnitude{Total: 40 * h, Top1: 8 * h, Top2: 8 * h}, false},
		{"the rest exactly p % of the largest", 0, outcome.Magnitude{Total: 120, Top1: 100, Top2: 10}, false},
		{"the rest just under p % of the largest", 0, outcome.Magnitude{Total: 119.9, Top1: 100, Top2: 10}, true},
		{"a dominant pair", 0, outcome.Magnitude{Total: 105, Top1: 50, Top2: 50}, false},
		{"p 20: the rest 15 % of the largest", 20, outcome.Magnitude{Total: 165, Top1: 100, Top2: 50}, true},
		{"p 10: the rest 15 % of the largest", 10, outcome.Magnitude{Total: 165, Top1: 100, Top2: 50}, false},
		{"p 100: the rest just under the largest", 100, outcome.Magnitude{Total: 299, Top1: 100, Top2: 100}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{K: 5, P: tc.p}
			if got := p.Sensitive(tc.m); got != tc.want {
				t.Errorf("p=%g Sensitive(%+v) = %v, want %v", p.dominanceP(), tc.m, got, tc.want)
			}
			ms := []outcome.Magnitude{{Name: "even", Total: 30, Top1: 10, Top2: 10}, tc.m}
			if got := p.Dominated(ms); got != tc.want {
				t.Errorf("Dominated with an even magnitude beside it = %v, want %v", got, tc.want)
			}
		})
	}
}

// dom marks cells of a fixture as failing the dominance rule.
func (b *tb) dom(ids ...string) *tb {
	for i := range b.cells {
		for _, id := range ids {
			if b.cells[i].ID == id {
				b.cells[i].Dominated = true
			}
		}
	}
	return b
}

// TestDecideDominance: dominated cells are hidden before the complementary
// rules run, so those protect them as they protect below_k cells.
func TestDecideDominance(t *testing.T) {
	dm := ReasonDominance
	for _, tc := range []struct {
		name   string
		cells  []Cell
		hidden map[string]Reason
	}{
		{
			name:   "a dominated team of 5 among big teams: its smallest sibling is complementary",
			cells:  newOrg("org").unit("u1", "dom:5", "t8:8", "t12:12").unit("u2", "x:10", "y:11").dom("dom").build(),
			hidden: map[string]Reason{"dom": dm, "t8": comp},
		},
		{
			name:   "a dominated team beside a below_k team: they protect each other",
			cells:  newOrg("org").unit("u1", "dom:9", "s:3", "t12:12").unit("u2", "x:10", "y:11").dom("dom").build(),
			hidden: map[string]Reason{"dom": dm, "s": bk},
		},
		{
			name:   "below k and dominated: below_k",
			cells:  newOrg("org").unit("u1", "s:3", "t8:8", "t12:12").unit("u2", "x:10", "y:11").dom("s").build(),
			hidden: map[string]Reason{"s": bk, "t8": comp},
		},
		{
			name:  "a dominated unit whose teams are all visible: its smallest team is hidden, and a sibling unit",
			cells: newOrg("org").unit("u1", "a:6", "b:7").unit("u2", "x:10", "y:11").dom("u1").build(),
			// u1 hidden under a visible org needs a second hidden unit
			// (rule 2); u2 hidden then hides its smallest team (rule 3).
			hidden: map[string]Reason{"u1": dm, "u2": comp, "a": comp, "x": comp},
		},
		{
			name:   "a dominated org: its smallest unit, and that unit's smallest team",
			cells:  newOrg("org").unit("u1", "a:6", "b:7").unit("u2", "x:10", "y:11").dom("org").build(),
			hidden: map[string]Reason{"org": dm, "u1": comp, "a": comp},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := mustPolicy(t, 5).Decide(tc.cells)
			if err != nil {
				t.Fatal(err)
			}
			if got := hidden(d); !maps.Equal(got, tc.hidden) {
				t.Errorf("hidden cells:\n got  %v\n want %v\n%s", got, tc.hidden, describe(tc.cells, d))
			}
			checkInvariants(t, 5, tc.cells, d)
			if ids := exactlyDerivable(tc.cells, d); len(ids) > 0 {
				t.Errorf("hidden cells %v can be solved for\n%s", ids, describe(tc.cells, d))
			}
		})
	}
	t.Run("Summarize counts them", func(t *testing.T) {
		cells := newOrg("org").unit("u1", "dom:5", "t8:8", "t12:12").unit("u2", "x:10", "y:11").dom("dom").build()
		d, err := mustPolicy(t, 5).Decide(cells)
		if err != nil {
			t.Fatal(err)
		}
		if got := Summarize(d, cells)[outcome.LevelTeam]; got != (Summary{Visible: 3, Dominance: 1, Complementary: 1}) {
			t.Errorf("teams: %+v", got)
		}
	})
}

// TestApplyDominance is issue 20's attack 2 as outcome cells: team a has 5
// time contributors, but one logged 60 h of meetings and four a minute
// each. The metric built from meeting seconds (meeting_load) is withheld
// at a (dominance) and a sibling is withheld to protect it; focus_ratio,
// whose parts (focus and logged seconds) are not dominated here, and the
// flow family, whose tasks are spread evenly, are shown. A team whose time is all below the floors (People 0)
// still holds someone's data and is protected too.
func TestApplyDominance(t *testing.T) {
	policy := mustPolicy(t, 5)
	const week, h = int32(20409), 3600.0
	even := func(n int, each float64) []outcome.Magnitude {
		return []outcome.Magnitude{{Name: "meeting_seconds", Total: float64(n) * each, Top1: each, Top2: each}}
	}
	attack := []outcome.Magnitude{{Name: "meeting_seconds", Total: 60*h + 4*60, Top1: 60 * h, Top2: 60}}
	type pos struct {
		level      outcome.Level
		unit, team string
	}
	positions := []struct {
		pos
		people int
		mags   []outcome.Magnitude
	}{
		{pos{outcome.LevelOrg, "", ""}, 5 + 8 + 9 + 20, []outcome.Magnitude{{Name: "meeting_seconds", Total: 98*h + 4*60, Top1: 60 * h, Top2: h}}},
		{pos{outcome.LevelUnit, "u", ""}, 5 + 8 + 9, []outcome.Magnitude{{Name: "meeting_seconds", Total: 60*h + 4*60 + 17*h, Top1: 60 * h, Top2: h}}},
		{pos{outcome.LevelTeam, "u", "a"}, 5, attack},
		{pos{outcome.LevelTeam, "u", "b"}, 8, even(8, h)},
		{pos{outcome.LevelTeam, "u", "c"}, 9, even(9, h)},
		{pos{outcome.LevelUnit, "v", ""}, 20, even(20, h)},
		{pos{outcome.LevelTeam, "v", "x"}, 10, even(10, h)},
		{pos{outcome.LevelTeam, "v", "y"}, 10, even(10, h)},
		// z: three people logged 20 minutes each, below the 1 h floor.
		{pos{outcome.LevelTeam, "v", "z"}, 0, []outcome.Magnitude{{Name: "meeting_seconds", Total: 3600, Top1: 1200, Top2: 1200}}},
	}
	var cells []outcome.Cell
	for _, metric := range []string{"meeting_load", "focus_ratio", "tasks_completed"} {
		for _, p := range positions {
			c := outcome.Cell{Week: week, Level: p.level, Unit: p.unit, Team: p.team, Metric: metric, Value: 1, Defined: true, People: p.people, Magnitudes: p.mags}
			if metric == "tasks_completed" { // flow: spread evenly
				c.Magnitudes = []outcome.Magnitude{{Name: "task_completions", Total: float64(p.people), Top1: 1, Top2: 1}}
			}
			cells = append(cells, c)
		}
	}
	out, err := Apply(policy, cells)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reason{}
	for _, p := range out {
		got[p.Metric+"/"+outcome.CellID(p.Cell)] = p.Reason
		if p.Visible != (p.Reason == ReasonVisible) {
			t.Errorf("%+v: Visible %v with reason %q", p.Cell, p.Visible, p.Reason)
		}
	}
	want := map[string]Reason{}
	want["meeting_load/team:a"] = ReasonDominance
	want["meeting_load/team:b"] = ReasonComplementary
	want["focus_ratio/team:a"] = ReasonVisible
	want["focus_ratio/team:b"] = ReasonVisible
	for _, metric := range []string{"meeting_load", "focus_ratio"} {
		want[metric+"/team:z"] = ReasonBelowK
		want[metric+"/team:x"] = ReasonComplementary
	}
	want["tasks_completed/team:a"] = ReasonVisible
	want["tasks_completed/team:z"] = ReasonBelowK // nobody at the floor, no data: a known zero
	want["tasks_completed/team:x"] = ReasonVisible
	for k, r := range want {
		if got[k] != r {
			t.Errorf("%s: reason %q, want %q", k, got[k], r)
		}
	}
	if ReasonDominance.WholeFamily() {
		t.Error("dominance withholds the metric whose parts fail, not its family")
	}
}

// TestApplyDailyDominance decides random small organisations' weeks in
// which some week and day cells fail the dominance rule and some hold only
// contributions below the floors, and checks that every dominated cell
// with k people is withheld for dominance and that privacytest.Determined
// finds no withheld cell a reader can compute beyond what the weekly cells
// alone determine (weeklyDetermined).
func TestApplyDailyDominance(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 2))
	p := mustPolicy(t, DefaultMinGroupSize)
	mark := func(cells []outcome.Cell) {
		for i := range cells {
			c := &cells[i]
			switch {
			case c.People > 0 && r.IntN(6) == 0:
				c.Magnitudes = []outcome.Magnitude{{Name: "task_completions", Total: 100, Top1: 95, Top2: 1}}
			case c.People > 0:
				c.Magnitudes = []outcome.Magnitude{{Name: "task_completions", Total: float64(10 * c.People), Top1: 10, Top2: 10}}
			case c.Level == outcome.LevelTeam && r.IntN(2) == 0:
				// Below the floors: someone's data, nobody counted (a
				// team's; its unit, the org and its week get it from
				// consistentMagnitudes).
				c.Magnitudes = []outcome.Magnitude{{Name: "m", Total: 1, Top1: 1}}
			}
		}
	}
	dominated, unknowns, inherent := 0, 0, 0
	for i := range 400 {
		s := weekShape{people: [2]int{0, 12}, activity: [2]float64{0, 1}, empty: true}
		for range 1 + r.IntN(3) {
			s.teams = append(s.teams, 1+r.IntN(4))
		}
		s.days = make([]int32, 0, 7)
		for _, d := range r.Perm(7)[:1+r.IntN(7)] {
			s.days = append(s.days, int32(d))
		}
		weekly, daily := randomWeek(r, s)
		mark(daily)
		for i := range weekly {
			if weekly[i].People > 0 {
				mark(weekly[i : i+1])
			}
		}
		consistentMagnitudes(weekly, daily)
		wp, err := Apply(p, weekly)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := ApplyDaily(p, wp, daily)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(append([]Published(nil), wp...), dp...) {
			if c.People >= p.K && p.DominatedCell(c.Cell) {
				dominated++
				if c.Reason != ReasonDominance {
					t.Errorf("case %d: dominated cell %s of day %d: reason %q, want dominance", i, outcome.CellID(c.Cell), c.Week, c.Reason)
				}
			}
		}
		eqs, cells := readerEquations(wp, dp)
		unknowns += len(cells)
		weeklyOnly := weeklyDetermined(wp, dp)
		for _, j := range privacytest.Determined(eqs, len(cells)) {
			if weeklyOnly[cells[j]] {
				inherent++
				continue
			}
			t.Errorf("case %d (teams per unit %v, days %v): hidden cell %s is determined", i, s.teams, s.days, cells[j])
		}
	}
	if dominated == 0 {
		t.Fatal("no dominated cell drawn")
	}
	t.Logf("%d dominated cells, %d hidden cells with data checked, %d determined by the weekly cells alone", dominated, unknowns, inherent)
}

// weeklyDetermined names (as readerEquations does) the hidden cells a
// reader could compute even if every day cell were withheld: those the
// weekly release determines with the days' structure (which positions were
// active on which day), e.g. a unit's only day with data among teams
// active on no other day. ApplyDaily never hides a weekly cell, so it
// cannot protect them; they are rare, and exist without the dominance rule.
func weeklyDetermined(weekly, daily []Published) map[string]bool {
	hidden := make([]Published, len(daily))
	for i, p := range daily {
		p.Visible, p.Reason = false, ReasonTemporal
		hidden[i] = p
	}
	eqs, cells := readerEquations(weekly, hidden)
	out := map[string]bool{}
	for _, j := range privacytest.Determined(eqs, len(cells)) {
		out[cells[j]] = true
	}
	return out
}

// holdData makes c, which holds the contributions of parts, consistent
// with them: the magnitudes of its one part holding data, or, with several
// such parts, data of its own if it has none.
func holdData(c *outcome.Cell, parts []*outcome.Cell) {
	var with []*outcome.Cell
	for _, p := range parts {
		if p.HasData() {
			with = append(with, p)
		}
	}
	switch {
	case len(with) == 1:
		c.Magnitudes = with[0].Magnitudes
	case len(with) > 1 && !c.HasData():
		c.Magnitudes = []outcome.Magnitude{{Name: "m", Total: 2, Top1: 1, Top2: 1}}
	}
}

// consistentMagnitudes gives every cell that holds exactly the same
// contributions as another the other's magnitudes, as real data would: a
// parent with one child holding data in its tree (bottom-up, each day's
// tree and the week's), and a position's week when one of its days holds
// data. (A parent or a week whose children or days hold data thus holds
// data too.)
func consistentMagnitudes(weekly, daily []outcome.Cell) {
	tree := func(cells []*outcome.Cell) {
		parentOf := func(c *outcome.Cell) string {
			switch c.Level {
			case outcome.LevelTeam:
				return "unit:" + c.Unit
			case outcome.LevelUnit:
				return "org"
			}
			return ""
		}
		byID := map[string]*outcome.Cell{}
		for _, c := range cells {
			byID[outcome.CellID(*c)] = c
		}
		for _, level := range []outcome.Level{outcome.LevelTeam, outcome.LevelUnit} {
			kids := map[string][]*outcome.Cell{}
			for _, c := range cells {
				if c.Level == level {
					kids[parentOf(c)] = append(kids[parentOf(c)], c)
				}
			}
			for id, ks := range kids {
				p, ok := byID[id]
				if !ok {
					continue
				}
				holdData(p, ks)
			}
		}
	}
	byDay := map[int32][]*outcome.Cell{}
	days := map[string][]*outcome.Cell{}
	for i := range daily {
		c := &daily[i]
		byDay[c.Week] = append(byDay[c.Week], c)
	}
	for _, cells := range byDay {
		tree(cells)
		for _, c := range cells {
			days[outcome.CellID(*c)] = append(days[outcome.CellID(*c)], c)
		}
	}
	week := make([]*outcome.Cell, len(weekly))
	for i := range weekly {
		week[i] = &weekly[i]
		holdData(&weekly[i], days[outcome.CellID(weekly[i])])
	}
	tree(week)
}

// ExamplePolicy_Sensitive shows the p % rule on issue 20's attack.
func ExamplePolicy_Sensitive() {
	p := Policy{K: 5, P: 10}
	h := 3600.0
	fmt.Println(p.Sensitive(outcome.Magnitude{Name: "meeting_seconds", Total: 60*h + 4*60, Top1: 60 * h, Top2: 60}))
	fmt.Println(p.Sensitive(outcome.Magnitude{Name: "meeting_seconds", Total: 5 * 8 * h, Top1: 8 * h, Top2: 8 * h}))
	// Output:
	// true
	// false
}
