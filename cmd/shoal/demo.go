package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/synth"
)

const demoSummary = `Run the whole pipeline on a synthetic organisation (about 30 teams in 6 units, 250 people,
12 weeks of events, some malformed and some forbidden): start the embedded broker, publish
the events, consume them into DuckDB until caught up, print a summary, and keep serving
/metrics until Ctrl-C (or exit with --once). Starts from an empty --data-dir each time.`

// demoMarker marks a data dir created by demo, so demo may wipe it.
const demoMarker = ".shoal-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig("shoal-demo")
	cfg.SQL.Addr, cfg.SQL.AllowAnonymous = "127.0.0.1:5433", true
	fs := newFlagSet("demo", demoSummary, stdout, stderr)
	cfg.registerFlags(fs)
	var opts synth.Options
	synthFlags(fs, &opts)
	once := fs.Bool("once", false, "exit after catching up instead of serving until Ctrl-C")
	if err := parseFlags(fs, args, &cfg, &cfg.configFile, stdout); err != nil {
		return err
	}
	if err := cfg.validate(false); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	logger := newLogger(&cfg, stderr)
	if err := freshDemoDir(cfg.DataDir); err != nil {
		return err
	}
	key, err := demoKey(&cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data dir: %s (pseudonym key: %s)\n", cfg.DataDir, cfg.PseudonymKeyFile)

	opts = opts.WithDefaults()
	org, msgs := synth.Generate(opts)
	if cfg.Teams == "" {
		if cfg.Teams, err = writeDemoTeams(cfg.DataDir, org); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "team agreements: %s (edit it and send SIGHUP or POST /-/reload)\n", cfg.Teams)
	p, err := startPipeline(ctx, cfg, key, logger)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.run(rctx) }()
	stopEarly := func(err error) error {
		cancel()
		<-done
		return err
	}

	began := time.Now()
	if err := publishAll(rctx, p.cfg.Brokers, cfg.Topic, msgs, newProgress(stderr, "published", int64(len(msgs)))); err != nil {
		return stopEarly(err)
	}
	bar := newProgress(stderr, "ingested", int64(len(msgs)))
	if err := p.waitCaughtUp(rctx, func(s ingest.Stats) { bar.update(s.Consumed) }); err != nil {
		return stopEarly(err)
	}
	st := p.consumer.Stats()
	bar.finish(st.Consumed)
	p.refreshServingNow(rctx, true) // the SQL tables show everything caught up
	if err := printDemoSummary(rctx, stdout, p, org, opts, st, time.Since(began)); err != nil {
		return stopEarly(err)
	}
	if *once {
		return stopEarly(nil)
	}
	fmt.Fprintf(stdout, "\nServing %s/metrics and the weekly reports at %s/reports/ (Kafka-protocol broker on %s). Press Ctrl-C to stop.\n", p.httpURL(), p.httpURL(), strings.Join(p.cfg.Brokers, ","))
	if p.sqlSrv != nil {
		host, port, _ := net.SplitHostPort(p.sqlSrv.Addr())
		fmt.Fprintf(stdout, "SQL (privacy-safe tables only): psql \"host=%s port=%s user=analyst dbname=shoal\" or shoal sql --addr %s \"SELECT * FROM shoal.weekly_outcomes LIMIT 5\"\n", host, port, p.sqlSrv.Addr())
	}
	return <-done
}

// freshDemoDir empties dir if demo made it, creates it if missing, and
// refuses to touch a non-empty directory demo did not make.
func freshDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read --data-dir: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("--data-dir %s is not empty and was not created by `shoal demo`; demo starts from scratch, so give it a new or empty directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear previous demo data in %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create --data-dir: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("created by shoal demo; removed and recreated by the next demo run\n"), 0o640)
}

// demoKey loads the configured key or generates one in the data dir.
func demoKey(cfg *Config) ([]byte, error) {
	if cfg.PseudonymKeyFile != "" {
		return privacy.LoadKeyFile(cfg.PseudonymKeyFile)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate pseudonym key: %w", err)
	}
	cfg.PseudonymKeyFile = filepath.Join(cfg.DataDir, "pseudonym.key")
	if err := os.WriteFile(cfg.PseudonymKeyFile, key, 0o600); err != nil {
		return nil, fmt.Errorf("write generated pseudonym key: %w", err)
	}
	return key, nil
}

