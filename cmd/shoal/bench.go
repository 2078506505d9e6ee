package main

import (
	"context"
	"io"
	"strings"

	"github.com/shoal-analytics/shoal/bench"
)

const benchSummary = `Measure Shoal against real alternatives on the same machine and the same data, in one run:
generate a synthetic organisation's events once, publish them to an embedded broker, then run
each measurement in its own child process (so each has its own peak RSS):

  ceiling   kafka-go consumer-group read of every event, with offset commits, doing nothing else
  shoal     Shoal end to end: broker → decode → firewall → pseudonymize → Arrow → DuckDB →
            rollups committed; then the outcome refresh, /metrics scrape latency and the
            weekly HTML report
  naive     the same kafka-go client, encoding/json into a struct, one INSERT per event through
            database/sql, the rollup as one SQL query at the end (--naive-events of them)
  readjson  DuckDB's own loader: read_json of the same events as NDJSON, then the same rollup
  stage     Shoal without Kafka: the same bytes from memory through decode → validate →
            firewall → pseudonymize → Arrow → DuckDB → rollups
  sql       Shoal on the shoal phase's store with the SQL endpoint on: publishing the
            privacy-safe tables, then a typical analyst query over the weekly view (pgx)
  absorb    with the shoal phase's store: absorb --absorb new events incrementally, then
            recompute every rollup from the raw events (Rebuild)

It prints one table with the ratios and writes it as Markdown (--out, default BENCHMARKS.md)
with the machine, the commit and the exact command. --preset small (about 1 M events) finishes
in a few minutes on 2 cores; --preset large is about 20 M events.`

// runBench is `shoal bench`, the parent run and each phase's child process
// alike (package bench runs the phases as `shoal bench --phase P ...`).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := newFlagSet("bench", benchSummary, stdout, stderr)
	cfg.RegisterFlags(fs)
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	cfg.Command = "shoal bench " + strings.Join(args, " ")
	return bench.Run(ctx, cfg, stdout, stderr)
}
