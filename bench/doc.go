// Package bench is the harness behind `shoal bench`: it measures Shoal
// against real alternatives (the kafka-go ceiling, a naive pipeline,
// DuckDB's own NDJSON loader) on the same machine and the same data in one
// run, and prints and writes the results as a table and Markdown.
//
// It owns the presets and phases, the synthetic data it publishes to an
// embedded broker, the child processes (each phase runs in its own process,
// so each has its own peak RSS and CPU time), the result table and the
// generated part of BENCHMARKS.md (between its markers; the analysis around
// them is kept).
//
// Each phase runs as `BINARY bench --phase P ...`, BINARY being the running
// executable: a binary that calls Run must hand its `bench` subcommand's
// flags (RegisterFlags) to Run, as shoal does.
//
// It drives Shoal only through the exported API of app, ingest, transform,
// broker and privacy, as any other caller would: it never reaches into a
// package through a hook made for it, and nothing below it imports bench
// (and bench never imports cmd).
// Its input is synthetic (package synth), so no real person's identifier
// passes through it; even so, the stores it fills hold no raw person
// identifier: the Shoal phases pseudonymize as Shoal does, the naive
// pipeline stores pseudonyms and the read_json baseline salted hashes.
package bench
