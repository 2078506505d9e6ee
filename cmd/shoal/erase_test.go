package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

// teamSeriesRe matches the released outcome series on /metrics (those with
// a team or unit label) and the release gauges.
var teamSeriesRe = regexp.MustCompile(`(?m)^(shoal_\w+\{[^}]*(team|unit)="[^}]*\} .*|shoal_release_\w+ .*)$`)

// releasedSeries is what /metrics shows of the releases.
func releasedSeries(t *testing.T, url string) string {
	t.Helper()
	return strings.Join(teamSeriesRe.FindAllString(apptest.HTTPGet(t, url+"/metrics"), -1), "\n")
}

// startShoal starts `shoal run` with args and an HTTP address, and stops
// it (SIGTERM, waiting for a clean exit) at the end of the test or when
// the returned func is called.
func startShoal(t *testing.T, logPath string, args ...string) (url string, stop func()) {
	t.Helper()
	httpAddr := apptest.FreeAddr(t)
	cmd := exec.Command(shoalBin, append(args, "--http-addr", httpAddr)...)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			log, _ := os.ReadFile(logPath)
			t.Errorf("shoal run did not stop cleanly: %v\n%s", err, log)
		}
		logf.Close()
	}
	t.Cleanup(stop)
	return "http://" + httpAddr, stop
}

// TestEraseAndRetainWholeBinary runs `shoal run` (the binary) on an
// organisation's weeks, all released at once (--settle-delay 0): `shoal
// erase` removes one person, whose pseudonym then has no byte left in any
// file of the data directory once Shoal has stopped, while /metrics and
// the reports of the released weeks are unchanged; a restart with
// --retain-events 0s deletes the released weeks' events and per-person
// rows, and still shows the same releases.
func TestEraseAndRetainWholeBinary(t *testing.T) {
	needBinary(t)
	org, msgs := synth.Generate(synth.Options{Seed: 5, Teams: 6, Units: 2, People: 45, Weeks: 2,
		End: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)})
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dir := t.TempDir()
	keyPath, key := apptest.TestKey(t, dir)
	dataDir := filepath.Join(dir, "data")
	args := []string{"run", "--brokers", addr, "--data-dir", dataDir, "--pseudonym-key-file", keyPath, "--settle-delay", "0s", "--batch-latency", "20ms"}
	url, stop := startShoal(t, filepath.Join(dir, "run1.log"), args...)
	lastWeek := "2026-W47"
	if !wait.Until(2*time.Minute, func() bool {
		// Every week up to the last one ended is released in one pass.
		return strings.Contains(metricsPage(url), "shoal_release_week_start_timestamp_seconds ")
	}) {
		t.Fatal("no week was released")
	}
	seriesBefore := releasedSeries(t, url)
	reportBefore := apptest.HTTPGet(t, url+"/reports/"+lastWeek+".csv")

	raw := org.RawPeople()[3]
	code, out, errOut := runCLI(t, "erase", "--person", raw, "--server", url)
	if code != 0 || !regexp.MustCompile(`erased [1-9]\d* events`).MatchString(out) {
		t.Fatalf("shoal erase: exit %d: %s %s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "erase", "--person", raw, "--server", url); code != 0 || !strings.Contains(out, "nothing stored") {
		t.Errorf("a second shoal erase: exit %d: %s", code, out)
	}
	if after := releasedSeries(t, url); after != seriesBefore {
		t.Errorf("an erasure changed the released series on /metrics")
	}
	if after := apptest.HTTPGet(t, url+"/reports/"+lastWeek+".csv"); after != reportBefore {
		t.Errorf("an erasure changed the released week's report")
	}
	stop()

	p, err := privacy.NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	pseudonym := p.Pseudonym(raw)
	filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(pseudonym)) {
			t.Errorf("%s holds the erased person's pseudonym after the erasure and a clean stop", path)
		}
		if bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(raw))) {
			t.Errorf("%s holds the erased person's raw id", path)
		}
		return nil
	})
	// Someone else's pseudonym is there: the search above can find one.
	if b, _ := os.ReadFile(filepath.Join(dataDir, "shoal.duckdb")); !bytes.Contains(b, []byte(p.Pseudonym(org.RawPeople()[4]))) {
		t.Fatal("another person's pseudonym is not in the file either: the search proves nothing")
	}

	// Retention: every released week is past --retain-events 0s.
	url, stop = startShoal(t, filepath.Join(dir, "run2.log"), append(args, "--retain-events", "0s")...)
	deletedRe := regexp.MustCompile(`shoal_retention_rows_deleted_total\{table="events"\} [1-9]`)
	if !wait.Until(time.Minute, func() bool { return deletedRe.MatchString(metricsPage(url)) }) {
		t.Fatalf("no events deleted by retention:\n%s", grepMetric(apptest.HTTPGet(t, url+"/metrics"), "retention"))
	}
	// The pass ends by rewriting the file (a stop before that leaves it to
	// the next start).
	if !wait.Until(time.Minute, func() bool {
		log, _ := os.ReadFile(filepath.Join(dir, "run2.log"))
		return bytes.Contains(log, []byte("DuckDB file rewritten without the deleted rows"))
	}) {
		t.Fatal("retention did not rewrite the file")
	}
	if after := releasedSeries(t, url); after != seriesBefore {
		t.Errorf("retention changed the released series on /metrics")
	}
	if after := apptest.HTTPGet(t, url+"/reports/"+lastWeek+".csv"); after != reportBefore {
		t.Errorf("retention changed the released week's report")
	}
	stop()
	// Every week is released and past retention: no pseudonym is left in
	// the file, not even in freed blocks (the pass rewrote it).
	if b, err := os.ReadFile(filepath.Join(dataDir, "shoal.duckdb")); err != nil || regexp.MustCompile(`p_[0-9a-f]{24}`).Match(b) {
		t.Errorf("after retention of every week the DuckDB file still holds a pseudonym (%v)", err)
	}
	store, err := transform.Open(context.Background(), transform.Config{Path: filepath.Join(dataDir, "shoal.duckdb")}, apptest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	horizon := calendar.DateOf(2026, time.November, 23)
	if oldest, ok, err := store.OldestEventDay(context.Background()); err != nil || ok && oldest < horizon {
		t.Errorf("after retention the oldest event is of %s (%v): want none before %s", calendar.DayTime(oldest).Format(time.DateOnly), err, calendar.DayTime(horizon).Format(time.DateOnly))
	}
	if rf, ok := store.RetainedFrom(); !ok || rf < horizon {
		t.Errorf("retention horizon %s (%v), want %s or later", calendar.DayTime(rf).Format(time.DateOnly), ok, calendar.DayTime(horizon).Format(time.DateOnly))
	}
}

// metricsPage is a running shoal's /metrics, or "" while it does not
// answer.
func metricsPage(url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// grepMetric returns the lines of a /metrics page that mention sub.
func grepMetric(page, sub string) string {
	var out []string
	for l := range strings.Lines(page) {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return fmt.Sprint(out)
}
