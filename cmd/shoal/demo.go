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

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/progress"
	"github.com/shoal-analytics/shoal/report"
	"github.com/shoal-analytics/shoal/synth"
)

const demoSummary = `Run the whole pipeline on a synthetic organisation (about 30 teams in 6 units, 250 people,
12 weeks of events, some malformed and some forbidden): start the embedded broker, publish
the events, consume them into DuckDB until caught up, print a summary, and keep serving
/metrics until Ctrl-C (or exit with --once). Starts from an empty --data-dir each time.`

// demoMarker marks a data dir created by demo, so demo may wipe it.
const demoMarker = ".shoal-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.DefaultConfig("shoal-demo")
	cfg.SQL.Addr, cfg.SQL.AllowAnonymous = "127.0.0.1:5433", true
	fs := newFlagSet("demo", demoSummary, stdout, stderr)
	cfg.RegisterFlags(fs)
	var opts synth.Options
	synthFlags(fs, &opts)
	once := fs.Bool("once", false, "exit after catching up instead of serving until Ctrl-C")
	if err := parseFlags(fs, args, &cfg, &cfg.ConfigFile, stdout); err != nil {
		return err
	}
	if err := cfg.Validate(false); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	logger := app.NewLogger(&cfg, stderr)
	if err := freshDemoDir(cfg.DataDir); err != nil {
		return err
	}
	key, generated, err := demoKey(&cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo data dir: %s\n", cfg.DataDir)
	if generated {
		fmt.Fprintf(stdout, "pseudonym key: %s, generated and kept in the demo's data dir because this is a demo; `shoal run` refuses a key inside its --data-dir (a backup of the data would carry the key), so keep a real one elsewhere\n", cfg.PseudonymKeyFile)
	} else {
		fmt.Fprintf(stdout, "pseudonym key: %s\n", cfg.PseudonymKeyFile)
	}

	badRateZeroMeansNone(&opts)
	opts = opts.WithDefaults()
	org, msgs := synth.Generate(opts)
	if cfg.Teams == "" {
		if cfg.Teams, err = writeDemoTeams(cfg.DataDir, org); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "team agreements: %s (edit it and send SIGHUP or POST /-/reload)\n", cfg.Teams)
	p, err := app.New(ctx, cfg, key, logger)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	stopEarly := func(err error) error {
		cancel()
		<-done
		return err
	}

	began := time.Now()
	if err := publishAll(rctx, p.Brokers(), cfg.Topic, msgs, progress.New(stderr, "published", int64(len(msgs)))); err != nil {
		return stopEarly(err)
	}
	bar := progress.New(stderr, "ingested", int64(len(msgs)))
	if err := p.WaitCaughtUp(rctx, func(s ingest.Stats) { bar.Update(s.Consumed) }); err != nil {
		return stopEarly(err)
	}
	st := p.Stats()
	bar.Finish(st.Consumed)
	// Release the weeks that are due now rather than at the release loop's
	// next tick.
	if _, err := p.PublishReleases(rctx); err != nil {
		return stopEarly(err)
	}
	if err := printDemoSummary(rctx, stdout, p, cfg.DLQTopic, st, time.Since(began)); err != nil {
		return stopEarly(err)
	}
	if *once {
		return stopEarly(nil)
	}
	fmt.Fprintf(stdout, "\nServing %s/metrics and the weekly reports at %s/reports/ (Kafka-protocol broker on %s). Press Ctrl-C to stop.\n", p.URL(), p.URL(), strings.Join(p.Brokers(), ","))
	if addr := p.SQLAddr(); addr != "" {
		host, port, _ := net.SplitHostPort(addr)
		fmt.Fprintf(stdout, "SQL (privacy-safe tables only): psql \"host=%s port=%s user=analyst dbname=shoal\" or shoal sql --addr %s \"SELECT * FROM shoal.weekly_outcomes LIMIT 5\"\n", host, port, addr)
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create --data-dir: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("created by shoal demo; removed and recreated by the next demo run\n"), 0o600)
}

// demoKey loads the configured key or generates one (generated) in the
// data dir: a demo's key may travel with its demo data, unlike run's.
func demoKey(cfg *app.Config) (key []byte, generated bool, err error) {
	if cfg.PseudonymKeyFile != "" {
		key, err := privacy.LoadKeyFile(cfg.PseudonymKeyFile)
		return key, false, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("generate pseudonym key: %w", err)
	}
	cfg.PseudonymKeyFile = filepath.Join(cfg.DataDir, "pseudonym.key")
	if err := os.WriteFile(cfg.PseudonymKeyFile, key, 0o600); err != nil {
		return nil, false, fmt.Errorf("write generated pseudonym key: %w", err)
	}
	return key, true, nil
}

