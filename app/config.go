package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	sqlserver "github.com/shoal-analytics/shoal/sql"
	"github.com/shoal-analytics/shoal/transform"
)

// Config is everything `shoal run` and `shoal demo` read from flags, SHOAL_*
// environment variables and the optional YAML file (keys = flag names with
// underscores).
type Config struct {
	ingest.Config `yaml:",inline"`
	// SQL is the governed SQL endpoint (--sql-* flags; off by default).
	SQL sqlserver.Config `yaml:",inline"`
	// Intake is the signed webhook intake (--intake-addr, --sources,
	// --people; off by default).
	Intake IntakeConfig `yaml:",inline"`

	// DataDir holds the DuckDB file (shoal.duckdb), the reports (reports/)
	// and, when the embedded broker runs, its log (kafka/). Shoal makes it
	// 0700 and every file in it 0600 at startup. Default: data (run),
	// shoal-demo (demo)
	DataDir string `yaml:"data_dir"`
	// EmbeddedAddr is where the embedded Kafka-protocol broker listens when
	// no brokers are configured: a loopback address only (localhost,
	// 127.0.0.0/8 or ::1), as the broker has no authentication.
	// Default: 127.0.0.1:9092
	EmbeddedAddr string `yaml:"embedded_addr"`
	// HTTPAddr serves /metrics, /healthz and /readyz. Default: 127.0.0.1:9464
	HTTPAddr string `yaml:"http_addr"`
	// WebConfigFile is the exporter toolkit's web configuration (TLS, basic
	// auth users with bcrypt hashes) for the HTTP endpoint. Default: none
	// (plain HTTP; reports and admin routes answer loopback clients only)
	WebConfigFile string `yaml:"web_config_file"`
	// Teams is the team agreements file (docs/agreements.md): units, time
	// zones, response SLAs, working days, min_group_size. Default: none
	// (every team gets the built-in defaults, UTC).
	Teams string `yaml:"teams"`
	// PseudonymKeyFile holds the secret HMAC key (≥ 32 bytes) for person
	// pseudonyms. Required by run, outside DataDir (a backup of the data
	// must not carry its key); demo generates one in its data dir.
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
	// DuckDBThreads caps DuckDB's threads. Default: 0 = one less than the cores, at least 1,
	// and all the cores for the commit steps that scan the stored tables
	DuckDBThreads int `yaml:"duckdb_threads"`
	// DuckDBMemoryLimit caps DuckDB's memory, e.g. 2GB. Default: DuckDB's own (80% of RAM)
	DuckDBMemoryLimit string `yaml:"duckdb_memory_limit"`
	// DuckDBCheckpointThreshold is the WAL size that triggers a DuckDB
	// checkpoint. Default: transform.DefaultCheckpointThreshold (1GB)
	DuckDBCheckpointThreshold string `yaml:"duckdb_checkpoint_threshold"`
	// GoMemoryLimit is the Go runtime's soft memory limit (what GOMEMLIMIT
	// sets), e.g. 320MiB: the garbage collector runs more often as the Go
	// heap nears it. It does not cover DuckDB (DuckDBMemoryLimit). Default:
	// none, or GOMEMLIMIT from the environment
	GoMemoryLimit string `yaml:"go_memory_limit"`
	// SettleDelay is how long after an ISO week has ended (in the org's
	// time zone) it is released: every output shows released weeks only,
	// and a released week never changes. Entries for a week that arrive
	// after its release are stored and counted, not shown. Default: 48h
	// (DefaultSettleDelay); 0 releases a week as soon as it ends.
	SettleDelay time.Duration `yaml:"settle_delay"`
	// RetainEvents is how long after a week's release its raw events and
	// per-person rows are kept (then deleted; the release stays), e.g. 4w
	// or 30d. Default: 4w (DefaultRetainEvents)
	RetainEvents model.Duration `yaml:"retain_events"`
	// RetainDeadLetters is how long the embedded broker keeps a dead
	// letter. Default: 14d (DefaultRetainDeadLetters)
	RetainDeadLetters model.Duration `yaml:"retain_dead_letters"`
	// LogLevel is debug, info, warn or error. Default: info
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json. Default: text
	LogFormat string `yaml:"log_format"`

	// ConfigFile is the YAML file given by --config (read by the CLI).
	ConfigFile string `yaml:"-"`
	// Now is the pipeline's clock (nil: time.Now); tests pin it to the
	// synthetic organisation's end so "previous week" has data.
	Now func() time.Time `yaml:"-"`
	// IdleCheckpoint is how long after the last commit the pipeline
	// checkpoints DuckDB's write-ahead log (0: idleCheckpointAfter).
	IdleCheckpoint time.Duration `yaml:"-"`
}

