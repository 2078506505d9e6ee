package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shoal-analytics/shoal/dashboards"
	"github.com/shoal-analytics/shoal/outcome"
)

const dashboardsSummary = `Write Shoal's Grafana dashboards, generated from the metric catalog, into --out, one JSON
file each: Organisation overview, Team detail, Flow, Focus & well-being, Async
collaboration, Pipeline & privacy. Every panel queries the Prometheus datasource with uid
` + dashboards.DatasourceUID + ` (deploy/grafana/provisioning provisions it). The committed copies
in deploy/grafana/dashboards are regenerated with: make generate`

func runDashboards(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dashboards", dashboardsSummary, stdout, stderr)
	out := fs.String("out", "", "directory to write the dashboard JSON files into, created if missing (required; e.g. deploy/grafana/dashboards)")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required: the directory for the dashboard JSON files, e.g. --out deploy/grafana/dashboards")
	}
	names, err := dashboards.Write(*out, outcome.Catalog)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d dashboards to %s: %s\n", len(names), *out, strings.Join(names, ", "))
	return nil
}
