// Package deploy holds what a platform team runs Shoal with — docker
// compose (compose/), Kubernetes manifests (kubernetes/), Prometheus scrape
// config, recording and alert rules with their unit tests (prometheus/),
// Grafana provisioning and the generated dashboards (grafana/) — and the
// tests that check them without Docker, a cluster or Grafana: every file
// parses, names only flags `shoal run` has and metrics Shoal exports, and
// passes promtool.
//
// It has no code of its own: nothing here may be imported.
package deploy
