package report

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPureRendering proves report pulls in no DuckDB, Kafka, Arrow, ingest,
// transform or Prometheus client package: it renders what it is given and
// reads no store.
func TestPureRendering(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH: cannot list report's dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, path := range strings.Fields(string(out)) {
		lower := strings.ToLower(path)
		for _, bad := range []string{"duckdb", "kafka", "franz", "arrow", "shoal/transform", "shoal/ingest", "shoal/metrics", "prometheus/client_golang"} {
			if strings.Contains(lower, bad) {
				t.Errorf("report depends on %s", path)
			}
		}
	}
}
