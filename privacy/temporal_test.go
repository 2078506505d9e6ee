package privacy

import (
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
)

// TestApplyDaily: a unit with teams a and b, visible for the week. On
// Tuesday a has 2 people (below k). The day trees alone would hide a and
// its sibling b on Tuesday, leaving the week's value minus Monday's for each
// team as Tuesday's: the week → days rule hides a second day of each.
func TestApplyDaily(t *testing.T) {
	policy, err := NewPolicy(5)
	if err != nil {
		t.Fatal(err)
	}
	const week = int32(20412) // a Monday
	cell := func(period int32, level outcome.Level, unit, team string, people int) outcome.Cell {
		return outcome.Cell{Week: period, Level: level, Unit: unit, Team: team, Metric: "tasks_completed", Value: 1, Defined: true, People: people}
	}
	tree := func(period int32, a, b int) []outcome.Cell {
		return []outcome.Cell{cell(period, outcome.LevelOrg, "", "", a+b), cell(period, outcome.LevelUnit, "u", "", a+b),
			cell(period, outcome.LevelTeam, "u", "a", a), cell(period, outcome.LevelTeam, "u", "b", b)}
	}
	weekly, err := Apply(policy, tree(week, 8, 9))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range weekly {
		if !p.Visible {
			t.Fatalf("week cell %+v hidden", p)
		}
	}
	var days []outcome.Cell
	days = append(days, tree(week, 6, 7)...)   // Monday
	days = append(days, tree(week+1, 2, 6)...) // Tuesday: a below k
	days = append(days, tree(week+2, 7, 8)...) // Wednesday
	days = append(days, outcome.Cell{Week: week, Level: outcome.LevelTeam, Unit: "u", Team: "a", Metric: "work_in_progress", People: 6, Defined: true})
	out, err := ApplyDaily(policy, weekly, days)
	if err != nil {
		t.Fatal(err)
	}
	hidden := map[string]map[int32]Reason{}
	for _, p := range out {
		if p.Metric == "work_in_progress" {
			if p.Visible || p.Reason != ReasonWeeklyOnly {
				t.Errorf("snapshot metric per day: %+v", p)
			}
			continue
		}
		id := outcome.CellID(p.Cell)
		if hidden[id] == nil {
			hidden[id] = map[int32]Reason{}
		}
		if !p.Visible {
			hidden[id][p.Week-week] = p.Reason
		}
	}
	if hidden["team:a"][1] != ReasonBelowK {
		t.Errorf("a on Tuesday: %v, want below_k", hidden["team:a"])
	}
	for _, id := range []string{"team:a", "team:b"} {
		if len(hidden[id]) < 2 {
			t.Errorf("%s: hidden on days %v: its week minus the visible days would give the hidden one", id, hidden[id])
		}
	}
	for _, id := range []string{"org", "unit:u"} {
		if len(hidden[id]) == 1 {
			t.Errorf("%s: exactly one hidden day %v", id, hidden[id])
		}
	}
}