func printDemoSummary(ctx context.Context, w io.Writer, p *pipeline, org *synth.Org, opts synth.Options, st ingest.Stats, took time.Duration) error {
	fmt.Fprintf(w, "\nCaught up in %s: %d messages read, %d events accepted, %d re-sent duplicates ignored, %d refused to %s.\n",
		took.Round(time.Millisecond), st.Consumed, st.Accepted, st.Duplicates, st.Rejected, p.cfg.DLQTopic)
	reasons := make([]string, 0, len(st.RejectedBy))
	for r := range st.RejectedBy {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  refused %-20s %d\n", r, st.RejectedBy[r])
	}

	// Privacy: which teams have at least k contributors in the last complete week.
	endDay := event.DayOf(opts.End, time.UTC)
	monday := endDay - (endDay+3)%7 // 1970-01-01 was a Thursday
	from, to := monday-7, monday-1
	people, err := p.store.TeamContributors(ctx, from, to)
	if err != nil {
		return fmt.Errorf("summarise teams: %w", err)
	}
	policy := p.teams.Get().Policy()
	cells, err := orgCells(ctx, p, org, people, from, to)
	if err != nil {
		return err
	}
	decisions, err := policy.Decide(cells)
	if err != nil {
		return fmt.Errorf("apply the suppression policy: %w", err)
	}
	var shown int
	var rolled, complement []string
	for _, t := range org.Teams {
		switch d := decisions["team:"+t.ID]; d.Reason {
		case privacy.ReasonVisible:
			shown++
		case privacy.ReasonBelowK:
			rolled = append(rolled, fmt.Sprintf("%s (unit %s, %d contributors)", t.ID, t.Unit, people[t.ID]))
		default:
			complement = append(complement, fmt.Sprintf("%s (unit %s)", t.ID, t.Unit))
		}
	}
	fmt.Fprintf(w, "\nWeek %s to %s, k = %d: %d teams shown, %d rolled up into their unit for having fewer than %d contributors, %d hidden so the rolled-up ones cannot be derived from unit totals:\n",
		event.DayTime(from).Format("2006-01-02"), event.DayTime(to).Format("2006-01-02"), policy.K, shown, len(rolled), policy.K, len(complement))
	for _, r := range rolled {
		fmt.Fprintf(w, "  rolled up:     %s\n", r)
	}
	for _, c := range complement {
		fmt.Fprintf(w, "  complementary: %s\n", c)
	}
	return nil
}

// orgCells builds the org → unit → team tree of distinct contributors over
// days [from, to] for the suppression policy.
func orgCells(ctx context.Context, p *pipeline, org *synth.Org, teamPeople map[string]int, from, to int32) ([]privacy.Cell, error) {
	var all []string
	var cells []privacy.Cell
	for _, u := range org.Units {
		n, err := p.store.DistinctPeople(ctx, u.Teams, from, to)
		if err != nil {
			return nil, err
		}
		cells = append(cells, privacy.Cell{ID: "unit:" + u.ID, Parent: "org", Level: outcome.LevelUnit, People: n})
		for _, t := range u.Teams {
			cells = append(cells, privacy.Cell{ID: "team:" + t, Parent: "unit:" + u.ID, Level: outcome.LevelTeam, People: teamPeople[t]})
		}
		all = append(all, u.Teams...)
	}
	n, err := p.store.DistinctPeople(ctx, all, from, to)
	if err != nil {
		return nil, err
	}
	return append(cells, privacy.Cell{ID: "org", Level: outcome.LevelOrg, People: n}), nil
}

// writeDemoTeams writes the demo organisation's team agreements file (its
// units, teams and time zones) into dir and returns its path.
func writeDemoTeams(dir string, org *synth.Org) (string, error) {
	var b strings.Builder
	b.WriteString("# Team agreements of the synthetic demo organisation, written by `shoal demo`.\n")
	b.WriteString("# See docs/agreements.md and docs/teams.example.yaml.\nmin_group_size: 5\n")
	b.WriteString("defaults:\n  response_sla: 24h\n  working_days: Mon-Fri\n  focus_block_min: 90m\n  overwork_hours_per_day: 10h\nunits:\n")
	tz := map[string]string{}
	for _, t := range org.Teams {
		tz[t.ID] = t.TimeZone
	}
	for _, u := range org.Units {
		fmt.Fprintf(&b, "  - id: %s\n    teams:\n", u.ID)
		for _, t := range u.Teams {
			fmt.Fprintf(&b, "      - id: %s\n        timezone: %s\n", t, tz[t])
		}
	}
	path := filepath.Join(dir, "teams.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		return "", fmt.Errorf("write demo teams file: %w", err)
	}
	return path, nil
}
