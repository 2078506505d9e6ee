package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startProcess starts an engine process (this test binary, made an engine
// by init) with table weekly published as openServing publishes it.
func startProcess(t *testing.T, cfg EngineConfig) *ServingProcess {
	t.Helper()
	p, err := StartServingProcess(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Publish(context.Background(), weeklyTable(0)); err != nil {
		t.Fatal(err)
	}
	return p
}

// weeklyTable is 300 rows; x counts from base.
func weeklyTable(base int) []ServingTable {
	rows := make([][]any, 300)
	for i := range rows {
		rows[i] = []any{time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), "t" + string(rune('a'+i%26)), float64(base + i), i%2 == 0}
	}
	return []ServingTable{{
		Name:    "weekly",
		Columns: []ServingColumn{{"week", "DATE"}, {"team", "VARCHAR"}, {"x", "DOUBLE"}, {"ok", "BOOLEAN"}},
		Rows:    rows[:100],
		Fill: func(add func([]any) error) error {
			for _, r := range rows[100:] {
				if err := add(r); err != nil {
					return err
				}
			}
			return nil
		},
	}}
}

func all(r Rows, err error) ([][]any, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]any
	for r.Next() {
		out = append(out, r.Values())
	}
	return out, r.Err()
}

// rss is this process's resident memory in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestServingProcess: the engine process publishes, describes, queries
// (rows, types, NULLs, NaN), refuses and caps as Serving does.
func TestServingProcess(t *testing.T) {
	p := startProcess(t, EngineConfig{})
	ctx := context.Background()
	names, types, params, err := p.Describe(ctx, "SELECT week, team, x, ok, NULL AS n FROM weekly WHERE x < $1")
	if err != nil || params != 1 || strings.Join(types, ",") != "DATE,VARCHAR,DOUBLE,BOOLEAN,INTEGER" {
		t.Fatalf("describe: %v %v %d %v", names, types, params, err)
	}
	rows, err := all(p.Query(ctx, "SELECT week, team, x, ok, NULL AS n, CAST('NaN' AS DOUBLE) AS nan FROM weekly WHERE x < $1 ORDER BY x", []any{"3"}, 10, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[2][2] != 2.0 || rows[0][1] != "ta" || rows[0][3] != true || rows[0][4] != nil || !math.IsNaN(rows[0][5].(float64)) ||
		!rows[0][0].(time.Time).Equal(time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("rows %v", rows)
	}
	if rows, err := all(p.Query(ctx, "SELECT * FROM weekly", nil, 100, 0)); err != nil || len(rows) != 101 {
		t.Errorf("capped: %d rows, %v; want 101", len(rows), err)
	}
	if rows, err := all(p.Query(ctx, "SELECT a.x FROM weekly a, weekly b", nil, 0, 0)); err != nil || len(rows) != 90000 {
		t.Errorf("many batches: %d rows, %v", len(rows), err)
	}
	if _, err := all(p.Query(ctx, "SELECT * FROM pg_settings", nil, 10, 0)); state(err) != StateInsufficientPrivilege {
		t.Errorf("refused: %v", err)
	}
	if _, err := all(p.Query(ctx, "SELECT repeat('x', 1000) FROM weekly", nil, 1000, 100<<10)); state(err) != StateLimitExceeded {
		t.Errorf("over the byte cap: %v", err)
	}
	// A result closed half read ends in the engine.
	r, err := p.Query(ctx, "SELECT a.x FROM weekly a, weekly b", nil, 0, 0)
	if err != nil || !r.Next() {
		t.Fatal(err)
	}
	r.Close()
	// A failed publication leaves the previous one served.
	boom := errors.New("boom")
	bad := weeklyTable(1000)
	bad[0].Fill = func(add func([]any) error) error { return boom }
	if err := p.Publish(ctx, bad); !errors.Is(err, boom) {
		t.Errorf("failing Fill: %v", err)
	}
	bad = weeklyTable(1000)
	bad[0].Rows[5][2] = "not a number"
	if err := p.Publish(ctx, bad); err == nil || !strings.Contains(err.Error(), "column x") {
		t.Errorf("bad value: %v", err)
	}
	if rows, err := all(p.Query(ctx, "SELECT max(x) FROM weekly", nil, 10, 0)); err != nil || rows[0][0] != 299.0 {
		t.Errorf("after failed publications: %v, %v", rows, err)
	}
}

// TestServingProcessTimeout: a cancelled statement ends in the engine,
// which stays up.
func TestServingProcessTimeout(t *testing.T) {
	p := startProcess(t, EngineConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := all(p.Query(ctx, "SELECT count(*) FROM weekly a, weekly b, weekly c, weekly d WHERE a.x + b.x + c.x + d.x > 0", nil, 10, 0))
	if state(err) != StateQueryCanceled {
		t.Fatalf("heavy query: %v", err)
	}
	if rows, err := all(p.Query(context.Background(), "SELECT count(*) FROM weekly", nil, 10, 0)); err != nil || rows[0][0] != int64(300) {
		t.Errorf("after: %v %v", rows, err)
	}
	if p.Restarts() != 0 {
		t.Errorf("%d restarts", p.Restarts())
	}
}

// TestServingProcessMemory: statements whose memory DuckDB's own limit
// does not bound (a huge constant-folded range, a chain of doublings, a
// huge string) fail in the engine process under its limit, and this
// process does not grow. The engine may die of one (an allocation failure
// DuckDB does not recover from, about one run in four here): it is then
// restarted and republished, as in Shoal, and answers again.
func TestServingProcessMemory(t *testing.T) {
	var p *ServingProcess
	p = startProcess(t, EngineConfig{MemoryLimit: 512 << 20, Republish: func(ctx context.Context) error {
		return p.Publish(ctx, weeklyTable(0))
	}})
	before := rss(t, os.Getpid())
	chain := "SELECT team AS s FROM weekly"
	for i := range 28 {
		chain = fmt.Sprintf("SELECT s || s AS s FROM (%s) t%d", chain, i)
	}
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT unnest(range(100000000)))",
		"SELECT sum(length(s)) FROM (" + chain + ") z",
		"SELECT length(repeat('x', 1000000000))",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := all(p.Query(ctx, q, nil, 10, 1<<20))
		cancel()
		if err == nil {
			t.Errorf("%.60s: no error", q)
		}
		t.Logf("%.60s: %v after %s; engine resident %d MiB", q, err, time.Since(start).Round(time.Millisecond), rss(t, max(p.Pid(), os.Getpid()))>>20)
	}
	if grew := rss(t, os.Getpid()) - before; grew > 100<<20 {
		t.Errorf("this process grew by %d MiB", grew>>20)
	}
	waitReady(t, p)
	if rows, err := all(p.Query(context.Background(), "SELECT count(*) FROM weekly", nil, 10, 0)); err != nil || rows[0][0] != int64(300) {
		t.Errorf("after (%d engine restarts): %v %v", p.Restarts(), rows, err)
	}
	t.Logf("%d engine restarts", p.Restarts())
}

func waitReady(t *testing.T, p *ServingProcess) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := all(p.Query(context.Background(), "SELECT 1", nil, 10, 0))
		if state(err) != StateEngineRestarting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine did not come back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServingProcessRestart: a killed engine process is restarted and its
// tables republished through the hook; meanwhile queries are refused with
// SQLSTATE 57P03. A cancelled statement that keeps running past KillAfter
// gets the engine killed.
func TestServingProcessRestart(t *testing.T) {
	var republished atomic.Int32
	var p *ServingProcess
	cfg := EngineConfig{Republish: func(ctx context.Context) error {
		republished.Add(1)
		return p.Publish(ctx, weeklyTable(int(1000*republished.Load())))
	}}
	p = startProcess(t, cfg)
	pid := p.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := all(p.Query(context.Background(), "SELECT 1", nil, 10, 0))
	for err == nil { // until Shoal notices
		_, err = all(p.Query(context.Background(), "SELECT 1", nil, 10, 0))
	}
	if state(err) != StateEngineRestarting {
		t.Errorf("while restarting: %v, want %s", err, StateEngineRestarting)
	}
	waitReady(t, p)
	if rows, err := all(p.Query(context.Background(), "SELECT min(x) FROM weekly", nil, 10, 0)); err != nil || rows[0][0] != 1000.0 {
		t.Errorf("after the restart: %v %v; want the republished table", rows, err)
	}
	if p.Pid() == pid || p.Restarts() != 1 {
		t.Errorf("pid %d (was %d), %d restarts", p.Pid(), pid, p.Restarts())
	}

	// KillAfter so short the engine cannot end the statement in time.
	p.mu.Lock()
	p.child.killAfter = time.Microsecond
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = all(p.Query(ctx, "SELECT count(*) FROM weekly a, weekly b, weekly c, weekly d WHERE a.x + b.x + c.x + d.x > 0", nil, 10, 0))
	cancel()
	if state(err) != StateQueryCanceled {
		t.Errorf("heavy query: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Restarts() != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	waitReady(t, p)
	if p.Restarts() != 2 || republished.Load() != 2 {
		t.Errorf("%d restarts, %d republications; want 2 each", p.Restarts(), republished.Load())
	}
}
