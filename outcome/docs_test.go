package outcome

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the catalog")

// TestMetricsDoc keeps docs/metrics.md equal to the catalog.
func TestMetricsDoc(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../docs/metrics.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./outcome -run TestMetricsDoc -update)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Error("docs/metrics.md is stale; regenerate it: go test ./outcome -run TestMetricsDoc -update")
	}
}
