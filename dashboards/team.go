package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/text"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/shoal-analytics/shoal/outcome"
)

// teamVar selects the team the Team detail dashboard's variables name.
const teamVar = `team="$team",unit="$unit"`

// unitVariable lists the units that have a team with any visible cell.
func unitVariable(selector string, all bool) *dashboard.QueryVariableBuilder {
	q := labelValues(selector, "unit")
	v := dashboard.NewQueryVariableBuilder("unit").
		Label("Unit").
		Description("Units with at least one team shown (teams under k are counted in their unit only).").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: &q}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if all {
		v = v.IncludeAll(true).Multi(true).AllValue(".+")
	}
	return v
}

// teamDetail is one team's outcomes next to its own agreements.
func teamDetail(catalog []outcome.Metric, byFamily map[outcome.Family][]outcome.Metric) *dashboard.DashboardBuilder {
	teamQ := labelValues(`{__name__=~"`+outcomeNames(catalog)+`",team!="",unit="$unit"}`, "team")
	d := newDashboard("shoal-team", "Shoal / Team detail",
		"One team's outcomes this week and last, week by week, next to what the team agreed in the teams file (response SLA, focus block, overwork threshold).").
		WithVariable(unitVariable(`{__name__=~"`+outcomeNames(catalog)+`",team!=""}`, false)).
		WithVariable(dashboard.NewQueryVariableBuilder("team").
			Label("Team").
			Description("Teams of the unit with enough people to be shown.").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: &teamQ}).
			Definition(teamQ).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithPanel(text.NewPanelBuilder().
			Title("About this team view").
			Mode(text.TextModeMarkdown).
			Content("Values of **$team** (unit **$unit**): *this week* is still running, *last week* is complete; the lines step once a week. " +
				"A team with fewer than k people is not listed: it is counted in its unit only (see the overview). " +
				"Compare the team with its own history and its own agreements, not with other teams.").
			Span(16).Height(4)).
		WithPanel(agreementsStat())
	for _, s := range sections {
		ms := byFamily[s.family]
		if len(ms) == 0 {
			continue
		}
		d = d.WithRow(dashboard.NewRowBuilder(s.title))
		for _, m := range ms {
			d = d.WithPanel(teamMetric(m))
		}
	}
	return d
}

// agreementsStat shows what the team agreed and the k in force.
func agreementsStat() *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title("What $team agreed").
		Description("The team's own agreements from the teams file: response SLA (working time), shortest deep-work block, daily overwork threshold; and the minimum group size k in force.").
		Datasource(datasource()).
		WithTarget(instant("SLA", sel(outcome.TeamResponseSLAName, teamVar), "response SLA")).
		WithTarget(instant("FOCUS", sel(outcome.TeamFocusBlockName, teamVar), "focus block")).
		WithTarget(instant("OVERWORK", sel(outcome.TeamOverworkPerDayName, teamVar), "overwork above, per day")).
		WithTarget(instant("K", outcome.MinGroupSizeName, "k (min group size)")).
		Unit("s").
		OverrideByQuery("K", unitOverride("short")).
		Thresholds(steps("text")).
		ColorMode(common.BigValueColorModeNone).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValueAndName).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Span(8).Height(4)
}

// teamMetric is one metric of the team, released week by week, with
// the team's agreement as a dashed red line where one applies.
func teamMetric(m outcome.Metric) *timeseries.PanelBuilder {
	extra := ""
	line, hasLine := agreementLines[m.ID]
	if hasLine {
		extra = "The dashed red line is the team's " + line.legend + "."
	}
	p := metricTrend(m.Title, m).
		Description(describe(m, extra)).
		WithTarget(query("A", sel(m.Name, teamVar), "released weeks")).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeOff)).
		Span(8).Height(7)
	if hasLine {
		p = p.WithTarget(query("AGREED", sel(line.gauge, teamVar), line.legend)).
			OverrideByQuery("AGREED", []dashboard.DynamicConfigValue{
				{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}},
				{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
				{Id: "custom.lineWidth", Value: 2},
			})
	}
	return p
}

func ptrBool(b bool) *bool { return &b }
