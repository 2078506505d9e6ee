package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/progress"
	"github.com/shoal-analytics/shoal/synth"
)

const generateSummary = `Generate a synthetic organisation's events (tasks, time entries, requests and responses,
plus a sprinkling of malformed and forbidden events) as NDJSON to stdout or --out, or
publish them to Kafka with --brokers. The same --seed and --end give the same bytes.`

// synthFlags registers the organisation-size flags shared by generate and demo.
func synthFlags(fs interface {
	Int64Var(*int64, string, int64, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}, o *synth.Options) {
	d := synth.Options{}.WithDefaults()
	fs.Int64Var(&o.Seed, "seed", 1, "random seed; the same seed and --end give the same organisation and events")
	fs.IntVar(&o.Teams, "org-teams", d.Teams, "number of teams")
	fs.IntVar(&o.Units, "org-units", d.Units, "number of org units the teams belong to")
	fs.IntVar(&o.People, "org-people", d.People, "number of people across all teams")
	fs.IntVar(&o.Weeks, "org-weeks", d.Weeks, "weeks of history to generate, ending at --end")
	fs.Float64Var(&o.BadRate, "bad-rate", d.BadRate, "share of extra malformed or forbidden events (0: none)")
}

// badRateZeroMeansNone makes --bad-rate 0 mean no bad events (synth.Options
// reads 0 as "the default").
func badRateZeroMeansNone(o *synth.Options) {
	if o.BadRate == 0 {
		o.BadRate = -1
	}
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", generateSummary, stdout, stderr)
	var opts synth.Options
	synthFlags(fs, &opts)
	end := fs.String("end", "", "end of the generated period, RFC 3339 (default: now, rounded down to the hour)")
	out := fs.String("out", "", "write NDJSON to this file instead of stdout")
	var brokers ingest.StringList
	fs.Var(&brokers, "brokers", "publish to these Kafka brokers instead of writing NDJSON")
	topic := fs.String("topic", "shoal.events", "topic to publish to with --brokers")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	badRateZeroMeansNone(&opts)
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return fmt.Errorf("--end %q is not RFC 3339 (e.g. 2026-11-23T00:00:00Z): %w", *end, err)
		}
		opts.End = t
	}
	org, msgs := synth.Generate(opts)
	fmt.Fprintf(stderr, "generated %d events for %d teams in %d units\n", len(msgs), len(org.Teams), len(org.Units))
	if len(brokers) > 0 {
		if err := broker.EnsureTopics(ctx, brokers, 6, *topic); err != nil {
			return err
		}
		return publishAll(ctx, brokers, *topic, msgs, progress.New(stderr, "published", int64(len(msgs))))
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create --out file: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := synth.WriteNDJSON(bw, msgs); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return bw.Flush()
}
