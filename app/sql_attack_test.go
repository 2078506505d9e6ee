package app

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// The attacks of issue 21 on the SQL endpoint, each against a running
// Shoal over TCP. Clients come from several loopback addresses (on Linux
// every 127.x.y.z is the host itself), so they count as different client
// addresses.

// connectFrom logs in from the local address from with password and
// returns the connection or the error.
func (e *sqlEndpoint) connectFrom(ctx context.Context, from, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(strings.Replace(e.dsn(), strings.ReplaceAll(sqlTestPassword, " ", "%20"), strings.ReplaceAll(password, " ", "%20"), 1))
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	cfg.DialFunc = d.DialContext
	cfg.ConnectTimeout = 30 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// metric reads one sample of the endpoint's /metrics.
func (e *sqlEndpoint) metric(t *testing.T, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)`).FindStringSubmatch(apptest.HTTPGet(t, e.p.URL()+"/metrics"))
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestSQLConnectionAttacks: 64 connections that never send a startup
// packet lock nobody else out and are closed at the startup timeout; one
// address gets at most its share and is told so (53300); a session that
// goes silent is closed at the idle timeout.
func TestSQLConnectionAttacks(t *testing.T) {
	e := startSQLEndpoint(t, func(c *Config) {
		c.SQL.StartupTimeout = 3 * time.Second
		c.SQL.IdleTimeout = 2 * time.Second
	})
	ctx := context.Background()

	t.Run("64 idle connections", func(t *testing.T) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, Timeout: 10 * time.Second}
		var idle []net.Conn
		for range 64 {
			c, err := d.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			idle = append(idle, c)
		}
		other, err := e.connectFrom(ctx, "127.0.0.2", sqlTestPassword)
		if err != nil {
			t.Fatalf("a client from another address while 64 idle connections are open: %v", err)
		}
		var n int64
		if err := other.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n); err != nil || n != 16 {
			t.Errorf("query beside the idle connections: %d, %v", n, err)
		}
		other.Close(ctx)
		if _, err := e.connectFrom(ctx, "127.0.0.1", sqlTestPassword); pgCode(err) != "53300" || !strings.Contains(err.Error(), "--sql-max-conns-per-addr") {
			t.Errorf("a client from the idle connections' address: %v, want SQLSTATE 53300 naming --sql-max-conns-per-addr", err)
		}
		// psql asks for TLS first (sslmode=prefer) and still reads why.
		if bin, err := exec.LookPath("psql"); err == nil {
			cmd := exec.Command(bin, "-X", "host=127.0.0.1 port="+e.port+" user=analyst dbname=shoal", "-c", "SELECT 1")
			cmd.Env = append(os.Environ(), "PGPASSWORD="+sqlTestPassword, "PGCONNECT_TIMEOUT=10")
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "too many connections from your address") {
				t.Errorf("psql from the idle connections' address: %v\n%s", err, out)
			}
		}
		// Every idle connection is closed by the endpoint: the refused
		// ones at once, the others at the startup timeout.
		for i, c := range idle {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.ReadAll(c); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("idle connection %d still open: %v", i, err)
			}
		}
		if got := e.metric(t, `shoal_sql_connections_closed_total{reason="startup_timeout"}`); got < 16 {
			t.Errorf("%v connections closed at the startup timeout, want 16 or more", got)
		}
		apptest.Eventually(t, 10*time.Second, func() bool { return e.metric(t, "shoal_sql_connections") == 0 })
		c, err := e.connectFrom(ctx, "127.0.0.1", sqlTestPassword)
		if err != nil {
			t.Fatalf("after the idle connections were closed: %v", err)
		}
		c.Close(ctx)
	})

	t.Run("64 idle connections from 4 addresses", func(t *testing.T) {
		var idle []net.Conn
		for i := range 64 {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.3." + strconv.Itoa(1+i%4))}, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			idle = append(idle, c)
		}
		apptest.Eventually(t, 10*time.Second, func() bool { return e.metric(t, "shoal_sql_connections") == 64 })
		time.Sleep(1200 * time.Millisecond) // past evictAfter
		c, err := e.connectFrom(ctx, "127.0.0.2", sqlTestPassword)
		if err != nil {
			t.Fatalf("a client while 64 idle connections from 4 addresses hold every slot: %v", err)
		}
		c.Close(ctx)
		if got := e.metric(t, `shoal_sql_connections_closed_total{reason="evicted"}`); got < 1 {
			t.Errorf("%v idle connections evicted", got)
		}
		for _, c := range idle {
			c.Close()
		}
		apptest.Eventually(t, 10*time.Second, func() bool { return e.metric(t, "shoal_sql_connections") == 0 })
	})

	t.Run("idle session", func(t *testing.T) {
		c, err := e.connectFrom(ctx, "127.0.0.1", sqlTestPassword)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n); err != nil {
			t.Fatal(err)
		}
		raw := c.PgConn().Conn()
		raw.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadAll(raw); err != nil {
			t.Fatalf("a silent session: %v, want the endpoint to close it", err)
		}
		if got := e.metric(t, `shoal_sql_connections_closed_total{reason="idle_timeout"}`); got < 1 {
			t.Errorf("%v sessions closed at the idle timeout", got)
		}
	})
}

// TestSQLPasswordGuessing: after a wrong password, attempts from its
// address are checked at most once per backoff window (the others refused
// at once, SQLSTATE 28000, before a hash), in parallel or one after
// another, while a real login from elsewhere goes through, a pool's right
// logins at once are not slowed, and the right password from the guessing
// address works once its window has passed; 64 guessing clients do not
// balloon the process's memory.
func TestSQLPasswordGuessing(t *testing.T) {
	e := startSQLEndpoint(t)
	ctx := context.Background()

	t.Run("30 at once", func(t *testing.T) {
		var (
			mu    sync.Mutex
			codes = map[string]int{}
			wg    sync.WaitGroup
		)
		for i := range 30 {
			wg.Go(func() {
				c, err := e.connectFrom(ctx, "127.0.0.3", "guess "+strconv.Itoa(i))
				if err == nil {
					c.Close(ctx)
				}
				mu.Lock()
				defer mu.Unlock()
				codes[pgCode(err)]++
			})
		}
		c, err := e.connectFrom(ctx, "127.0.0.4", sqlTestPassword)
		if err != nil {
			t.Fatalf("the real user during the guesses: %v", err)
		}
		c.Close(ctx)
		wg.Wait()
		t.Logf("answers to 30 parallel guesses: %v", codes)
		if codes[""] != 0 || codes["28P01"] > 3 || codes["28P01"]+codes["28000"]+codes["53300"] != 30 {
			t.Errorf("answers %v: want at most 3 passwords checked (28P01), the others refused (28000, 53300)", codes)
		}
		if got := e.metric(t, `shoal_sql_logins_total{outcome="throttled"}`); got != float64(codes["28000"]) {
			t.Errorf("shoal_sql_logins_total{outcome=\"throttled\"} %v, want %d", got, codes["28000"])
		}
	})

	t.Run("a pool's logins at once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				c, err := e.connectFrom(ctx, "127.0.0.6", sqlTestPassword)
				if err == nil {
					c.Close(ctx)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("one of 16 right logins at once from one address: %v", err)
			}
		}
	})

	t.Run("one after another", func(t *testing.T) {
		checked := 0
		for start := time.Now(); time.Since(start) < 3*time.Second; {
			_, err := e.connectFrom(ctx, "127.0.0.5", "guess")
			switch pgCode(err) {
			case "28P01":
				checked++
			case "28000":
				if !strings.Contains(err.Error(), "try again in") {
					t.Errorf("refused guess: %v", err)
				}
			default:
				t.Fatalf("guess: %v", err)
			}
		}
		// Windows of 0.1, 0.2, 0.4, 0.8, 1.6 s: five or six checks in 3 s.
		if checked > 8 {
			t.Errorf("%d passwords checked in 3s of guessing", checked)
		}
		var err error
		for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(100 * time.Millisecond) {
			var c *pgx.Conn
			if c, err = e.connectFrom(ctx, "127.0.0.5", sqlTestPassword); err == nil {
				c.Close(ctx)
				break
			}
			if pgCode(err) != "28000" {
				break
			}
		}
		if err != nil {
			t.Errorf("the right password from the guessing address, after its window: %v", err)
		}
		t.Logf("%d of the guesses were checked", checked)
	})

	t.Run("64 clients, memory", func(t *testing.T) {
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var peak uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				c, err := e.connectFrom(ctx, "127.0.1."+strconv.Itoa(1+i%4), "guess "+strconv.Itoa(i))
				if err == nil {
					c.Close(ctx)
				}
			})
		}
		wg.Wait()
		close(stop)
		<-sampled
		grew := int64(peak) - int64(before.HeapInuse)
		t.Logf("Go heap in use: %d MiB before, %d MiB at most during 64 guessing clients", before.HeapInuse>>20, peak>>20)
		if grew > 256<<20 {
			t.Errorf("64 guessing clients grew the heap by %d MiB", grew>>20)
		}
	})
}

// TestSQLResultBytes: a result within the row cap but over the byte cap
// fails with SQLSTATE 54000 naming the flag, through pgx (both protocols)
// and psql, and is never cut short silently; a result within both caps
// arrives whole.
func TestSQLResultBytes(t *testing.T) {
	e := startSQLEndpoint(t, func(c *Config) { c.SQL.MaxResultBytes = "4MiB" })
	ctx := context.Background()
	c := e.connect(t)
	const big = "SELECT repeat('x', 10000) AS s FROM shoal.daily_outcomes a, shoal.metric_catalog b LIMIT 5000" // 50 MB
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		rows, err := c.Query(ctx, big, mode)
		n := 0
		if err == nil {
			for rows.Next() {
				n++
			}
			err = rows.Err()
		}
		if pgCode(err) != "54000" || !strings.Contains(err.Error(), "--sql-max-result-bytes") {
			t.Errorf("%v: 50 MB over a 4 MiB cap: %d rows, %v; want SQLSTATE 54000 naming --sql-max-result-bytes", mode, n, err)
		}
		var got int64
		if err := c.QueryRow(ctx, "SELECT CAST(sum(strlen(s)) AS BIGINT) FROM (SELECT repeat('x', 1000) AS s FROM shoal.metric_catalog) t", mode).Scan(&got); err != nil || got != 16000 {
			t.Errorf("%v: the connection afterwards: %d, %v", mode, got, err)
		}
	}
	out, err := e.psql(t, big, "-A", "-t")
	if err == nil || !strings.Contains(out, "--sql-max-result-bytes") || strings.Contains(out, "xxxxxxxxxx") {
		t.Errorf("psql: %v\n%.300s", err, out)
	}
	names, rows := sqlRows(t, c, "SELECT repeat('x', 1000) AS s FROM shoal.daily_outcomes a, shoal.metric_catalog b LIMIT 3000") // 3 MB
	if len(names) != 1 || len(rows) != 3000 {
		t.Errorf("3 MB within the cap: %d rows", len(rows))
	}
}

// TestSQLMemoryAttacks: statements whose memory DuckDB's memory_limit does
// not bound (unnest of a huge constant range, 28 doublings of a string, a
// gigabyte string) end within the statement timeout with an error, the
// pipeline's process does not grow (the serving engine is a child process
// under its own limit), and the endpoint keeps answering.
func TestSQLMemoryAttacks(t *testing.T) {
	e := startSQLEndpoint(t, func(c *Config) {
		c.SQL.StatementTimeout = 3 * time.Second
		c.SQL.MemoryLimit = "512MiB"
	})
	ctx := context.Background()
	c := e.connect(t)
	chain := "SELECT team AS s FROM shoal.team_agreements"
	for i := range 28 {
		chain = "SELECT s || s AS s FROM (" + chain + ") t" + strconv.Itoa(i)
	}
	before := residentBytes(t)
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT unnest(range(100000000)))",
		"SELECT count(*) FROM (SELECT unnest(generate_series(1, 100000000)))",
		"SELECT sum(length(s)) FROM (" + chain + ") z",
		"SELECT length(repeat('x', 1000000000))",
	} {
		start := time.Now()
		var n int64
		err := c.QueryRow(ctx, q).Scan(&n)
		took := time.Since(start)
		t.Logf("%.60s: %v after %s", q, err, took.Round(time.Millisecond))
		if code := pgCode(err); code != "53200" && code != "57014" {
			t.Errorf("%.60s: %v, want SQLSTATE 53200 or 57014", q, err)
		}
		if took > 20*time.Second {
			t.Errorf("%.60s ran %s past a 3s statement timeout", q, took)
		}
	}
	if grew := residentBytes(t) - before; grew > 200<<20 {
		t.Errorf("the pipeline's process grew by %d MiB", grew>>20)
	}
	// The endpoint answers on (after a restart of its engine, if one was
	// needed).
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int64
		err := c.QueryRow(ctx, "SELECT count(*) FROM shoal.metric_catalog").Scan(&n)
		if err == nil && n == 16 {
			break
		}
		if pgCode(err) != "57P03" || time.Now().After(deadline) {
			t.Fatalf("after the attacks: %d, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// residentBytes is this process's resident memory (the pipeline runs in
// it; the serving engine does not).
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