// DefaultConfig is the configuration before flags, environment and file,
// with the DuckDB file and broker log under dataDir.
func DefaultConfig(dataDir string) Config {
	return Config{
		Config:            ingest.DefaultConfig(),
		SettleDelay:       DefaultSettleDelay,
		RetainEvents:      DefaultRetainEvents,
		RetainDeadLetters: DefaultRetainDeadLetters,
		SQL:               sqlserver.DefaultConfig(),
		DataDir:           dataDir,
		EmbeddedAddr:      "127.0.0.1:9092",
		HTTPAddr:          "127.0.0.1:9464",
		LogLevel:          "info",
		LogFormat:         "text",
	}
}

// RegisterFlags registers every setting as a flag of fs, defaulting to c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ConfigFile, "config", "", "optional YAML file with any of these settings (keys: flag names with _ for -); unknown keys are an error")
	c.Config.RegisterFlags("", fs)
	c.SQL.RegisterFlags("sql-", fs)
	c.Intake.RegisterFlags(fs)
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the DuckDB file, the reports and the embedded broker's log; made private at startup (0700, files 0600)")
	fs.StringVar(&c.EmbeddedAddr, "embedded-addr", c.EmbeddedAddr, "listen address of the embedded Kafka-protocol broker (used when --brokers is empty); loopback only (localhost, 127.0.0.0/8 or ::1): it has no authentication, so run a real Kafka and pass --brokers to publish from other hosts")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "address serving /metrics, /healthz, /readyz and /reports/")
	fs.StringVar(&c.WebConfigFile, "web-config-file", c.WebConfigFile, "Prometheus exporter-toolkit web configuration (YAML: tls_server_config, basic_auth_users with bcrypt hashes) for the HTTP endpoint; without basic_auth_users the reports and /-/reload answer loopback clients only, /healthz and /readyz are always open")
	fs.StringVar(&c.Teams, "teams", c.Teams, "team agreements file (YAML: units, time zones, response SLAs, working days, min_group_size); reload with SIGHUP or POST /-/reload")
	fs.StringVar(&c.PseudonymKeyFile, "pseudonym-key-file", c.PseudonymKeyFile, "file with the secret key (>= 32 bytes) that pseudonymizes person ids, outside --data-dir; create one with: head -c 32 /dev/urandom > shoal.key")
	fs.IntVar(&c.DuckDBThreads, "duckdb-threads", c.DuckDBThreads, "DuckDB threads (0 = one less than the cores, at least 1, so the spare core prepares the next batch; all of them for the commit steps that scan the stored tables)")
	fs.StringVar(&c.DuckDBMemoryLimit, "duckdb-memory-limit", c.DuckDBMemoryLimit, "DuckDB memory limit, e.g. 2GB (empty = DuckDB default)")
	fs.StringVar(&c.DuckDBCheckpointThreshold, "duckdb-checkpoint-threshold", c.DuckDBCheckpointThreshold, "write-ahead log size that makes DuckDB checkpoint, e.g. 256MB: larger is fewer checkpoints and a longer replay after a crash; Shoal also checkpoints "+transform.IdleCheckpointAfter.String()+" after the last commit when the stream pauses (empty = "+transform.DefaultCheckpointThreshold+")")
	fs.StringVar(&c.GoMemoryLimit, "go-memory-limit", c.GoMemoryLimit, "soft limit of the Go heap (like GOMEMLIMIT), e.g. 320MiB: the garbage collector works harder near it; DuckDB's memory is separate (empty = GOMEMLIMIT or none)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.Var(&c.RetainEvents, "retain-events", "how long after a week's release its raw events and per-person rows (pseudonymized) are kept, then deleted in the background; the released figures stay (units ms, s, m, h, d, w, y; e.g. 4w, 90d)")
	fs.Var(&c.RetainDeadLetters, "retain-dead-letters", "how long the embedded broker keeps a dead letter (refused events, no person values); with an external Kafka the dead-letter topic's own retention.ms decides (e.g. 14d)")
	fs.DurationVar(&c.SettleDelay, "settle-delay", c.SettleDelay, "how long after an ISO week ends (in the org's time zone) it is released to /metrics, SQL and the reports; a released week never changes, and later entries for it are counted, not shown (0 = as soon as it ends)")
}

