package sql

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	hash, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "users")
	os.WriteFile(good, []byte("# users\nanalyst:"+hash+"\n"), 0o600)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		err  error
		msg  string
	}{
		{"off", func(c *Config) {}, nil, ""},
		{"users", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", good }, nil, ""},
		{"users on all interfaces without TLS", func(c *Config) { c.Addr, c.Users = "0.0.0.0:5433", good }, ErrPlaintext, "--sql-insecure-plaintext"},
		{"users on an empty host without TLS", func(c *Config) { c.Addr, c.Users = ":5433", good }, ErrPlaintext, "--sql-tls-cert"},
		{"users without TLS, explicitly", func(c *Config) { c.Addr, c.Users, c.InsecurePlaintext = "0.0.0.0:5433", good, true }, nil, ""},
		{"result bytes", func(c *Config) { c.MaxResultBytes = "lots" }, ErrBadLimit, "sql-max-result-bytes"},
		{"result bytes too small", func(c *Config) { c.MaxResultBytes = "12" }, ErrBadLimit, "1KiB"},
		{"memory limit", func(c *Config) { c.MemoryLimit = "a lot" }, ErrBadLimit, "sql-memory-limit"},
		{"memory limit too small", func(c *Config) { c.MemoryLimit = "64MiB" }, ErrBadLimit, "at least 256MiB"},
		{"startup timeout", func(c *Config) { c.StartupTimeout = -time.Second }, ErrBadLimit, "sql-startup-timeout"},
		{"idle timeout", func(c *Config) { c.IdleTimeout = 0 }, ErrBadLimit, "sql-idle-timeout"},
		{"max conns", func(c *Config) { c.MaxConns = 0 }, ErrBadLimit, "sql-max-conns must"},
		{"per-address cap above the cap", func(c *Config) { c.MaxConns, c.MaxConnsPerAddr = 8, 16 }, ErrBadLimit, "sql-max-conns-per-addr"},
		{"per-address cap zero", func(c *Config) { c.MaxConnsPerAddr = 0 }, ErrBadLimit, "between 1 and"},
		{"anonymous on loopback", func(c *Config) { c.Addr, c.AllowAnonymous = "127.0.0.1:5433", true }, nil, ""},
		{"no users", func(c *Config) { c.Addr = "127.0.0.1:5433" }, ErrNoUsers, "--sql-users"},
		{"anonymous on all interfaces", func(c *Config) { c.Addr, c.AllowAnonymous = "0.0.0.0:5433", true }, ErrAnonymous, "loopback"},
		{"anonymous and users", func(c *Config) { c.Addr, c.Users, c.AllowAnonymous = "127.0.0.1:5433", good, true }, ErrAnonymous, "choose one"},
		{"bad addr", func(c *Config) { c.Addr, c.AllowAnonymous = "5433", true }, ErrBadAddr, "host:port"},
		{"timeout", func(c *Config) { c.StatementTimeout = 0 }, ErrBadLimit, "sql-statement-timeout"},
		{"max rows", func(c *Config) { c.MaxRows = -1 }, ErrBadLimit, "sql-max-rows"},
		{"cert without key", func(c *Config) { c.Addr, c.Users, c.TLSCert = "127.0.0.1:5433", good, "x.pem" }, ErrBadTLS, "both"},
		{"unreadable cert", func(c *Config) {
			c.Addr, c.Users, c.TLSCert, c.TLSKey = "127.0.0.1:5433", good, "/nonexistent.pem", "/nonexistent.key"
		}, ErrBadTLS, "PEM"},
		{"missing users file", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", "/nonexistent" }, ErrBadUsers, "no such file"},
		{"empty users file", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", write("empty", "# nobody\n") }, ErrBadUsers, "no users"},
		{"clear-text password", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", write("clear", "analyst:secret\n") }, ErrBadUsers, "line 1"},
		{"weak iterations", func(c *Config) {
			c.Addr, c.Users = "127.0.0.1:5433", write("weak", "analyst:"+strings.Replace(hash, "$600000$", "$1000$", 1)+"\n")
		}, ErrBadUsers, "at least 100000"},
		{"duplicate user", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", write("dup", "a:"+hash+"\na:"+hash+"\n") }, ErrBadUsers, "twice"},
		{"bad user name", func(c *Config) { c.Addr, c.Users = "127.0.0.1:5433", write("name", "a b:"+hash+"\n") }, ErrBadUsers, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.cfg(&c)
			err := c.Validate()
			if tc.err == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %v mentioning %q", err, tc.err, tc.msg)
			}
		})
	}
	if d := DefaultConfig(); d.StatementTimeout != 10*time.Second || d.MaxRows != 100000 || d.Addr != "" ||
		d.StartupTimeout != 10*time.Second || d.IdleTimeout != 10*time.Minute || d.MaxConns != 64 || d.MaxConnsPerAddr != 16 {
		t.Errorf("defaults %+v", d)
	}
	for in, want := range map[string]int64{"64MiB": 64 << 20, "67108864": 64 << 20, "1.5 KB": 1500, "2GiB": 2 << 30} {
		c := Config{MaxResultBytes: in}
		if got, err := c.ResultBytes(); got != want || err != nil {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestUsersCheck(t *testing.T) {
	hash, _ := HashPassword("a long enough password")
	p := filepath.Join(t.TempDir(), "users")
	os.WriteFile(p, []byte("analyst:"+hash+"\n"), 0o600)
	u, err := LoadUsers(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{
		{"analyst", "a long enough password", true},
		{"analyst", "a long enough passwort", false},
		{"nobody", "a long enough password", false},
		{"analyst", "", false},
	} {
		if got := u.Check(tc.user, tc.pw); got != tc.ok {
			t.Errorf("Check(%q, %q) = %v", tc.user, tc.pw, got)
		}
	}
}

func TestFingerprint(t *testing.T) {
	same := []string{
		"SELECT * FROM shoal.weekly_outcomes WHERE team = 'alice@example.com' AND x > 5",
		"select *  from shoal.weekly_outcomes -- a comment\n where team = 'bob' and x > 7.5",
		"SELECT * FROM shoal.weekly_outcomes /* c */ WHERE team = 'it''s' AND x > 1e3",
	}
	for _, q := range same[1:] {
		if Fingerprint(q) != Fingerprint(same[0]) {
			t.Errorf("%q and %q differ: %q vs %q", q, same[0], Normalize(q), Normalize(same[0]))
		}
	}
	if n := Normalize(same[0]); strings.Contains(n, "alice") || strings.Contains(n, "5") {
		t.Errorf("normalised text keeps a literal: %q", n)
	}
	if Fingerprint("SELECT a FROM t") == Fingerprint("SELECT b FROM t") {
		t.Error("different columns, same fingerprint")
	}
	if Fingerprint(`SELECT $1, $$dollar 'quoted'$$`) != Fingerprint(`SELECT $2, $$other$$`) {
		t.Error("parameters and dollar quotes are literals")
	}
}

// FuzzNormalize: any text normalises without panicking, and its literals
// never survive.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"SELECT 'a''b', $1, $$x$$, \"q\"\"q\" -- c\n/* d */ 1.5e3", "'", "$a$", "/*", "\"", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n := Normalize(q)
		if strings.Contains(n, "'") && !strings.Contains(q, "\"") {
			t.Errorf("Normalize(%q) = %q keeps a quote", q, n)
		}
		_ = Fingerprint(q)
	})
}
