package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sqlserver "github.com/shoal-analytics/shoal/sql"
)

const sqlTestPassword = "correct horse battery staple"

// sqlEndpoint is a running pipeline with the SQL endpoint on, loaded with
// smallOrg, and a users file with user analyst.
type sqlEndpoint struct {
	p    *pipeline
	logs *syncBuffer
	addr string
	host string
	port string
}

func startSQLEndpoint(t *testing.T, opts ...func(*Config)) *sqlEndpoint {
	t.Helper()
	dir := t.TempDir()
	hash, err := sqlserver.HashPassword(sqlTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "sql-users")
	if err := os.WriteFile(users, []byte("# test users\nanalyst:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org, msgs := smallOrg()
	kafka := startKafka(t, "shoal.events", "shoal.dlq")
	publish(t, kafka, "shoal.events", msgs)
	logs := &syncBuffer{}
	p, _ := testPipeline(t, kafka, t.TempDir(), org, logs, append([]func(*Config){func(c *Config) {
		c.SQL.Addr = "127.0.0.1:0"
		c.SQL.Users = users
	}}, opts...)...)
	waitCaughtUp(t, p)
	p.refreshServingNow(context.Background(), true)
	e := &sqlEndpoint{p: p, logs: logs, addr: p.sqlSrv.Addr()}
	e.host, e.port, _ = strings.Cut(e.addr, ":")
	return e
}

func (e *sqlEndpoint) dsn() string {
	return fmt.Sprintf("postgres://analyst:%s@%s/shoal?sslmode=disable", strings.ReplaceAll(sqlTestPassword, " ", "%20"), e.addr)
}

func (e *sqlEndpoint) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, e.dsn())
	if err != nil {
		t.Fatalf("pgx connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// psql runs the real psql binary with one command and returns its output
// (unaligned, tuples only).
func (e *sqlEndpoint) psql(t *testing.T, command string, extra ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed (apt-get install postgresql-client; .ci/run does this)")
	}
	args := append([]string{"-X", "-v", "ON_ERROR_STOP=1", "host=" + e.host + " port=" + e.port + " user=analyst dbname=shoal sslmode=disable", "-c", command}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+sqlTestPassword, "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestSQLEndpoint drives the SQL endpoint of a running pipeline with the
// real psql binary and with pgx.
func TestSQLEndpoint(t *testing.T) {
	e := startSQLEndpoint(t)
	ctx := context.Background()

	t.Run("psql", func(t *testing.T) {
		out, err := e.psql(t, "SELECT week, level, tasks_completed FROM shoal.weekly_outcomes WHERE level = 'org' ORDER BY week", "-A", "-t")
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "2026-") || !strings.Contains(lines[0], "|org|") {
			t.Errorf("psql output:\n%s", out)
		}
		for _, cmd := range []string{`\dt shoal.*`, `\dt`, `\d shoal.weekly_outcomes`} {
			out, err := e.psql(t, cmd)
			t.Logf("%s: %v\n%s", cmd, err, out)
		}
	})

	t.Run("pgx", func(t *testing.T) {
		c := e.connect(t)
		rows, err := c.Query(ctx, "SELECT week, level, unit, team, tasks_completed, suppressed FROM shoal.weekly_outcomes WHERE level = $1 AND week >= $2 AND tasks_completed >= $3 ORDER BY week, unit, team", "team", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 0)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for rows.Next() {
			var (
				week       time.Time
				level      string
				unit, team *string
				done       *float64
				suppressed bool
			)
			if err := rows.Scan(&week, &level, &unit, &team, &done, &suppressed); err != nil {
				t.Fatal(err)
			}
			n++
			if level != "team" || team == nil || unit == nil || week.Weekday() != time.Monday {
				t.Errorf("row %v %s %v %v", week, level, unit, team)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Error("no team rows")
		}
	})
}
