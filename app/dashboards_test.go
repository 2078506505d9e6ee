package app

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// TestAgreementGauges: /metrics serves the team agreements of visible
// teams only (none for a team under k), and a reload of the teams file
// changes them.
func TestAgreementGauges(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{})
	waitCaughtUp(t, p)
	release(t, p)

	slaRe := regexp.MustCompile(`(?m)^shoal_team_response_sla_seconds\{team="([^"]+)",unit="([^"]+)"\} (\S+)$`)
	sla := func() map[string]string {
		out := map[string]string{}
		for _, m := range slaRe.FindAllStringSubmatch(apptest.HTTPGet(t, p.URL()+"/metrics"), -1) {
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
	if !strings.Contains(apptest.HTTPGet(t, p.URL()+"/metrics"), "\nshoal_min_group_size 5\n") {
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
	if changed, err := p.reload(); err != nil || !changed {
		t.Fatalf("reload: changed %v, err %v", changed, err)
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
