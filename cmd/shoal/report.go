package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
)

// ReportSchedule is when `shoal run` writes the weekly report of the
// previous ISO week into DATA_DIR/reports.
type ReportSchedule struct {
	// ReportWeekday is the day the report is written. Default: Monday
	ReportWeekday string `yaml:"report_weekday"`
	// ReportTime is the time of day (HH:MM, 24-hour) it is written. Default: 06:00
	ReportTime string `yaml:"report_time"`
	// ReportTimezone is the IANA zone of ReportWeekday and ReportTime.
	// Default: the org's time zone (the teams file's defaults; UTC without one)
	ReportTimezone string `yaml:"report_timezone"`
}

func defaultReportSchedule() ReportSchedule {
	return ReportSchedule{ReportWeekday: "Monday", ReportTime: "06:00"}
}

func (r *ReportSchedule) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&r.ReportWeekday, "report-weekday", r.ReportWeekday, "weekday on which the weekly report of the previous ISO week is written to DATA_DIR/reports")
	fs.StringVar(&r.ReportTime, "report-time", r.ReportTime, "time of day (HH:MM, 24-hour) at which the weekly report is written")
	fs.StringVar(&r.ReportTimezone, "report-timezone", r.ReportTimezone, "IANA time zone of --report-weekday and --report-time (empty: the org's time zone from the teams file, else UTC)")
}

// schedule is a validated ReportSchedule.
type schedule struct {
	weekday      time.Weekday
	hour, minute int
	loc          *time.Location // nil: the org's zone at the time
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

var hhmm = regexp.MustCompile(`^([01]?\d|2[0-3]):([0-5]\d)$`)

func (r ReportSchedule) parse() (schedule, error) {
	var s schedule
	var errs []error
	wd, ok := weekdays[strings.ToLower(strings.TrimSpace(r.ReportWeekday))]
	if !ok {
		errs = append(errs, fmt.Errorf("report-weekday %q: use a weekday name such as Monday or Mon", r.ReportWeekday))
	}
	s.weekday = wd
	if m := hhmm.FindStringSubmatch(strings.TrimSpace(r.ReportTime)); m == nil {
		errs = append(errs, fmt.Errorf("report-time %q: use HH:MM on a 24-hour clock, e.g. 06:00", r.ReportTime))
	} else {
		fmt.Sscan(m[1], &s.hour)
		fmt.Sscan(m[2], &s.minute)
	}
	if r.ReportTimezone != "" {
		loc, err := time.LoadLocation(r.ReportTimezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("report-timezone %q is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", r.ReportTimezone))
		}
		s.loc = loc
	}
	return s, errors.Join(errs...)
}

func (r ReportSchedule) validate() error {
	_, err := r.parse()
	return err
}

// next returns the first scheduled instant strictly after now, in loc.
func (s schedule) next(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	y, m, d := t.Date()
	for i := 0; i <= 7; i++ {
		c := time.Date(y, m, d+i, s.hour, s.minute, 0, 0, loc)
		if c.Weekday() == s.weekday && c.After(now) {
			return c
		}
	}
	return time.Date(y, m, d+7, s.hour, s.minute, 0, 0, loc) // unreachable: one of 8 days matches
}

// orgLocation is the org's time zone under the agreements in force: the
// zone a team the file does not list gets.
func (p *pipeline) orgLocation() *time.Location { return p.teams.Get().Location("") }

// lastCompleteWeek is the ISO week before the current one in the org's
// zone, by the pipeline clock.
func (p *pipeline) lastCompleteWeek() report.Week {
	return report.WeekOf(p.now(), p.orgLocation()).Add(-1)
}

// reportData gathers one week's report: the outcome cells of the trend
// weeks through the suppression policy in force, and the week's data
// quality.
func (p *pipeline) reportData(ctx context.Context, week report.Week) (report.Data, error) {
	org := p.teams.Get()
	loc := org.Location("")
	from, to := week.Add(-(report.TrendWeeks - 1)).Monday(), week.Monday()
	rows, err := p.store.Outcomes(ctx, org, from, to, p.now())
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	policy := org.Policy()
	published, err := privacy.Apply(policy, rows)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	days, err := p.store.Quality(ctx, to, to+6)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	d := report.Data{Week: week, TimeZone: loc.String(), K: policy.K, Generated: p.now(), Cells: published}
	d.Quality = days
	for _, u := range org.Units() {
		d.Units = append(d.Units, report.Unit{ID: u.ID, Name: u.Name})
	}
	for _, t := range org.Teams() {
		d.Teams = append(d.Teams, report.Team{ID: t.Team, Name: t.TeamName, Unit: t.Unit, ResponseSLA: t.ResponseSLA})
	}
	return d, nil
}

