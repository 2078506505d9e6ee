package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// committedDashboards is where `make generate` commits the dashboards.
const committedDashboards = "../../deploy/grafana/dashboards"
