package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
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

// benchPresets size the synthetic organisation (about 49 events per
// person-week).
var benchPresets = map[string]synth.Options{
	"small": {Teams: 200, Units: 20, Weeks: 12},
	// 25 weeks: 24 stored 19.57 M events, short of the targets' 20 M.
	"large": {Teams: 2000, Units: 100, Weeks: 25},
	"tiny":  {Teams: 8, Units: 3, Weeks: 2}, // for tests of the harness itself
}

// benchPhases is every phase, in run order (absorb needs shoal's store).
var benchPhases = []string{"ceiling", "shoal", "sql", "naive", "readjson", "stage", "absorb"}

// benchEnd is the fixed end of the generated events: same preset, same bytes.
var benchEnd = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// benchResult is one child's measurement, printed by the child as JSON.
type benchResult struct {
	Phase   string             `json:"phase"`
	Events  int64              `json:"events"`
	Seconds float64            `json:"seconds"`
	Extra   map[string]float64 `json:"extra,omitempty"`
	Note    string             `json:"note,omitempty"`
	RSSKiB  int64              `json:"-"` // peak RSS of the child, from wait4
	// CPU is the child's user+system CPU seconds (all threads, DuckDB's
	// included): steadier than wall time on a shared machine.
	CPU float64 `json:"-"`
}

func (r benchResult) rate() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Events) / r.Seconds
}

type benchFlags struct {
	preset      string
	opts        synth.Options
	phases      string
	naiveEvents int
	absorb      int
	out         string
	workDir     string
	keep        bool
	logLevel    string
	tuning      benchTuning
	profileDir  string

	// child mode
	phase   string
	brokers string
}

// benchTuning is what the measured Shoal pipelines are run with.
type benchTuning struct {
	batchSize   int
	threads     int
	memoryLimit string
	checkpoint  string
	goMemory    string
}

func (t benchTuning) apply(cfg *app.Config) {
	cfg.BatchSize, cfg.DuckDBThreads, cfg.DuckDBMemoryLimit = t.batchSize, t.threads, t.memoryLimit
	cfg.DuckDBCheckpointThreshold, cfg.GoMemoryLimit = t.checkpoint, t.goMemory
}

// args are the child-process flags that carry t.
func (t benchTuning) args() []string {
	return []string{"--batch-size", fmt.Sprint(t.batchSize), "--duckdb-threads", fmt.Sprint(t.threads),
		"--duckdb-memory-limit", t.memoryLimit, "--duckdb-checkpoint-threshold", t.checkpoint, "--go-memory-limit", t.goMemory}
}

