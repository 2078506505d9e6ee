package transform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func openServing(t *testing.T) *Serving {
	t.Helper()
	s, err := OpenServing(context.Background(), ServingConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rows := make([][]any, 300)
	for i := range rows {
		rows[i] = []any{time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), "t" + string(rune('a'+i%26)), float64(i), i%2 == 0}
	}
	if err := s.Publish(context.Background(), []ServingTable{{
		Name:    "weekly",
		Columns: []ServingColumn{{"week", "DATE"}, {"team", "VARCHAR"}, {"x", "DOUBLE"}, {"ok", "BOOLEAN"}},
		Rows:    rows,
	}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// queryAll runs q with no byte cap and returns its whole result.
func queryAll(s *Serving, ctx context.Context, q string, args []any, maxRows int) (names, types []string, rows [][]any, err error) {
	r, err := s.Query(ctx, q, args, maxRows, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	names, types = r.Columns()
	for r.Next() {
		rows = append(rows, r.Values())
	}
	return names, types, rows, r.Err()
}

func state(err error) string {
	var se *ServingError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func TestServingQuery(t *testing.T) {
	s := openServing(t)
	ctx := context.Background()
	names, types, rows, err := queryAll(s, ctx, "SELECT week, team, x, ok, NULL AS n FROM weekly WHERE x < $1 ORDER BY x", []any{3}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(types, ","); got != "DATE,VARCHAR,DOUBLE,BOOLEAN,INTEGER" {
		t.Errorf("types %s (names %v)", got, names)
	}
	if len(rows) != 3 || rows[2][2] != 2.0 || rows[0][4] != nil {
		t.Errorf("rows %v", rows)
	}
	if _, _, rows, err = queryAll(s, ctx, "SELECT * FROM shoal.weekly", nil, 100); err != nil || len(rows) != 101 {
		t.Errorf("capped query: %d rows, %v; want 101 (cap + 1)", len(rows), err)
	}
	n, ty, p, err := s.Describe(ctx, "SELECT team, count(*) AS n FROM weekly WHERE x > $2 AND team = $1 GROUP BY team")
	if err != nil || p != 2 || strings.Join(n, ",") != "team,n" || strings.Join(ty, ",") != "VARCHAR,BIGINT" {
		t.Errorf("Describe: %v %v %d %v", n, ty, p, err)
	}
	for _, q := range []string{
		"SUMMARIZE weekly",
		"SHOW TABLES",
		"FROM weekly SELECT team WHERE x > 1",
		"DESCRIBE shoal.weekly",
		"SELECT table_name FROM information_schema.tables",
		"WITH c AS (SELECT * FROM weekly) SELECT count(*) FROM c",
		"VALUES (1, 'a')",
		"SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(weekly)$' COLLATE pg_catalog.default",
	} {
		if _, _, _, err := queryAll(s, ctx, q, nil, 10); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestServingRefuses(t *testing.T) {
	s := openServing(t)
	for _, tc := range []struct{ q, code string }{
		{"INSERT INTO weekly VALUES (NULL, NULL, NULL, NULL)", StateFeatureNotSupported},
		{"SELECT 1; SELECT 2", StateFeatureNotSupported},
		{"SELECT * FROM read_csv('/etc/passwd')", StateInsufficientPrivilege},
		{"SELECT current_setting('memory_limit')", StateInsufficientPrivilege},
		{"SELECT * FROM memory.main.events", StateInsufficientPrivilege},
		{"SELECT * FROM pg_catalog.pg_settings", StateInsufficientPrivilege},
		{"SELEC 1", StateSyntaxError},
		{"SELECT * FROM weekly, LATERAL (SELECT * FROM read_csv('/etc/passwd')) f", StateInsufficientPrivilege},
		{"SELECT x.read_text() FROM weekly", StateInsufficientPrivilege},
		{"PIVOT weekly ON ok USING sum(x)", StateFeatureNotSupported},
		{"DESCRIBE SELECT * FROM memory.main.events", StateInsufficientPrivilege},
		{"SUMMARIZE SELECT * FROM read_csv('/etc/passwd')", StateInsufficientPrivilege},
		{"SELECT * FROM unnest([1, 2])", StateInsufficientPrivilege},
		{"SHOW databases", StateInsufficientPrivilege},
		{"FROM MEMORY.MAIN.EVENTS", StateInsufficientPrivilege},
		{`SELECT * FROM "memory"."main"."events"`, StateInsufficientPrivilege},
		{"SELECT * FROM weekly WHERE team = $name", StateSyntaxError},
	} {
		_, _, _, err := queryAll(s, context.Background(), tc.q, nil, 10)
		if state(err) != tc.code {
			t.Errorf("%s: %v (state %q), want %s", tc.q, err, state(err), tc.code)
		}
	}
}

// TestServingCTEScope: a WITH name shadows a table only inside the query
// node that defines it (its body, its subqueries, the WITH bodies after
// it), never a table named beside or above that node.
func TestServingCTEScope(t *testing.T) {
	s := openServing(t)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT name, setting FROM (WITH pg_settings AS (SELECT 1 AS x) SELECT x FROM pg_settings) t, pg_settings",
		"SELECT * FROM pg_settings WHERE EXISTS (WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings)",
		"SELECT (WITH pg_settings AS (SELECT 1 AS x) SELECT count(*) FROM pg_settings) + (SELECT count(*) FROM pg_settings)",
		"WITH a AS (WITH pg_settings AS (SELECT 1 AS x) SELECT * FROM pg_settings) SELECT * FROM a, pg_settings",
		"WITH a AS (SELECT * FROM pg_settings), pg_settings AS (SELECT 1 AS x) SELECT * FROM a",
		"WITH pg_settings AS (SELECT * FROM pg_settings) SELECT * FROM pg_settings",
		"WITH pg_settings AS (SELECT * FROM (SELECT * FROM pg_settings) q) SELECT * FROM pg_settings",
		"SELECT (WITH RECURSIVE pg_settings(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM pg_settings WHERE n < 3) SELECT count(*) FROM pg_settings), name FROM pg_settings",
		"WITH RECURSIVE pg_settings(n) AS (SELECT count(*) FROM pg_settings UNION ALL SELECT n + 1 FROM pg_settings WHERE n < 3) SELECT * FROM pg_settings",
		"SELECT * FROM (WITH pg_settings AS MATERIALIZED (SELECT 1 AS x) SELECT * FROM pg_settings) t, pg_settings",
		"WITH x AS MATERIALIZED (SELECT count(*) AS c FROM pg_settings), pg_settings AS (SELECT 1) SELECT * FROM x",
		"(WITH pg_settings AS (SELECT 1 AS x) SELECT x FROM pg_settings) UNION ALL SELECT count(*) FROM pg_settings",
		"WITH weekly AS (SELECT * FROM pg_settings) SELECT * FROM weekly",
		"SELECT * FROM weekly w WHERE team IN (WITH events AS (SELECT 'a' AS team) SELECT team FROM events) AND EXISTS (SELECT * FROM events)",
	} {
		if _, _, _, err := queryAll(s, ctx, q, nil, 10); state(err) != StateInsufficientPrivilege {
			t.Errorf("%s: %v (state %q), want %s", q, err, state(err), StateInsufficientPrivilege)
		}
	}
	for _, q := range []string{
		"WITH a AS (SELECT * FROM weekly), b AS (SELECT * FROM a) SELECT count(*) FROM b",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT count(*) FROM r",
		"WITH a AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM a) t WHERE x IN (SELECT x FROM a)",
		"WITH a AS (SELECT 1 AS x) SELECT (WITH b AS (SELECT * FROM a) SELECT count(*) FROM b)",
		"WITH m AS MATERIALIZED (SELECT * FROM weekly) SELECT count(*) FROM m",
		"WITH a AS MATERIALIZED (SELECT 1 AS x), b AS MATERIALIZED (SELECT * FROM a) SELECT * FROM b",
		"WITH weekly AS (SELECT 1 AS x) SELECT * FROM weekly",
		"WITH a AS (SELECT 1 AS x) SELECT * FROM a UNION ALL SELECT x FROM a",
	} {
		if _, _, _, err := queryAll(s, ctx, q, nil, 10); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestServingResultBytes: a result larger than its byte budget fails
// with StateLimitExceeded while DuckDB produces it, one within it runs,
// and a client cannot call the budget function itself.
func TestServingResultBytes(t *testing.T) {
	s := openServing(t)
	ctx := context.Background()
	run := func(q string, maxBytes int64) (int, error) {
		r, err := s.Query(ctx, q, nil, 1000000, maxBytes)
		if err != nil {
			return 0, err
		}
		defer r.Close()
		n := 0
		for r.Next() {
			n++
		}
		return n, r.Err()
	}
	if n, err := run("SELECT repeat('x', 1000) AS s FROM weekly", 1<<20); err != nil || n != 300 {
		t.Errorf("300 KB within 1 MiB: %d rows, %v", n, err)
	}
	if _, err := run("SELECT repeat('x', 1000) AS s FROM weekly", 100<<10); state(err) != StateLimitExceeded {
		t.Errorf("300 KB over 100 KiB: %v, want %s", err, StateLimitExceeded)
	}
	// 1.8 GB of values: refused once 64 MiB have been produced.
	start := time.Now()
	if _, err := run("SELECT repeat(a.team, 10000) AS s, b.x FROM weekly a, weekly b", 64<<20); state(err) != StateLimitExceeded || !strings.Contains(err.Error(), "--sql-max-result-bytes") {
		t.Errorf("1.8 GB over 64 MiB: %v, want %s naming the flag", err, StateLimitExceeded)
	}
	t.Logf("refused after %s", time.Since(start))
	if _, err := run("SELECT shoal_result_budget(1, 1)", 1<<20); state(err) != StateInsufficientPrivilege {
		t.Errorf("calling the budget function: %v", err)
	}
}

func TestServingTimeout(t *testing.T) {
	s := openServing(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, _, err := queryAll(s, ctx, "SELECT count(*) FROM weekly a, weekly b, weekly c, weekly d WHERE a.x + b.x + c.x + d.x > 0", nil, 10)
	if state(err) != StateQueryCanceled {
		t.Fatalf("heavy query: %v, want cancelled", err)
	}
	t.Logf("cancelled after %v", time.Since(start))
}

// TestPublishTypes: every column type takes its values (integers in a
// DOUBLE, a DATE from a time in another zone, NULLs, NaN), and a value the
// column cannot take fails the publication with the table and column named
// while the previous publication stays served.
func TestPublishTypes(t *testing.T) {
	s := openServing(t)
	ctx := context.Background()
	cols := []ServingColumn{{"d", "DATE"}, {"ts", "TIMESTAMP"}, {"x", "DOUBLE"}, {"n", "BIGINT"}, {"i", "INTEGER"}, {"s", "VARCHAR"}, {"b", "BOOLEAN"}}
	ist := time.FixedZone("IST", 5*3600+1800)
	err := s.Publish(ctx, []ServingTable{{Name: "typed", Columns: cols, Rows: [][]any{
		{time.Date(2025, 1, 6, 2, 0, 0, 0, ist), time.Date(2025, 1, 6, 2, 0, 0, 0, ist), 3, int64(7), int32(-2), "it's", true},
		{nil, nil, math.NaN(), nil, nil, nil, nil},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows, err := queryAll(s, ctx, "SELECT CAST(d AS VARCHAR), CAST(ts AS VARCHAR), x, n, i, s, b FROM typed ORDER BY d NULLS LAST", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"2025-01-06", "2025-01-05 20:30:00", 3.0, int64(7), int64(-2), "it's", true}
	if len(rows) != 2 || fmt.Sprint(rows[0]) != fmt.Sprint(want) || rows[1][0] != nil || rows[1][5] != nil || !math.IsNaN(rows[1][2].(float64)) {
		t.Errorf("rows %v, want first %v and a row of NULLs with NaN", rows, want)
	}
	for _, bad := range []struct {
		col  ServingColumn
		v    any
		want string
	}{
		{ServingColumn{"x", "DOUBLE"}, "1.5", "column x: value of type string for a DOUBLE column"},
		{ServingColumn{"i", "INTEGER"}, int64(1) << 40, "does not fit an INTEGER"},
		{ServingColumn{"s", "VARCHAR"}, "a\x00b", "NUL byte"},
		{ServingColumn{"d", "DATE"}, "2025-01-06", "value of type string for a DATE column"},
	} {
		err := s.Publish(ctx, []ServingTable{{Name: "weekly", Columns: []ServingColumn{bad.col}, Rows: [][]any{{bad.v}}}})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "table weekly") {
			t.Errorf("publish %v into %s: %v, want an error naming the table and %q", bad.v, bad.col.Type, err, bad.want)
		}
	}
	if _, _, rows, err := queryAll(s, ctx, "SELECT count(*) FROM typed", nil, 10); err != nil || rows[0][0] != int64(2) {
		t.Errorf("after the failed publications typed holds %v (%v), want the 2 rows published before", rows, err)
	}
}

// TestPublishFill: a table's Fill rows follow its Rows, Fill runs after
// the tables before it, and an error from Fill fails the whole publication,
// the previous one staying served.
func TestPublishFill(t *testing.T) {
	s := openServing(t)
	ctx := context.Background()
	cols := []ServingColumn{{"n", "BIGINT"}}
	filled := false
	err := s.Publish(ctx, []ServingTable{
		{Name: "first", Columns: cols, Fill: func(add func([]any) error) error {
			filled = true
			return add([]any{1})
		}},
		{Name: "second", Columns: cols, Rows: [][]any{{10}}, Fill: func(add func([]any) error) error {
			if !filled {
				return errors.New("filled before the table before it")
			}
			for i := range 3 {
				if err := add([]any{20 + i}); err != nil {
					return err
				}
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, rows, err := queryAll(s, ctx, "SELECT (SELECT sum(n) FROM first), (SELECT string_agg(CAST(n AS VARCHAR), ',' ORDER BY n) FROM second)", nil, 10)
	if err != nil || fmt.Sprint(rows) != "[[1 10,20,21,22]]" {
		t.Errorf("published %v (%v), want [[1 10,20,21,22]]", rows, err)
	}
	boom := errors.New("boom")
	err = s.Publish(ctx, []ServingTable{{Name: "first", Columns: cols, Rows: [][]any{{5}}, Fill: func(add func([]any) error) error { return boom }}})
	if !errors.Is(err, boom) {
		t.Errorf("a failing Fill: %v, want its error", err)
	}
	if _, _, rows, err := queryAll(s, ctx, "SELECT sum(n) FROM first", nil, 10); err != nil || fmt.Sprint(rows) != "[[1]]" {
		t.Errorf("after the failed publication first holds %v (%v), want [[1]]", rows, err)
	}
}
