package sql

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/transform"
)

// Config configures the SQL endpoint. The yaml keys are the flag names
// with _ for -.
type Config struct {
	// Addr is where the PostgreSQL wire endpoint listens, e.g.
	// 127.0.0.1:5433. Default: "" (off) for run; 127.0.0.1:5433 for demo.
	Addr string `yaml:"sql_addr"`
	// Users is a file of "name:hash" lines, one user each; make a line with
	// `shoal sql --hash-password NAME`. Default: none.
	Users string `yaml:"sql_users"`
	// AllowAnonymous lets any user name connect without a password, on a
	// loopback address only. Default: false (true in demo).
	AllowAnonymous bool `yaml:"sql_allow_anonymous"`
	// TLSCert and TLSKey are a PEM certificate and key; with both set the
	// endpoint offers TLS. Default: none (no TLS).
	TLSCert string `yaml:"sql_tls_cert"`
	TLSKey  string `yaml:"sql_tls_key"`
	// StatementTimeout is the longest a statement may run. Default: 10s
	StatementTimeout time.Duration `yaml:"sql_statement_timeout"`
	// MaxRows is the most rows a statement may return; a larger result is
	// an error, not a silent truncation. Default: 100000
	MaxRows int `yaml:"sql_max_rows"`
	// MaxResultBytes is the most bytes a statement's result may hold (its
	// values as text), a size such as 64MiB; a larger result is an error
	// (SQLSTATE 54000), not a silent truncation. Default: 64MiB
	MaxResultBytes string `yaml:"sql_max_result_bytes"`
	// StartupTimeout is how long a new connection has to finish its
	// startup and authentication before it is closed. Default: 10s
	StartupTimeout time.Duration `yaml:"sql_startup_timeout"`
	// IdleTimeout closes a session that sends nothing for this long (and a
	// client that reads none of its result for this long). Default: 10m
	IdleTimeout time.Duration `yaml:"sql_idle_timeout"`
	// MaxConns is the most connections the endpoint holds at once; one
	// more is refused (SQLSTATE 53300). Default: 64
	MaxConns int `yaml:"sql_max_conns"`
	// MaxConnsPerAddr is the most connections one client address holds at
	// once, at most MaxConns. Default: 16
	MaxConnsPerAddr int `yaml:"sql_max_conns_per_addr"`
	// MemoryLimit is the most memory the SQL engine process may hold (the
	// serving database runs in a child process with this data limit,
	// DuckDB in it with a quarter); a statement past it fails with SQLSTATE
	// 53200, and a process past it is restarted without touching the
	// pipeline. Default: 1GiB
	MemoryLimit string `yaml:"sql_memory_limit"`
	// InsecurePlaintext allows password authentication without TLS on an
	// address other than loopback (passwords cross the network in clear
	// text): for a private network or a proxy that terminates TLS.
	// Default: false (refused at startup)
	InsecurePlaintext bool `yaml:"sql_insecure_plaintext"`
}

// Sentinel errors returned (wrapped) by Validate.
var (
	ErrBadAddr   = errors.New("bad sql-addr")
	ErrNoUsers   = errors.New("no sql users")
	ErrAnonymous = errors.New("anonymous sql access")
	ErrBadTLS    = errors.New("bad sql tls")
	ErrBadLimit  = errors.New("bad sql limit")
	ErrPlaintext = errors.New("sql passwords in clear text")
)

// DefaultConfig returns the documented defaults: the endpoint is off.
func DefaultConfig() Config {
	return Config{
		StatementTimeout: 10 * time.Second, MaxRows: 100000, MaxResultBytes: "64MiB",
		StartupTimeout: 10 * time.Second, IdleTimeout: 10 * time.Minute, MaxConns: 64, MaxConnsPerAddr: 16,
		MemoryLimit: "1GiB",
	}
}

// RegisterFlags binds the config to flags named prefix+name (cmd/shoal
// uses prefix "sql-").
func (c *Config) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, prefix+"addr", c.Addr, "listen address of the governed SQL endpoint (PostgreSQL wire protocol), e.g. 127.0.0.1:5433; empty = off")
	fs.StringVar(&c.Users, prefix+"users", c.Users, "file of SQL users, one name:hash line each (make one with: shoal sql --hash-password NAME)")
	fs.BoolVar(&c.AllowAnonymous, prefix+"allow-anonymous", c.AllowAnonymous, "let any SQL user connect without a password (loopback addresses only; for demos)")
	fs.StringVar(&c.TLSCert, prefix+"tls-cert", c.TLSCert, "PEM certificate for TLS on the SQL endpoint (with --"+prefix+"tls-key)")
	fs.StringVar(&c.TLSKey, prefix+"tls-key", c.TLSKey, "PEM private key for TLS on the SQL endpoint (with --"+prefix+"tls-cert)")
	fs.DurationVar(&c.StatementTimeout, prefix+"statement-timeout", c.StatementTimeout, "longest a SQL statement may run")
	fs.IntVar(&c.MaxRows, prefix+"max-rows", c.MaxRows, "most rows a SQL statement may return (a larger result is an error)")
	fs.StringVar(&c.MaxResultBytes, prefix+"max-result-bytes", c.MaxResultBytes, "most bytes a SQL statement's result may hold, its values as text, e.g. 64MiB (a larger result is an error, SQLSTATE 54000)")
	fs.DurationVar(&c.StartupTimeout, prefix+"startup-timeout", c.StartupTimeout, "how long a new SQL connection has to finish its startup and log in before it is closed")
	fs.DurationVar(&c.IdleTimeout, prefix+"idle-timeout", c.IdleTimeout, "close a SQL session that sends nothing (or reads none of its result) for this long")
	fs.IntVar(&c.MaxConns, prefix+"max-conns", c.MaxConns, "most SQL connections at once; one more is refused (SQLSTATE 53300)")
	fs.IntVar(&c.MaxConnsPerAddr, prefix+"max-conns-per-addr", c.MaxConnsPerAddr, "most SQL connections from one client address at once (at most --"+prefix+"max-conns)")
	fs.StringVar(&c.MemoryLimit, prefix+"memory-limit", c.MemoryLimit, "most memory the SQL engine process may hold, e.g. 1GiB (queries run in a child process; one that needs more fails, SQLSTATE 53200)")
	fs.BoolVar(&c.InsecurePlaintext, prefix+"insecure-plaintext", c.InsecurePlaintext, "allow SQL passwords without TLS on an address other than loopback (they cross the network in clear text)")
}

