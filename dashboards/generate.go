package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/shoal-analytics/shoal/outcome"
)

// File is one generated dashboard and the file name it is written as.
type File struct {
	Name      string // e.g. shoal-overview.json
	Dashboard dashboard.Dashboard
}

// section is the dashboard of one metric family.
type section struct {
	family outcome.Family
	title  string
	uid    string
	intro  string
}

// sections are the family dashboards, in display order. A catalog family
// without a section is an error: a new family needs a dashboard.
var sections = []section{
	{outcome.Flow, "Flow", "shoal-flow",
		"How work flows through teams: throughput, lead and cycle time percentiles, work in progress, delivery against due dates, reopened and blocked work."},
	{outcome.Time, "Focus & well-being", "shoal-focus",
		"How the time people chose to log is spent: focus share, deep-work blocks, meeting load, and the overwork signal (a team condition, never a person's)."},
	{outcome.Async, "Async collaboration", "shoal-async",
		"How well teams keep the response times they agreed on: SLA adherence, median response time and requests left open past the SLA."},
}

// agreementLine is a team agreement drawn on a metric's team panel.
type agreementLine struct {
	gauge, legend string
}

// agreementLines are the team agreements drawn next to a metric on the
// Team detail dashboard, by catalog ID (same unit as the metric).
var agreementLines = map[string]agreementLine{
	"response_time_p50": {outcome.TeamResponseSLAName, "agreed response SLA (working time)"},
}

// Generate builds every dashboard from catalog (outcome.Catalog in
// production; tests pass a longer one to prove that a new entry gets its
// panels).
func Generate(catalog []outcome.Metric) ([]File, error) {
	byFamily := map[outcome.Family][]outcome.Metric{}
	for _, m := range catalog {
		byFamily[m.Family] = append(byFamily[m.Family], m)
	}
	known := map[outcome.Family]bool{}
	for _, s := range sections {
		known[s.family] = true
	}
	for f, ms := range byFamily {
		if !known[f] {
			return nil, fmt.Errorf("metric %s has family %q, which has no dashboard section: add one to dashboards.sections", ms[0].Name, f)
		}
	}
	builders := []struct {
		name string
		b    *dashboard.DashboardBuilder
	}{
		{"shoal-overview.json", overview(catalog, byFamily)},
		{"shoal-team.json", teamDetail(catalog, byFamily)},
	}
	for _, s := range sections {
		builders = append(builders, struct {
			name string
			b    *dashboard.DashboardBuilder
		}{s.uid + ".json", family(s, byFamily[s.family])})
	}
	builders = append(builders, struct {
		name string
		b    *dashboard.DashboardBuilder
	}{"shoal-pipeline.json", pipelineHealth()})
	out := make([]File, 0, len(builders))
	for _, b := range builders {
		d, err := b.b.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", b.name, err)
		}
		layout(&d)
		numberPanels(&d)
		out = append(out, File{Name: b.name, Dashboard: d})
	}
	return out, nil
}

// layout places the panels on Grafana's 24-column grid in order, left to
// right, starting a new line when a panel does not fit (the SDK builder's
// own placement lets a panel run past column 24); a row takes a line of
// its own.
func layout(d *dashboard.Dashboard) {
	const columns = 24
	var x, y, lineH uint32
	newLine := func() { y, x, lineH = y+lineH, 0, 0 }
	for _, p := range d.Panels {
		switch {
		case p.RowPanel != nil:
			if x > 0 {
				newLine()
			}
			p.RowPanel.GridPos = &dashboard.GridPos{X: 0, Y: y, W: columns, H: 1}
			y++
		case p.Panel != nil:
			g := p.Panel.GridPos
			if g == nil {
				g = dashboard.NewGridPos()
				p.Panel.GridPos = g
			}
			if x+g.W > columns {
				newLine()
			}
			g.X, g.Y = x, y
			x += g.W
			lineH = max(lineH, g.H)
			if x >= columns {
				newLine()
			}
		}
	}
}

// numberPanels gives every panel and row a unique id, in grid order.
func numberPanels(d *dashboard.Dashboard) {
	next := uint32(0)
	id := func() uint32 { next++; return next }
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			n := id()
			p.Panel.Id = &n
		case p.RowPanel != nil:
			p.RowPanel.Id = id()
			for i := range p.RowPanel.Panels {
				n := id()
				p.RowPanel.Panels[i].Id = &n
			}
		}
	}
}

// Marshal is the committed form of a dashboard: indented JSON and a final
// newline.
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Write generates the dashboards of catalog into dir, one JSON file each,
// and returns the file names written.
func Write(dir string, catalog []outcome.Metric) ([]string, error) {
	files, err := Generate(catalog)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dashboards dir: %w", err)
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		b, err := Marshal(f.Dashboard)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", f.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
			return nil, fmt.Errorf("write dashboard: %w", err)
		}
		names = append(names, f.Name)
	}
	return names, nil
}

// newDashboard is a dashboard with Shoal's common settings: tag, links to
// the other Shoal dashboards, weeks of history, ISO weeks start on Monday.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"shoal"}).
		Editable().
		Timezone(common.TimeZoneBrowser).
		WeekStart("monday").
		Time("now-90d", "now").
		Refresh("1m").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("Shoal dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"shoal"}).
			AsDropdown(true).
			KeepTime(true).
			IncludeVars(true))
}

// outcomeNames is a regex alternative of the catalog's metric names (for
// template variables that list the teams or units with any visible cell).
func outcomeNames(ms []outcome.Metric) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, "|")
}

// labelValues is a Grafana Prometheus variable query.
func labelValues(selector, label string) string {
	return "label_values(" + selector + ", " + label + ")"
}
