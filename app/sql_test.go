package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/lib/pq"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/privacy/privacytest"
	sqlserver "github.com/shoal-analytics/shoal/sql"
	"github.com/shoal-analytics/shoal/synth"
)

const sqlTestPassword = "correct horse battery staple"

// sqlEndpoint is a running pipeline with the SQL endpoint on, loaded with
// apptest.SmallOrg, and a users file with user analyst.
type sqlEndpoint struct {
	p    *App
	logs *apptest.SyncBuffer
	addr string
	host string
	port string
}

func startSQLEndpoint(t *testing.T, opts ...func(*Config)) *sqlEndpoint {
	t.Helper()
	org, msgs := apptest.SmallOrg()
	return startSQLEndpointOrg(t, org, msgs, opts...)
}

func startSQLEndpointOrg(t *testing.T, org *synth.Org, msgs []synth.Message, opts ...func(*Config)) *sqlEndpoint {
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
	kafka := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, kafka, "shoal.events", msgs)
	logs := &apptest.SyncBuffer{}
	p, _ := testPipeline(t, kafka, t.TempDir(), org, logs, append([]func(*Config){func(c *Config) {
		c.SQL.Addr = "127.0.0.1:0"
		c.SQL.Users = users
	}}, opts...)...)
	waitCaughtUp(t, p)
	release(t, p)
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
		for _, tc := range []struct{ cmd, want string }{
			{`\dt`, " shoal  | weekly_outcomes | table | shoal"},
			{`\dt shoal.daily*`, " shoal  | daily_outcomes | table | shoal"},
			{`\d`, " shoal  | team_agreements | table | shoal"},
			{`\d shoal.weekly_outcomes`, " tasks_completed           | double  |"},
			{`\d shoal.weekly_outcomes`, `Table "shoal.weekly_outcomes"`},
		} {
			out, err := e.psql(t, tc.cmd)
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("psql %s: %v, want a line %q\n%s", tc.cmd, err, tc.want, out)
			}
		}
		if out, err := e.psql(t, `\dt shoal.daily*`); err != nil || strings.Contains(out, "weekly") {
			t.Errorf("\\dt with a pattern lists other tables:\n%s", out)
		}
		out, err = e.psql(t, "COPY shoal.weekly_outcomes TO '/tmp/x'")
		if err == nil || !strings.Contains(out, "read-only") {
			t.Errorf("psql COPY: %v\n%s", err, out)
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

// Error classes of refused statements (SQLSTATE).
const (
	notRead   = "0A000" // not a single read statement
	forbidden = "42501" // a table, table function or function outside the allowlist
	syntax    = "42601"
	rowLimit  = "54000"
	timedOut  = "57014"
)

// heavyQuery runs for minutes: a four-way cross join of the daily table.
const heavyQuery = "SELECT count(*) FROM shoal.daily_outcomes a, shoal.daily_outcomes b, shoal.daily_outcomes c, shoal.daily_outcomes d WHERE a.tasks_completed + b.tasks_completed + c.tasks_completed + d.tasks_completed > -1"

// hostileQueries are statements an analyst (or an attacker with analyst
// credentials) might send, each with the error class it must get.
func hostileQueries(duckdbPath string) []struct{ name, q, code string } {
	return []struct{ name, q, code string }{
		{"insert", "INSERT INTO shoal.weekly_outcomes (level) VALUES ('x')", notRead},
		{"update", "UPDATE shoal.weekly_outcomes SET tasks_completed = 0", notRead},
		{"delete", "DELETE FROM shoal.weekly_outcomes", notRead},
		{"create table", "CREATE TABLE shoal.x (a INT)", notRead},
		{"create table as", "CREATE TABLE x AS SELECT * FROM shoal.weekly_outcomes", notRead},
		{"drop", "DROP TABLE shoal.weekly_outcomes", notRead},
		{"alter", "ALTER TABLE shoal.weekly_outcomes ADD COLUMN x INT", notRead},
		{"create view", "CREATE VIEW v AS SELECT 1", notRead},
		{"create macro", "CREATE MACRO m(x) AS x", notRead},
		{"create secret", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", notRead},
		{"attach the pipeline's DuckDB file", "ATTACH '" + duckdbPath + "' AS raw (READ_ONLY)", notRead},
		{"attach memory", "ATTACH ':memory:' AS m2", notRead},
		{"detach", "DETACH memory", notRead},
		{"use", "USE memory.main", notRead},
		{"copy to file", "COPY shoal.weekly_outcomes TO '/tmp/shoal-leak.csv'", notRead},
		{"copy query to file", "COPY (SELECT 1) TO '/tmp/shoal-leak.csv'", notRead},
		{"copy from file", "COPY shoal.weekly_outcomes FROM '/etc/passwd'", notRead},
		{"export", "EXPORT DATABASE '/tmp/shoal-export'", notRead},
		{"import", "IMPORT DATABASE '/tmp/shoal-export'", notRead},
		{"install", "INSTALL httpfs", notRead},
		{"load", "LOAD httpfs", notRead},
		{"pragma", "PRAGMA database_list", notRead},
		{"pragma show_tables", "PRAGMA show_tables", notRead},
		{"set external access", "SET enable_external_access = true", notRead},
		{"unlock configuration", "SET lock_configuration = false", notRead},
		{"reset", "RESET memory_limit", notRead},
		{"call", "CALL pragma_version()", notRead},
		{"begin", "BEGIN TRANSACTION", notRead},
		{"checkpoint", "CHECKPOINT", notRead},
		{"vacuum", "VACUUM", notRead},
		{"explain", "EXPLAIN ANALYZE SELECT 1", notRead},
		{"prepare", "PREPARE p AS SELECT 1", notRead},
		{"two statements", "SELECT 1; SELECT 2", notRead},
		{"read then drop", "SELECT 1; DROP TABLE shoal.weekly_outcomes", notRead},
		{"comment hides a statement", "SELECT 1 /* harmless */; ATTACH '" + duckdbPath + "' AS raw", notRead},
		{"line comment then statement", "SELECT 1 -- just a comment\n; INSTALL httpfs", notRead},
		{"statement after a string with a semicolon", "SELECT ';'; COPY (SELECT 1) TO '/tmp/shoal-leak.csv'", notRead},
		{"read_csv", "SELECT * FROM read_csv('/etc/passwd')", forbidden},
		{"read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", forbidden},
		{"read_parquet", "SELECT * FROM read_parquet('" + duckdbPath + "')", forbidden},
		{"read_json", "SELECT * FROM read_json_auto('/etc/passwd')", forbidden},
		{"read_text", "SELECT * FROM read_text('/etc/passwd')", forbidden},
		{"read_blob", "SELECT * FROM read_blob('" + duckdbPath + "')", forbidden},
		{"glob", "SELECT * FROM glob('/*')", forbidden},
		{"file path as table", "SELECT * FROM '/etc/passwd'", forbidden},
		{"url as table (httpfs)", "SELECT * FROM 'https://example.com/x.parquet'", forbidden},
		{"sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", forbidden},
		{"parquet_metadata", "SELECT * FROM parquet_metadata('/tmp/x.parquet')", forbidden},
		{"duckdb_settings", "SELECT * FROM duckdb_settings()", forbidden},
		{"duckdb_databases", "SELECT * FROM duckdb_databases()", forbidden},
		{"duckdb_tables", "SELECT * FROM duckdb_tables()", forbidden},
		{"pragma table function", "SELECT * FROM pragma_database_list()", forbidden},
		{"query table function", "SELECT * FROM query('SELECT 1')", forbidden},
		{"range table function", "SELECT * FROM range(10)", forbidden},
		{"json_execute_serialized_sql", "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", forbidden},
		{"current_setting", "SELECT current_setting('temp_directory')", forbidden},
		{"getenv", "SELECT getenv('HOME')", forbidden},
		{"pg_read_file", "SELECT pg_read_file('/etc/passwd')", forbidden},
		{"read_text as scalar", "SELECT read_text('/etc/passwd')", forbidden},
		{"raw events, fully qualified", "SELECT * FROM memory.main.events", forbidden},
		{"raw events", "SELECT * FROM events", forbidden},
		{"raw tasks", "SELECT * FROM main.tasks", forbidden},
		{"events in the published schema", "SELECT * FROM shoal.events", forbidden},
		{"offsets", `SELECT * FROM "offsets"`, forbidden},
		{"the transform's scratch database", "SELECT * FROM shoal_transform_scratch.main.shoal_batch", forbidden},
		{"another catalog", "SELECT * FROM raw.main.events", forbidden},
		{"system catalog table", "SELECT * FROM system.main.duckdb_settings", forbidden},
		{"temp catalog", "SELECT * FROM temp.main.x", forbidden},
		{"pg_settings", "SELECT * FROM pg_catalog.pg_settings", forbidden},
		{"pg_settings unqualified", "SELECT name, setting FROM pg_settings", forbidden},
		{"CTE named like a raw table, then the raw table", "WITH events AS (SELECT 1) SELECT * FROM memory.main.events", forbidden},
		{"CTE in a subquery shadows the outer pg_settings", "SELECT name, setting FROM (WITH pg_settings AS (SELECT 1 AS x) SELECT x FROM pg_settings) t, pg_settings", forbidden},
		{"CTE in a subquery in WHERE", "SELECT name, setting FROM pg_settings WHERE EXISTS (WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings)", forbidden},
		{"CTE in a scalar subquery", "SELECT (WITH pg_settings AS (SELECT 1 AS x) SELECT count(*) FROM pg_settings) + (SELECT count(*) FROM pg_settings)", forbidden},
		{"nested CTE", "WITH a AS (WITH pg_settings AS (SELECT 1 AS x) SELECT * FROM pg_settings) SELECT name, setting FROM a, pg_settings", forbidden},
		{"CTE body names a later CTE", "WITH a AS (SELECT * FROM pg_settings), pg_settings AS (SELECT 1 AS x) SELECT * FROM a", forbidden},
		{"CTE body names itself", "WITH pg_settings AS (SELECT * FROM pg_settings) SELECT * FROM pg_settings", forbidden},
		{"recursive CTE in a subquery", "SELECT (WITH RECURSIVE pg_settings(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM pg_settings WHERE n < 3) SELECT count(*) FROM pg_settings), name FROM pg_settings", forbidden},
		{"materialized CTE in a subquery", "SELECT * FROM (WITH pg_settings AS MATERIALIZED (SELECT 1 AS x) SELECT * FROM pg_settings) t, pg_settings", forbidden},
		{"CTE in one branch of a UNION", "(WITH pg_settings AS (SELECT 1 AS x) SELECT x FROM pg_settings) UNION ALL SELECT count(*) FROM pg_settings", forbidden},
		{"CTE shadowing a published table reads a raw one", "WITH weekly_outcomes AS (SELECT * FROM pg_settings) SELECT * FROM weekly_outcomes", forbidden},
		{"CTE named like a raw table in a subquery", "SELECT * FROM shoal.weekly_outcomes WHERE team IN (WITH events AS (SELECT 'a' AS team) SELECT team FROM events) AND EXISTS (SELECT * FROM events)", forbidden},
		{"table function in a subquery", "SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')) t", forbidden},
		{"table function in a scalar subquery", "SELECT (SELECT count(*) FROM read_text('/etc/passwd'))", forbidden},
		{"table function in IN", "SELECT * FROM shoal.weekly_outcomes WHERE team IN (SELECT file FROM glob('/*'))", forbidden},
		{"table function in a join", "SELECT * FROM shoal.weekly_outcomes a JOIN read_csv('/etc/passwd') b ON true", forbidden},
		{"table function in a CTE", "WITH f AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM f", forbidden},
		{"describe a raw table", "DESCRIBE memory.main.events", forbidden},
		{"summarize a raw table", "SUMMARIZE events", forbidden},
		{"unicode-escaped raw table name", `SELECT * FROM U&"ev\0065nts"`, syntax},
		{"syntax error", "SELEC 1", syntax},
		{"huge result", "SELECT a.day, b.day FROM shoal.daily_outcomes a, shoal.daily_outcomes b", rowLimit},
		{"400 MB within the row cap", "SELECT repeat('x', 100000) AS s FROM shoal.daily_outcomes a, shoal.daily_outcomes b LIMIT 4000", rowLimit},
		{"heavy cross join", heavyQuery, timedOut},
	}
}

// TestSQLHostileQueries sends every hostile query through the simple and
// the extended protocol and checks its error class, then that the server
// still answers on the same and on a new connection.
func TestSQLHostileQueries(t *testing.T) {
	e := startSQLEndpoint(t, func(c *Config) {
		c.SQL.StatementTimeout = 2 * time.Second
		c.SQL.MaxRows = 5000
	})
	ctx := context.Background()
	c := e.connect(t)
	queries := hostileQueries(e.p.cfg.duckDBPath())
	if len(queries) < 40 {
		t.Fatalf("only %d hostile queries", len(queries))
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		for _, tc := range queries {
			if tc.code == timedOut && mode != pgx.QueryExecModeSimpleProtocol {
				continue // once is enough
			}
			t.Run(fmt.Sprint(mode)+"/"+tc.name, func(t *testing.T) {
				rows, err := c.Query(ctx, tc.q, mode)
				if err == nil {
					for rows.Next() {
					}
					err = rows.Err()
					rows.Close()
				}
				if err == nil {
					t.Fatalf("%s: accepted", tc.q)
				}
				if got := pgCode(err); got != tc.code {
					t.Errorf("%s: %v (SQLSTATE %s), want SQLSTATE %s", tc.q, err, got, tc.code)
				}
			})
		}
	}
	for _, c := range []*pgx.Conn{c, e.connect(t)} {
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n); err != nil || n != 16 {
			t.Errorf("after the hostile queries: %d metrics, %v", n, err)
		}
	}
	if _, err := os.Stat("/tmp/shoal-leak.csv"); err == nil {
		t.Error("a hostile COPY wrote /tmp/shoal-leak.csv")
	}
	logs := string(e.logs.Bytes())
	if !strings.Contains(logs, "outcome=refused") || !strings.Contains(logs, "outcome=timeout") || !strings.Contains(logs, "outcome=row_limit") {
		t.Error("audit log lacks refused, timeout or row_limit outcomes")
	}
	if strings.Contains(logs, "/etc/passwd") || strings.Contains(logs, "shoal-leak") {
		t.Error("the audit log carries statement text")
	}
}

// TestSQLTypesAndClients: pgx prepared statements with typed scans, lib/pq
// through database/sql, the audit counter, and a heavy query that times
// out while another connection keeps getting answers.
func TestSQLTypesAndClients(t *testing.T) {
	e := startSQLEndpoint(t, func(c *Config) { c.SQL.StatementTimeout = 3 * time.Second })
	ctx := context.Background()
	c := e.connect(t)

	t.Run("typed columns", func(t *testing.T) {
		if _, err := c.Prepare(ctx, "typed", `SELECT DATE '2026-11-16' AS d, TIMESTAMP '2026-11-16 10:30:00' AS ts, CAST(2.5 AS DOUBLE) AS f,
			CAST(7 AS BIGINT) AS i8, CAST(3 AS INTEGER) AS i4, CAST('x' || $1 AS VARCHAR) AS s, $2 = 'yes' AS b, CAST(NULL AS DOUBLE) AS n`); err != nil {
			t.Fatal(err)
		}
		var (
			d, ts time.Time
			f     float64
			i8    int64
			i4    int32
			s     string
			b     bool
			n     *float64
		)
		rows, err := c.Query(ctx, "typed", "y", "yes")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]uint32{"d": 1082, "ts": 1114, "f": 701, "i8": 20, "i4": 23, "s": 25, "b": 16, "n": 701}
		for _, fd := range rows.FieldDescriptions() {
			if want[fd.Name] != fd.DataTypeOID {
				t.Errorf("column %s has type OID %d, want %d", fd.Name, fd.DataTypeOID, want[fd.Name])
			}
		}
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		if err := rows.Scan(&d, &ts, &f, &i8, &i4, &s, &b, &n); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if d.Format(time.DateOnly) != "2026-11-16" || ts.Format(time.DateTime) != "2026-11-16 10:30:00" || f != 2.5 || i8 != 7 || i4 != 3 || s != "xy" || !b || n != nil {
			t.Errorf("values %v %v %v %v %v %q %v %v", d, ts, f, i8, i4, s, b, n)
		}
		// The prepared statement runs again with other values.
		if err := c.QueryRow(ctx, "typed", "z", "no").Scan(&d, &ts, &f, &i8, &i4, &s, &b, &n); err != nil || s != "xz" || b {
			t.Errorf("second execution: %q %v %v", s, b, err)
		}
	})

	t.Run("result type depending on an untyped parameter", func(t *testing.T) {
		var s string
		err := c.QueryRow(ctx, "SELECT 'x' || $1 AS s", "y").Scan(&s)
		if pgCode(err) != "42804" || !strings.Contains(err.Error(), "CAST(") {
			t.Errorf("got %q, %v; want SQLSTATE 42804 saying to cast", s, err)
		}
	})

	t.Run("lib/pq", func(t *testing.T) {
		db, err := sql.Open("postgres", e.dsn())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		var title string
		if err := db.QueryRowContext(ctx, "SELECT count(*), max(title) FROM shoal.metric_catalog WHERE family = $1", "flow").Scan(&n, &title); err != nil || n != 9 || title == "" {
			t.Errorf("lib/pq: %d %q %v", n, title, err)
		}
	})

	t.Run("heavy query does not block others", func(t *testing.T) {
		heavy := e.connect(t)
		done := make(chan error, 1)
		go func() {
			var n int64
			done <- heavy.QueryRow(ctx, heavyQuery).Scan(&n)
		}()
		time.Sleep(200 * time.Millisecond) // let it start; correctness does not depend on this
		other := e.connect(t)
		for i := range 5 {
			var n int64
			if err := other.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n); err != nil || n != 16 {
				t.Fatalf("query %d beside the heavy one: %d, %v", i, n, err)
			}
		}
		select {
		case err := <-done:
			t.Logf("the heavy query ended before the other connection's five answers: %v", err)
		default:
		}
		if err := <-done; pgCode(err) != timedOut {
			t.Errorf("heavy query: %v, want SQLSTATE %s", err, timedOut)
		}
		var n int64
		if err := heavy.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n); err != nil || n != 16 {
			t.Errorf("the timed-out connection afterwards: %d, %v", n, err)
		}
	})

	t.Run("bad password", func(t *testing.T) {
		_, err := pgx.Connect(ctx, strings.Replace(e.dsn(), "horse", "donkey", 1))
		if pgCode(err) != "28P01" {
			t.Errorf("wrong password: %v, want SQLSTATE 28P01", err)
		}
	})

	t.Run("audit counter", func(t *testing.T) {
		body := apptest.HTTPGet(t, e.p.URL()+"/metrics")
		for _, o := range []string{"ok", "timeout"} {
			re := regexp.MustCompile(`shoal_sql_queries_total\{outcome="` + o + `"\} ([0-9]+)`)
			m := re.FindStringSubmatch(body)
			if m == nil || m[1] == "0" {
				t.Errorf("shoal_sql_queries_total{outcome=%q}: %v", o, m)
			}
		}
		if !regexp.MustCompile(`msg="sql query" component=sql user=analyst client=127\.0\.0\.1:[0-9]+ fingerprint=[0-9a-f]{16} bytes=[0-9]+ rows=[0-9]+ outcome=ok`).Match(e.logs.Bytes()) {
			t.Errorf("no audit line with user, client, fingerprint, rows and outcome")
		}
	})
}

