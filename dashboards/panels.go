package dashboards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/shoal-analytics/shoal/outcome"
)

// DatasourceUID is the uid of the one Prometheus datasource every panel,
// target and template variable references; deploy/grafana/provisioning
// provisions it under this uid.
const DatasourceUID = "shoal-prometheus"

func datasource() common.DataSourceRef {
	typ, uid := "prometheus", DatasourceUID
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// Label matchers of the three levels of outcome cells: the org cell has no
// team and no unit, a unit cell no team.
const (
	orgCells  = `team="",unit=""`
	unitCells = `team="",unit!=""`
	teamCells = `team!=""`
)

// sel is a PromQL selector of name with the matchers.
func sel(name string, matchers ...string) string {
	return name + "{" + strings.Join(matchers, ",") + "}"
}

// query is a Prometheus target on the provisioned datasource.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(datasource()).RefId(ref).Expr(expr).LegendFormat(legend)
}

// instant is an instant query (stats, bar gauges and tables show the
// latest value).
func instant(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return query(ref, expr, legend).Instant()
}

// tableQuery is an instant query in table format; tables merge several of
// them on their labels.
func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return instant(ref, expr, "__auto").Format(prometheus.PromQueryFormatTable)
}

func ptr(f float64) *float64 { return &f }

// thresholds colours a metric's values by its direction. A ratio has
// universal bands (share of tasks on time, share of overworked days); a
// duration or count has no universal good value — the team's own
// agreements and history are the yardstick — so it gets one neutral colour.
func thresholds(m outcome.Metric) *dashboard.ThresholdsConfigBuilder {
	steps := []dashboard.Threshold{{Color: "blue"}}
	switch {
	case m.Unit == outcome.Ratio && m.Direction == outcome.HigherIsBetter:
		steps = []dashboard.Threshold{{Color: "red"}, {Value: ptr(0.6), Color: "orange"}, {Value: ptr(0.8), Color: "green"}}
	case m.Unit == outcome.Ratio && m.Direction == outcome.LowerIsBetter:
		steps = []dashboard.Threshold{{Color: "green"}, {Value: ptr(0.15), Color: "orange"}, {Value: ptr(0.3), Color: "red"}}
	case m.Direction == outcome.LowerIsBetter && m.Unit != outcome.Seconds:
		// A count where zero is the goal (requests open past the SLA).
		steps = []dashboard.Threshold{{Color: "green"}, {Value: ptr(1), Color: "orange"}, {Value: ptr(5), Color: "red"}}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

// describe is a panel's description: the catalog's help, its exact
// definition and which way is better.
func describe(m outcome.Metric, extra string) string {
	d := m.Help + " " + m.Definition
	switch m.Direction {
	case outcome.HigherIsBetter:
		d += " Higher is better."
	case outcome.LowerIsBetter:
		d += " Lower is better."
	}
	if extra != "" {
		d += " " + extra
	}
	return d
}

// Legends of the last release and the one before it (the same series a
// week earlier: a series changes only at a release).
const (
	released   = "last released week"
	weekBefore = "the week before"
)

// unitOverride sets a field's unit by the query that produced it.
func unitOverride(unit string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "unit", Value: unit}}
}

// newTimeseries is a time series panel with a visible legend and a
// tooltip listing every series.
func newTimeseries(title string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Datasource(datasource()).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

// metricTrend is a time series of one catalog metric week by week: its
// unit and thresholds, steps (a window's value holds until the next), and
// an axis from 0 (to 1 for ratios).
func metricTrend(title string, m outcome.Metric) *timeseries.PanelBuilder {
	p := newTimeseries(title).
		Unit(m.Unit.GrafanaUnit()).
		Thresholds(thresholds(m)).
		LineInterpolation(common.LineInterpolationStepAfter).
		SpanNulls(common.BoolOrFloat64{Bool: ptrBool(true)}).
		Min(0)
	if m.Unit == outcome.Ratio {
		p = p.Max(1)
	}
	return p
}
