package bench

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

// presets size the synthetic organisation (about 49 events per
// person-week).
var presets = map[string]synth.Options{
	"small": {Teams: 200, Units: 20, Weeks: 12},
	// 25 weeks: 24 stored 19.57 M events, short of the targets' 20 M.
	"large": {Teams: 2000, Units: 100, Weeks: 25},
	"tiny":  {Teams: 8, Units: 3, Weeks: 2}, // for tests of the harness itself
}

// phases is every phase, in run order (stream, sql and absorb need
// shoal's store).
var phases = []string{"ceiling", "shoal", "stream", "sql", "naive", "readjson", "stage", "absorb"}

// dataEnd is the fixed end of the generated events: same preset, same bytes.
var dataEnd = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// Config is what one `shoal bench` run measures and how; RegisterFlags
// makes each field a flag.
type Config struct {
	// Preset sizes the synthetic organisation: small (~1 M events), large
	// (~20 M events) or tiny (seconds). Default: small
	Preset string
	// Teams overrides the preset's teams (0: the preset's). Default: 0
	Teams int
	// Weeks overrides the preset's weeks (0: the preset's). Default: 0
	Weeks int
	// Seed is the synthetic organisation's random seed. Default: 1
	Seed int64
	// Phases are the comma-separated phases to run. Default: all of them,
	// ceiling,shoal,stream,sql,naive,readjson,stage,absorb
	Phases string
	// NaiveEvents is how many events the naive pipeline inserts. Default: 20000
	NaiveEvents int
	// Absorb is how many new events the absorb phase adds to the shoal
	// phase's store. Default: 10000
	Absorb int
	// StreamSeconds is how long the stream phase publishes at each of its
	// rates (20 and 200 events a second). Default: 60
	StreamSeconds int
	// Out is the Markdown file for the results ("" or - to skip).
	// Default: BENCHMARKS.md
	Out string
	// WorkDir holds the broker log, the NDJSON and the DuckDB files; it must
	// not hold an earlier run. Default: "" (a new temporary directory,
	// removed afterwards unless Keep)
	WorkDir string
	// Keep keeps the temporary work directory. Default: false
	Keep bool
	// LogLevel is the measured pipelines' log level. Default: warn
	LogLevel string
	// Tuning is what the measured Shoal pipelines run with.
	Tuning Tuning
	// ProfileDir, when set, receives a CPU profile of each phase
	// (PHASE.pprof) and its Go heap at the largest (PHASE.heap.pprof).
	// Default: "" (none)
	ProfileDir string
	// Command is the command line the Markdown records. Default: "shoal bench"
	Command string

	// Phase and Brokers are set only in a child process, by the parent:
	// the one phase to run and the parent's embedded broker. Default: ""
	Phase, Brokers string
}

// Tuning is what the measured Shoal pipelines are run with: the settings
// of app.Config that the bench passes on to them.
type Tuning struct {
	// BatchSize is app.Config's BatchSize. Default: ingest's (100000)
	BatchSize int
	// DuckDBThreads is app.Config's DuckDBThreads. Default: 0 (app's default)
	DuckDBThreads int
	// DuckDBMemoryLimit is app.Config's DuckDBMemoryLimit. Default: "" (DuckDB's)
	DuckDBMemoryLimit string
	// DuckDBCheckpointThreshold is app.Config's DuckDBCheckpointThreshold.
	// Default: "" (transform.DefaultCheckpointThreshold)
	DuckDBCheckpointThreshold string
	// GoMemoryLimit is app.Config's GoMemoryLimit. Default: "" (GOMEMLIMIT or none)
	GoMemoryLimit string
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Preset:        "small",
		Seed:          1,
		Phases:        strings.Join(phases, ","),
		NaiveEvents:   20_000,
		Absorb:        10_000,
		StreamSeconds: 60,
		Out:           "BENCHMARKS.md",
		LogLevel:      "warn",
		Tuning:        Tuning{BatchSize: ingest.DefaultConfig().BatchSize},
		Command:       "shoal bench",
	}
}

