package privacy

import (
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
)

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit outcome.Unit
		want float64
	}{
		{29454.545454545456, outcome.Seconds, 29500},
		{0.12345, outcome.Ratio, 0.123},
		{0.1236, outcome.Ratio, 0.124},
		{2 / 3.0, outcome.Ratio, 0.667},
		{3.4545, outcome.Blocks, 3.45},
		{1234, outcome.Tasks, 1234},
		{0, outcome.Seconds, 0},
		{-0.5, outcome.Ratio, -0.5},
	} {
		if got := Round(tc.v, tc.unit); got != tc.want {
			t.Errorf("Round(%v, %s) = %v, want %v", tc.v, tc.unit, got, tc.want)
		}
	}
}

// TestNewReleaseDenseGrid: every position of the hierarchy has a cell of
// every metric for the week and each day, active or not; a withheld cell
// carries no value and no counts, and an inactive team's row looks like a
// small team's.
func TestNewReleaseDenseGrid(t *testing.T) {
	policy, err := NewPolicy(5, DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	const week = int32(20409) // a Monday
	h := Hierarchy{Units: []HierarchyUnit{{ID: "u", Teams: []string{"big", "tiny", "idle", "big2"}}, {ID: "empty"}}}
	var weekly, daily []outcome.Cell
	add := func(period int32, level outcome.Level, unit, team string, people int, daily_ bool) {
		for _, m := range outcome.Catalog {
			c := outcome.Cell{Week: period, Level: level, Unit: unit, Team: team, Metric: m.ID, Value: 29454.545454545456, Defined: true, People: people, Samples: 40}
			if daily_ {
				daily = append(daily, c)
			} else {
				weekly = append(weekly, c)
			}
		}
	}
	add(week, outcome.LevelOrg, "", "", 21, false)
	add(week, outcome.LevelUnit, "u", "", 21, false)
	add(week, outcome.LevelTeam, "u", "big", 10, false)
	add(week, outcome.LevelTeam, "u", "big2", 10, false)
	add(week, outcome.LevelTeam, "u", "tiny", 1, false)
	// Saturday: only the tiny team's one person worked.
	add(week+5, outcome.LevelOrg, "", "", 1, true)
	add(week+5, outcome.LevelUnit, "u", "", 1, true)
	add(week+5, outcome.LevelTeam, "u", "tiny", 1, true)
	r, err := NewRelease(policy, h, week, weekly, daily, []outcome.QualityDay{{Day: week + 5, Accepted: 3}})
	if err != nil {
		t.Fatal(err)
	}
	positions := 1 + 1 + 4 // org, unit u (empty has no team), four teams
	if want := positions * len(outcome.Catalog); len(r.Weekly) != want {
		t.Errorf("%d weekly cells, want %d (dense)", len(r.Weekly), want)
	}
	if want := 7 * positions * len(outcome.Catalog); len(r.Daily) != want {
		t.Errorf("%d daily cells, want %d (dense)", len(r.Daily), want)
	}
	rows := map[string]Published{}
	for i, c := range append(append([]Published{}, r.Weekly...), r.Daily...) {
		period := "week"
		if i >= len(r.Weekly) {
			period = string(rune('0' + c.Week - week))
		}
		rows[c.Metric+"/"+outcome.CellID(c.Cell)+"/"+period] = c
		if !c.Visible && (c.Value != 0 || c.Defined || c.People != 0 || c.Samples != 0) {
			t.Errorf("withheld cell %+v keeps a value or counts", c)
		}
		if c.Visible && c.Defined && c.Value != 29500 && c.Value != 29454.545454545456 {
			continue
		}
		if c.Visible && c.Value == 29454.545454545456 {
			m, _ := outcome.ByID(c.Metric)
			if m.Unit != outcome.Tasks && m.Unit != outcome.Requests {
				t.Errorf("visible %s not rounded: %v", c.Metric, c.Value)
			}
		}
	}
	tiny, idle := rows["meeting_load/team:tiny/5"], rows["meeting_load/team:idle/5"]
	if tiny.Visible || idle.Visible || tiny.Reason != idle.Reason {
		t.Errorf("Saturday: tiny %+v and idle %+v should look alike (withheld, same reason)", tiny, idle)
	}
	if c := rows["meeting_load/team:big2/week"]; !c.Visible || c.Value != 29500 {
		t.Errorf("big2 (big is withheld complementary for tiny) = %+v, want visible 29500", c)
	}
	if len(r.Quality) != 8 {
		t.Fatalf("%d quality cells, want the week and 7 days", len(r.Quality))
	}
	for _, q := range r.Quality[1:] {
		if q.Visible || q.Accepted != 0 {
			t.Errorf("day %d's count %+v is shown with fewer than k people", q.Period-week, q)
		}
	}
}

// TestReleaseQualityComplementary: with one withheld day carrying events,
// the week minus the visible days would give it; a second day is withheld.
func TestReleaseQualityComplementary(t *testing.T) {
	policy, _ := NewPolicy(5, DefaultDominanceP)
	const week = int32(20409)
	pub := func(period int32, people int) Published {
		return Published{Cell: outcome.Cell{Week: period, Level: outcome.LevelOrg, Metric: "tasks_completed", People: people}}
	}
	weekly := []Published{pub(week, 20)}
	var daily []Published
	var quality []outcome.QualityDay
	for d := int32(0); d < 7; d++ {
		people := 8
		if d == 6 {
			people = 2
		}
		daily = append(daily, pub(week+d, people))
		quality = append(quality, outcome.QualityDay{Day: week + d, Accepted: int64(10 + d)})
	}
	got := releaseQuality(policy, week, quality, weekly, daily)
	if !got[0].Visible || got[0].Accepted != 10+11+12+13+14+15+16 {
		t.Fatalf("week = %+v", got[0])
	}
	hidden := 0
	for _, q := range got[1:] {
		if !q.Visible {
			hidden++
		}
	}
	if hidden != 2 || got[1].Reason != ReasonComplementary || got[7].Reason != ReasonBelowK {
		t.Errorf("days = %+v, want Sunday below_k and Monday (fewest events) complementary", got[1:])
	}
}
