package sql

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"
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
}

// Sentinel errors returned (wrapped) by Validate.
var (
	ErrBadAddr   = errors.New("bad sql-addr")
	ErrNoUsers   = errors.New("no sql users")
	ErrAnonymous = errors.New("anonymous sql access")
	ErrBadTLS    = errors.New("bad sql tls")
	ErrBadLimit  = errors.New("bad sql limit")
)

// DefaultConfig returns the documented defaults: the endpoint is off.
func DefaultConfig() Config {
	return Config{StatementTimeout: 10 * time.Second, MaxRows: 100000}
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, fmt.Errorf("%w: give both --sql-tls-cert and --sql-tls-key, or neither", ErrBadTLS))
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w (both files must be PEM, the key matching the certificate)", ErrBadTLS, err))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
