package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/transform"
)

// TestMain lets this test binary stand in for shoal: Run runs each phase
// as `EXECUTABLE bench --phase P ...`, and the running executable here is
// the test binary.
func TestMain(m *testing.M) {
	transform.RunEngine() // the SQL endpoint's engine process, too
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// childMain is what shoal's bench command does with a phase's arguments.
func childMain(args []string) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("shoal bench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := Run(context.Background(), cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "shoal bench: %v\n", err)
		return 1
	}
	return 0
}

// parse returns the configuration args give, as shoal's bench command
// parses them.
func parse(t *testing.T, args ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("shoal bench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return cfg
}

// TestBenchFlags: bad sizes and phases are refused with what to do.
func TestBenchFlags(t *testing.T) {
	used := t.TempDir()
	if err := os.WriteFile(filepath.Join(used, "events.ndjson"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "huge"}, `--preset "huge": use small, large or tiny`},
		{[]string{"--phases", "ceiling,warp"}, `unknown phase "warp"`},
		{[]string{"--phases", "absorb"}, "needs shoal too"},
		{[]string{"--phases", "ceiling,sql"}, "sql works on the shoal phase's store"},
		{[]string{"--naive-events", "0"}, "must be at least 1"},
		{[]string{"--duckdb-memory-limit", "lots"}, `"lots" is not a size`},
		{[]string{"--preset", "tiny", "--work-dir", used}, "holds a previous run (events.ndjson; its broker log and stores would be measured again)"},
	} {
		if err := Run(t.Context(), parse(t, tc.args...), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: error %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchMarkdownKeepsAnalysis: rewriting BENCHMARKS.md replaces only the
// generated part and keeps what a person wrote around it.
func TestBenchMarkdownKeepsAnalysis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeMarkdown(path, "first run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := "# Title\n\nIntro.\n\n" + string(b) + "\n## Where the time goes\n\nAnalysis.\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(path, "second run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	want := "# Title\n\nIntro.\n\n" + markBegin + "second run\n" + markEnd + "\n## Where the time goes\n\nAnalysis.\n"
	if string(b) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", b, want)
	}
}

// TestBenchReportsFailedPhases: a phase that fails does not lose the
// others' numbers; the table and the Markdown name it with the child's
// own error, the phases that need its store are marked not run, and the
// run returns an error.
func TestBenchReportsFailedPhases(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against an embedded broker; skipped in -short mode")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	// The shoal phase's data dir is a file, so it cannot open its store.
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "shoal"), []byte("not a directory"), 0o640); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	err := Run(t.Context(), parse(t, "--preset", "tiny", "--phases", "ceiling,shoal,absorb", "--out", out, "--work-dir", work), &stdout, &stderr)
	if err == nil {
		t.Fatalf("bench with a failing phase returned no error:\n%s", stdout.String())
	}
	md, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no Markdown written after a failed phase: %v (%v)\n%s", rerr, err, stderr.String())
	}
	for _, want := range []string{"| 1. ceiling", "Failed phases", "- shoal: exit status 1: ", "not a directory", "- absorb: not run: it needs the shoal phase's store"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(stdout.String(), "phase shoal FAILED") {
		t.Errorf("table lacks the failed phase:\n%s", stdout.String())
	}
	if strings.Contains(string(md), "| 2. Shoal end to end") {
		t.Errorf("a failed phase has a row:\n%s", md)
	}
}

// TestBenchNaiveStopsAtTheTopicEnd: with fewer events published than
// --naive-events (as on the tiny preset with the default 20000), the naive
// phase reads them all and stops instead of waiting for more.
func TestBenchNaiveStopsAtTheTopicEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process against an embedded broker; skipped in -short mode")
	}
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, parse(t, "--preset", "tiny", "--teams", "2", "--weeks", "1", "--phases", "naive", "--out", "-"), &stdout, &stderr); err != nil {
		t.Fatalf("bench --preset tiny --teams 2 --weeks 1 --phases naive: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^3\. naive[^\n]*?  +(\d+)  `).FindStringSubmatch(stdout.String())
	published := regexp.MustCompile(`bench: (\d+) events \(`).FindStringSubmatch(stderr.String())
	if m == nil || published == nil {
		t.Fatalf("no naive row or no published count:\n%s\n%s", stdout.String(), stderr.String())
	}
	if n, _ := strconv.Atoi(m[1]); n >= DefaultConfig().NaiveEvents || m[1] != published[1] {
		t.Errorf("naive row: %s events, want all %s published (fewer than --naive-events %d)", m[1], published[1], DefaultConfig().NaiveEvents)
	}
}