// RegisterFlags registers every setting as a flag of fs, defaulting to c;
// --phase and --brokers are the child processes' own.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Preset, "preset", c.Preset, "size of the synthetic organisation: small (~1 M events), large (~20 M events) or tiny (seconds; checks the harness); --teams and --weeks override it")
	fs.IntVar(&c.Teams, "teams", c.Teams, "teams in the synthetic organisation (0: the preset's)")
	fs.IntVar(&c.Weeks, "weeks", c.Weeks, "weeks of events (0: the preset's)")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed of the synthetic organisation")
	fs.StringVar(&c.Phases, "phases", c.Phases, "comma-separated phases to run (stream, sql and absorb need shoal)")
	fs.IntVar(&c.NaiveEvents, "naive-events", c.NaiveEvents, "events the naive pipeline inserts (one INSERT each is slow; its rate is what counts)")
	fs.IntVar(&c.Absorb, "absorb", c.Absorb, "new events the absorb phase adds to the shoal phase's store")
	fs.IntVar(&c.StreamSeconds, "stream-seconds", c.StreamSeconds, "how long the stream phase publishes at each rate (20 and 200 events/s) into the shoal phase's store")
	fs.StringVar(&c.Out, "out", c.Out, `Markdown file for the results ("" or - to skip)`)
	fs.StringVar(&c.WorkDir, "work-dir", c.WorkDir, "directory for the broker log, NDJSON and DuckDB files, not one of an earlier run (default: a new temporary directory, removed afterwards unless --keep); the large preset needs about 17 GB")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the temporary work directory afterwards (a --work-dir you give is always kept)")
	fs.IntVar(&c.Tuning.BatchSize, "batch-size", c.Tuning.BatchSize, "the measured pipelines' --batch-size (most events per Arrow batch and DuckDB transaction)")
	fs.IntVar(&c.Tuning.DuckDBThreads, "duckdb-threads", c.Tuning.DuckDBThreads, "the measured pipelines' --duckdb-threads (0 = one less than the cores, at least 1, all of them for the commit steps that scan the stored tables)")
	fs.StringVar(&c.Tuning.DuckDBMemoryLimit, "duckdb-memory-limit", c.Tuning.DuckDBMemoryLimit, "the measured pipelines' --duckdb-memory-limit, e.g. 1GB (empty = DuckDB's default, 80% of RAM)")
	fs.StringVar(&c.Tuning.DuckDBCheckpointThreshold, "duckdb-checkpoint-threshold", c.Tuning.DuckDBCheckpointThreshold, "the measured pipelines' --duckdb-checkpoint-threshold, e.g. 64MB (empty = "+transform.DefaultCheckpointThreshold+")")
	fs.StringVar(&c.Tuning.GoMemoryLimit, "go-memory-limit", c.Tuning.GoMemoryLimit, "the measured pipelines' --go-memory-limit (Go's soft heap limit), e.g. 320MiB (empty = GOMEMLIMIT or none)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level of the measured pipelines: debug, info, warn or error")
	fs.StringVar(&c.ProfileDir, "cpuprofile-dir", c.ProfileDir, "write a pprof CPU profile of each phase to DIR/PHASE.pprof (go tool pprof -top bin/shoal DIR/shoal.pprof), and its heap at the largest Go heap to DIR/PHASE.heap.pprof")
	fs.StringVar(&c.Phase, "phase", c.Phase, "internal: run one phase as a child process")
	fs.StringVar(&c.Brokers, "brokers", c.Brokers, "internal: broker address of the parent's embedded broker")
}

