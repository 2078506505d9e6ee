// Package metrics defines Shoal's outcome metrics — the catalog that the
// exporter, the generated dashboards, the SQL views and the weekly report
// all share — and the Prometheus exporter that serves them.
//
// Every value is a team, unit or org aggregate over an ISO week (or, for
// the SQL endpoint's daily table, a day); none is ever computed or shown
// for a person. Every cell passes the privacy package's suppression policy
// through Apply (weeks) or ApplyDaily (days, decided together with their
// weeks) before any output shows it, and labels are only team, unit and
// window: never a person, task or pseudonym.
//
// The catalog has no cgo or Kafka dependency, so dashboards can be built
// from it alone.
package metrics
