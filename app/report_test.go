package app

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

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
)

// TestReportEndToEnd publishes apptest.SmallOrg, runs the pipeline with its clock
// at the org's end, and checks the weekly report of the last complete week
// in every format: served on demand and kept, written by writeReports,
// listed in the index (cmd/shoal's TestReportCommand fetches it with
// `shoal report`); and that no withheld
// team's value, pseudonym or raw person id reaches any of them.
func TestReportEndToEnd(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dataDir := t.TempDir()
	p, _ := testPipeline(t, addr, dataDir, org, &apptest.SyncBuffer{})
	waitCaughtUp(t, p)

	// Before its release, a week has no report: the answer says when.
	resp, err := http.Get(p.URL() + "/reports/2026-W47.html")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "not released yet") || !strings.Contains(string(b), "2026-11-23T00:00:00Z") {
		t.Errorf("GET /reports/2026-W47.html before its release = %s %q, want 404 saying when it will be released", resp.Status, b)
	}
	weeks := release(t, p)
	week := report.WeekOfDay(weeks[len(weeks)-1])
	if week != (report.Week{Year: 2026, Week: 47}) {
		t.Fatalf("last released week at %s = %s, want 2026-W47", apptest.OrgNow, week)
	}
	// The release wrote its week's report in every format.
	written := map[report.Format][]byte{}
	for _, f := range report.Formats {
		b, err := os.ReadFile(filepath.Join(dataDir, "reports", report.FileName(week, f)))
		if err != nil {
			t.Fatalf("the release did not write its report: %v", err)
		}
		written[f] = b
	}
	outs := map[report.Format][]byte{}
	for _, f := range report.Formats {
		resp, err := http.Get(p.URL() + "/reports/2026-W47." + string(f))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != f.ContentType() {
			t.Fatalf("GET /reports/2026-W47.%s: %s %s: %s", f, resp.Status, resp.Header.Get("Content-Type"), b)
		}
		outs[f] = b
		if !bytes.Equal(written[f], b) {
			t.Errorf("the served %s report is not the one written at the release", f)
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
	if strings.Contains(html, "No outcome can be shown") {
		t.Error("HTML report of a week with data says it has none")
	}

	// A week before the first event is never released; a future one says
	// when it will be.
	for path, want := range map[string]string{"2026-W30.md": "never: it is before the first week with events", "2027-W10.html": "not released yet: it will be released at 2027-03-15T00:00:00Z",
		"2026-47.html": "named like 2026-W47.html", "2026-W60.csv": "ISO weeks 1 to 53"} {
		resp, err := http.Get(p.URL() + "/reports/" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), want) {
			t.Errorf("GET /reports/%s = %s %q, want 404 saying %q", path, resp.Status, b, want)
		}
	}

	// The index lists the written reports and the last released week.
	index := apptest.HTTPGet(t, p.URL()+"/reports") // redirected to /reports/
	for _, want := range []string{`href="2026-W47.html"`, `href="2026-W47.csv"`, "Last released week, 2026-W47"} {
		if !strings.Contains(index, want) {
			t.Errorf("/reports/ lacks %q:\n%s", want, index)
		}
	}
	// Nothing more is due: a second release publishes nothing.
	if again := release(t, p); len(again) != 0 {
		t.Errorf("a second release at the same clock released %v", again)
	}

	assertWithheldNowhere(t, p, week, outs)
	raw := org.RawPeople()
	for f, b := range outs {
		apptest.AssertNoRawIDs(t, string(f)+" report", b, raw)
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
func assertWithheldNowhere(t *testing.T, p *App, week report.Week, outs map[report.Format][]byte) {
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
			for _, f := range distinctiveForms(m, privacy.Round(c.Value, m.Unit)) {
				shownForms[f] = true
			}
		}
		if c.Week != week.Monday() || c.Level != outcome.LevelTeam || c.Visible {
			continue
		}
		// A percentile withheld for too few values is shown as such in its
		// cell; the team is not listed as rolled up or hidden for it.
		if c.Reason.WholeFamily() && withheld[c.Team] != privacy.ReasonBelowK {
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
		t.Fatalf("apptest.SmallOrg has %d teams rolled up in %s and %d withheld values; the privacy check needs some", rolledUp, week, len(hiddenValues))
	}

	// Non-interference on the real data.
	d, err := p.ReportData(ctx, week)
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
