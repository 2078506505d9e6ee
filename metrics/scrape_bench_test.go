package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
)

// orgCells returns every catalog metric for the current and previous week
// of an organisation of teams teams in units of 20, each with 8 people.
func orgCells(teams int, cur int32) []outcome.Cell {
	var cells []outcome.Cell
	for _, w := range []int32{cur - 7, cur} {
		for _, m := range outcome.Catalog {
			cells = append(cells, outcome.Cell{Week: w, Level: outcome.LevelOrg, Metric: m.ID, Value: 1, Defined: true, People: 8 * teams})
			for u := 0; u < (teams+19)/20; u++ {
				unit := fmt.Sprintf("unit-%03d", u)
				cells = append(cells, outcome.Cell{Week: w, Level: outcome.LevelUnit, Unit: unit, Metric: m.ID, Value: 1, Defined: true, People: 160})
				for t := u * 20; t < min(teams, u*20+20); t++ {
					cells = append(cells, outcome.Cell{Week: w, Level: outcome.LevelTeam, Team: fmt.Sprintf("team-%04d", t), Unit: unit, Metric: m.ID, Value: float64(t), Defined: true, People: 8})
				}
			}
		}
	}
	return cells
}

// BenchmarkScrape measures one /metrics scrape (gather, encode, gzip as
// Prometheus asks) of the outcome snapshot of 2,000 teams: the target is
// 50 ms. BenchmarkRefresh is the off-path recomputation of that snapshot.
func BenchmarkScrape(b *testing.B) {
	for _, teams := range []int{200, 2000} {
		b.Run(fmt.Sprintf("teams=%d", teams), func(b *testing.B) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			reg := prometheus.NewRegistry()
			e := NewExporter(staticSource(orgCells(teams, calendar.WeekStartOf(now, time.UTC))), func() time.Time { return now }, reg, slog.New(slog.DiscardHandler))
			if err := e.Refresh(context.Background()); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(Handler(reg, e))
			defer srv.Close()
			b.ResetTimer()
			for b.Loop() {
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
		})
	}
}

func BenchmarkRefresh(b *testing.B) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	src := staticSource(orgCells(2000, calendar.WeekStartOf(now, time.UTC)))
	e := NewExporter(src, func() time.Time { return now }, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
