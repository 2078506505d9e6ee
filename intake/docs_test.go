package intake

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocumentedFiles: the sources and people files of docs/sources.md
// parse, and the sources file configures every built-in source, so the
// documentation cannot fall behind the intake.
func TestDocumentedFiles(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "sources.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	var sources, people []byte
	for _, b := range blocks {
		switch {
		case strings.Contains(string(b[1]), "sources.yaml"):
			sources = b[1]
		case strings.Contains(string(b[1]), "people.yaml"):
			people = b[1]
		}
	}
	if sources == nil || people == nil {
		t.Fatal("docs/sources.md has no yaml block of sources.yaml or of people.yaml")
	}
	dir := t.TempDir()
	var known []string
	for _, s := range Builtin() {
		known = append(known, s.Name())
		if err := os.WriteFile(filepath.Join(dir, s.Name()+".secret"), []byte("a-documented-secret-0123456789"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src, err := ParseSources("sources.md", sources, dir, known)
	if err != nil {
		t.Fatalf("the documented sources file: %v", err)
	}
	slices.Sort(known)
	if got := src.Names(); !slices.Equal(got, known) {
		t.Errorf("the documented sources file configures %s, want every built-in source %v", got, known)
	}
	if _, err := ParsePeople("sources.md", people); err != nil {
		t.Fatalf("the documented people file: %v", err)
	}
	for _, name := range known {
		if !strings.Contains(string(doc), "`POST /intake/"+name+"`") {
			t.Errorf("docs/sources.md's endpoint table has no row for /intake/%s", name)
		}
	}
}
