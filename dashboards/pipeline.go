package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/shoal-analytics/shoal/outcome"
)

// Pipeline-health metric names exported by ingest (cmd/shoal's end-to-end
// test proves each one returns data from a real Shoal).
const (
	consumedTotal    = "shoal_ingest_messages_consumed_total"
	acceptedTotal    = "shoal_ingest_events_accepted_total"
	duplicateTotal   = "shoal_ingest_events_duplicate_total"
	rejectedTotal    = "shoal_ingest_events_rejected_total"
	batchesTotal     = "shoal_ingest_batches_committed_total"
	batchDuration    = "shoal_ingest_batch_duration_seconds"
	failuresTotal    = "shoal_ingest_failures_total"
	consumerLag      = "shoal_ingest_consumer_lag_messages"
	lastCommit       = "shoal_ingest_last_commit_timestamp_seconds"
	generationsTotal = "shoal_ingest_group_generations_total"
	// Exported by the metrics package's exporter.
	suppressedCells   = "shoal_suppressed_cells"
	refreshedAt       = "shoal_outcomes_refreshed_timestamp_seconds"
	refreshFailures   = "shoal_outcomes_refresh_failures_total"
	rateWindow        = "[$__rate_interval]"
	suppressedCurrent = suppressedCells
)

func rate(name string) string { return "rate(" + name + rateWindow + ")" }

func steps(base string, more ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
		Steps(append([]dashboard.Threshold{{Color: base}}, more...))
}

func smallStat(title, description, expr, unit string, th *dashboard.ThresholdsConfigBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		WithTarget(instant("A", expr, title)).
		Unit(unit).
		Thresholds(th).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Span(4).Height(4)
}

