package transform

import (
	"context"
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
)

// TestDailyOutcomes uses TestOutcomeFlow's week of tasks: per day, the
// completions land on their day, work in progress is taken at the end of
// each day, and the Sunday's snapshot equals the week's.
func TestDailyOutcomes(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	org := mustOrg(t, outcomeOrg)
	commit(t, s, mem, flowWeek(&g)...)
	out, err := s.DailyOutcomes(context.Background(), org, day0, day0+6, at(30, 0))
	if err != nil {
		t.Fatal(err)
	}
	m := map[outcomeCell]outcome.Cell{}
	for _, o := range out {
		name := o.Team
		if o.Level == outcome.LevelUnit {
			name = o.Unit
		}
		m[outcomeCell{o.Week, o.Level, name, o.Metric}] = o
	}
	c := func(d int32, metric string) outcomeCell {
		return outcomeCell{day0 + d, outcome.LevelTeam, "t1", metric}
	}
	// Completions: A Fri (day 4), C Wed (day 2), F Thu (day 3; its Tue
	// completion was reopened). B's Wed completion was reopened.
	for d, n := range []float64{0, 0, 1, 1, 1, -1, 0} {
		if n < 0 { // Saturday has no event: no cell
			if _, ok := m[c(int32(d), "tasks_completed")]; ok {
				t.Errorf("day %d has a cell without events", d)
			}
			continue
		}
		want(t, m, c(int32(d), "tasks_completed"), n)
	}
	// WIP at the end of each day: Mon B, E, F; Tue A, B, C, E, F (F's
	// Tuesday completion was reopened: its final completion is Thu); Wed A,
	// B, E, F; Thu A, B (E cancelled Thu 10:00); Fri B; Sun B, D.
	for d, n := range map[int32]float64{0: 3, 1: 5, 2: 4, 3: 2, 4: 1, 6: 2} {
		want(t, m, c(d, "work_in_progress"), n)
	}
	// Lead time of the one task completed on Friday: A, Mon 09 → Fri 23:30.
	want(t, m, c(4, "lead_time_p50"), 110.5*hour)
	// The floors hold per day: on Sunday person 3 only started D (one
	// task event, below the floor of 2); on Tuesday person 1 started A
	// and C (2), person 4 completed F (1).
	wantPeople(t, m, c(6, "tasks_completed"), 0)
	wantPeople(t, m, c(1, "tasks_completed"), 1)

	week := outcomes(t, s, org, day0, day0, at(30, 0))
	for _, metric := range []string{"work_in_progress", "requests_open_past_sla"} {
		if got, w := m[c(6, metric)].Value, week[outcomeCell{day0, outcome.LevelTeam, "t1", metric}].Value; got != w {
			t.Errorf("%s: Sunday %v, week %v: a week's snapshot is its last day's", metric, got, w)
		}
	}
	var sum float64
	for d := int32(0); d < 7; d++ {
		sum += m[c(d, "tasks_completed")].Value
	}
	if w := week[outcomeCell{day0, outcome.LevelTeam, "t1", "tasks_completed"}].Value; sum != w {
		t.Errorf("tasks_completed: days sum to %v, week %v", sum, w)
	}
}
