package dashboards

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBuildsFromTheCatalogAlone proves dashboards pulls in no DuckDB,
// Kafka, Arrow or Prometheus client, directly or through another Shoal
// package: it needs the outcome catalog and nothing that runs a pipeline.
func TestBuildsFromTheCatalogAlone(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH: cannot list dashboards' dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, path := range strings.Fields(string(out)) {
		lower := strings.ToLower(path)
		for _, bad := range []string{"duckdb", "kafka", "franz", "arrow", "prometheus/client_golang", "shoal/metrics", "shoal/transform", "shoal/ingest"} {
			if strings.Contains(lower, bad) {
				t.Errorf("dashboards depends on %s", path)
			}
		}
	}
}
