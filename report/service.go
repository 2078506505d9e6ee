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

// Service renders, keeps and serves the weekly reports of released weeks:
// each is written into its directory when its week is released (Written),
// and any released week is served over HTTP (/reports/), rendered on
// demand when no file exists yet. It gets a week's Data from the caller,
// already decided by the release, and computes nothing itself.
type Service struct {
	dir  string
	data func(ctx context.Context, week Week) (Data, error)
	// latest is the last released week; false when none is.
	latest func(ctx context.Context) (Week, bool, error)
	now    func() time.Time
	log    *slog.Logger
}

// ErrNotReleased is returned (wrapped, saying when it will be) by a data
// function for a week that is not released yet: no report shows a week
// before its release.
var ErrNotReleased = errors.New("not released yet")

// NewService returns a service that keeps reports in dir. data returns a
// released week's report data (an error wrapping ErrNotReleased for any
// other week); latest returns the last released week; now is the clock.
func NewService(dir string, data func(context.Context, Week) (Data, error), latest func(context.Context) (Week, bool, error), now func() time.Time, logger *slog.Logger) *Service {
	return &Service{dir: dir, data: data, latest: latest, now: now, log: logger.With("component", "report")}
}

// Dir is the directory the service keeps reports in.
func (s *Service) Dir() string { return s.dir }

// Released writes the report of week, just released, in every format; a
// failure is logged (the report still renders on demand).
func (s *Service) Released(ctx context.Context, week Week) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := s.WriteAll(rctx, week); err != nil {
		if ctx.Err() == nil {
			s.log.Error("weekly report not written; it renders on demand at /reports/", "week", week.String(), "err", err)
		}
		return
	}
	s.log.Info("weekly report written", "week", week.String(), "dir", s.dir)
}

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
	if err := os.MkdirAll(dir, 0o700); err != nil {
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
	// Private to Shoal's user, like every file in the data dir: readers get
	// the reports over HTTP.
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write report %s: %w", name, err)
	}
	return nil
}

// FilePattern matches a report's file name: 2026-W47.html, or
// last-week.html for the last released week.
var FilePattern = regexp.MustCompile(`^(\d{4}-W\d{2}|last-week)\.(html|md|csv)$`)

// Routes serves the reports: an index at /reports/ and each report at
// /reports/{week}.{format}, rendered on demand when no file exists yet.
// guard wraps every handler (access control).
func (s *Service) Routes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.Handle("GET /reports", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/reports/", http.StatusMovedPermanently)
	})))
	mux.Handle("GET /reports/{$}", guard(http.HandlerFunc(s.serveIndex)))
	mux.Handle("GET /reports/{file}", guard(http.HandlerFunc(s.serve)))
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	m := FilePattern.FindStringSubmatch(name)
	if m == nil {
		http.Error(w, fmt.Sprintf("no report %q: reports are named like 2026-W47.html, 2026-W47.md or 2026-W47.csv (or last-week.html); see /reports/", name), http.StatusNotFound)
		return
	}
	f, _ := ParseFormat(m[2])
	var week Week
	if m[1] == "last-week" {
		latest, ok, err := s.latest(r.Context())
		if err != nil {
			http.Error(w, "report not rendered: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !ok {
			http.Error(w, "no week has been released yet: a week is released once it has ended plus the settle delay (--settle-delay)", http.StatusNotFound)
			return
		}
		week = latest
	} else {
		var err error
		if week, err = ParseWeek(m[1]); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
	}
	file := FileName(week, f)
	b, err := os.ReadFile(filepath.Join(s.dir, file))
	if err != nil {
		b, err = s.Render(r.Context(), week, f)
		if errors.Is(err, ErrNotReleased) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			s.log.Error("report not rendered", "component", "report", "week", week.String(), "err", err)
			http.Error(w, "report not rendered: "+err.Error(), http.StatusInternalServerError)
			return
		}
		// Rendered for this request only: a request never writes a file
		// (the release writes its week's report).
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
{{if .Last}}<p>Last released week, {{.Last}}: <a href="{{.Last}}.html">HTML</a> · <a href="{{.Last}}.md">Markdown</a> · <a href="{{.Last}}.csv">CSV</a></p>{{else}}<p>No week has been released yet.</p>{{end}}
<p class="m">A week's report is written when the week is released (once it has ended plus the settle delay); any other released week renders on demand at /reports/YEAR-Wnn.html (or .md, .csv).</p>
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
	last := ""
	if latest, ok, err := s.latest(r.Context()); err != nil {
		http.Error(w, "list reports: "+err.Error(), http.StatusInternalServerError)
		return
	} else if ok {
		last = latest.String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	indexTemplate.Execute(w, map[string]any{
		"Last":  last,
		"Weeks": weeks,
	})
}
