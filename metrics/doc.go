// Package metrics defines Shoal's outcome metrics — the catalog that the
// exporter, the generated dashboards, the SQL views and the weekly report
// all share — and the Prometheus exporter that serves them.
//
// Every value is a team, unit or org aggregate over an ISO week; none is
// ever computed or shown for a person. Every series passes the privacy
// package's suppression policy before it is exported, and labels are only
// team, unit and window: never a person, task or pseudonym.
//
// The catalog has no cgo or Kafka dependency, so dashboards can be built
// from it alone.
package metrics