// Validate checks what a run is given before minutes of publishing, so a
// mistake is not found in the first child process.
func (c *Config) Validate() error {
	if _, err := c.synthOptions(); err != nil {
		return fmt.Errorf("bad size: %w", err)
	}
	if _, err := c.selected(); err != nil {
		return err
	}
	if c.NaiveEvents < 1 || c.Absorb < 1 || c.Tuning.BatchSize < 1 || c.StreamSeconds < 1 {
		return errors.New("--naive-events, --absorb, --stream-seconds and --batch-size must be at least 1")
	}
	t := c.Tuning
	tc := transform.Config{Path: "bench.duckdb", Threads: t.DuckDBThreads, MemoryLimit: t.DuckDBMemoryLimit, CheckpointThreshold: t.DuckDBCheckpointThreshold}
	if err := tc.Validate(); err != nil {
		return err
	}
	if t.GoMemoryLimit != "" {
		if _, err := app.ParseSize(t.GoMemoryLimit); err != nil {
			return fmt.Errorf("--go-memory-limit: %w", err)
		}
	}
	if c.WorkDir != "" {
		// A previous run's broker log and stores would be measured again:
		// the topic would hold its events twice and the Shoal phases would
		// find every event already stored.
		for _, prev := range []string{"kafka", "events.ndjson"} {
			if _, err := os.Stat(filepath.Join(c.WorkDir, prev)); err == nil {
				return fmt.Errorf("--work-dir %s holds a previous run (%s; its broker log and stores would be measured again): remove it or give a new directory", c.WorkDir, prev)
			}
		}
	}
	return nil
}

// synthOptions is the organisation the preset and its overrides describe.
func (c *Config) synthOptions() (synth.Options, error) {
	p, ok := presets[c.Preset]
	if !ok {
		return synth.Options{}, fmt.Errorf("--preset %q: use small, large or tiny", c.Preset)
	}
	o := p
	o.Seed, o.End = c.Seed, dataEnd
	if c.Teams > 0 {
		o.Teams = c.Teams
		o.Units = max(1, min(o.Units, o.Teams/4))
		o.People = 0
	}
	if c.Weeks > 0 {
		o.Weeks = c.Weeks
	}
	o = o.WithDefaults()
	return o, o.Validate()
}

// selected is the phases to run, in the order given.
func (c *Config) selected() ([]string, error) {
	var out []string
	for _, p := range strings.Split(c.Phases, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(phases, p) {
			return nil, fmt.Errorf("--phases: unknown phase %q; the phases are %s", p, strings.Join(phases, ", "))
		}
		out = append(out, p)
	}
	for _, p := range []string{"stream", "sql", "absorb"} {
		if slices.Contains(out, p) && !slices.Contains(out, "shoal") {
			return nil, fmt.Errorf("--phases: %s works on the shoal phase's store, so it needs shoal too", p)
		}
	}
	return out, nil
}

// apply sets t on the configuration of a measured pipeline.
func (t Tuning) apply(cfg *app.Config) {
	cfg.BatchSize, cfg.DuckDBThreads, cfg.DuckDBMemoryLimit = t.BatchSize, t.DuckDBThreads, t.DuckDBMemoryLimit
	cfg.DuckDBCheckpointThreshold, cfg.GoMemoryLimit = t.DuckDBCheckpointThreshold, t.GoMemoryLimit
}

// args are the child-process flags that carry t.
func (t Tuning) args() []string {
	return []string{"--batch-size", fmt.Sprint(t.BatchSize), "--duckdb-threads", fmt.Sprint(t.DuckDBThreads),
		"--duckdb-memory-limit", t.DuckDBMemoryLimit, "--duckdb-checkpoint-threshold", t.DuckDBCheckpointThreshold, "--go-memory-limit", t.GoMemoryLimit}
}

// String describes t in the Markdown's notes.
func (t Tuning) String() string {
	s := fmt.Sprintf("--batch-size %d", t.BatchSize)
	if t.DuckDBThreads > 0 {
		s += fmt.Sprintf(", --duckdb-threads %d", t.DuckDBThreads)
	}
	if t.DuckDBMemoryLimit != "" {
		s += ", --duckdb-memory-limit " + t.DuckDBMemoryLimit
	}
	if t.DuckDBCheckpointThreshold != "" {
		s += ", --duckdb-checkpoint-threshold " + t.DuckDBCheckpointThreshold
	}
	if t.GoMemoryLimit != "" {
		s += ", --go-memory-limit " + t.GoMemoryLimit
	}
	return s
}
