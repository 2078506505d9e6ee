// Package app is one running Shoal, the composition root: its Config embeds
// each package's own configuration and is validated once; New builds every
// component with an injected logger and Prometheus registry (the embedded
// broker or the configured Kafka, the DuckDB store, the consumer with the
// store as its sink, the exporter, the SQL endpoint and its publisher, the
// report service); Run runs them as one oklog/run group and shuts down in
// order. It also serves the HTTP routes (/metrics, /healthz, /readyz,
// /-/reload, /reports/). Before anything is written, New makes the data
// directory private to Shoal's user (umask 077, the directory 0700 and
// every file in it 0600, tightened when it already existed); run's
// configuration refuses a pseudonym key inside it and an embedded broker
// off loopback.
//
// It wires and schedules; it decides nothing about privacy (every output
// gets its cells from privacy.Apply and privacy.ApplyDaily) and holds no
// SQL schema or report layout of its own.
package app