func printDemoSummary(ctx context.Context, w io.Writer, p *app.App, dlqTopic string, st ingest.Stats, took time.Duration) error {
	fmt.Fprintf(w, "\nCaught up in %s: %d messages read, %d events accepted, %d re-sent duplicates ignored, %d refused to %s.\n",
		took.Round(time.Millisecond), st.Consumed, st.Accepted, st.Duplicates, st.Rejected, dlqTopic)
	reasons := make([]string, 0, len(st.RejectedBy))
	for r := range st.RejectedBy {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  refused %-20s %d\n", r, st.RejectedBy[r])
	}

	// Privacy: what the last release publishes of each team, from the
	// same released cells every output shows.
	next, _, err := p.NextReleaseAt(ctx)
	if err != nil {
		return err
	}
	rels, err := p.Releases(ctx)
	if err != nil {
		return err
	}
	if len(rels) == 0 {
		fmt.Fprintf(w, "\nNo week is released yet: the first one is due %s (a week is released once it has ended plus the settle delay, --settle-delay).\n", next.Format(time.RFC1123))
		return nil
	}
	rel := rels[len(rels)-1]
	week := report.WeekOfDay(rel.Week)
	fmt.Fprintf(w, "\nReleased: %d weeks, the last %s (released %s); the next, %s, is due %s. Every output shows released weeks only.\n",
		len(rels), week, rel.ReleasedAt.Format(time.RFC1123), week.Add(1), next.Format(time.RFC1123))
	d, err := p.ReportData(ctx, week)
	if err != nil {
		return fmt.Errorf("summarise teams: %w", err)
	}
	shown, rolled, complement := demoTeamDecisions(d.Cells, week.Monday())
	dominated := 0
	for _, c := range d.Cells {
		if c.Week == week.Monday() && c.Level == outcome.LevelTeam && c.Reason == privacy.ReasonDominance {
			dominated++
		}
	}
	fmt.Fprintf(w, "\nWeek %s (%s to %s), k = %d: %d teams shown, %d rolled up into their unit for having fewer than %d contributors to some metric family, %d hidden so the rolled-up ones cannot be derived from unit totals; %d team figures withheld because one or two people did nearly all of what they add up:\n",
		week, calendar.DayTime(week.Monday()).Format(time.DateOnly), calendar.DayTime(week.Monday()+6).Format(time.DateOnly), d.K, shown, len(rolled), d.K, len(complement), dominated)
	for _, r := range rolled {
		fmt.Fprintf(w, "  rolled up:     %s\n", r)
	}
	for _, c := range complement {
		fmt.Fprintf(w, "  complementary: %s\n", c)
	}
	return nil
}

// demoTeamDecisions sorts the teams of the published cells of the week
// starting monday: shown (every cell visible), rolled up (some cell below
// k) or hidden complementary (the rest), the latter two as "team (unit
// u)". A metric withheld on its own (dominance, few samples) is not a
// team's decision.
func demoTeamDecisions(cells []privacy.Published, monday int32) (shown int, rolled, complement []string) {
	type team struct{ id, unit string }
	worst := map[team]privacy.Reason{}
	var order []team
	for _, c := range cells {
		if c.Week != monday || c.Level != outcome.LevelTeam || !c.Visible && !c.Reason.WholeFamily() {
			continue // a metric withheld on its own says nothing of the team
		}
		t := team{c.Team, c.Unit}
		r, seen := worst[t]
		if !seen {
			order = append(order, t)
		}
		if c.Reason == privacy.ReasonBelowK || r == privacy.ReasonVisible {
			r = c.Reason
		}
		worst[t] = r
	}
	slices.SortFunc(order, func(a, b team) int { return strings.Compare(a.id, b.id) })
	for _, t := range order {
		switch worst[t] {
		case privacy.ReasonVisible:
			shown++
		case privacy.ReasonBelowK:
			rolled = append(rolled, fmt.Sprintf("%s (unit %s)", t.id, t.unit))
		default:
			complement = append(complement, fmt.Sprintf("%s (unit %s)", t.id, t.unit))
		}
	}
	return shown, rolled, complement
}

// writeDemoTeams writes the demo organisation's team agreements file
// into dir and returns its path.
func writeDemoTeams(dir string, org *synth.Org) (string, error) {
	path := filepath.Join(dir, "teams.yaml")
	if err := os.WriteFile(path, org.TeamsYAML(), 0o600); err != nil {
		return "", fmt.Errorf("write demo teams file: %w", err)
	}
	return path, nil
}
