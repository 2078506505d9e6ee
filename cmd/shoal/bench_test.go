package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchHarness runs `shoal bench` on the tiny preset as a user would:
// every phase runs in its own process against the same published events,
// and the table and BENCHMARKS.md carry every row, ratio and the method.
// The numbers themselves are not asserted (speed is measured, not tested);
// the counts are.
func TestBenchHarness(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	cmd := exec.Command(shoalBin, "bench", "--preset", "tiny", "--naive-events", "300", "--absorb", "100", "--out", out, "--work-dir", filepath.Join(dir, "work"))
	cmd.Dir = dir
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("shoal bench: %v\n%s\n%s", err, stdout, stderr)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rowRe := func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(name) + `[^|]* \| (\d+|-) \|`)
	}
	events := -1
	for _, row := range []string{"1. ceiling", "2. Shoal end to end", "3. naive", "4a. DuckDB read_json", "4b. Shoal's stage without Kafka",
		"5a. incremental", "5b. full", "6a. outcome refresh", "6b. /metrics scrape", "6c. weekly HTML report", "6d. start with SQL on", "6e. analyst query"} {
		m := rowRe(row).FindStringSubmatch(string(md))
		if m == nil {
			t.Errorf("BENCHMARKS.md has no row %q:\n%s", row, md)
			continue
		}
		if !strings.Contains(string(stdout), row) {
			t.Errorf("the printed table has no row %q", row)
		}
		n, _ := strconv.Atoi(m[1])
		switch row {
		case "1. ceiling", "2. Shoal end to end", "4a. DuckDB read_json", "4b. Shoal's stage without Kafka":
			// Every phase that reads all events read the same number.
			if events == -1 {
				events = n
			} else if n != events {
				t.Errorf("row %q: %d events, the first full phase read %d", row, n, events)
			}
		case "3. naive":
			if n != 300 {
				t.Errorf("naive row: %d events, want --naive-events 300", n)
			}
		case "5a. incremental":
			if n != 100 {
				t.Errorf("absorb row: %d events, want --absorb 100", n)
			}
		}
	}
	if events <= 0 {
		t.Errorf("no events measured")
	}
	// The shoal phase's peak RSS after each output step: one per step, and
	// a peak never falls.
	caught := regexp.MustCompile(`\((\d+) MiB when caught up`).FindStringSubmatch(string(md))
	steps := regexp.MustCompile(`(?m)^\| (2b|6a|6b|6c)\. [^\n]*\| (\d+) MiB so far[^|]* \|$`).FindAllStringSubmatch(string(md), -1)
	if caught == nil || len(steps) != 4 {
		t.Errorf("want the peak RSS when caught up and after 2b, 6a, 6b and 6c; got %q and %q", caught, steps)
	} else {
		last, _ := strconv.Atoi(caught[1])
		for _, m := range steps {
			n, _ := strconv.Atoi(m[2])
			if n < last {
				t.Errorf("peak RSS after %s is %d MiB, below the %d MiB before it", m[1], n, last)
			}
			last = n
		}
	}
	// Targets stated for 2,000 teams or 20 M events are never plainly "met"
	// by a smaller run.
	for _, line := range strings.Split(string(md), "\n") {
		if (strings.Contains(line, "at 2,000 teams") || strings.Contains(line, "at 20 M events")) && strings.HasSuffix(line, "| met |") {
			t.Errorf("a tiny run claims a large-size target: %s", line)
		}
	}
	for _, want := range []string{"Shoal / ceiling", "Shoal / naive", "stage / read_json", "full / incremental", "peak RSS", "weekly report,", "- command: `shoal bench --preset tiny",
		"- machine: ", "- commit: ", "Notes on method"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
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
		var stdout, stderr strings.Builder
		if code := runMain(t.Context(), append([]string{"bench"}, tc.args...), &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want an error containing %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestBenchMarkdownKeepsAnalysis: rewriting BENCHMARKS.md replaces only the
// generated part and keeps what a person wrote around it.
func TestBenchMarkdownKeepsAnalysis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeBenchMarkdown(path, "first run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := "# Title\n\nIntro.\n\n" + string(b) + "\n## Where the time goes\n\nAnalysis.\n"
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeBenchMarkdown(path, "second run\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	want := "# Title\n\nIntro.\n\n" + benchMarkBegin + "second run\n" + benchMarkEnd + "\n## Where the time goes\n\nAnalysis.\n"
	if string(b) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", b, want)
	}
}

// TestBenchReportsFailedPhases: a phase that fails does not lose the
// others' numbers; the table and the Markdown name it with the child's
// own error, the phases that need its store are marked not run, and the
// command exits non-zero.
func TestBenchReportsFailedPhases(t *testing.T) {
	needBinary(t)
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
	cmd := exec.Command(shoalBin, "bench", "--preset", "tiny", "--phases", "ceiling,shoal,absorb", "--out", out, "--work-dir", work)
	cmd.Dir = dir
	stdout, err := cmd.Output()
	if err == nil {
		t.Fatalf("shoal bench with a failing phase exited 0:\n%s", stdout)
	}
	md, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no Markdown written after a failed phase: %v (%v)", rerr, err)
	}
	for _, want := range []string{"| 1. ceiling", "Failed phases", "- shoal: exit status 1: ", "not a directory", "- absorb: not run: it needs the shoal phase's store"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(string(stdout), "phase shoal FAILED") {
		t.Errorf("table lacks the failed phase:\n%s", stdout)
	}
	if strings.Contains(string(md), "| 2. Shoal end to end") {
		t.Errorf("a failed phase has a row:\n%s", md)
	}
}
