package metrics

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
)

// TestAgreementsCollector: listed, visible teams are exported with team and
// unit labels only; a team without a visible cell is not; a new file in
// force (a reload) shows at the next scrape.
func TestAgreementsCollector(t *testing.T) {
	var cur atomic.Pointer[agreements.Org]
	cur.Store(mustOrg(t, `
min_group_size: 5
units:
  - id: platform
    teams:
      - {id: payments, response_sla: 4h, focus_block_min: 90m, overwork_hours_per_day: 10h}
      - {id: tiny, response_sla: 1h, focus_block_min: 1h, overwork_hours_per_day: 9h}
`))
	reg := prometheus.NewPedanticRegistry()
	NewAgreementsCollector(cur.Load,
		func() map[string]bool { return map[string]bool{"payments": true} }, reg)
	want := `
# HELP shoal_min_group_size The minimum group size k in force: no exported cell describes fewer people.
# TYPE shoal_min_group_size gauge
shoal_min_group_size 5
# HELP shoal_team_response_sla_seconds The team's agreed response_sla: working time within which a request should get a first response.
# TYPE shoal_team_response_sla_seconds gauge
shoal_team_response_sla_seconds{team="payments",unit="platform"} 14400
# HELP shoal_team_focus_block_seconds The team's agreed focus_block_min: the shortest focus entry that counts as a deep-work block.
# TYPE shoal_team_focus_block_seconds gauge
shoal_team_focus_block_seconds{team="payments",unit="platform"} 5400
# HELP shoal_team_overwork_threshold_seconds The team's agreed overwork_hours_per_day, in seconds per day: more logged time in a day counts towards the overwork signal.
# TYPE shoal_team_overwork_threshold_seconds gauge
shoal_team_overwork_threshold_seconds{team="payments",unit="platform"} 36000
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	// A reload: k raised, payments' SLA tightened.
	cur.Store(mustOrg(t, `
min_group_size: 7
units:
  - id: platform
    teams:
      - {id: payments, response_sla: 2h, focus_block_min: 90m, overwork_hours_per_day: 10h}
`))
	want2 := `
# HELP shoal_min_group_size The minimum group size k in force: no exported cell describes fewer people.
# TYPE shoal_min_group_size gauge
shoal_min_group_size 7
# HELP shoal_team_response_sla_seconds The team's agreed response_sla: working time within which a request should get a first response.
# TYPE shoal_team_response_sla_seconds gauge
shoal_team_response_sla_seconds{team="payments",unit="platform"} 7200
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want2), outcome.MinGroupSizeName, outcome.TeamResponseSLAName); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(NewAgreementsCollector(cur.Load, nil, prometheus.NewRegistry()))
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestExporterVisibleTeams: the exporter's visible teams are those with a
// visible cell; a team under k and its complementary sibling are not.
func TestExporterVisibleTeams(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cur := calendar.WeekStartOf(now, time.UTC)
	cell := func(level outcome.Level, team, unit string, people int) outcome.Cell {
		return outcome.Cell{Week: cur, Level: level, Team: team, Unit: unit, Metric: "tasks_completed", Value: 1, Defined: true, People: people}
	}
	src := staticSource{
		cell(outcome.LevelOrg, "", "", 40),
		cell(outcome.LevelUnit, "", "platform", 25),
		cell(outcome.LevelUnit, "", "people", 15),
		cell(outcome.LevelTeam, "payments", "platform", 12),
		cell(outcome.LevelTeam, "identity", "platform", 9),      // complementary to observability
		cell(outcome.LevelTeam, "observability", "platform", 4), // below k
		cell(outcome.LevelTeam, "recruiting", "people", 13),     // complementary to learning
		cell(outcome.LevelTeam, "learning", "people", 2),        // below k
	}
	e := NewExporter(src, func() time.Time { return now }, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if got := e.VisibleTeams(); len(got) != 0 {
		t.Errorf("before the first refresh: %v", got)
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := e.VisibleTeams()
	for _, team := range []string{"payments"} {
		if !got[team] {
			t.Errorf("team %s with a visible cell is not among the visible teams %v", team, got)
		}
	}
	for _, team := range []string{"identity", "observability", "learning", "recruiting"} {
		if got[team] {
			t.Errorf("team %s has no visible cell but is among the visible teams %v", team, got)
		}
	}
}

// mustOrg parses a teams file.
func mustOrg(t *testing.T, yaml string) *agreements.Org {
	t.Helper()
	org, err := agreements.Parse("teams.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return org
}
