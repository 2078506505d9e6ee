package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/internal/wait"
)

// TestPrometheusScrapesOutcomes runs the real Prometheus server (Debian's
// package; .ci/run installs it) against a running Shoal and checks through
// its query API that outcome series exist, that none exists for a team
// under k, and that no label value looks like a pseudonym or raw id. It
// also runs `promtool check metrics` on the real /metrics output.
func TestPrometheusScrapesOutcomes(t *testing.T) {
	needPrometheus(t)
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{})
	waitCaughtUp(t, p)
	release(t, p)

	exposition := apptest.HTTPGet(t, p.URL()+"/metrics")
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(exposition)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	prom := startPrometheus(t, p)
	query := func(q string) []promSample {
		r, _ := prom.query(q)
		return r
	}
	var org0 []promSample
	if !wait.Until(60*time.Second, func() bool {
		org0 = query(`shoal_tasks_completed{team="",unit=""}`)
		return len(org0) > 0
	}) {
		t.Fatalf("Prometheus never returned the org throughput; its log:\n%s", prom.log())
	}
	// The value Prometheus holds equals what Shoal exported.
	orgLine := fmt.Sprintf(`shoal_tasks_completed{team="",unit=""} %s`, org0[0].Value[1])
	if !strings.Contains(exposition, orgLine) {
		t.Errorf("Prometheus has %v for the org throughput; Shoal exported:\n%s", org0[0].Value, grepLines(exposition, "shoal_tasks_completed{"))
	}
	// Known teams' values in Prometheus equal the rollups in DuckDB.
	prev := calendar.WeekStartOf(apptest.OrgNow, time.UTC) - 7
	rows, err := p.store.Outcomes(context.Background(), p.teams.Get(), prev, prev, apptest.OrgNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, r := range rows {
		if r.Level == "team" && r.Metric == "tasks_completed" {
			want[r.Team] = r.Value
		}
	}
	teamSeries := query(`shoal_tasks_completed{team!=""}`)
	if len(teamSeries) == 0 {
		t.Fatal("no team throughput series in Prometheus")
	}
	for _, s := range teamSeries {
		var got float64
		fmt.Sscan(s.Value[1].(string), &got)
		if w, ok := want[s.Metric["team"]]; !ok || w != got {
			t.Errorf("team %s: Prometheus has %v, DuckDB rollup has %v (present %v)", s.Metric["team"], got, w, ok)
		}
	}
	all := query(`{__name__=~"shoal_.+",team!=""}`)
	if len(all) == 0 {
		t.Fatal("no team-level series in Prometheus")
	}
	small := map[string]bool{}
	for _, tm := range org.Teams {
		if tm.Size < 5 {
			small[tm.ID] = true
		}
	}
	for _, s := range all {
		if small[s.Metric["team"]] {
			t.Errorf("series for team %s under k: %v", s.Metric["team"], s.Metric)
		}
		for k, v := range s.Metric {
			if pseudonymRe.MatchString(v) || strings.Contains(v, "@") {
				t.Errorf("label %s=%q looks like a person", k, v)
			}
			switch k {
			case "__name__", "team", "unit", "window", "job", "instance":
			default:
				t.Errorf("outcome series carries label %q: %v", k, s.Metric)
			}
		}
	}
}

type promSample struct {
	Metric map[string]string
	Value  [2]any
}

// needPrometheus skips the test when the Prometheus server is not installed.
func needPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus; .ci/run does this)")
	}
	return bin
}

// promServer is a real Prometheus server started by a test.
type promServer struct {
	addr, dir string
}

// startPrometheus runs the real Prometheus server scraping p's /metrics
// every second (job "shoal"), with its TSDB in a temp dir; it is killed
// when the test ends.
func startPrometheus(t *testing.T, p *App) *promServer {
	t.Helper()
	promBin := needPrometheus(t)
	dir := t.TempDir()
	target := strings.TrimPrefix(p.URL(), "http://")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shoal\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := apptest.FreeAddr(t)
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })
	return &promServer{addr: promAddr, dir: dir}
}

// query runs an instant query through the HTTP API; the error carries
// Prometheus's own message (e.g. a parse error).
func (s *promServer) query(q string) ([]promSample, error) {
	resp, err := http.Get("http://" + s.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string
		ErrorType string
		Error     string
		Data      struct{ Result []promSample }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("decode query response (%s): %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data.Result, nil
}

// log returns what Prometheus logged so far.
func (s *promServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "prometheus.log"))
	return string(b)
}
