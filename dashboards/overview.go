package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/text"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// howToRead is the overview's "how to read this / what Shoal never
// collects" panel.
func howToRead() string {
	return fmt.Sprintf(`### How to read this

Every number here describes a **team, a unit or the whole organisation** over one ISO week
(Monday to Sunday, in the team's time zone). None is ever computed or shown for a person.

- **Released weeks only.** A week is shown once it has ended plus a settle delay for late
  entries (two days by default), and it never changes afterwards: there is no running week to
  watch. The panel on the right says which week is shown and when it was released.

- **Fewer than k people, no number.** A team with fewer than k contributors (k = %d by default,
  never below %d; the *Pipeline & privacy* dashboard shows the k in force) has no series: it is
  counted in its unit only. A sibling that would let it be worked out from the unit total is
  hidden too, and so is a figure one person dominates, or a percentile over too few values.
  An empty cell means *withheld*, not *zero*. Values are rounded to three significant digits.
- **Outcomes, not activity.** Throughput, lead and cycle time, delivery against due dates, focus
  share and the response times teams agreed on. Compare a team with its own history and its own
  agreements (the *Team detail* dashboard draws them), not with other teams.
- **Hover a panel's title** for the exact definition of its metric.

### What Shoal never collects

No keystrokes, mouse movement, screenshots, window titles, URLs, app usage, idle or "away"
time, or location. Events that carry any of these are refused to a dead-letter topic with a
reason; unknown fields are refused too. Person identifiers are replaced on arrival by keyed
pseudonyms and never appear in a metric, a log line or this dashboard.`, privacy.DefaultMinGroupSize, privacy.FloorMinGroupSize)
}

// overview is the Organisation overview: the org's week over week, and
// units and teams side by side, one section per metric family.
func overview(catalog []outcome.Metric, byFamily map[outcome.Family][]outcome.Metric) *dashboard.DashboardBuilder {
	d := newDashboard("shoal-overview", "Shoal / Organisation overview",
		"The organisation in the last released week against the week before, and its units and teams side by side, for every outcome metric.").
		WithPanel(text.NewPanelBuilder().
			Title("How to read this / what Shoal never collects").
			Mode(text.TextModeMarkdown).
			Content(howToRead()).
			Span(18).Height(11)).
		WithPanel(releaseStat())
	for _, s := range sections {
		ms := byFamily[s.family]
		if len(ms) == 0 {
			continue
		}
		d = d.WithRow(dashboard.NewRowBuilder(s.title + ": the organisation, last released week and the week before"))
		w := statWidth(len(ms))
		for _, m := range ms {
			d = d.WithPanel(orgWeekOverWeek(m).Span(w))
		}
		d = d.WithRow(dashboard.NewRowBuilder(s.title + ": units and teams side by side")).
			WithPanel(sideBySide(s.title+": units, "+released, "Every unit's value in the last released week, one column per metric.", unitCells, "unit", ms)).
			WithPanel(sideBySide(s.title+": teams, "+released, "Every team with enough people to be shown, one column per metric; teams under k are counted in their unit only.", teamCells, "team", ms))
	}
	return d
}

// releaseStat shows which week the dashboards show (its Monday) and when
// it was released.
func releaseStat() *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title("Week shown").
		Description("The ISO week whose released outcomes every panel shows (its Monday, in the org's time zone), and when it was released. The next week is released once it has ended plus the settle delay.").
		Datasource(datasource()).
		WithTarget(instant("A", "max("+outcome.ReleaseWeekName+") * 1000", "week of")).
		WithTarget(instant("B", "max("+outcome.ReleasedAtName+") * 1000", "released")).
		Unit("dateTimeAsIsoNoDateIfToday").
		ColorMode(common.BigValueColorModeNone).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		NoValue("no week released yet").
		Span(6).Height(11)
}

// statWidth is the width of n stats that fill their lines evenly (at most
// four a line): 9 stats are three lines of three, 4 one line of four.
func statWidth(n int) uint32 {
	lines := (n + 3) / 4
	perLine := (n + lines - 1) / lines
	return uint32(24 / perLine)
}

// orgWeekOverWeek is a stat with the org's value in the last released week
// and the week before.
func orgWeekOverWeek(m outcome.Metric) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(m.Title).
		Description(describe(m, "Organisation-wide, in the last released week and the week before it.")).
		Datasource(datasource()).
		WithTarget(instant("A", sel(m.Name, orgCells), released)).
		WithTarget(instant("B", sel(m.Name, orgCells)+" offset 7d", weekBefore)).
		Unit(m.Unit.GrafanaUnit()).
		Thresholds(thresholds(m)).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		NoValue("withheld or no data").
		Span(6).Height(4)
	if m.Unit == outcome.Ratio {
		p = p.Min(0).Max(1)
	}
	return p
}

// sideBySide is a table of one row per unit (or team) and one column per
// metric of the family, this week.
func sideBySide(title, description, level, by string, ms []outcome.Metric) *table.PanelBuilder {
	p := table.NewPanelBuilder().
		Title(title).
		Description(description + " Empty means withheld by the disclosure rules, or no data.").
		Datasource(datasource()).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		Span(12).Height(8)
	rename := map[string]any{}
	for _, m := range ms {
		p = p.WithTarget(tableQuery(m.ID, sel(m.Name, level)))
		col := "Value #" + m.ID
		rename[col] = m.Title
		p = p.OverrideByName(m.Title, append(unitOverride(m.Unit.GrafanaUnit()),
			dashboard.DynamicConfigValue{Id: "description", Value: m.Help}))
	}
	exclude := map[string]any{"Time": true, "__name__": true, "job": true, "instance": true}
	if by == "unit" {
		exclude["team"] = true
	}
	return p.
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": exclude,
			"renameByName":  rename,
			"indexByName":   map[string]any{by: 0},
		}}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName(by)})
}
