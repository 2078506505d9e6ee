package transform

import (
	"context"
	"errors"
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
	names, types, rows, err := s.Query(ctx, "SELECT week, team, x, ok, NULL AS n FROM weekly WHERE x < $1 ORDER BY x", []any{3}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(types, ","); got != "DATE,VARCHAR,DOUBLE,BOOLEAN,INTEGER" {
		t.Errorf("types %s (names %v)", got, names)
	}
	if len(rows) != 3 || rows[2][2] != 2.0 || rows[0][4] != nil {
		t.Errorf("rows %v", rows)
	}
	if _, _, rows, err = s.Query(ctx, "SELECT * FROM shoal.weekly", nil, 100); err != nil || len(rows) != 101 {
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
		if _, _, _, err := s.Query(ctx, q, nil, 10); err != nil {
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
		_, _, _, err := s.Query(context.Background(), tc.q, nil, 10)
		if state(err) != tc.code {
			t.Errorf("%s: %v (state %q), want %s", tc.q, err, state(err), tc.code)
		}
	}
}

func TestServingTimeout(t *testing.T) {
	s := openServing(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, _, err := s.Query(ctx, "SELECT count(*) FROM weekly a, weekly b, weekly c, weekly d WHERE a.x + b.x + c.x + d.x > 0", nil, 10)
	if state(err) != StateQueryCanceled {
		t.Fatalf("heavy query: %v, want cancelled", err)
	}
	t.Logf("cancelled after %v", time.Since(start))
}
