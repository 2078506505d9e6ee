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
	cmd := exec.Command(shoalBin, "bench", "--preset", "tiny", "--naive-events", "300", "--absorb", "100", "--stream-seconds", "2", "--out", out, "--work-dir", filepath.Join(dir, "work"))
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
		"5a. incremental", "5b. full", "6a. release", "6a'. /metrics snapshot", "6b. /metrics scrape", "6c. weekly HTML report", "6d. start with SQL on", "6e. analyst query", "7a. steady stream: 20 events/s", "7b. steady stream: 200 events/s"} {
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
		case "7a. steady stream: 20 events/s", "7b. steady stream: 200 events/s":
			want := 40 // 20/s for --stream-seconds 2
			if strings.Contains(row, "200 events/s") {
				want = 400
			}
			if n != want {
				t.Errorf("%s: %d events, want %d", row, n, want)
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
