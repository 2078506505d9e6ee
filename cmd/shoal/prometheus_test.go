package main

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

	"github.com/shoal-analytics/shoal/metrics"
)

// TestPrometheusScrapesOutcomes runs the real Prometheus server (Debian's
// package; .ci/run installs it) against a running Shoal and checks through
// its query API that outcome series exist, that none exists for a team
// under k, and that no label value looks like a pseudonym or raw id. It
// also runs `promtool check metrics` on the real /metrics output.
func TestPrometheusScrapesOutcomes(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus; .ci/run does this)")
	}
	org, msgs := smallOrg()
	addr := startKafka(t, "shoal.events", "shoal.dlq")
	publish(t, addr, "shoal.events", msgs)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &syncBuffer{})
	waitCaughtUp(t, p)
	p.refreshNow(context.Background())

	exposition := httpGet(t, p.httpURL()+"/metrics")
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(exposition)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}

	dir := t.TempDir()
	target := strings.TrimPrefix(p.httpURL(), "http://")
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shoal\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	defer logf.Close()
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })

	query := func(q string) []promSample {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []promSample }
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" {
			return nil
		}
		return r.Data.Result
	}
	deadline := time.Now().Add(60 * time.Second)
	var org0 []promSample
	for len(org0) == 0 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		org0 = query(`shoal_tasks_completed{team="",unit="",window="previous_week"}`)
	}
	if len(org0) == 0 {
		b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		t.Fatalf("Prometheus never returned the org throughput; its log:\n%s", b)
	}
	// The value Prometheus holds equals what Shoal exported.
	orgLine := fmt.Sprintf(`shoal_tasks_completed{team="",unit="",window="previous_week"} %s`, org0[0].Value[1])
	if !strings.Contains(exposition, orgLine) {
		t.Errorf("Prometheus has %v for the org throughput; Shoal exported:\n%s", org0[0].Value, grepLines(exposition, "shoal_tasks_completed{"))
	}
	// Known teams' values in Prometheus equal the rollups in DuckDB.
	prev := metrics.WeekOf(orgNow, time.UTC) - 7
	rows, err := p.store.Outcomes(context.Background(), p.teams.Get(), prev, prev, orgNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, r := range rows {
		if r.Level == "team" && r.Metric == "tasks_completed" {
			want[r.Team] = r.Value
		}
	}
	teamSeries := query(`shoal_tasks_completed{team!="",window="previous_week"}`)
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
