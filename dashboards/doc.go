// Package dashboards generates Shoal's Grafana dashboards from the metric
// catalog (outcome.Catalog) with the Grafana Foundation SDK: adding a
// catalog entry adds its panels to every dashboard of its family. The JSON
// is committed under deploy/grafana/dashboards (`make generate`) and
// provisioned next to one Prometheus datasource, DatasourceUID.
//
// It imports only package outcome (the catalog and the names of the series
// Shoal exports), so it builds without cgo, DuckDB, Kafka or the Prometheus
// client. It never queries a series below team level: every panel shows
// team, unit or org cells that already passed the privacy policy.
package dashboards
