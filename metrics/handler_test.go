package metrics

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shoal-analytics/shoal/event/calendar"
)

// TestHandler: /metrics carries the registry's live families and the
// exporter's cached outcome families, plain and gzipped (two gzip members
// read as one stream), as one valid text exposition.
func TestHandler(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	live := prometheus.NewCounter(prometheus.CounterOpts{Name: "shoal_test_live_total", Help: "A live counter."})
	reg.MustRegister(live)
	e := NewExporter(staticSource(orgCells(30, calendar.WeekStartOf(now, time.UTC))), func() time.Time { return now }, reg, slog.New(slog.DiscardHandler))
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	live.Add(3) // after the refresh: the live part is gathered per scrape
	srv := httptest.NewServer(Handler(reg, e))
	defer srv.Close()
	for _, gz := range []bool{false, true} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if gz {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("gzip asked, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		families, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("gzip=%v: not a valid exposition: %v", gz, err)
		}
		if mf := families["shoal_test_live_total"]; mf == nil || mf.GetMetric()[0].GetCounter().GetValue() != 3 {
			t.Errorf("gzip=%v: live counter missing or stale: %v", gz, mf)
		}
		if mf := families["shoal_tasks_completed"]; mf == nil || len(mf.GetMetric()) != 30+2+1 {
			t.Errorf("gzip=%v: outcome family missing or incomplete: %d series", gz, len(mf.GetMetric()))
		}
		if families["shoal_outcomes_refresh_failures_total"] == nil {
			t.Errorf("gzip=%v: the refresh failure counter is missing", gz)
		}
	}
}
