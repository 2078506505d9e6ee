package synth

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStaysLight proves synth pulls in no cgo, Kafka or DuckDB package,
// so every test, benchmark and the CLI can use it cheaply.
func TestStaysLight(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH: cannot list synth's dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, cgoFiles, _ := strings.Cut(line, " ")
		lower := strings.ToLower(path)
		if path == "runtime/cgo" || cgoFiles != "0" || strings.Contains(lower, "kafka") || strings.Contains(lower, "franz") ||
			strings.Contains(lower, "duckdb") || strings.Contains(lower, "prometheus") {
			t.Errorf("synth depends on %s (%s cgo files)", path, cgoFiles)
		}
	}
}