// Validate reports every problem at once; requireKey (run) makes the
// pseudonym key file required and refuses one inside the data directory,
// demo generates one there.
func (c *Config) Validate(requireKey bool) error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SettleDelay < 0 || c.SettleDelay > 28*24*time.Hour {
		errs = append(errs, fmt.Errorf("settle-delay %s: use a duration from 0 to 672h (4 weeks), e.g. 48h", c.SettleDelay))
	}
	if c.RetainEvents < 0 {
		errs = append(errs, fmt.Errorf("retain-events %s: use a duration of 0 or more, e.g. 4w", c.RetainEvents))
	}
	if c.RetainDeadLetters < model.Duration(time.Hour) {
		errs = append(errs, fmt.Errorf("retain-dead-letters %s: use at least 1h, e.g. 14d (dead letters are how a producer finds what was refused)", c.RetainDeadLetters))
	}
	if err := c.SQL.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Intake.Validate(false); err != nil {
		errs = append(errs, err)
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if len(c.Brokers) == 0 {
		if err := broker.CheckLoopback(c.EmbeddedAddr); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http-addr %q: %w (use host:port, e.g. 127.0.0.1:9464)", c.HTTPAddr, err))
	}
	if requireKey && c.PseudonymKeyFile == "" {
		errs = append(errs, errors.New("pseudonym-key-file is required: create a key with `head -c 32 /dev/urandom > shoal.key` and pass --pseudonym-key-file shoal.key (keep it secret and keep it: a new key gives everyone new pseudonyms)"))
	}
	if requireKey && c.PseudonymKeyFile != "" && c.DataDir != "" && keyInsideDataDir(c.PseudonymKeyFile, c.DataDir) {
		errs = append(errs, fmt.Errorf("pseudonym-key-file %s is inside data-dir %s: a backup or copy of the data directory would carry the key that links its pseudonyms back to people. "+
			"Keep the key outside the data directory, readable by Shoal's user only: e.g. /etc/shoal/pseudonym.key, a secret mount (deploy/compose and deploy/kubernetes mount one), or beside the data directory (mv %s %s)",
			c.PseudonymKeyFile, c.DataDir, c.PseudonymKeyFile, filepath.Join(filepath.Dir(realPath(c.DataDir)), filepath.Base(c.PseudonymKeyFile))))
	}
	if c.GoMemoryLimit != "" {
		if _, err := ParseSize(c.GoMemoryLimit); err != nil {
			errs = append(errs, fmt.Errorf("go-memory-limit: %w", err))
		}
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format %q: use text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// StoreConfig is the DuckDB store's configuration.
func (c *Config) StoreConfig() transform.Config {
	return transform.Config{Path: c.duckDBPath(), Threads: c.DuckDBThreads, MemoryLimit: c.DuckDBMemoryLimit, CheckpointThreshold: c.DuckDBCheckpointThreshold}
}

func (c *Config) duckDBPath() string { return filepath.Join(c.DataDir, "shoal.duckdb") }

var sizeRE = regexp.MustCompile(`(?i)^([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)$`)

var sizeUnits = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads a size with a unit, as DuckDB does: 512MB (decimal) or
// 320MiB (binary).
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size; use a number with a unit, e.g. 320MiB or 1GB", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	b := n * sizeUnits[strings.ToLower(m[2])]
	if b < 1<<20 || b > 1<<50 {
		return 0, fmt.Errorf("%q is out of range; use at least 1MiB", s)
	}
	return int64(b), nil
}

// SetGoMemoryLimit makes limit (a size, "" = leave it) the Go runtime's
// soft memory limit.
func SetGoMemoryLimit(limit string) error {
	if limit == "" {
		return nil
	}
	n, err := ParseSize(limit)
	if err != nil {
		return fmt.Errorf("go-memory-limit: %w", err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// ParseLevel reads a log level: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// NewLogger returns the logger cfg asks for (--log-level, --log-format),
// writing to w.
func NewLogger(cfg *Config, w io.Writer) *slog.Logger {
	level, _ := ParseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
