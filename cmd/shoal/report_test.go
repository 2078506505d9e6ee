package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/report"
)

// TestReportCommand: shoal report fetches a week's report from a running
// Shoal, byte for byte what the server serves; the default week is the
// last complete one.
func TestReportCommand(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	p := startApp(t, org, msgs)
	outs := map[report.Format][]byte{}
	for _, f := range []report.Format{report.CSV, report.Markdown} {
		outs[f] = []byte(apptest.HTTPGet(t, p.URL()+"/reports/2026-W47."+string(f)))
	}
	// shoal report fetches from the running Shoal; default week = last released.
	out := t.TempDir()
	if code, stdout, stderr := runCLI(t, "report", "--week", "2026-W47", "--format", "csv", "--out", out, "--server", p.URL()); code != 0 {
		t.Fatalf("shoal report: exit %d: %s %s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "2026-W47.csv")); err != nil || !bytes.Equal(b, outs[report.CSV]) {
		t.Errorf("shoal report --format csv wrote a different file (%v)", err)
	}
	if code, stdout, stderr := runCLI(t, "report", "--format", "md", "--out", out, "--server", p.URL()+"/"); code != 0 || !strings.Contains(stdout, "2026-W47.md") {
		t.Fatalf("shoal report (default week): exit %d: %s %s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "2026-W47.md")); err != nil || !bytes.Equal(b, outs[report.Markdown]) {
		t.Errorf("shoal report (default week) did not write the last released week's Markdown (%v)", err)
	}

}
