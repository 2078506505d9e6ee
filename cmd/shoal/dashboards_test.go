package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardsCommand: `shoal dashboards --out DIR` writes exactly the
// committed dashboards; without --out it says what to pass.
func TestDashboardsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	code, stdout, stderr := runCLI(t, "dashboards", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	written, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	committed, _ := filepath.Glob(filepath.Join(committedDashboards, "*.json"))
	if len(written) != 6 || len(written) != len(committed) {
		t.Fatalf("wrote %d dashboards, %d committed, want 6: %s", len(written), len(committed), stdout)
	}
	for _, w := range written {
		got, _ := os.ReadFile(w)
		want, _ := os.ReadFile(filepath.Join(committedDashboards, filepath.Base(w)))
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed copy: run `make generate`", filepath.Base(w))
		}
	}
	if !strings.Contains(stdout, "wrote 6 dashboards") {
		t.Errorf("stdout: %q", stdout)
	}
	code, _, stderr = runCLI(t, "dashboards")
	if code != 1 || !strings.Contains(stderr, "--out is required") || !strings.Contains(stderr, "deploy/grafana/dashboards") {
		t.Errorf("without --out: exit %d, %q", code, stderr)
	}
}

// TestAgreementGauges: /metrics serves the team agreements of visible
// teams only (none for a team under k), and a reload of the teams file
// changes them.
func TestAgreementGauges(t *testing.T) {
	org, msgs := smallOrg()
	addr := startKafka(t, "shoal.events", "shoal.dlq")
	publish(t, addr, "shoal.events", msgs)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &syncBuffer{})
	waitCaughtUp(t, p)
	p.refreshNow(context.Background(), true)

	slaRe := regexp.MustCompile(`(?m)^shoal_team_response_sla_seconds\{team="([^"]+)",unit="([^"]+)"\} (\S+)$`)
	sla := func() map[string]string {
		out := map[string]string{}
		for _, m := range slaRe.FindAllStringSubmatch(httpGet(t, p.httpURL()+"/metrics"), -1) {
			out[m[1]+"/"+m[2]] = m[3]
		}
		return out
	}
	before := sla()
	if len(before) == 0 {
		t.Fatal("no shoal_team_response_sla_seconds series for any team")
	}
	visible := p.exporter.VisibleTeams()
	for _, tm := range org.Teams {
		_, exported := before[tm.ID+"/"+tm.Unit]
		if exported != visible[tm.ID] {
			t.Errorf("team %s (size %d): agreements exported %v, visible outcome cells %v", tm.ID, tm.Size, exported, visible[tm.ID])
		}
		if tm.Size < 5 && exported {
			t.Errorf("team %s under k has agreement series", tm.ID)
		}
	}
	for k, v := range before {
		if v != "86400" {
			t.Errorf("%s: SLA %s, want the file's 24h = 86400", k, v)
		}
	}
	if !strings.Contains(httpGet(t, p.httpURL()+"/metrics"), "\nshoal_min_group_size 5\n") {
		t.Error("shoal_min_group_size 5 not served")
	}

	b, err := os.ReadFile(p.cfg.Teams)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "response_sla: 24h", "response_sla: 8h", 1)
	if err := os.WriteFile(p.cfg.Teams, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := p.reload(); err != nil {
		t.Fatal(err)
	}
	after := sla()
	if len(after) != len(before) {
		t.Errorf("after reload %d teams exported, before %d", len(after), len(before))
	}
	for k, v := range after {
		if v != "28800" {
			t.Errorf("after reload %s: SLA %s, want 8h = 28800", k, v)
		}
	}
}
