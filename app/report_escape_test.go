package app

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/report"
)

// TestReportEscapesTeamNames: team display names from the teams file (ids
// are restricted to [a-z0-9._-], names are free text) reach the written
// reports as text: no HTML element or Markdown link is made of them, and
// no CSV text cell starts a formula.
func TestReportEscapesTeamNames(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	hostile := []string{`=HYPERLINK("http://evil","x")`, `<img src=x onerror=alert(1)>`, `[click](http://evil)`}
	// Name the first teams of the synthetic org's teams file.
	var teams bytes.Buffer
	named := 0
	for _, line := range strings.SplitAfter(string(org.TeamsYAML()), "\n") {
		teams.WriteString(line)
		if id, ok := strings.CutPrefix(line, "      - id: "); ok && named < len(hostile) {
			teams.WriteString("        name: '" + strings.ReplaceAll(hostile[named], "'", "''") + "'\n")
			named++
			t.Logf("team %s is named %s", strings.TrimSpace(id), hostile[named-1])
		}
	}
	if named != len(hostile) {
		t.Fatalf("fixture: named %d teams", named)
	}
	teamsFile := filepath.Join(t.TempDir(), "teams.yaml")
	if err := os.WriteFile(teamsFile, teams.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dataDir := t.TempDir()
	p, _ := testPipeline(t, addr, dataDir, org, &apptest.SyncBuffer{}, func(c *Config) { c.Teams = teamsFile })
	waitCaughtUp(t, p)
	weeks := release(t, p)
	week := report.WeekOfDay(weeks[len(weeks)-1])
	read := func(f report.Format) string {
		b, err := os.ReadFile(filepath.Join(dataDir, "reports", report.FileName(week, f)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	html, md := read(report.HTML), read(report.Markdown)
	if !strings.Contains(html, "&lt;img src=x onerror=alert(1)&gt;") || strings.Contains(html, "<img") || strings.Contains(html, `href="http://evil`) {
		t.Error("the HTML report does not show the names as text")
	}
	if !strings.Contains(md, `\<img src\=x onerror\=alert\(1\)\>`) || !strings.Contains(md, `\[click\]\(http\://evil\)`) {
		t.Error("the Markdown report does not escape the names")
	}
	for _, raw := range hostile {
		if strings.Contains(md, raw) {
			t.Errorf("the Markdown report carries %q as is", raw)
		}
	}
	rows, err := csv.NewReader(strings.NewReader(read(report.CSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < 5 || i > 7 { // value, previous and change are numbers
				if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Errorf("CSV %s cell %q starts a formula", rows[0][i], c)
				}
			}
		}
	}
}