// String describes t in the Markdown's notes.
func (t benchTuning) String() string {
	s := fmt.Sprintf("--batch-size %d", t.batchSize)
	if t.threads > 0 {
		s += fmt.Sprintf(", --duckdb-threads %d", t.threads)
	}
	if t.memoryLimit != "" {
		s += ", --duckdb-memory-limit " + t.memoryLimit
	}
	if t.checkpoint != "" {
		s += ", --duckdb-checkpoint-threshold " + t.checkpoint
	}
	if t.goMemory != "" {
		s += ", --go-memory-limit " + t.goMemory
	}
	return s
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f benchFlags
	fs := newFlagSet("bench", benchSummary, stdout, stderr)
	fs.StringVar(&f.preset, "preset", "small", "size of the synthetic organisation: small (~1 M events), large (~20 M events) or tiny (seconds; checks the harness); --teams and --weeks override it")
	fs.IntVar(&f.opts.Teams, "teams", 0, "teams in the synthetic organisation (0: the preset's)")
	fs.IntVar(&f.opts.Weeks, "weeks", 0, "weeks of events (0: the preset's)")
	fs.Int64Var(&f.opts.Seed, "seed", 1, "random seed of the synthetic organisation")
	fs.StringVar(&f.phases, "phases", strings.Join(benchPhases, ","), "comma-separated phases to run (absorb needs shoal)")
	fs.IntVar(&f.naiveEvents, "naive-events", 20_000, "events the naive pipeline inserts (one INSERT each is slow; its rate is what counts)")
	fs.IntVar(&f.absorb, "absorb", 10_000, "new events the absorb phase adds to the shoal phase's store")
	fs.StringVar(&f.out, "out", "BENCHMARKS.md", `Markdown file for the results ("" or - to skip)`)
	fs.StringVar(&f.workDir, "work-dir", "", "directory for the broker log, NDJSON and DuckDB files, not one of an earlier run (default: a new temporary directory, removed afterwards unless --keep); the large preset needs about 17 GB")
	fs.BoolVar(&f.keep, "keep", false, "keep the temporary work directory afterwards (a --work-dir you give is always kept)")
	fs.IntVar(&f.tuning.batchSize, "batch-size", ingest.DefaultConfig().BatchSize, "the measured pipelines' --batch-size (most events per Arrow batch and DuckDB transaction)")
	fs.IntVar(&f.tuning.threads, "duckdb-threads", 0, "the measured pipelines' --duckdb-threads (0 = one less than the cores, at least 1, all of them for the commit steps that scan the stored tables)")
	fs.StringVar(&f.tuning.memoryLimit, "duckdb-memory-limit", "", "the measured pipelines' --duckdb-memory-limit, e.g. 1GB (empty = DuckDB's default, 80% of RAM)")
	fs.StringVar(&f.tuning.checkpoint, "duckdb-checkpoint-threshold", "", "the measured pipelines' --duckdb-checkpoint-threshold, e.g. 64MB (empty = "+transform.DefaultCheckpointThreshold+")")
	fs.StringVar(&f.tuning.goMemory, "go-memory-limit", "", "the measured pipelines' --go-memory-limit (Go's soft heap limit), e.g. 320MiB (empty = GOMEMLIMIT or none)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level of the measured pipelines: debug, info, warn or error")
	fs.StringVar(&f.profileDir, "cpuprofile-dir", "", "write a pprof CPU profile of each phase to DIR/PHASE.pprof (go tool pprof -top bin/shoal DIR/shoal.pprof), and its heap at the largest Go heap to DIR/PHASE.heap.pprof")
	fs.StringVar(&f.phase, "phase", "", "internal: run one phase as a child process")
	fs.StringVar(&f.brokers, "brokers", "", "internal: broker address of the parent's embedded broker")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	if f.phase != "" {
		return runBenchPhase(ctx, f, stdout)
	}
	return runBenchParent(ctx, f, args, stdout, stderr)
}

func (f *benchFlags) synthOptions() (synth.Options, error) {
	p, ok := benchPresets[f.preset]
	if !ok {
		return synth.Options{}, fmt.Errorf("--preset %q: use small, large or tiny", f.preset)
	}
	o := p
	o.Seed, o.End = f.opts.Seed, benchEnd
	if f.opts.Teams > 0 {
		o.Teams = f.opts.Teams
		o.Units = max(1, min(o.Units, o.Teams/4))
		o.People = 0
	}
	if f.opts.Weeks > 0 {
		o.Weeks = f.opts.Weeks
	}
	o = o.WithDefaults()
	return o, o.Validate()
}

