package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/shoal-analytics/shoal/outcome"
)

// family is the dashboard of one metric family: per metric, the org and
// units week by week next to the teams this week.
func family(s section, ms []outcome.Metric) *dashboard.DashboardBuilder {
	d := newDashboard(s.uid, "Shoal / "+s.title, s.intro).
		WithVariable(unitVariable(`{__name__=~"`+outcomeNames(ms)+`",team="",unit!=""}`, true))
	for _, m := range ms {
		d = d.WithRow(dashboard.NewRowBuilder(m.Title)).
			WithPanel(weekByWeek(m)).
			WithPanel(teamsReleased(m))
	}
	return d
}

// weekByWeek draws the org and the selected units' released weeks: the
// exported series change once a week, at a release, so their history is
// the weekly history.
func weekByWeek(m outcome.Metric) *timeseries.PanelBuilder {
	return metricTrend(m.Title+": organisation and units, released weeks", m).
		Description(describe(m, "Each step is one released ISO week (a week is released once it has ended plus the settle delay, and never changes).")).
		WithTarget(query("A", sel(m.Name, orgCells), "organisation")).
		WithTarget(query("B", sel(m.Name, unitCells, `unit=~"$unit"`), "{{unit}}")).
		Span(12).Height(8)
}

// teamsReleased is a bar per team of the selected units, in the last
// released week.
func teamsReleased(m outcome.Metric) *bargauge.PanelBuilder {
	p := bargauge.NewPanelBuilder().
		Title(m.Title + ": teams, " + released).
		Description(describe(m, "Teams under k are not shown: they are counted in their unit only.")).
		Datasource(datasource()).
		WithTarget(instant("A", sel(m.Name, teamCells, `unit=~"$unit"`), "{{team}}")).
		Unit(m.Unit.GrafanaUnit()).
		Thresholds(thresholds(m)).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Min(0).
		Span(12).Height(8)
	if m.Unit == outcome.Ratio {
		p = p.Max(1)
	}
	return p
}
