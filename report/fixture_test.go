package report

import (
	"math"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// The fixed demo organisation of the golden files: three units, nine
// teams, eight weeks ending 2026-W47.
var (
	demoWeek  = Week{2026, 47}
	demoUnits = []Unit{{"platform", "Platform"}, {"product", "Product"}, {"data", "Data"}}
	demoTeams = []struct {
		Team
		size int
	}{
		{Team{"platform-payments", "Payments", "platform", 24 * time.Hour}, 9},
		{Team{"platform-identity", "Identity", "platform", 8 * time.Hour}, 7},
		{Team{"platform-infra", "Infrastructure", "platform", 24 * time.Hour}, 12},
		{Team{"product-mobile", "Mobile", "product", 24 * time.Hour}, 11},
		{Team{"product-web", "Web", "product", 12 * time.Hour}, 8},
		{Team{"product-search", "Search", "product", 24 * time.Hour}, 4}, // always under k
		{Team{"data-pipelines", "Pipelines", "data", 24 * time.Hour}, 10},
		{Team{"data-ml", "Machine learning", "data", 24 * time.Hour}, 6}, // under k in the report week
		{Team{"data-analytics", "Analytics", "data", 48 * time.Hour}, 8},
	}
)

// demoBase is each metric's typical team value, in its base unit.
var demoBase = map[string]float64{
	"tasks_completed": 14, "lead_time_p50": 4.2 * 86400, "lead_time_p85": 9.5 * 86400,
	"cycle_time_p50": 2.1 * 86400, "cycle_time_p85": 5.3 * 86400, "work_in_progress": 9,
	"on_time_ratio": 0.81, "reopen_ratio": 0.07, "blocked_time_ratio": 0.11,
	"focus_ratio": 0.46, "deep_work_blocks": 3.1, "meeting_load": 7.5 * 3600, "overwork_ratio": 0.06,
	"response_within_sla_ratio": 0.93, "response_time_p50": 5.5 * 3600, "requests_open_past_sla": 2,
}

// demoBump moves some metrics in the report week, so that the summary has
// something to say.
var demoBump = map[string]float64{
	"tasks_completed": 1.12, "lead_time_p50": 1, "lead_time_p85": 1, "cycle_time_p50": 0.84, "cycle_time_p85": 0.9,
	"work_in_progress": 1.05, "on_time_ratio": 1, "reopen_ratio": 1, "blocked_time_ratio": 1.3, "focus_ratio": 0.9,
	"deep_work_blocks": 0.85, "meeting_load": 1.18, "overwork_ratio": 1.6, "response_within_sla_ratio": 1,
	"response_time_p50": 1, "requests_open_past_sla": 1,
}

// demoValue is a deterministic value that moves from week to week.
func demoValue(metric string, team, week int) float64 {
	b := demoBase[metric]
	wave := math.Sin(float64(week)*0.9+float64(team)*1.7) * 0.18
	trend := 0.02 * float64(week)
	v := b * (1 + wave + trend)
	if week == TrendWeeks-1 {
		v *= demoBump[metric] // the report week has news
	}
	m, _ := outcome.ByID(metric)
	switch m.Unit {
	case outcome.Ratio:
		v = math.Min(0.99, v)
		if metric == "response_within_sla_ratio" && team == 3 && week == TrendWeeks-1 {
			v = 0.72 // Mobile missed its SLA in the report week
		}
	case outcome.Tasks, outcome.Requests:
		v = math.Round(v * float64(team%3+1) / 2)
	}
	return v
}

// demoCells builds the raw cells of the demo org; mutate changes the
// values of one team's report-week cells (for the privacy tests).
func demoCells(mutate func(c *outcome.Cell)) []outcome.Cell {
	var out []outcome.Cell
	for wi := range TrendWeeks {
		week := demoWeek.Add(wi - TrendWeeks + 1).Monday()
		unitPeople := map[string]int{}
		unitSum := map[string]map[string]float64{}
		unitN := map[string]int{}
		orgPeople := 0
		for ti, t := range demoTeams {
			people := t.size
			if t.ID == "data-ml" && wi == TrendWeeks-1 {
				people = 3
			}
			unitPeople[t.Unit] += people
			orgPeople += people
			unitN[t.Unit]++
			if unitSum[t.Unit] == nil {
				unitSum[t.Unit] = map[string]float64{}
			}
			for _, m := range outcome.Catalog {
				v := demoValue(m.ID, ti, wi)
				defined := true
				if m.ID == "reopen_ratio" && t.ID == "platform-identity" && wi == TrendWeeks-1 {
					defined, v = false, 0 // nothing completed with a reopen to measure
				}
				c := outcome.Cell{Week: week, Level: outcome.LevelTeam, Unit: t.Unit, Team: t.ID, Metric: m.ID, Value: v, Defined: defined, People: people, Samples: demoSamples(m)}
				unitSum[t.Unit][m.ID] += v // unit values come from the true team values
				if mutate != nil && wi == TrendWeeks-1 {
					mutate(&c)
				}
				out = append(out, c)
			}
		}
		orgSum := map[string]float64{}
		for _, u := range demoUnits {
			for _, m := range outcome.Catalog {
				v := unitSum[u.ID][m.ID]
				if m.Unit != outcome.Tasks && m.Unit != outcome.Requests {
					v /= float64(unitN[u.ID])
				}
				orgSum[m.ID] += v
				out = append(out, outcome.Cell{Week: week, Level: outcome.LevelUnit, Unit: u.ID, Metric: m.ID, Value: v, Defined: true, People: unitPeople[u.ID], Samples: demoSamples(m)})
			}
		}
		for _, m := range outcome.Catalog {
			v := orgSum[m.ID]
			if m.Unit != outcome.Tasks && m.Unit != outcome.Requests {
				v /= float64(len(demoUnits))
			}
			out = append(out, outcome.Cell{Week: week, Level: outcome.LevelOrg, Metric: m.ID, Value: v, Defined: true, People: orgPeople, Samples: demoSamples(m)})
		}
	}
	return out
}

// demoData is the golden files' report: the demo cells through the one
// suppression path.
func demoData(t testing.TB, mutate func(c *outcome.Cell)) Data {
	t.Helper()
	policy, err := privacy.NewPolicy(5, privacy.DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	published, err := privacy.Apply(policy, demoCells(mutate))
	if err != nil {
		t.Fatal(err)
	}
	var teams []Team
	for _, dt := range demoTeams {
		teams = append(teams, dt.Team)
	}
	quality := Quality{Refused: map[string]int64{"bad_time": 4}}
	for i := range int64(7) {
		quality.Accepted += 1800 + i*37
		if i%2 == 0 {
			quality.Refused["unknown_field"] += 3 + i
			quality.Refused["surveillance_field"] += 2
		}
	}
	return Data{
		Week: demoWeek, TimeZone: "Europe/Berlin", K: policy.K,
		Generated: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC),
		Units:     demoUnits, Teams: teams, Cells: published, Quality: quality,
	}
}

// demoSamples is the fixture's count of values behind a percentile: enough
// that none is withheld for too few (privacy.ReasonFewSamples).
func demoSamples(m outcome.Metric) int {
	if m.MinSamples > 0 {
		return 4 * m.MinSamples
	}
	return 0
}
