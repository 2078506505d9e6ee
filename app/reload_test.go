package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
)

// TestReloadTeams: POST /-/reload and SIGHUP apply an edited teams file
// without a restart; a bad edit is refused with file:line and the old file
// stays in force.
func TestReloadTeams(t *testing.T) {
	org, _ := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	dataDir := t.TempDir()
	p, _ := testPipeline(t, addr, dataDir, org, &apptest.SyncBuffer{})
	path := p.cfg.Teams
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, string) {
		resp, err := http.Post(p.URL()+"/-/reload", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}

	bad := strings.Replace(string(good), "response_sla: 24h", "response_sla: fast", 1)
	if err := os.WriteFile(path, []byte(bad), 0o640); err != nil {
		t.Fatal(err)
	}
	code, body := post()
	if code != http.StatusBadRequest || !strings.Contains(body, filepath.Base(path)+":") || !strings.Contains(body, "fast") {
		t.Errorf("bad edit: %d %q", code, body)
	}
	if got := p.teams.Get().Team(org.Teams[0].ID).ResponseSLA; got != 24*time.Hour {
		t.Errorf("after a refused reload the SLA is %s, want the old 24h", got)
	}

	edited := strings.Replace(string(good), "response_sla: 24h", "response_sla: 8h", 1)
	os.WriteFile(path, []byte(edited), 0o640)
	if code, body := post(); code != http.StatusOK {
		t.Fatalf("good edit: %d %q", code, body)
	}
	if got := p.teams.Get().Team(org.Teams[0].ID).ResponseSLA; got != 8*time.Hour {
		t.Errorf("after reload the SLA is %s, want 8h", got)
	}

	edited = strings.Replace(string(good), "response_sla: 24h", "response_sla: 12h", 1)
	os.WriteFile(path, []byte(edited), 0o640)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !wait.Until(10*time.Second, func() bool { return p.teams.Get().Team(org.Teams[0].ID).ResponseSLA == 12*time.Hour }) {
		t.Fatal("SIGHUP did not reload the teams file")
	}
}