func graph(title, description, unit string, qs ...queryDef) *timeseries.PanelBuilder {
	p := newTimeseries(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Min(0).
		Span(12).Height(8)
	for _, q := range qs {
		p = p.WithTarget(query(q.ref, q.expr, q.legend))
	}
	return p
}

type queryDef struct{ ref, expr, legend string }

// pipelineHealth is the Pipeline & privacy dashboard: is Shoal keeping up,
// what does it refuse, and what does privacy withhold.
func pipelineHealth() *dashboard.DashboardBuilder {
	return newDashboard("shoal-pipeline", "Shoal / Pipeline & privacy",
		"Is Shoal keeping up with Kafka, what does it refuse to the dead-letter topic and why, and how many outcome cells the privacy policy withholds.").
		Time("now-6h", "now").
		WithRow(dashboard.NewRowBuilder("Ingest")).
		WithPanel(smallStat("Events accepted per second", "Events that passed validation and the privacy firewall and were committed, per second.",
			"sum("+rate(acceptedTotal)+")", "cps", steps("green"))).
		WithPanel(smallStat("Refused per second", "Events refused to the dead-letter topic per second, all reasons.",
			"sum("+rate(rejectedTotal)+")", "cps", steps("green", dashboard.Threshold{Value: ptr(1), Color: "orange"}, dashboard.Threshold{Value: ptr(50), Color: "red"}))).
		WithPanel(smallStat("Consumer lag", "Messages on the event topic not yet committed by Shoal, all partitions, as of the last batch.",
			"sum("+consumerLag+")", "short", steps("green", dashboard.Threshold{Value: ptr(10000), Color: "orange"}, dashboard.Threshold{Value: ptr(100000), Color: "red"}))).
		WithPanel(smallStat("Since last commit", "Time since the last batch committed to DuckDB. It grows while no events arrive, which is fine; it must not grow while lag does.",
			"time() - "+lastCommit, "s", steps("green", dashboard.Threshold{Value: ptr(900), Color: "orange"}, dashboard.Threshold{Value: ptr(3600), Color: "red"}))).
		WithPanel(smallStat("Reading restarts (1h)", "Times reading every partition started again in the last hour: when the topic grew, or after an error reading it.",
			"sum(increase("+generationsTotal+"[1h]))", "short", steps("green", dashboard.Threshold{Value: ptr(3), Color: "orange"}, dashboard.Threshold{Value: ptr(10), Color: "red"}))).
		WithPanel(smallStat("Retried failures (1h)", "Failed attempts (DLQ write, commit, fetch, group) that were retried, in the last hour.",
			"sum(increase("+failuresTotal+"[1h]))", "short", steps("green", dashboard.Threshold{Value: ptr(1), Color: "orange"}, dashboard.Threshold{Value: ptr(10), Color: "red"}))).
		WithPanel(graph("Ingest rate", "Messages read from Kafka, and what became of them, per second.", "cps",
			queryDef{"A", "sum(" + rate(consumedTotal) + ")", "consumed"},
			queryDef{"B", "sum(" + rate(acceptedTotal) + ")", "accepted"},
			queryDef{"C", "sum(" + rate(duplicateTotal) + ")", "duplicate (ignored)"},
			queryDef{"D", "sum(" + rate(rejectedTotal) + ")", "refused"})).
		WithPanel(graph("Consumer lag by partition", "Messages not yet committed, per partition of the event topic.", "short",
			queryDef{"A", "max by (partition) (" + consumerLag + ")", "partition {{partition}}"})).
		WithPanel(graph("Dead-letter rate by reason", "Events refused to the dead-letter topic per second, by reason (docs/events.md says what a producer should do about each).", "cps",
			queryDef{"A", "sum by (reason) (" + rate(rejectedTotal) + ")", "{{reason}}"})).
		WithPanel(graph("Batch commit duration", "Time to decode, dead-letter and commit one batch to DuckDB.", "s",
			queryDef{"A", "histogram_quantile(0.5, sum by (le) (" + rate(batchDuration+"_bucket") + "))", "p50"},
			queryDef{"B", "histogram_quantile(0.95, sum by (le) (" + rate(batchDuration+"_bucket") + "))", "p95"})).
		WithPanel(graph("Batches committed", "Batches committed to DuckDB together with their offsets, per second.", "cps",
			queryDef{"A", "sum(" + rate(batchesTotal) + ")", "batches"})).
		WithPanel(graph("Retried failures by stage", "Failed attempts that were retried, per second, by stage.", "cps",
			queryDef{"A", "sum by (stage) (" + rate(failuresTotal) + ")", "{{stage}}"})).
		WithRow(dashboard.NewRowBuilder("Privacy")).
		WithPanel(smallStat("k in force", "Minimum group size: no exported cell describes fewer people. A team below k is rolled up into its unit.",
			outcome.MinGroupSizeName, "short", steps("blue"))).
		WithPanel(smallStat("Cells withheld this week", "Outcome cells of this week withheld by the privacy policy, all metrics and levels.",
			"sum("+suppressedCurrent+")", "short", steps("blue"))).
		WithPanel(smallStat("Outcome snapshot age", "Time since the exported outcome snapshot was recomputed (every 5 s while Shoal runs).",
			"time() - "+refreshedAt, "s", steps("green", dashboard.Threshold{Value: ptr(60), Color: "orange"}, dashboard.Threshold{Value: ptr(300), Color: "red"}))).
		WithPanel(smallStat("Snapshot refresh failures (1h)", "Failed recomputations of the outcome snapshot in the last hour; the previous snapshot stays served.",
			"sum(increase("+refreshFailures+"[1h]))", "short", steps("green", dashboard.Threshold{Value: ptr(1), Color: "red"}))).
		WithPanel(bargauge.NewPanelBuilder().
			Title("Withheld this week by level and reason").
			Description("below_k: fewer than k people behind the cell. complementary: enough people, but hidden so that a withheld sibling cannot be worked out from the parent total.").
			Datasource(datasource()).
			WithTarget(instant("A", "sum by (level, reason) ("+suppressedCurrent+")", "{{level}} {{reason}}")).
			Unit("short").
			Thresholds(steps("blue")).
			DisplayMode(common.BarGaugeDisplayModeBasic).
			Orientation(common.VizOrientationHorizontal).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			Span(8).Height(4)).
		WithPanel(graph("Withheld cells over time", "Cells of the running week withheld by the privacy policy, by reason. A spike means teams fell below k (or a team file change).", "short",
			queryDef{"A", "sum by (reason) (" + suppressedCurrent + ")", "{{reason}}"})).
		WithPanel(table.NewPanelBuilder().
			Title("Withheld this week by metric").
			Description("Cells withheld per metric; a metric's family decides whose people count (task actors, people who logged time, requesters and responders).").
			Datasource(datasource()).
			WithTarget(tableQuery("A", "sum by (metric, level, reason) ("+suppressedCurrent+")")).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true},
				"renameByName":  map[string]any{"Value": "cells withheld"},
			}}).
			Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
			Span(12).Height(8))
}