// sqlRows runs q through the simple protocol and returns every value as
// text (NULL as nil) with the column names.
func sqlRows(t *testing.T, c *pgx.Conn, q string) ([]string, [][]*string) {
	t.Helper()
	rows, err := c.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	var out [][]*string
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return names, out
}

// TestSQLPrivacy: no allowed query shows a pseudonym or a raw person id;
// every team below k in a week (known from the store itself) is NULL in
// the weekly and the daily table; and no combination of the published
// weekly and daily cells (tree sums per window, week = Σ its days) solves
// a hidden cell, checked with linear algebra on each week's equations.
func TestSQLPrivacy(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	checkSQLPrivacy(t, startSQLEndpointOrg(t, org, msgs), org)
}

// TestSQLPrivacyLargerOrg is TestSQLPrivacy on an organisation of the
// demo's shape: with more teams per unit, hidden day cells can be linked
// through several equations at once (each with two unknowns) into a
// solvable system, which apptest.SmallOrg never shows.
func TestSQLPrivacyLargerOrg(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	org, msgs := synth.Generate(synth.Options{Seed: 7, Teams: 30, Units: 6, People: 250, Weeks: 8, End: apptest.OrgNow, BadRate: 0.01})
	e := startSQLEndpointOrg(t, org, msgs)
	checkSQLPrivacy(t, e, org)
	t.Logf("%s", regexp.MustCompile(`.*SQL tables published.*`).FindAll(e.logs.Bytes(), -1)[1])
}

