package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/outcome"
)

// AgreementsCollector exports the team agreements in force as gauges with
// team and unit labels only, so dashboards can draw a team's own promises
// (its response SLA, its focus block) next to its outcomes. It reads the
// agreements on every scrape, so a reload shows at the next scrape.
//
// A team is exported only while it has a visible outcome cell: a team
// rolled up for having fewer than k people appears in no series at all,
// the same as in the outcome metrics.
type AgreementsCollector struct {
	get     func() *agreements.Org
	visible func() map[string]bool

	sla, focus, overwork, k *prometheus.Desc
}

var _ prometheus.Collector = (*AgreementsCollector)(nil)

// NewAgreementsCollector registers a collector of the teams file in force,
// which get returns; teams the file does not list get the org defaults and
// are not exported. visible returns the teams that have a visible outcome cell (the
// Exporter's VisibleTeams); nil exports every listed team.
func NewAgreementsCollector(get func() *agreements.Org, visible func() map[string]bool, reg prometheus.Registerer) *AgreementsCollector {
	labels := []string{"team", "unit"}
	c := &AgreementsCollector{
		get:     get,
		visible: visible,
		sla: prometheus.NewDesc(outcome.TeamResponseSLAName,
			"The team's agreed response_sla: working time within which a request should get a first response.", labels, nil),
		focus: prometheus.NewDesc(outcome.TeamFocusBlockName,
			"The team's agreed focus_block_min: the shortest focus entry that counts as a deep-work block.", labels, nil),
		overwork: prometheus.NewDesc(outcome.TeamOverworkPerDayName,
			"The team's agreed overwork_hours_per_day, in seconds per day: more logged time in a day counts towards the overwork signal.", labels, nil),
		k: prometheus.NewDesc(outcome.MinGroupSizeName,
			"The minimum group size k in force: no exported cell describes fewer people.", nil, nil),
	}
	reg.MustRegister(c)
	return c
}

// Describe implements prometheus.Collector.
func (c *AgreementsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sla
	ch <- c.focus
	ch <- c.overwork
	ch <- c.k
}

// Collect implements prometheus.Collector.
func (c *AgreementsCollector) Collect(ch chan<- prometheus.Metric) {
	org := c.get()
	ch <- prometheus.MustNewConstMetric(c.k, prometheus.GaugeValue, float64(org.MinGroupSize()))
	var visible map[string]bool
	if c.visible != nil {
		visible = c.visible()
	}
	for _, t := range org.Teams() {
		if c.visible != nil && !visible[t.Team] {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.sla, prometheus.GaugeValue, t.ResponseSLA.Seconds(), t.Team, t.Unit)
		ch <- prometheus.MustNewConstMetric(c.focus, prometheus.GaugeValue, t.FocusBlockMin.Seconds(), t.Team, t.Unit)
		ch <- prometheus.MustNewConstMetric(c.overwork, prometheus.GaugeValue, t.OverworkPerDay.Seconds(), t.Team, t.Unit)
	}
}