func (f *benchFlags) selected() ([]string, error) {
	var out []string
	for _, p := range strings.Split(f.phases, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !containsString(benchPhases, p) {
			return nil, fmt.Errorf("--phases: unknown phase %q; the phases are %s", p, strings.Join(benchPhases, ", "))
		}
		out = append(out, p)
	}
	for _, p := range []string{"sql", "absorb"} {
		if containsString(out, p) && !containsString(out, "shoal") {
			return nil, fmt.Errorf("--phases: %s works on the shoal phase's store, so it needs shoal too", p)
		}
	}
	return out, nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

const (
	benchTopic = "shoal.events"
	benchDLQ   = "shoal.dlq"
)

func runBenchParent(ctx context.Context, f benchFlags, args []string, stdout, stderr io.Writer) error {
	opts, err := f.synthOptions()
	if err != nil {
		return fmt.Errorf("bad size: %w", err)
	}
	phases, err := f.selected()
	if err != nil {
		return err
	}
	if f.naiveEvents < 1 || f.absorb < 1 || f.tuning.batchSize < 1 {
		return errors.New("--naive-events, --absorb and --batch-size must be at least 1")
	}
	// Fail before minutes of publishing, not in the first child.
	tc := transform.Config{Path: "bench.duckdb", Threads: f.tuning.threads, MemoryLimit: f.tuning.memoryLimit, CheckpointThreshold: f.tuning.checkpoint}
	if err := tc.Validate(); err != nil {
		return err
	}
	if f.tuning.goMemory != "" {
		if _, err := app.ParseSize(f.tuning.goMemory); err != nil {
			return fmt.Errorf("--go-memory-limit: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the shoal executable to run the phases: %w", err)
	}
	work := f.workDir
	if work == "" {
		if work, err = os.MkdirTemp("", "shoal-bench-"); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		if !f.keep {
			defer os.RemoveAll(work)
		}
	}
	if f.workDir != "" || f.keep {
		// Several GB for the large preset: say where they are.
		defer func() {
			fmt.Fprintf(stderr, "bench: the work directory %s is kept (%s); remove it when done\n", work, dirSize(work))
		}()
	}
	if f.workDir != "" {
		// A previous run's broker log and stores would be measured again:
		// the topic would hold its events twice and the Shoal phases would
		// find every event already stored.
		for _, prev := range []string{"kafka", "events.ndjson"} {
			if _, err := os.Stat(filepath.Join(work, prev)); err == nil {
				return fmt.Errorf("--work-dir %s holds a previous run (%s; its broker log and stores would be measured again): remove it or give a new directory", work, prev)
			}
		}
		if err := os.MkdirAll(work, 0o750); err != nil {
			return fmt.Errorf("create --work-dir: %w", err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	commit := benchCommit() // now: the checkout may move on during a long run
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	emb, err := broker.StartEmbedded("127.0.0.1:0", work, ingest.DefaultConfig().Partitions, []string{benchTopic, benchDLQ}, logger)
	if err != nil {
		return err
	}
	defer emb.Close()

	fmt.Fprintf(stderr, "bench: generating %d teams × %d weeks and publishing to the embedded broker on %s\n", opts.Teams, opts.Weeks, emb.Addr())
	began := time.Now()
	n, bytesOut, err := benchPublish(ctx, opts, emb.Addr(), filepath.Join(work, "events.ndjson"), stderr)
	if err != nil {
		return err
	}
	pub := benchResult{Phase: "publish", Events: n, Seconds: time.Since(began).Seconds()}
	fmt.Fprintf(stderr, "bench: %d events (%.0f MB, %.0f bytes each) published in %.1fs\n", n, float64(bytesOut)/1e6, float64(bytesOut)/float64(max(n, 1)), pub.Seconds)

	results := map[string]benchResult{}
	failed := map[string]string{}
	for _, ph := range phases {
		if (ph == "sql" || ph == "absorb") && failed["shoal"] != "" {
			failed[ph] = "not run: it needs the shoal phase's store"
			continue
		}
		fmt.Fprintf(stderr, "bench: phase %s ...\n", ph)
		childArgs := []string{"bench", "--phase", ph, "--brokers", emb.Addr(), "--work-dir", work,
			"--naive-events", fmt.Sprint(f.naiveEvents), "--absorb", fmt.Sprint(f.absorb), "--log-level", f.logLevel}
		childArgs = append(childArgs, f.tuning.args()...)
		if f.profileDir != "" {
			if err := os.MkdirAll(f.profileDir, 0o750); err != nil {
				return fmt.Errorf("create --cpuprofile-dir: %w", err)
			}
			childArgs = append(childArgs, "--cpuprofile-dir", f.profileDir)
		}
		r, err := runBenchChild(ctx, self, childArgs, stderr)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("phase %s: %w", ph, ctx.Err())
			}
			// The other phases still run and are reported: a failure
			// late in a long run must not lose what was measured.
			failed[ph] = err.Error()
			fmt.Fprintf(stderr, "bench: phase %s failed: %v\n", ph, err)
			continue
		}
		results[ph] = r
		fmt.Fprintf(stderr, "bench: phase %s: %d events in %.2fs (%.0f events/s), peak RSS %d MiB\n", ph, r.Events, r.Seconds, r.rate(), r.RSSKiB/1024)
	}
	rep := benchReport{opts: opts, events: n, bytes: bytesOut, publish: pub, results: results, phases: phases,
		command: "shoal bench " + strings.Join(args, " "), naiveCap: f.naiveEvents, absorb: f.absorb, tuning: f.tuning, load: load, commit: commit, failed: failed}
	rep.writeTable(stdout)
	if f.out != "" && f.out != "-" {
		if err := writeBenchMarkdown(f.out, rep.markdown()); err != nil {
			return fmt.Errorf("write --out: %w", err)
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", f.out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d phases failed or did not run: %s (see above)", len(failed), len(phases), strings.Join(sortedKeys(failed), ", "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// benchPublish streams the organisation's events to the broker and to an
// NDJSON file (the loader's input); it returns events and bytes.
func benchPublish(ctx context.Context, opts synth.Options, addr, ndjson string, stderr io.Writer) (int64, int64, error) {
	file, err := os.Create(ndjson)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", ndjson, err)
	}
	defer file.Close()
	out := bufio.NewWriterSize(file, 1<<20)
	w := broker.NewWriter([]string{addr}, benchTopic)
	defer w.Close()
	var n, size int64
	batch := make([]kafka.Message, 0, 5000)
	bar := newProgress(stderr, "published", 0)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publish after %d events: %w", n, broker.SummarizeWriteError(err))
		}
		batch = batch[:0]
		bar.update(n)
		return nil
	}
	_, err = synth.GenerateTo(opts, func(m synth.Message) error {
		batch = append(batch, kafka.Message{Key: m.Key, Value: m.Value})
		out.Write(m.Value)
		out.WriteByte('\n')
		n++
		size += int64(len(m.Value))
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = out.Flush()
	}
	bar.finish(n)
	return n, size, err
}

// runBenchChild runs one phase in a child process and reads its result and
// peak RSS. A failed child's error carries the last line it wrote to
// stderr (its own error message).
func runBenchChild(ctx context.Context, self string, args []string, stderr io.Writer) (benchResult, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	var out bytes.Buffer
	last := &lastLine{}
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(stderr, last)
	if err := cmd.Run(); err != nil {
		return benchResult{}, fmt.Errorf("%w: %s", err, cmp.Or(last.String(), strings.TrimSpace(out.String())))
	}
	var r benchResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		return benchResult{}, fmt.Errorf("read the phase's result %q: %w", out.String(), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RSSKiB = ru.Maxrss // KiB on Linux
	}
	r.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return r, nil
}

// lastLine keeps the last non-empty line written to it.
type lastLine struct{ line, cur []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	for _, c := range p {
		if c != '\n' {
			if len(l.cur) < 4096 {
				l.cur = append(l.cur, c)
			}
			continue
		}
		if len(bytes.TrimSpace(l.cur)) > 0 {
			l.line = append(l.line[:0], l.cur...)
		}
		l.cur = l.cur[:0]
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	if len(bytes.TrimSpace(l.cur)) > 0 {
		return string(bytes.TrimSpace(l.cur))
	}
	return string(bytes.TrimSpace(l.line))
}

// benchReport renders the results.
type benchReport struct {
	opts             synth.Options
	events, bytes    int64
	publish          benchResult
	results          map[string]benchResult
	phases           []string
	command          string
	naiveCap, absorb int
	tuning           benchTuning
	load             string
	commit           string            // the checkout's HEAD when the run began
	failed           map[string]string // phase → why it has no result
}

type benchRow struct{ name, events, time, rate, cpu, rss string }

func (b benchReport) rows() []benchRow {
	var rows []benchRow
	add := func(name string, r benchResult, ok bool) {
		if !ok {
			return
		}
		rss := "-"
		if r.RSSKiB > 0 {
			rss = fmt.Sprintf("%d MiB", r.RSSKiB/1024)
		}
		rows = append(rows, benchRow{name, fmt.Sprint(r.Events), fmtSeconds(r.Seconds), fmt.Sprintf("%.0f", r.rate()), fmtSeconds(r.CPU), rss})
	}
	// goMem notes, on the row just added, how much of it the Go runtime
	// held at the end of ingest (the rest is DuckDB's).
	goMem := func(ok bool, r benchResult) {
		if mib := r.Extra["go_sys_mib"]; ok && mib > 0 {
			rows[len(rows)-1].rss += fmt.Sprintf(" (Go runtime %.0f MiB)", mib)
		}
	}
	r, ok := b.results["ceiling"]
	add("1. ceiling: kafka-go group read + commits", r, ok)
	shoal, hasShoal := b.results["shoal"]
	add("2. Shoal end to end (broker → rollups committed)", shoal, hasShoal)
	if kib := shoal.Extra["ingest_peak_rss_kib"]; hasShoal && kib > 0 {
		rows[len(rows)-1].rss += fmt.Sprintf(" (%d MiB when caught up, before 2b and 6a-6c)", int64(kib)/1024)
	}
	goMem(hasShoal, shoal)
	// peakSoFar is the shoal phase's peak RSS after one of its output steps.
	peakSoFar := func(step string) string {
		if kib := shoal.Extra[step+"_peak_rss_kib"]; kib > 0 {
			return fmt.Sprintf("%d MiB so far", int64(kib)/1024)
		}
		return "-"
	}
	if s, ok := shoal.Extra["checkpoint_seconds"]; hasShoal && ok {
		rss := peakSoFar("checkpoint")
		if kib := shoal.Extra["idle_rss_kib"]; kib > 0 {
			rss += fmt.Sprintf(" (%d MiB resident after it: Go returned %.0f MiB)", int64(kib)/1024, shoal.Extra["idle_released_mib"])
		}
		rows = append(rows, benchRow{fmt.Sprintf("2b. idle checkpoint after catching up (%.0f MB write-ahead log)", shoal.Extra["checkpoint_wal_bytes"]/1e6), "-", fmtSeconds(s), "-", "-", rss})
	}
	r, ok = b.results["naive"]
	add("3. naive: encoding/json + one INSERT per event", r, ok)
	r, ok = b.results["readjson"]
	add("4a. DuckDB read_json of the NDJSON + rollup", r, ok)
	r, ok = b.results["stage"]
	add("4b. Shoal's stage without Kafka, same bytes", r, ok)
	goMem(ok, r)
	if r, ok := b.results["absorb"]; ok {
		rows = append(rows,
			benchRow{fmt.Sprintf("5a. incremental: absorb %d new events", int(r.Extra["absorbed"])), fmt.Sprint(int(r.Extra["absorbed"])), fmtSeconds(r.Extra["incremental_seconds"]), fmt.Sprintf("%.0f", r.Extra["absorbed"]/r.Extra["incremental_seconds"]), "-", "-"},
			benchRow{fmt.Sprintf("5b. full: recompute all rollups from %d events", r.Events), fmt.Sprint(r.Events), fmtSeconds(r.Extra["full_seconds"]), fmt.Sprintf("%.0f", float64(r.Events)/r.Extra["full_seconds"]), fmtSeconds(r.CPU) + " (5a+5b)", fmt.Sprintf("%d MiB", r.RSSKiB/1024)})
	}
	if hasShoal {
		rows = append(rows,
			benchRow{"6a. outcome refresh (all catalog metrics, 2 weeks)", "-", fmtSeconds(shoal.Extra["refresh_seconds"]), "-", "-", peakSoFar("refresh")},
			benchRow{fmt.Sprintf("6b. /metrics scrape, %d teams (median of %d)", b.opts.Teams, int(shoal.Extra["scrapes"])), "-", fmtSeconds(shoal.Extra["scrape_seconds"]), "-", "-", peakSoFar("scrape")},
			benchRow{fmt.Sprintf("6c. weekly HTML report, %d teams (%.0f kB, median of %d)", b.opts.Teams, shoal.Extra["report_bytes"]/1e3, int(shoal.Extra["reports"])), "-", fmtSeconds(shoal.Extra["report_seconds"]), "-", "-", peakSoFar("report")})
	}
	if r, ok := b.results["sql"]; ok {
		rows = append(rows,
			benchRow{"6d. start with SQL on: publish the serving tables (26 weeks, days)", fmt.Sprint(r.Events), fmtSeconds(r.Extra["start_publish_seconds"]), "-", fmtSeconds(r.CPU) + " (6d+6e)", fmt.Sprintf("%d MiB", r.RSSKiB/1024)},
			benchRow{fmt.Sprintf("6e. analyst query over weekly_outcomes, %d rows (median of %d)", int(r.Extra["rows"]), int(r.Extra["runs"])), "-", fmtSeconds(r.Extra["query_seconds"]), "-", "-", "-"})
	}
	return rows
}

type benchRatio struct {
	name, target string
	value        float64
	ok           bool
	// small is set when the run is smaller than the size the target is
	// stated for: a "met" then says nothing about that size.
	small bool
}

func (r benchRatio) verdict(missed string) string {
	switch {
	case !r.ok:
		return missed
	case r.small:
		return "met at this size only (the target is for a larger one)"
	default:
		return "met"
	}
}

func (b benchReport) ratios() []benchRatio {
	rate := func(p string) (float64, bool) {
		r, ok := b.results[p]
		return r.rate(), ok && r.rate() > 0
	}
	var out []benchRatio
	ratio := func(name, target string, a, c string, min float64) {
		x, ok1 := rate(a)
		y, ok2 := rate(c)
		if ok1 && ok2 {
			out = append(out, benchRatio{name: name, target: target, value: x / y, ok: x/y >= min})
		}
	}
	ratio("Shoal / ceiling", "≥ 0.8", "shoal", "ceiling", 0.8)
	ratio("Shoal / naive", "≥ 50", "shoal", "naive", 50)
	ratio("stage / read_json", "≥ 1.0", "stage", "readjson", 1.0)
	if r, ok := b.results["absorb"]; ok && r.Extra["incremental_seconds"] > 0 {
		v := r.Extra["full_seconds"] / r.Extra["incremental_seconds"]
		out = append(out, benchRatio{fmt.Sprintf("full / incremental (%d events stored)", r.Events), "≥ 100 at 20 M events", v, v >= 100, r.Events < 20_000_000})
	}
	if r, ok := b.results["shoal"]; ok {
		mib := float64(r.RSSKiB) / 1024
		out = append(out, benchRatio{fmt.Sprintf("Shoal end-to-end peak RSS, %d events (MiB)", r.Events), "≤ 1024 at 20 M events", mib, mib <= 1024, r.Events < 20_000_000})
		if s := r.Extra["scrape_seconds"]; s > 0 {
			out = append(out, benchRatio{fmt.Sprintf("/metrics scrape, %d teams (ms)", b.opts.Teams), "≤ 50 at 2,000 teams", s * 1000, s <= 0.05, b.opts.Teams < 2000})
		}
		if s := r.Extra["report_seconds"]; s > 0 {
			out = append(out, benchRatio{fmt.Sprintf("weekly report, %d teams (s)", b.opts.Teams), "≤ 5 at 2,000 teams", s, s <= 5, b.opts.Teams < 2000})
		}
	}
	return out
}

func fmtSeconds(s float64) string {
	switch {
	case s <= 0:
		return "-"
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1000)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

func (b benchReport) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nmeasurement\tevents\ttime\tevents/s\tCPU\tpeak RSS\n")
	for _, r := range b.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.events, r.time, r.rate, r.cpu, r.rss)
	}
	fmt.Fprintf(tw, "\nratio\tvalue\ttarget\t\t\n")
	for _, r := range b.ratios() {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t\n", r.name, r.value, r.target, r.verdict("MISSED"))
	}
	tw.Flush()
	for _, ph := range sortedKeys(b.failed) {
		fmt.Fprintf(w, "phase %s FAILED: %s\n", ph, b.failed[ph])
	}
}

func (b benchReport) markdown() string {
	var s strings.Builder
	s.WriteString("## Results\n\nGenerated by `shoal bench`; every number below comes from one run on one machine, with the\nbaselines measured in the same run on the same data.\n\n")
	fmt.Fprintf(&s, "- command: `%s`\n", strings.TrimSpace(b.command))
	fmt.Fprintf(&s, "- commit: %s (when the run began)\n", b.commit)
	fmt.Fprintf(&s, "- machine: %s; load average before the run: %s\n", benchMachine(), b.load)
	fmt.Fprintf(&s, "- data: %d teams in %d units, %d people, %d weeks: %d events, %.0f MB (%.0f bytes per event), %.1f%% bad, published in %s\n\n",
		b.opts.Teams, b.opts.Units, b.opts.People, b.opts.Weeks, b.events, float64(b.bytes)/1e6, float64(b.bytes)/float64(max(b.events, 1)), 100*b.opts.BadRate/(1+b.opts.BadRate), fmtSeconds(b.publish.Seconds))
	s.WriteString("| measurement | events | time | events/s | CPU | peak RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range b.rows() {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.events, r.time, r.rate, r.cpu, r.rss)
	}
	s.WriteString("\n| ratio | value | target | |\n|---|---:|---|---|\n")
	for _, r := range b.ratios() {
		fmt.Fprintf(&s, "| %s | %.2f | %s | %s |\n", r.name, r.value, r.target, r.verdict("**missed**"))
	}
	if len(b.failed) > 0 {
		s.WriteString("\nFailed phases (no numbers above):\n\n")
		for _, ph := range sortedKeys(b.failed) {
			fmt.Fprintf(&s, "- %s: %s\n", ph, b.failed[ph])
		}
	}
	fmt.Fprintf(&s, "\nNotes on method: every phase runs in its own child process (peak RSS from wait4; CPU is the child's user+system seconds over all its threads, steadier than wall time when the machine is shared). The Shoal phases use %s. The naive pipeline inserts the first %d events and its rate is extrapolated; it commits its group offsets once a second. The read_json baseline and the naive pipeline roll up per UTC day and keep no task or request state; Shoal also pseudonymizes with HMAC-SHA256, refuses bad events to the dead-letter topic, keeps task and request state and rolls up per team-local day. The absorb phase adds %d events (copies of the newest ones with new ids) to the shoal phase's store, then Rebuild recomputes every derived table from the raw events. On rows 2b and 6a-6c, \"so far\" is the shoal child's peak RSS after that step (VmHWM), to show which output raises the peak; the pipeline's own refresh loop runs beside them.\n", b.tuning, b.naiveCap, b.absorb)
	return s.String()
}

// The generated part of the Markdown file lies between these markers; what
// surrounds them (the analysis a person wrote) is kept when it is rewritten.
const (
	benchMarkBegin = "<!-- shoal bench: generated from here -->\n"
	benchMarkEnd   = "<!-- shoal bench: generated up to here -->\n"
)

// writeBenchMarkdown writes the results to path, replacing only the part
// between the markers if the file already has them.
func writeBenchMarkdown(path, generated string) error {
	body := benchMarkBegin + generated + benchMarkEnd
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i, j := strings.Index(s, benchMarkBegin), strings.Index(s, benchMarkEnd); i >= 0 && j > i {
			body = s[:i] + body + s[j+len(benchMarkEnd):]
		}
	}
	return os.WriteFile(path, []byte(body), 0o644)
}

func benchCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not run from a git checkout)"
	}
	dirty := ""
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		dirty = " (with uncommitted changes)"
	}
	return strings.TrimSpace(string(out)) + dirty
}

func benchMachine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// dirSize is the size of the files under dir, for a message.
func dirSize(dir string) string {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