func checkSQLPrivacy(t *testing.T, e *sqlEndpoint, org *synth.Org) {
	ctx := context.Background()
	c := e.connect(t)

	t.Run("no pseudonyms or raw ids", func(t *testing.T) {
		pseudonym := regexp.MustCompile(regexp.QuoteMeta(privacy.PseudonymPrefix) + `[0-9a-fA-F]{24}`)
		raw := org.RawPeople()
		var seen int
		for _, q := range []string{
			"SELECT * FROM shoal.weekly_outcomes", "SELECT * FROM shoal.daily_outcomes", "SELECT * FROM shoal.metric_catalog",
			"SELECT * FROM shoal.team_agreements", "SELECT * FROM shoal.data_quality",
			"SELECT * FROM information_schema.tables", "SELECT * FROM information_schema.columns",
			"SELECT * FROM information_schema.schemata", "SELECT * FROM pg_catalog.pg_class", "SELECT * FROM pg_catalog.pg_attribute",
			"SELECT * FROM pg_catalog.pg_namespace", "SELECT * FROM pg_catalog.pg_tables", "SELECT * FROM pg_catalog.pg_proc",
			"DESCRIBE shoal.weekly_outcomes", "SUMMARIZE shoal.daily_outcomes", "SHOW TABLES",
			"SELECT current_database(), current_schema(), current_user, version()",
		} {
			names, rows := sqlRows(t, c, q)
			for _, r := range rows {
				for i, v := range r {
					if v == nil {
						continue
					}
					seen++
					if pseudonym.MatchString(*v) {
						t.Errorf("%s: column %s holds a pseudonym", q, names[i])
					}
					for _, p := range raw {
						if strings.Contains(*v, p) {
							t.Errorf("%s: column %s holds a raw person id", q, names[i])
						}
					}
				}
			}
		}
		if seen < 1000 {
			t.Errorf("only %d values seen: the tables are not loaded", seen)
		}
		if pseudonym.Match(e.logs.Bytes()) {
			t.Error("the logs hold a pseudonym")
		}
	})

	// The truth, straight from the store: the people behind each cell.
	policy := e.p.teams.Get().Policy()
	_, weeks := sqlRows(t, c, "SELECT min(week), max(week) FROM shoal.weekly_outcomes")
	from, _ := time.Parse(time.DateOnly, *weeks[0][0])
	to, _ := time.Parse(time.DateOnly, *weeks[0][1])
	fromDay, toDay := calendar.DayOf(from, time.UTC), calendar.DayOf(to, time.UTC)
	weekly, err := e.p.store.Outcomes(ctx, e.p.teams.Get(), fromDay, toDay, apptest.OrgNow)
	if err != nil {
		t.Fatal(err)
	}
	daily, err := e.p.store.DailyOutcomes(ctx, e.p.teams.Get(), fromDay, toDay+6, apptest.OrgNow)
	if err != nil {
		t.Fatal(err)
	}
	type pos struct {
		period      string
		level, unit string
		team        string
	}
	family := map[string]string{}
	for _, m := range outcome.Catalog {
		family[m.ID] = string(m.Family)
	}
	truePeople := func(rows []outcome.Cell) map[pos]map[string]int {
		out := map[pos]map[string]int{}
		for _, o := range rows {
			k := pos{calendar.DayTime(o.Week).Format(time.DateOnly), string(o.Level), o.Unit, o.Team}
			if out[k] == nil {
				out[k] = map[string]int{}
			}
			n := o.People
			if n == 0 && o.HasData() {
				n = 1 // contributions below the floors: someone's data, no known zero
			}
			out[k][family[o.Metric]] = n
		}
		return out
	}
	weekPeople, dayPeople := truePeople(weekly), truePeople(daily)

	// The published cells and their visibility per family.
	type pubCell struct {
		values map[string]*string
		hidden map[string]bool
		// withheld: the family has a withholding reason in the row, so a
		// NULL of its metrics may be withheld (the reader cannot tell it
		// from undefined).
		withheld map[string]bool
	}
	published := func(table, period string) map[pos]pubCell {
		names, rows := sqlRows(t, c, "SELECT * FROM shoal."+table)
		out := map[pos]pubCell{}
		for _, r := range rows {
			get := func(n string) string {
				for i, name := range names {
					if name == n && r[i] != nil {
						return *r[i]
					}
				}
				return ""
			}
			pc := pubCell{values: map[string]*string{}, hidden: map[string]bool{}, withheld: map[string]bool{}}
			for i, n := range names {
				pc.values[n] = r[i]
			}
			for _, f := range []string{"flow", "time", "async"} {
				pc.hidden[f] = get(f+"_suppressed") == "t"
				pc.withheld[f] = strings.Contains(get("suppression_reason"), f+":")
			}
			out[pos{get(period), get("level"), get("unit"), get("team")}] = pc
		}
		return out
	}
	pubWeeks, pubDays := published("weekly_outcomes", "week"), published("daily_outcomes", "day")

	t.Run("teams below k are hidden everywhere", func(t *testing.T) {
		var below int
		for k, fams := range weekPeople {
			if k.level != "team" {
				continue
			}
			for f, n := range fams {
				if n == 0 || policy.Visible(n) {
					continue
				}
				below++
				w, ok := pubWeeks[k]
				if !ok {
					t.Errorf("%v: no weekly row", k)
					continue
				}
				if !w.hidden[f] {
					t.Errorf("%v: %s has %d people (k=%d) but is not suppressed", k, f, n, policy.K)
				}
				week, _ := time.Parse(time.DateOnly, k.period)
				for d := range 7 {
					dk := k
					dk.period = week.AddDate(0, 0, d).Format(time.DateOnly)
					dc, ok := pubDays[dk]
					if !ok {
						continue
					}
					if !dc.hidden[f] {
						t.Errorf("%v: %s is below k in the week but visible on %s", k, f, dk.period)
					}
					for _, m := range outcome.Catalog {
						if string(m.Family) == f && dc.values[m.ID] != nil {
							t.Errorf("%v: %s shows %s on %s", k, m.ID, *dc.values[m.ID], dk.period)
						}
					}
				}
				for _, m := range outcome.Catalog {
					if string(m.Family) == f && w.values[m.ID] != nil {
						t.Errorf("%v: %s shows %s", k, m.ID, *w.values[m.ID])
					}
				}
			}
		}
		if below == 0 {
			t.Fatal("apptest.SmallOrg has no team below k in any week: the test would prove nothing")
		}
		t.Logf("%d (week, team, family) cells below k", below)
	})

	t.Run("no percentile over too few values is shown", func(t *testing.T) {
		// A reader of p50 and p85 over one or two tasks reads those tasks.
		var few, shown int
		for _, set := range []struct {
			rows []outcome.Cell
			pub  map[pos]pubCell
		}{{weekly, pubWeeks}, {daily, pubDays}} {
			for _, o := range set.rows {
				m, _ := outcome.ByID(o.Metric)
				if m.MinSamples == 0 || !o.Defined {
					continue
				}
				k := pos{calendar.DayTime(o.Week).Format(time.DateOnly), string(o.Level), o.Unit, o.Team}
				v := set.pub[k].values[m.ID]
				switch {
				case o.Samples < m.MinSamples:
					few++
					if v != nil {
						t.Errorf("%v: %s over %d values (fewer than %d) is shown: %s", k, m.ID, o.Samples, m.MinSamples, *v)
					}
				case v != nil:
					shown++
				}
			}
		}
		if few == 0 || shown == 0 {
			t.Fatalf("%d percentiles over too few values and %d shown: the test would prove nothing", few, shown)
		}
		t.Logf("%d percentiles over too few values withheld, %d shown", few, shown)
	})

	// Each metric is decided on its own tree (and days with their weeks),
	// so the reader's equations are per metric: a NULL where the family has
	// a withholding reason and someone's data is behind it is an unknown
	// (withheld or undefined: the reader cannot tell), every other cell is
	// known.
	t.Run("no differencing solves a hidden cell", func(t *testing.T) {
		var hiddenTotal int
		for _, m := range outcome.Catalog {
			if m.MinSamples > 0 {
				continue // percentiles are not sums: the samples rule covers them (above)
			}
			f := m.ID
			for wk := range weekPeople {
				if wk.level != "org" {
					continue
				}
				week, _ := time.Parse(time.DateOnly, wk.period)
				// Unknowns: hidden cells with people behind them (a hidden
				// cell with nobody behind it is known to be zero).
				type cell struct {
					p     pos
					daily bool
				}
				index := map[cell]int{}
				var cells []cell
				fam := string(m.Family)
				unknown := func(c cell) int {
					var pc pubCell
					var people map[string]int
					var ok bool
					if c.daily {
						pc, ok = pubDays[c.p]
						people = dayPeople[c.p]
					} else {
						pc, ok = pubWeeks[c.p]
						people = weekPeople[c.p]
					}
					if !ok || pc.values[f] != nil || !pc.withheld[fam] || people[fam] == 0 {
						return -1
					}
					if i, ok := index[c]; ok {
						return i
					}
					index[c] = len(cells)
					cells = append(cells, c)
					return index[c]
				}
				var eqs [][]int // each: unknowns with coefficient +1, except the first which is -1 (parent)
				tree := func(period string, daily bool, pub map[pos]pubCell) {
					children := map[pos][]pos{}
					for k := range pub {
						if k.period != period {
							continue
						}
						switch k.level {
						case "team":
							parent := pos{period, "unit", k.unit, ""}
							children[parent] = append(children[parent], k)
						case "unit":
							parent := pos{period, "org", "", ""}
							children[parent] = append(children[parent], k)
						}
					}
					for parent, kids := range children {
						eq := []int{unknown(cell{parent, daily})}
						for _, k := range kids {
							eq = append(eq, unknown(cell{k, daily}))
						}
						eqs = append(eqs, eq)
					}
				}
				tree(wk.period, false, pubWeeks)
				if outcome.WeeklyOnly(m.ID) {
					hiddenTotal += len(cells)
					for _, i := range privacytest.Determined(eqs, len(cells)) {
						t.Errorf("%s, week %s: hidden cell %+v is solvable from the published cells", f, wk.period, cells[i].p)
					}
					continue
				}
				for d := range 7 {
					tree(week.AddDate(0, 0, d).Format(time.DateOnly), true, pubDays)
				}
				for k := range pubWeeks {
					if k.period != wk.period {
						continue
					}
					eq := []int{unknown(cell{k, false})}
					for d := range 7 {
						dk := k
						dk.period = week.AddDate(0, 0, d).Format(time.DateOnly)
						if _, ok := pubDays[dk]; ok {
							eq = append(eq, unknown(cell{dk, true}))
						}
					}
					eqs = append(eqs, eq)
				}
				hiddenTotal += len(cells)
				for _, i := range privacytest.Determined(eqs, len(cells)) {
					t.Errorf("%s, week %s: hidden cell %+v (daily %v) is solvable from the published cells", f, wk.period, cells[i].p, cells[i].daily)
				}
			}
		}
		if hiddenTotal == 0 {
			t.Fatal("no hidden cells: the test would prove nothing")
		}
		t.Logf("%d hidden cells checked", hiddenTotal)
	})
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shoal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestSQLTLSAndAnonymous: with a certificate the endpoint speaks TLS
// (sslmode=require, and verify-full against the certificate); with
// anonymous access, as in the demo, no password is asked.
func TestSQLTLSAndAnonymous(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	e := startSQLEndpoint(t, func(c *Config) {
		c.SQL.Users, c.SQL.AllowAnonymous = "", true
		c.SQL.TLSCert, c.SQL.TLSKey = certFile, keyFile
	})
	ctx := context.Background()
	for _, mode := range []string{"require", "verify-full&sslrootcert=" + certFile, "disable"} {
		c, err := pgx.Connect(ctx, "postgres://anyone@"+e.addr+"/shoal?sslmode="+mode)
		if err != nil {
			t.Fatalf("sslmode=%s: %v", mode, err)
		}
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM shoal.team_agreements").Scan(&n); err != nil || n != 8 {
			t.Errorf("sslmode=%s: %d teams, %v", mode, n, err)
		}
		if tlsOn := c.PgConn().Conn().LocalAddr() != nil && mode != "disable"; tlsOn {
			if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
				t.Errorf("sslmode=%s: connection is not TLS", mode)
			}
		}
		c.Close(ctx)
	}
	out, err := e.psql(t, "SELECT count(*) FROM shoal.metric_catalog", "-A", "-t")
	if err != nil || strings.TrimSpace(out) != "16" {
		t.Errorf("anonymous psql: %v %s", err, out)
	}
}

