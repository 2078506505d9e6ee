package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Service renders, keeps and serves the weekly reports: on demand over
// HTTP (/reports/), and on a schedule into its directory. It gets a
// week's Data from the caller, already through the privacy policy, and
// computes nothing itself.
type Service struct {
	cfg   Schedule
	sched schedule
	dir   string
	data  func(ctx context.Context, week Week) (Data, error)
	loc   func() *time.Location
	now   func() time.Time
	log   *slog.Logger
}

// NewService returns a service that writes into dir on cfg's schedule.
// data returns a week's report data; loc returns the org's time zone in
// force (it decides what "last complete week" means); now is the clock.
func NewService(cfg Schedule, dir string, data func(context.Context, Week) (Data, error), loc func() *time.Location, now func() time.Time, logger *slog.Logger) (*Service, error) {
	sched, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, sched: sched, dir: dir, data: data, loc: loc, now: now, log: logger.With("component", "report")}, nil
}

// Dir is the directory the service keeps reports in.
func (s *Service) Dir() string { return s.dir }

// LastCompleteWeek is the ISO week before the current one in the org's
// zone, by the service's clock.
func (s *Service) LastCompleteWeek() Week { return WeekOf(s.now(), s.loc()).Add(-1) }

// Render renders week's report in format f.
func (s *Service) Render(ctx context.Context, week Week, f Format) ([]byte, error) {
	d, err := s.data(ctx, week)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Render(&buf, d, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteAll renders week's report in every format into the reports
// directory, each file replaced atomically.
func (s *Service) WriteAll(ctx context.Context, week Week) error {
	d, err := s.data(ctx, week)
	if err != nil {
		return err
	}
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Render(&buf, d, f); err != nil {
			return err
		}
		if err := s.save(FileName(week, f), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) save(name string, b []byte) error {
	dir := s.dir
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

// Run writes the previous ISO week's report at each scheduled time until
// ctx ends. Times are decided by the service's clock;
// a missed time (Shoal was down) is not caught up, as GET
// /reports/{week}.html renders any week on demand.
func (s *Service) Run(ctx context.Context) {
	log := s.log
	for {
		loc := s.sched.loc
		if loc == nil {
			loc = s.loc()
		}
		now := s.now()
		at := s.sched.next(now, loc)
		log.Debug("next weekly report", "at", at.Format(time.RFC3339))
		t := time.NewTimer(at.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		week := WeekOf(at, s.loc()).Add(-1)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := s.WriteAll(rctx, week)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Error("weekly report not written; it renders on demand at /reports/", "week", week.String(), "err", err)
			}
			continue
		}
		log.Info("weekly report written", "week", week.String(), "dir", s.dir)
	}
}

// FilePattern matches a report's file name: 2026-W47.html, or
// last-week.html for the last complete week.
var FilePattern = regexp.MustCompile(`^(\d{4}-W\d{2}|last-week)\.(html|md|csv)$`)

// Routes serves the reports: an index at /reports/ and each report at
// /reports/{week}.{format}, rendered on demand when no file exists yet.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /reports", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/reports/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /reports/{$}", s.serveIndex)
	mux.HandleFunc("GET /reports/{file}", s.serve)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	m := FilePattern.FindStringSubmatch(name)
	if m == nil {
		http.Error(w, fmt.Sprintf("no report %q: reports are named like 2026-W47.html, 2026-W47.md or 2026-W47.csv (or last-week.html); see /reports/", name), http.StatusNotFound)
		return
	}
	f, _ := ParseFormat(m[2])
	week := s.LastCompleteWeek()
	if m[1] != "last-week" {
		var err error
		if week, err = ParseWeek(m[1]); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
	}
	file := FileName(week, f)
	loc := s.loc()
	if week.Start(loc).After(s.now()) {
		http.Error(w, fmt.Sprintf("week %s has not started yet (it starts %s); the last complete week is %s", week, week.Start(loc).Format(time.DateOnly), s.LastCompleteWeek()), http.StatusNotFound)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.dir, file))
	if err != nil {
		b, err = s.Render(r.Context(), week, f)
		if err != nil {
			s.log.Error("report not rendered", "component", "report", "week", week.String(), "err", err)
			http.Error(w, "report not rendered: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !week.End(loc).After(s.now()) { // a complete week is kept; the current one changes still
			if err := s.save(file, b); err != nil {
				s.log.Warn("report rendered but not kept", "component", "report", "week", week.String(), "err", err)
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

func (s *Service) serveIndex(w http.ResponseWriter, r *http.Request) {
	type weekFiles struct {
		Week  string
		Files []string
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		http.Error(w, "list reports: "+err.Error(), http.StatusInternalServerError)
		return
	}
	by := map[string][]string{}
	for _, e := range entries {
		if m := FilePattern.FindStringSubmatch(e.Name()); m != nil && m[1] != "last-week" && !e.IsDir() {
			by[m[1]] = append(by[m[1]], e.Name())
		}
	}
	var weeks []weekFiles
	for wk, files := range by {
		slices.Sort(files)
		weeks = append(weeks, weekFiles{wk, files})
	}
	slices.SortFunc(weeks, func(a, b weekFiles) int { return strings.Compare(b.Week, a.Week) })
	c := s.cfg
	zone := c.ReportTimezone
	if zone == "" {
		zone = s.loc().String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	indexTemplate.Execute(w, map[string]any{
		"Last":  s.LastCompleteWeek().String(),
		"When":  fmt.Sprintf("%s at %s %s", c.ReportWeekday, c.ReportTime, zone),
		"Weeks": weeks,
	})
}
