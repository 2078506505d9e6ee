// Command shoal is Shoal's command line: it reads flags, SHOAL_*
// environment variables and an optional YAML file into an app.Config and
// runs one subcommand. `run` and `demo` hand the configuration to package
// app, which builds and runs the pipeline; the client commands (report,
// sql) talk to a running Shoal over its HTTP and SQL endpoints and never
// open its DuckDB file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoal-analytics/shoal/transform"
)

const usage = `Shoal turns task, time-entry and request/response events into team-level outcome
metrics, and never watches a person.

Usage:
  shoal <command> [flags]

Commands:
  demo       start an embedded broker, publish a synthetic organisation, run the pipeline
             until it has caught up, print a summary and keep serving (--once to exit)
  run        the production pipeline: consume events from Kafka into DuckDB (with
             --intake-addr also the signed webhook intake)
  intake     only the signed webhook intake (GitHub, GitLab, Jira, CloudEvents) → Kafka
  generate   write a synthetic organisation's events as NDJSON, or publish them (--brokers)
  publish    send an NDJSON file of events to a Kafka topic, with progress
  sql        run one SQL statement against a running Shoal's governed SQL endpoint
  report     fetch a week's HR report (HTML, Markdown or CSV) from a running Shoal
  erase      erase people's stored events and per-person rows from a running Shoal
  dashboards write the Grafana dashboards generated from the metric catalog (--out DIR)
  bench      measure Shoal against the kafka-go ceiling, a naive pipeline and DuckDB's loader
  help       show this help, or "shoal help <command>" for a command's flags

Every flag of run and demo can also be set as SHOAL_<FLAG> (e.g. SHOAL_DLQ_TOPIC) or as a
key in the YAML file given by --config (e.g. dlq_topic: ...). A flag beats the environment,
which beats the file. The event contract is in docs/events.md.
`

func main() {
	transform.RunEngine() // when started as the SQL endpoint's engine process, serve that and exit
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its flag set and what it does.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "Run Shoal on a synthetic organisation with an embedded broker.", runDemo},
		{"run", "Run the production pipeline.", runRun},
		{"intake", "Run only the signed webhook intake.", runIntake},
		{"generate", "Write or publish a synthetic organisation's events.", runGenerate},
		{"publish", "Publish an NDJSON file of events to Kafka.", runPublish},
		{"sql", "Query a running Shoal's governed SQL endpoint.", runSQL},
		{"report", "Fetch the weekly HR report from a running Shoal.", runReport},
		{"erase", "Erase people's stored data from a running Shoal.", runErase},
		{"web-user", "Print a web configuration file with one basic-auth user.", runWebUser},
		{"dashboards", "Write the generated Grafana dashboards.", runDashboards},
		{"bench", "Benchmark Shoal against real alternatives on the same data.", runBench},
	}
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 {
			return runMain(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, rest, stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "shoal %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "shoal: unknown command %q\n\n%s", name, usage)
	return 2
}

// errUsage marks a flag-parsing failure already reported by the flag set.
var errUsage = errors.New("usage")

// newFlagSet returns a flag set whose --help prints the summary and flags
// to stdout, and whose errors go to stderr.
func newFlagSet(name, summary string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("shoal "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: shoal %s [flags]\n\n%s\n\nFlags (each also SHOAL_<NAME> in the environment):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags runs fs over args and maps parse failures to errUsage; --help
// prints to stdout and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string, yamlTarget any, configPath *string, stdout io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if configPath == nil {
		configPath = new(string)
	}
	full := fs.Usage
	fs.Usage = func() {} // on a bad flag, say what is wrong without the whole flag list
	defer func() { fs.Usage = full }()
	if err := parseLayered(fs, args, yamlTarget, configPath); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\nRun '%s --help' to see the flags.\n", fs.Name(), err, fs.Name())
		return errUsage
	}
	return nil
}
