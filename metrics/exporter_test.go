package metrics

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// staticSource releases the latest week of its cells with k = 5.
type staticSource []outcome.Cell

func (s staticSource) LatestRelease(context.Context) (Release, bool, error) {
	if len(s) == 0 {
		return Release{}, false, nil
	}
	week := s[0].Week
	for _, c := range s {
		week = max(week, c.Week)
	}
	var cells []outcome.Cell
	for _, c := range s {
		if c.Week == week {
			cells = append(cells, c)
		}
	}
	policy, err := privacy.NewPolicy(5, privacy.DefaultDominanceP)
	if err != nil {
		return Release{}, false, err
	}
	pub, err := privacy.Apply(policy, cells)
	start := calendar.DayTime(week)
	return Release{Start: start, ReleasedAt: start.Add(9 * 24 * time.Hour), Cells: pub}, true, err
}

func TestExporterAppliesSuppression(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // a Wednesday
	cur := calendar.WeekStartOf(now, time.UTC)
	cell := func(level outcome.Level, team, unit string, people int, v float64) outcome.Cell {
		return outcome.Cell{Week: cur, Level: level, Team: team, Unit: unit, Metric: "tasks_completed", Value: v, Defined: true, People: people}
	}
	src := staticSource{
		cell(outcome.LevelOrg, "", "", 40, 100),
		cell(outcome.LevelUnit, "", "platform", 25, 60),
		cell(outcome.LevelUnit, "", "people", 15, 40),
		cell(outcome.LevelTeam, "payments", "platform", 12, 30),
		cell(outcome.LevelTeam, "identity", "platform", 9, 20),
		cell(outcome.LevelTeam, "observability", "platform", 4, 10), // below k
		cell(outcome.LevelTeam, "recruiting", "people", 13, 35),
		cell(outcome.LevelTeam, "learning", "people", 2, 5),                                                            // below k, recruiting complementary
		{Week: cur, Level: outcome.LevelTeam, Team: "payments", Unit: "platform", Metric: "on_time_ratio", People: 12}, // undefined
	}
	reg := prometheus.NewPedanticRegistry()
	e := NewExporter(src, func() time.Time { return now }, reg, slog.New(slog.DiscardHandler))
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP shoal_tasks_completed Tasks completed in the window (throughput).
# TYPE shoal_tasks_completed gauge
shoal_tasks_completed{team="",unit=""} 100
shoal_tasks_completed{team="",unit="people"} 40
shoal_tasks_completed{team="",unit="platform"} 60
shoal_tasks_completed{team="payments",unit="platform"} 30
`
	if err := testutil.GatherAndCompare(prometheus.Gatherers{reg, e}, strings.NewReader(want), "shoal_tasks_completed"); err != nil {
		t.Error(err)
	}
	got, err := testutil.GatherAndCount(prometheus.Gatherers{reg, e}, "shoal_on_time_ratio")
	if err != nil || got != 0 {
		t.Errorf("undefined cells exported: %d series, err %v", got, err)
	}
	m, err := prometheus.Gatherers{reg, e}.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range m {
		if mf.GetName() != "shoal_suppressed_cells" {
			continue
		}
		sum := map[string]float64{}
		for _, s := range mf.GetMetric() {
			var metric, level, reason string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "metric":
					metric = l.GetValue()
				case "level":
					level = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			if metric == "tasks_completed" {
				sum[level+"/"+reason] += s.GetGauge().GetValue()
			}
		}
		if sum["team/below_k"] != 2 || sum["team/complementary"] != 2 {
			t.Errorf("suppressed cells = %v, want 2 below_k and 2 complementary teams", sum)
		}
	}
}

// stampedSource is staticSource with a stamp, counting the reads of cells.
type stampedSource struct {
	staticSource
	releasedAt time.Time
	reads      int
}

func (s *stampedSource) LatestRelease(ctx context.Context) (Release, bool, error) {
	s.reads++
	rel, ok, err := s.staticSource.LatestRelease(ctx)
	rel.ReleasedAt = s.releasedAt
	return rel, ok, err
}

func (s *stampedSource) LatestReleaseStamp(ctx context.Context) (Release, bool, error) {
	rel, ok, err := s.staticSource.LatestRelease(ctx)
	return Release{Start: rel.Start, ReleasedAt: s.releasedAt}, ok, err
}

// TestRefreshReadsCellsOnlyForANewRelease: with a Stamper, a refresh that
// finds the served week still the last one reads no cells and keeps the
// exposition, and only moves shoal_outcomes_refreshed_timestamp_seconds
// (served with the live families); a new release is read and served.
func TestRefreshReadsCellsOnlyForANewRelease(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	src := &stampedSource{staticSource: staticSource(orgCells(30, calendar.WeekStartOf(now, time.UTC))), releasedAt: now.Add(-time.Hour)}
	reg := prometheus.NewRegistry()
	clock := now
	e := NewExporter(src, func() time.Time { return clock }, reg, slog.New(slog.DiscardHandler))
	refreshed := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "shoal_outcomes_refreshed_timestamp_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return 0
	}
	if refreshed() != 0 {
		t.Fatal("a refresh timestamp before the first refresh")
	}
	for i := range 3 {
		clock = now.Add(time.Duration(i) * time.Minute)
		if err := e.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := refreshed(); got != float64(clock.Unix()) {
			t.Fatalf("refresh %d: timestamp %v, want %v", i, got, float64(clock.Unix()))
		}
	}
	text, _ := e.Exposition()
	if src.reads != 1 || !strings.Contains(string(text), "shoal_tasks_completed") {
		t.Fatalf("three refreshes of one release read its cells %d times (want 1); exposition has the outcomes: %v", src.reads, strings.Contains(string(text), "shoal_tasks_completed"))
	}
	if strings.Contains(string(text), "shoal_outcomes_refreshed_timestamp_seconds") {
		t.Fatal("the refresh timestamp is in the cached exposition: it would not move without a rebuild")
	}
	src.releasedAt = now.Add(time.Minute) // a new release
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := e.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var releasedAt float64
	for _, mf := range mfs {
		if mf.GetName() == outcome.ReleasedAtName {
			releasedAt = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if src.reads != 2 || releasedAt != float64(src.releasedAt.Unix()) {
		t.Fatalf("a new release: %d reads of cells (want 2), released at %v served (want %v)", src.reads, releasedAt, float64(src.releasedAt.Unix()))
	}
}