// TestSQLDataQuality: the data_quality table has, for every released
// week, the week's and each day's accepted count (as the store has them,
// or NULL with a reason where withheld, and never a single withheld day
// with events that the week minus the visible days would give), and the
// refused counts per day, as the store has them.
func TestSQLDataQuality(t *testing.T) {
	e := startSQLEndpoint(t)
	c := e.connect(t)
	_, rows := sqlRows(t, c, "SELECT CAST(week AS VARCHAR), coalesce(CAST(day AS VARCHAR), ''), reason, events, withheld_reason FROM shoal.data_quality ORDER BY week, day NULLS FIRST")
	quality, err := e.p.store.Quality(context.Background(), 0, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, q := range quality {
		day := calendar.DayTime(q.Day).Format(time.DateOnly)
		week := calendar.DayTime(calendar.WeekStart(q.Day)).Format(time.DateOnly)
		want[week+"/ accepted"] += q.Accepted
		want[week+"/"+day+" accepted"] = q.Accepted
		for r, n := range q.Rejected {
			want[week+"/"+day+" "+r] = n
		}
	}
	var refused, hidden, weeks int
	type weekSum struct {
		total, visible   int64
		hiddenWithEvents int
		weekVisible      bool
	}
	sums := map[string]*weekSum{}
	for _, r := range rows {
		week, day, reason := *r[0], *r[1], *r[2]
		k := week + "/" + day + " " + reason
		ws := sums[week]
		if ws == nil {
			ws = &weekSum{}
			sums[week] = ws
		}
		if r[3] == nil {
			hidden++
			if reason != "accepted" || r[4] == nil {
				t.Errorf("%s: withheld without a reason, or a refused count withheld", k)
			}
			if day != "" && want[k] > 0 {
				ws.hiddenWithEvents++
			}
			continue
		}
		if *r[3] != fmt.Sprint(want[k]) {
			t.Errorf("%s: %s events, store says %d", k, *r[3], want[k])
		}
		switch {
		case reason != "accepted":
			refused++
		case day == "":
			weeks++
			ws.weekVisible, ws.total = true, want[k]
		default:
			ws.visible += want[k]
		}
	}
	for week, ws := range sums {
		if ws.weekVisible && ws.hiddenWithEvents == 1 {
			t.Errorf("week %s: one withheld day with events, and the week minus the visible days (%d) gives it", week, ws.total-ws.visible)
		}
	}
	if weeks == 0 || hidden == 0 {
		t.Errorf("%d rows: %d visible weeks, %d withheld: the small org should have both", len(rows), weeks, hidden)
	}
	// Refusals are dated by the day Shoal refused them: today, by the wall
	// clock, in no released week here. They are shown once their day's
	// week is released, not before.
	var storeRefused int64
	for _, q := range quality {
		for _, n := range q.Rejected {
			storeRefused += n
		}
	}
	if storeRefused == 0 || refused != 0 {
		t.Errorf("the store has %d refused events, all dated after the last release; the table shows %d refused counts, want 0", storeRefused, refused)
	}
	t.Logf("%d rows, %d accepted counts withheld", len(rows), hidden)
}
