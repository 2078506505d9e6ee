// Package metrics is Shoal's Prometheus exporter: it serves the outcome
// cells of the metric catalog (package outcome) per team, unit and org, the
// team agreement gauges and the pipeline's own health, through one handler.
//
// It decides nothing about privacy: every outcome cell it exports comes
// from privacy.Apply, and only Visible, Defined cells become series. Labels
// are only team, unit and window: never a person, task or pseudonym. It
// imports no DuckDB, Kafka or ingest code; the composition root hands it a
// Source of outcome cells.
package metrics
