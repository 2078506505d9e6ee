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
			WithPanel(teamsThisWeek(m))
	}
	return d
}

// weekByWeek draws the org and the selected units' completed weeks: the
// previous_week series steps once a week, so its history is the weekly
// history.
func weekByWeek(m outcome.Metric) *timeseries.PanelBuilder {
	return metricTrend(m.Title+": organisation and units, completed weeks", m).
		Description(describe(m, "Each step is one completed ISO week.")).
		WithTarget(query("A", sel(m.Name, orgCells, window(outcome.PreviousWeek)), "organisation")).
		WithTarget(query("B", sel(m.Name, unitCells, `unit=~"$unit"`, window(outcome.PreviousWeek)), "{{unit}}")).
		Span(12).Height(8)
}

// teamsThisWeek is a bar per team of the selected units, this week.
func teamsThisWeek(m outcome.Metric) *bargauge.PanelBuilder {
	p := bargauge.NewPanelBuilder().
		Title(m.Title + ": teams this week").
		Description(describe(m, "Teams under k are not shown: they are counted in their unit only.")).
		Datasource(datasource()).
		WithTarget(instant("A", sel(m.Name, teamCells, `unit=~"$unit"`, window(outcome.CurrentWeek)), "{{team}}")).
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
