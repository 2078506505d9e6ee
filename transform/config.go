package transform

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Config configures the DuckDB store.
type Config struct {
	// Path is the DuckDB database file. It is created if missing. Required;
	// Default: none (cmd/shoal derives it from --data-dir).
	Path string `yaml:"path"`
	// Threads is the number of DuckDB threads. Default: 0 = one less than
	// the cores, at least 1 (DefaultThreads), and all the cores for the
	// commit steps that scan the stored tables (Store.setThreads).
	Threads int `yaml:"threads"`
	// MemoryLimit caps DuckDB's memory, e.g. "2GB" or "512MiB".
	// Default: "" = DuckDB's default (80% of RAM).
	MemoryLimit string `yaml:"memory_limit"`
	// CheckpointThreshold is the write-ahead log size at which DuckDB
	// writes it into the database file, e.g. "256MB" or "1GB". Default: ""
	// = DefaultCheckpointThreshold. Larger means fewer checkpoints (each
	// costs more as the file grows) for a longer replay after a crash.
	CheckpointThreshold string `yaml:"checkpoint_threshold"`
	// DeriveEvents is how many stored events wait before the derived state
	// is brought up to date with them (derive.go). Default: 0 =
	// DefaultDeriveEvents; 1 derives after every commit.
	DeriveEvents int64 `yaml:"-"`
	// DeriveAfter is how long a stored event waits at most before it is
	// derived while the stream flows. Default: 0 = DefaultDeriveAfter.
	DeriveAfter time.Duration `yaml:"-"`
}

// DefaultCheckpointThreshold is what an empty CheckpointThreshold means.
// DuckDB's own default, 16MB, checkpointed after every 50k-event batch and
// a checkpoint cost about as much CPU as the rest of the commit
// (BenchmarkCommit). At 20 M stored events even 64MB checkpointed at every
// commit: 3.8-4.5 s of a 10k-event batch's 7.3-7.6 s. The large preset with
// 1GB (BENCHMARKS.md): end to end 22.6 k → 27.9 k events/s, a 10k absorb
// 6.56 → 3.89 s, peak RSS not higher; the price is the replay after a
// crash, 18 s for a 498 MB WAL on the 20 M-event file (0.65 s after a clean
// stop, which checkpoints).
const DefaultCheckpointThreshold = "1GB"

// Sentinel errors returned (wrapped) by Validate.
var (
	ErrNoPath         = errors.New("duckdb path must not be empty")
	ErrBadThreads     = errors.New("bad duckdb threads")
	ErrBadMemoryLimit = errors.New("bad duckdb memory limit")
	ErrBadCheckpoint  = errors.New("bad duckdb checkpoint threshold")
)

// DefaultConfig returns the documented defaults. Path has no default.
func DefaultConfig() Config { return Config{} }

// RegisterFlags binds the config to flags named prefix+name.
func (c *Config) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.StringVar(&c.Path, prefix+"path", c.Path, "DuckDB database file (created if missing; one writer process at a time)")
	fs.IntVar(&c.Threads, prefix+"threads", c.Threads, "DuckDB threads; 0 = one less than the cores (at least 1), all of them for the commit steps that scan the stored tables")
	fs.StringVar(&c.MemoryLimit, prefix+"memory-limit", c.MemoryLimit, `DuckDB memory limit such as "2GB"; empty keeps DuckDB's default (80% of RAM)`)
	fs.StringVar(&c.CheckpointThreshold, prefix+"checkpoint-threshold", c.CheckpointThreshold, `DuckDB write-ahead log size that triggers a checkpoint, such as "256MB"; empty = `+DefaultCheckpointThreshold)
}

var memoryLimitRE = regexp.MustCompile(`(?i)^[0-9]+(\.[0-9]+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)?$`)

// Validate reports the first problem with the config.
func (c *Config) Validate() error {
	switch {
	case strings.TrimSpace(c.Path) == "":
		return fmt.Errorf("%w: set the duckdb path (or --data-dir)", ErrNoPath)
	case strings.Contains(c.Path, "?"):
		return fmt.Errorf("duckdb path %q must not contain '?': choose another file name", c.Path)
	case c.Threads < 0:
		return fmt.Errorf("%w: threads must be 0 (one less than the cores) or more, got %d", ErrBadThreads, c.Threads)
	case c.MemoryLimit != "" && !memoryLimitRE.MatchString(strings.TrimSpace(c.MemoryLimit)):
		return fmt.Errorf("%w: %q is not a size; use a number with a unit, e.g. 2GB or 512MiB", ErrBadMemoryLimit, c.MemoryLimit)
	case c.CheckpointThreshold != "" && !memoryLimitRE.MatchString(strings.TrimSpace(c.CheckpointThreshold)):
		return fmt.Errorf("%w: %q is not a size; use a number with a unit, e.g. 64MB or 1GB", ErrBadCheckpoint, c.CheckpointThreshold)
	}
	return nil
}

// DefaultThreads is the DuckDB thread count Threads 0 means: one less than
// the cores, at least 1. DuckDB 1.1's client thread busy-waits for its
// workers, and ingest prepares the next batch (decode, pseudonymize,
// Arrow) while DuckDB commits one, so leaving a core to Go is faster and
// cheaper: on 2 cores, 1 thread ran the small bench end to end at
// 53.8 k events/s for 24.3 CPU-s, all cores at 46.8 k for 33 CPU-s
// (BENCHMARKS.md). The commit steps that scan a stored table are the
// exception: they run on all the cores (Store.setThreads).
func DefaultThreads() int { return max(1, runtime.NumCPU()-1) }