// Enabled reports whether the endpoint is configured to run.
func (c *Config) Enabled() bool { return c.Addr != "" }

// Validate reports every problem at once. With Addr empty only the limits
// are checked.
func (c *Config) Validate() error {
	var errs []error
	if c.StatementTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: sql-statement-timeout must be positive, got %s (e.g. 10s)", ErrBadLimit, c.StatementTimeout))
	}
	if c.MaxRows <= 0 {
		errs = append(errs, fmt.Errorf("%w: sql-max-rows must be positive, got %d (e.g. 100000)", ErrBadLimit, c.MaxRows))
	}
	if _, err := c.ResultBytes(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.EngineMemory(); err != nil {
		errs = append(errs, err)
	}
	if c.StartupTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: sql-startup-timeout must be positive, got %s (e.g. 10s)", ErrBadLimit, c.StartupTimeout))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: sql-idle-timeout must be positive, got %s (e.g. 10m)", ErrBadLimit, c.IdleTimeout))
	}
	switch {
	case c.MaxConns <= 0:
		errs = append(errs, fmt.Errorf("%w: sql-max-conns must be positive, got %d (e.g. 64)", ErrBadLimit, c.MaxConns))
	case c.MaxConnsPerAddr <= 0 || c.MaxConnsPerAddr > c.MaxConns:
		errs = append(errs, fmt.Errorf("%w: sql-max-conns-per-addr must be between 1 and sql-max-conns (%d), got %d (e.g. 16)", ErrBadLimit, c.MaxConns, c.MaxConnsPerAddr))
	}
	if !c.Enabled() {
		return errors.Join(errs...)
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w %q: %w (use host:port, e.g. 127.0.0.1:5433)", ErrBadAddr, c.Addr, err))
	}
	switch {
	case c.Users == "" && !c.AllowAnonymous:
		errs = append(errs, fmt.Errorf("%w: --sql-addr is set but there is no --sql-users file; create one with `shoal sql --hash-password analyst >> sql-users` (or, for a local demo only, --sql-allow-anonymous)", ErrNoUsers))
	case c.Users != "" && c.AllowAnonymous:
		errs = append(errs, fmt.Errorf("%w: --sql-users and --sql-allow-anonymous together: choose one (anonymous access would bypass the users file)", ErrAnonymous))
	case c.AllowAnonymous && err == nil && !isLoopback(host):
		errs = append(errs, fmt.Errorf("%w: --sql-allow-anonymous on %s, which is not a loopback address: anonymous access is only for local demos; use --sql-users, or listen on 127.0.0.1", ErrAnonymous, c.Addr))
	}
	if c.Users != "" {
		if _, err := LoadUsers(c.Users); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Users != "" && c.TLSCert == "" && err == nil && !isLoopback(host) && !c.InsecurePlaintext {
		errs = append(errs, fmt.Errorf("%w: --sql-users on %s without TLS: passwords would cross the network unencrypted; set --sql-tls-cert and --sql-tls-key, listen on 127.0.0.1, or (behind a proxy that terminates TLS, or on a private network) pass --sql-insecure-plaintext", ErrPlaintext, c.Addr))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%w: give both --sql-tls-cert and --sql-tls-key, or neither", ErrBadTLS))
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w (both files must be PEM, the key matching the certificate)", ErrBadTLS, err))
		}
	}
	return errors.Join(errs...)
}

// ResultBytes is MaxResultBytes in bytes.
func (c *Config) ResultBytes() (int64, error) {
	n, err := parseSize(c.MaxResultBytes)
	if err != nil {
		return 0, fmt.Errorf("%w: sql-max-result-bytes: %w", ErrBadLimit, err)
	}
	return n, nil
}

// EngineMemory is MemoryLimit in bytes.
func (c *Config) EngineMemory() (int64, error) {
	n, err := parseSize(c.MemoryLimit)
	if err == nil && n < transform.MinEngineMemory {
		err = fmt.Errorf("%q is too little; use at least %dMiB", c.MemoryLimit, transform.MinEngineMemory>>20)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: sql-memory-limit: %w", ErrBadLimit, err)
	}
	return n, nil
}

var (
	sizeRE    = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B|)$`)
	sizeUnits = map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
)

// parseSize reads a byte count, bare or with a unit: 67108864, 64MiB, 64MB.
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size; use bytes or a number with a unit, e.g. 64MiB", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	b := f * sizeUnits[m[2]]
	if b < 1<<10 || b > 1<<40 {
		return 0, fmt.Errorf("%q is out of range; use between 1KiB and 1TiB", s)
	}
	return int64(b), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
