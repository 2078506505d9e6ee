package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
)

// TestReportEndToEnd publishes smallOrg, runs the pipeline with its clock
// at the org's end, and checks the weekly report of the last complete week
// in every format: served on demand and kept, written by writeReports,
// listed in the index, fetched by `shoal report`; and that no withheld
// team's value, pseudonym or raw person id reaches any of them.
func TestReportEndToEnd(t *testing.T) {
	org, msgs := smallOrg()
	addr := startKafka(t, "shoal.events", "shoal.dlq")
	publish(t, addr, "shoal.events", msgs)
	dataDir := t.TempDir()
	p, _ := testPipeline(t, addr, dataDir, org, &syncBuffer{})
	waitCaughtUp(t, p)
	ctx := context.Background()

	week := p.lastCompleteWeek()
	if week != (report.Week{Year: 2026, Week: 47}) {
		t.Fatalf("last complete week at %s = %s, want 2026-W47", orgNow, week)
	}
	outs := map[report.Format][]byte{}
	for _, f := range report.Formats {
		resp, err := http.Get(p.httpURL() + "/reports/2026-W47." + string(f))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != f.ContentType() {
			t.Fatalf("GET /reports/2026-W47.%s: %s %s: %s", f, resp.Status, resp.Header.Get("Content-Type"), b)
		}
		outs[f] = b
		if kept, err := os.ReadFile(filepath.Join(dataDir, "reports", "2026-W47."+string(f))); err != nil || !bytes.Equal(kept, b) {
			t.Errorf("the on-demand %s report of a complete week was not kept in DATA_DIR/reports (%v)", f, err)
		}
	}
	if out := os.Getenv("SHOAL_REPORT_OUT"); out != "" { // to look at it: SHOAL_REPORT_OUT=/tmp/e2e.html
		os.WriteFile(out, outs[report.HTML], 0o644)
	}
	html := string(outs[report.HTML])
	for _, want := range []string{"Week 47, 2026", "Executive summary", `<svg class="chart"`, "Data quality", "Methodology", "events dated in this week were accepted"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if strings.Contains(html, "No outcome data") {
		t.Error("HTML report of a week with data says it has none")
	}

	// An empty week says so; a week that has not started is refused.
	empty := httpGet(t, p.httpURL()+"/reports/2026-W30.md")
	if !strings.Contains(empty, "No outcome data was recorded for 2026-W30") {
		t.Errorf("report of a week without events does not say so:\n%s", empty)
	}
	for path, want := range map[string]string{"2027-W10.html": "has not started yet", "2026-47.html": "named like 2026-W47.html", "2026-W60.csv": "ISO weeks 1 to 53"} {
		resp, err := http.Get(p.httpURL() + "/reports/" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), want) {
			t.Errorf("GET /reports/%s = %s %q, want 404 saying %q", path, resp.Status, b, want)
		}
	}

	// The scheduled writer writes every format; the index lists them.
	os.RemoveAll(filepath.Join(dataDir, "reports"))
	if err := p.writeReports(ctx, week); err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		b, err := os.ReadFile(filepath.Join(dataDir, "reports", report.FileName(week, f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, outs[f]) {
			t.Errorf("written %s report differs from the served one", f)
		}
	}
	index := httpGet(t, p.httpURL()+"/reports") // redirected to /reports/
	for _, want := range []string{`href="2026-W47.html"`, `href="2026-W47.csv"`, "Last complete week, 2026-W47", "Monday at 06:00 UTC"} {
		if !strings.Contains(index, want) {
			t.Errorf("/reports/ lacks %q:\n%s", want, index)
		}
	}

	// shoal report fetches from the running Shoal; default week = last complete.
	out := t.TempDir()
	if code, stdout, stderr := runCLI(t, "report", "--week", "2026-W47", "--format", "csv", "--out", out, "--server", p.httpURL()); code != 0 {
		t.Fatalf("shoal report: exit %d: %s %s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "2026-W47.csv")); err != nil || !bytes.Equal(b, outs[report.CSV]) {
		t.Errorf("shoal report --format csv wrote a different file (%v)", err)
	}
	if code, stdout, stderr := runCLI(t, "report", "--format", "md", "--out", out, "--server", p.httpURL()+"/"); code != 0 || !strings.Contains(stdout, "2026-W47.md") {
		t.Fatalf("shoal report (default week): exit %d: %s %s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "2026-W47.md")); err != nil || !bytes.Equal(b, outs[report.Markdown]) {
		t.Errorf("shoal report (default week) did not write the last complete week's Markdown (%v)", err)
	}

	// The schedule: a clock 300 ms before Monday 06:00 (the default, in the
	// org's zone, UTC here) writes the previous week's report when it strikes.
	os.RemoveAll(filepath.Join(dataDir, "reports"))
	start := time.Now()
	clock := func() time.Time { return orgNow.Add(6*time.Hour - 300*time.Millisecond + time.Since(start)) }
	sctx, stopSchedule := context.WithCancel(ctx)
	scheduled := make(chan struct{})
	go func() { p.scheduleReports(sctx, clock); close(scheduled) }()
	deadline := time.Now().Add(30 * time.Second)
	for _, f := range report.Formats {
		path := filepath.Join(dataDir, "reports", report.FileName(week, f))
		for {
			if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, outs[f]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scheduled report %s was not written", path)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopSchedule()
	<-scheduled

	assertWithheldNowhere(t, p, week, outs)
	raw := org.RawPeople()
	for f, b := range outs {
		assertNoRawIDs(t, string(f)+" report", b, raw)
		for _, m := range pseudonymRe.FindAllString(string(b), -1) {
			if privacy.IsPseudonym(m) {
				t.Errorf("%s report holds pseudonym %s", f, m)
			}
		}
	}
}

// assertWithheldNowhere checks the teams the policy withholds in week
// against the reports: each is named as rolled up or hidden; the reports
// do not change when the withheld cells' values do (so no formatting of
// them can leak); its CSV rows carry no value; and no distinctive form of
// its true values, read from the store before suppression, appears.
func assertWithheldNowhere(t *testing.T, p *pipeline, week report.Week, outs map[report.Format][]byte) {
	t.Helper()
	ctx := context.Background()
	rows, err := p.store.Outcomes(ctx, p.teams.Get(), week.Add(-(report.TrendWeeks - 1)).Monday(), week.Monday(), p.now())
	if err != nil {
		t.Fatal(err)
	}
	published, err := privacy.Apply(p.teams.Get().Policy(), rows)
	if err != nil {
		t.Fatal(err)
	}
	withheld := map[string]privacy.Reason{}
	var hiddenValues []privacy.Published
	shownForms := map[string]bool{}
	for _, c := range published {
		m, _ := outcome.ByID(c.Metric)
		if c.Visible && c.Defined {
			for _, f := range distinctiveForms(m, c.Value) {
				shownForms[f] = true
			}
		}
		if c.Week != week.Monday() || c.Level != outcome.LevelTeam || c.Visible {
			continue
		}
		if withheld[c.Team] != privacy.ReasonBelowK {
			withheld[c.Team] = c.Reason
		}
		if c.Defined {
			hiddenValues = append(hiddenValues, c)
		}
	}
	rolledUp := 0
	for team, reason := range withheld {
		if reason == privacy.ReasonBelowK {
			rolledUp++
		}
		item := regexp.MustCompile(`<li>` + regexp.QuoteMeta(team) + ` \([a-z0-9-]+\): [a-z ,]+ figures</li>`)
		if !item.Match(outs[report.HTML]) {
			t.Errorf("HTML report does not list withheld team %s (%s)", team, reason)
		}
	}
	if rolledUp == 0 || len(hiddenValues) < 5 {
		t.Fatalf("smallOrg has %d teams rolled up in %s and %d withheld values; the privacy check needs some", rolledUp, week, len(hiddenValues))
	}

	// Non-interference on the real data.
	d, err := p.reportData(ctx, week)
	if err != nil {
		t.Fatal(err)
	}
	for _, canary := range []float64{0, 31415.9265, 0.777777} {
		for i := range d.Cells {
			c := &d.Cells[i]
			if c.Week == week.Monday() && c.Level == outcome.LevelTeam && !c.Visible {
				c.Value = canary
			}
		}
		for _, f := range report.Formats {
			var buf bytes.Buffer
			if err := report.Render(&buf, d, f); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), outs[f]) {
				t.Errorf("%s report changes when the withheld cells hold %v: a withheld value reaches it", f, canary)
			}
		}
	}

	// CSV rows of withheld cells are flagged and empty.
	for _, line := range strings.Split(string(outs[report.CSV]), "\r\n") {
		f := strings.Split(line, ",")
		if len(f) < 10 || f[1] != "team" {
			continue
		}
		if _, ok := withheld[f[3]]; !ok {
			continue
		}
		if f[8] == "true" && (f[5] != "" || f[6] != "" || f[7] != "") {
			t.Errorf("CSV row of a withheld cell carries values: %s", line)
		}
	}

	// The true values themselves, in every distinctive form the report's
	// formats could give them, appear nowhere (forms that a shown cell
	// also has are skipped: those are another cell's numbers).
	checked := 0
	for _, c := range hiddenValues {
		m, _ := outcome.ByID(c.Metric)
		for _, form := range distinctiveForms(m, c.Value) {
			if shownForms[form] {
				continue
			}
			checked++
			re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(form) + `($|[^0-9])`)
			for f, b := range outs {
				if re.Match(b) {
					t.Errorf("%s report holds %s, a form of withheld %s/%s = %v", f, form, c.Team, c.Metric, c.Value)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no distinctive form of a withheld value was checked")
	}
	t.Logf("%d withheld teams in %s; %d true values checked in %d forms", len(withheld), week, len(hiddenValues), checked)
}

// distinctiveForms are the renderings of v that carry enough digits not to
// occur by chance: the CSV's base-unit numbers and the tables' durations
// and ratios with decimals.
func distinctiveForms(m outcome.Metric, v float64) []string {
	var out []string
	add := func(s string) {
		if digits := strings.Count(s, "") - 1 - strings.Count(s, "."); digits >= 4 {
			out = append(out, s)
		}
	}
	switch m.Unit {
	case outcome.Ratio:
		add(strconv.FormatFloat(v, 'f', 4, 64))
		add(strconv.FormatFloat(v*100, 'f', 1, 64))
	case outcome.Seconds:
		add(strconv.FormatFloat(v, 'f', 0, 64))
		add(strconv.FormatFloat(v/3600, 'f', 2, 64))
		add(strconv.FormatFloat(v/86400, 'f', 2, 64))
	case outcome.Blocks:
		add(strconv.FormatFloat(v, 'f', 2, 64))
		add(strconv.FormatFloat(v, 'f', 4, 64))
	default:
		add(strconv.FormatFloat(v, 'f', 0, 64))
	}
	return out
}

// TestReportCLIErrors: shoal report says what is wrong and what to do.
func TestReportCLIErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no server", []string{"report", "--server", "http://127.0.0.1:1", "--out", t.TempDir()}, []string{"no Shoal is answering at http://127.0.0.1:1", "start `shoal run`"}},
		{"bad week", []string{"report", "--week", "2026-47"}, []string{"--week", `"2026-47"`, "e.g. 2026-W47"}},
		{"week out of range", []string{"report", "--week", "2027-W53"}, []string{"2027 has ISO weeks 1 to 52"}},
		{"bad format", []string{"report", "--format", "pdf"}, []string{`--format: format "pdf": use html, md or csv`}},
		{"bad server", []string{"report", "--server", "127.0.0.1:9464"}, []string{"give a URL such as http://127.0.0.1:9464"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestReportSchedule: the next report time, and bad schedules refused.
func TestReportSchedule(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, err := defaultReportSchedule().parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ now, want time.Time }{
		{time.Date(2026, 11, 23, 0, 0, 0, 0, berlin), time.Date(2026, 11, 23, 6, 0, 0, 0, berlin)},  // Monday before 06:00
		{time.Date(2026, 11, 23, 6, 0, 0, 0, berlin), time.Date(2026, 11, 30, 6, 0, 0, 0, berlin)},  // exactly at: the next week
		{time.Date(2026, 11, 25, 12, 0, 0, 0, berlin), time.Date(2026, 11, 30, 6, 0, 0, 0, berlin)}, // Wednesday
		{time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 30, 6, 0, 0, 0, berlin)},   // across the DST change
	} {
		if got := s.next(tc.now, berlin); !got.Equal(tc.want) {
			t.Errorf("next after %s = %s, want %s", tc.now, got, tc.want)
		}
	}
	if w := report.WeekOf(time.Date(2026, 11, 23, 6, 0, 0, 0, berlin), berlin).Add(-1); w.String() != "2026-W47" {
		t.Errorf("the report written on Monday 2026-11-23 is for %s, want 2026-W47", w)
	}
	bad := ReportSchedule{ReportWeekday: "Moonday", ReportTime: "6am", ReportTimezone: "Mars/Olympus"}
	err = bad.validate()
	for _, want := range []string{`report-weekday "Moonday"`, `report-time "6am": use HH:MM`, `report-timezone "Mars/Olympus" is not an IANA time zone`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate(%+v) = %v, want it to say %q", bad, err, want)
		}
	}
}