// renderReport renders week's report in format f.
func (p *pipeline) renderReport(ctx context.Context, week report.Week, f report.Format) ([]byte, error) {
	d, err := p.reportData(ctx, week)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, d, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (p *pipeline) reportsDir() string { return filepath.Join(p.cfg.DataDir, "reports") }

// writeReports renders week's report in every format into
// DATA_DIR/reports, each file replaced atomically.
func (p *pipeline) writeReports(ctx context.Context, week report.Week) error {
	d, err := p.reportData(ctx, week)
	if err != nil {
		return err
	}
	for _, f := range report.Formats {
		var buf bytes.Buffer
		if err := report.Render(&buf, d, f); err != nil {
			return err
		}
		if err := p.saveReport(report.FileName(week, f), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func (p *pipeline) saveReport(name string, b []byte) error {
	dir := p.reportsDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create reports dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", name, err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", name, err)
	}
	return nil
}

// scheduleReports writes the previous ISO week's report at each scheduled
// time until ctx ends. Times are decided by clock (the pipeline's, p.now);
// a missed time (Shoal was down) is not caught up, as GET
// /reports/{week}.html renders any week on demand.
func (p *pipeline) scheduleReports(ctx context.Context, clock func() time.Time) {
	s, err := p.cfg.ReportSchedule.parse()
	if err != nil { // validated at startup
		p.log.Error("report schedule", "component", "report", "err", err)
		return
	}
	log := p.log.With("component", "report")
	for {
		loc := s.loc
		if loc == nil {
			loc = p.orgLocation()
		}
		now := clock()
		at := s.next(now, loc)
		log.Debug("next weekly report", "at", at.Format(time.RFC3339))
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		week := report.WeekOf(at, p.orgLocation()).Add(-1)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := p.writeReports(rctx, week)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Error("weekly report not written; it renders on demand at /reports/", "week", week.String(), "err", err)
			}
			continue
		}
		log.Info("weekly report written", "week", week.String(), "dir", p.reportsDir())
	}
}

// reportFile is a report's file name: 2026-W47.html, or last-week.html for
// the last complete week.
var reportFile = regexp.MustCompile(`^(\d{4}-W\d{2}|last-week)\.(html|md|csv)$`)

// reportRoutes serves the reports: an index at /reports/ and each report at
// /reports/{week}.{format}, rendered on demand when no file exists yet.
func (p *pipeline) reportRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /reports", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/reports/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /reports/{$}", p.serveReportIndex)
	mux.HandleFunc("GET /reports/{file}", p.serveReport)
}

