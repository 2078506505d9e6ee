package privacy

import (
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
)

// TestFewSamples: a percentile over fewer values than its metric's
// MinSamples is withheld (few_samples) at every level, even where the tree
// shows its family; the family's other metrics stay shown, and days are
// held to the same rule.
func TestFewSamples(t *testing.T) {
	policy, err := NewPolicy(5, DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	const week = int32(20409) // a Monday
	cell := func(period int32, level outcome.Level, unit, team, metric string, people, samples int) outcome.Cell {
		return outcome.Cell{Week: period, Level: level, Unit: unit, Team: team, Metric: metric, Value: 3600, Defined: true, People: people, Samples: samples}
	}
	tree := func(period int32, metric string, a, b int) []outcome.Cell {
		return []outcome.Cell{
			cell(period, outcome.LevelOrg, "", "", metric, 16, a+b), cell(period, outcome.LevelUnit, "u", "", metric, 16, a+b),
			cell(period, outcome.LevelTeam, "u", "a", metric, 8, a), cell(period, outcome.LevelTeam, "u", "b", metric, 8, b),
		}
	}
	var cells []outcome.Cell
	cells = append(cells, tree(week, "cycle_time_p50", 2, 30)...)  // team a: two tasks
	cells = append(cells, tree(week, "cycle_time_p85", 12, 30)...) // team a: 12 < 20
	cells = append(cells, tree(week, "tasks_completed", 0, 0)...)  // not a percentile
	got, err := Apply(policy, cells)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Reason{
		"cycle_time_p50/team:a": ReasonFewSamples, "cycle_time_p50/team:b": ReasonVisible, "cycle_time_p50/unit:u": ReasonVisible,
		"cycle_time_p85/team:a": ReasonFewSamples, "cycle_time_p85/team:b": ReasonVisible, "cycle_time_p85/org": ReasonVisible,
		"tasks_completed/team:a": ReasonVisible,
	}
	weekly := map[string]Published{}
	for _, p := range got {
		weekly[p.Metric+"/"+outcome.CellID(p.Cell)] = p
	}
	for k, r := range want {
		p, ok := weekly[k]
		if !ok {
			t.Fatalf("no cell %s", k)
		}
		if p.Reason != r || p.Visible != (r == ReasonVisible) {
			t.Errorf("%s: visible %v, reason %q; want reason %q", k, p.Visible, p.Reason, r)
		}
	}

	// Days: with both teams shown for the week and on both days, team b's
	// median over 3 values on Monday is withheld for that alone.
	wk, err := Apply(policy, tree(week, "response_time_p50", 20, 20))
	if err != nil {
		t.Fatal(err)
	}
	var dayCells []outcome.Cell
	dayCells = append(dayCells, tree(week, "response_time_p50", 12, 3)...)
	dayCells = append(dayCells, tree(week+1, "response_time_p50", 12, 12)...)
	days, err := ApplyDaily(policy, wk, dayCells)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range days {
		want := ReasonVisible
		if p.Week == week && p.Team == "b" {
			want = ReasonFewSamples
		}
		if p.Reason != want {
			t.Errorf("day %d %s: visible %v, reason %q; want %q", p.Week-week, outcome.CellID(p.Cell), p.Visible, p.Reason, want)
		}
	}
}

// TestWholeFamily: the tree rules withhold a family together; a snapshot
// metric or a thin percentile is withheld on its own.
func TestWholeFamily(t *testing.T) {
	for r, want := range map[Reason]bool{ReasonVisible: false, ReasonBelowK: true, ReasonComplementary: true,
		ReasonTemporal: true, ReasonWeeklyOnly: false, ReasonFewSamples: false} {
		if got := r.WholeFamily(); got != want {
			t.Errorf("%q.WholeFamily() = %v, want %v", r, got, want)
		}
	}
}