func (p *pipeline) serveReport(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	m := reportFile.FindStringSubmatch(name)
	if m == nil {
		http.Error(w, fmt.Sprintf("no report %q: reports are named like 2026-W47.html, 2026-W47.md or 2026-W47.csv (or last-week.html); see /reports/", name), http.StatusNotFound)
		return
	}
	f, _ := report.ParseFormat(m[2])
	week := p.lastCompleteWeek()
	if m[1] != "last-week" {
		var err error
		if week, err = report.ParseWeek(m[1]); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
	}
	file := report.FileName(week, f)
	loc := p.orgLocation()
	if week.Start(loc).After(p.now()) {
		http.Error(w, fmt.Sprintf("week %s has not started yet (it starts %s); the last complete week is %s", week, week.Start(loc).Format(time.DateOnly), p.lastCompleteWeek()), http.StatusNotFound)
		return
	}
	b, err := os.ReadFile(filepath.Join(p.reportsDir(), file))
	if err != nil {
		b, err = p.renderReport(r.Context(), week, f)
		if err != nil {
			p.log.Error("report not rendered", "component", "report", "week", week.String(), "err", err)
			http.Error(w, "report not rendered: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !week.End(loc).After(p.now()) { // a complete week is kept; the current one changes still
			if err := p.saveReport(file, b); err != nil {
				p.log.Warn("report rendered but not kept", "component", "report", "week", week.String(), "err", err)
			}
		}
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType())
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename=%q`, file))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
	w.Write(b)
}

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shoal weekly reports</title>
<style>body{font:15px/1.5 Arial,"Liberation Sans",sans-serif;color:#1f2a44;max-width:720px;margin:32px auto;padding:0 16px}a{color:#0072b2}li{margin:3px 0}.m{color:#6b7280}</style></head>
<body><h1>Weekly reports</h1>
<p>Last complete week, {{.Last}}: <a href="{{.Last}}.html">HTML</a> · <a href="{{.Last}}.md">Markdown</a> · <a href="{{.Last}}.csv">CSV</a></p>
<p class="m">Written every {{.When}} for the previous ISO week; any other week renders on demand at /reports/YEAR-Wnn.html (or .md, .csv).</p>
{{if .Weeks}}<h2>Written reports</h2><ul>{{range .Weeks}}<li>{{.Week}}:{{range .Files}} <a href="{{.}}">{{.}}</a>{{end}}</li>{{end}}</ul>{{else}}<p>No report has been written yet.</p>{{end}}
</body></html>
`))

func (p *pipeline) serveReportIndex(w http.ResponseWriter, r *http.Request) {
	type weekFiles struct {
		Week  string
		Files []string
	}
	entries, err := os.ReadDir(p.reportsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		http.Error(w, "list reports: "+err.Error(), http.StatusInternalServerError)
		return
	}
	by := map[string][]string{}
	for _, e := range entries {
		if m := reportFile.FindStringSubmatch(e.Name()); m != nil && m[1] != "last-week" && !e.IsDir() {
			by[m[1]] = append(by[m[1]], e.Name())
		}
	}
	var weeks []weekFiles
	for wk, files := range by {
		slices.Sort(files)
		weeks = append(weeks, weekFiles{wk, files})
	}
	slices.SortFunc(weeks, func(a, b weekFiles) int { return strings.Compare(b.Week, a.Week) })
	c := p.cfg.ReportSchedule
	zone := c.ReportTimezone
	if zone == "" {
		zone = p.orgLocation().String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	indexTemplate.Execute(w, map[string]any{
		"Last":  p.lastCompleteWeek().String(),
		"When":  fmt.Sprintf("%s at %s %s", c.ReportWeekday, c.ReportTime, zone),
		"Weeks": weeks,
	})
}

const reportSummary = `Fetch the weekly HR report of an ISO week from a running Shoal (shoal run or shoal demo)
and write it to --out. The report is rendered by the server, which owns the DuckDB file;
this command never opens it. Default week: the last complete ISO week in the org's time zone.`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSummary, stdout, stderr)
	weekFlag := fs.String("week", "", "ISO week to report, e.g. 2026-W47 (default: the last complete week)")
	formatFlag := fs.String("format", "html", "html (one self-contained file), md (Markdown) or csv")
	out := fs.String("out", ".", "directory to write the report into (named like 2026-W47.html); - writes it to stdout")
	server := fs.String("server", "http://127.0.0.1:9464", "base URL of the running Shoal's HTTP endpoint (its --http-addr)")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	f, err := report.ParseFormat(*formatFlag)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	stem := "last-week"
	if *weekFlag != "" {
		w, err := report.ParseWeek(*weekFlag)
		if err != nil {
			return fmt.Errorf("--week: %w", err)
		}
		stem = w.String()
	}
	base := strings.TrimRight(*server, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return fmt.Errorf("--server %q: give a URL such as http://127.0.0.1:9464", *server)
	}
	url := base + "/reports/" + stem + "." + string(f)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", *server, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no Shoal is answering at %s (%v): start `shoal run` (or `shoal demo`) first, or point --server at its --http-addr", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read report from %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	name := stem + "." + string(f)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && reportFile.MatchString(params["filename"]) {
		name = params["filename"]
	}
	if *out == "-" {
		_, err := stdout.Write(body)
		return err
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	path := filepath.Join(*out, name)
	if err := os.WriteFile(path, body, 0o640); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", path, len(body))
	return nil
}
