package transform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestQueryArrow checks every destination type against DuckDB's own
// values, NULLs into sql.Null destinations, and that the strings outlive
// the result they came from (Arrow's Value points into DuckDB's buffer,
// freed with the result).
func TestQueryArrow(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	// 5,000 rows span several Arrow batches (DuckDB sends 2,048 at a time);
	// every third row has NULLs.
	q := `SELECT 'team-' || (i % 7) AS team, 'row-' || i AS name,
			CAST(i AS INTEGER), i % 2 = 0, i * 1000000000,
			CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(i AS INTEGER) END,
			CASE WHEN i % 3 = 0 THEN NULL ELSE i * 2 END,
			CASE WHEN i % 3 = 0 THEN NULL ELSE i / 4 END,
			CASE WHEN i % 3 = 0 THEN NULL ELSE i % 5 = 0 END,
			i / 8, CAST(i % 100 AS TINYINT)
		FROM range(5000) r(i) ORDER BY i`
	var (
		team, name string
		i32        int32
		even       bool
		i64        int64
		n32        sql.NullInt32
		n64        sql.NullInt64
		nf         sql.NullFloat64
		nb         sql.NullBool
		f          float64
		small      int
	)
	var names []string
	teams := map[string]int{}
	n := 0
	err := queryArrow(ctx, s.db, q, nil, []any{&team, &name, &i32, &even, &i64, &n32, &n64, &nf, &nb, &f, &small}, func() error {
		i := n
		n++
		names = append(names, name)
		teams[team]++
		null := i%3 == 0
		switch {
		case team != fmt.Sprintf("team-%d", i%7):
			return fmt.Errorf("row %d: team %q", i, team)
		case i32 != int32(i), even != (i%2 == 0), i64 != int64(i)*1e9:
			return fmt.Errorf("row %d: %d %v %d", i, i32, even, i64)
		case n32.Valid == null || n64.Valid == null || nf.Valid == null || nb.Valid == null:
			return fmt.Errorf("row %d: NULLs %v %v %v %v", i, n32.Valid, n64.Valid, nf.Valid, nb.Valid)
		case !null && (n32.Int32 != int32(i) || n64.Int64 != int64(2*i) || nf.Float64 != float64(i)/4 || nb.Bool != (i%5 == 0)):
			return fmt.Errorf("row %d: %v %v %v %v", i, n32, n64, nf, nb)
		case f != float64(i)/8, small != i%100:
			return fmt.Errorf("row %d: %v %d", i, f, small)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5000 || len(teams) != 7 {
		t.Fatalf("%d rows, %d teams; want 5000 and 7", n, len(teams))
	}
	// The result is gone: the strings kept must still read as they did.
	if _, err := s.db.ExecContext(ctx, `SELECT repeat('x', 100000) FROM range(100)`); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	for i, got := range names {
		if want := fmt.Sprintf("row-%d", i); got != want {
			t.Fatalf("string %d after the result was freed: %q, want %q", i, got, want)
		}
	}
}

// TestQueryArrowErrors: a NULL into a plain destination, a type that does
// not fit and a column count that does not match are errors that name the
// column, as rows.Scan's are; an error from row stops the query.
func TestQueryArrowErrors(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	var (
		i int64
		v string
	)
	none := func() error { return nil }
	for _, tc := range []struct {
		q, want string
		dest    []any
	}{
		{`SELECT CAST(NULL AS BIGINT) AS x`, "column 0 (x): NULL", []any{&i}},
		{`SELECT 1.5::DOUBLE AS x`, "column 0 (x): cannot scan Arrow float64 into *int64", []any{&i}},
		{`SELECT 'a' AS x`, "column 0 (x): cannot scan Arrow utf8 into *int64", []any{&i}},
		{`SELECT 1 AS x, 2 AS y`, "2 columns for 1 destinations", []any{&i}},
		{`SELECT sum(1) AS x`, "column 0 (x): cannot scan Arrow decimal(38, 0) into *int64", []any{&i}},
		{`SELECT nope`, "nope", []any{&v}},
	} {
		err := queryArrow(ctx, s.db, tc.q, nil, tc.dest, none)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.q, err, tc.want)
		}
	}
	stop := fmt.Errorf("stop")
	rows := 0
	err := queryArrow(ctx, s.db, `SELECT i FROM range(10) r(i)`, nil, []any{&i}, func() error {
		rows++
		if i == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || rows != 4 {
		t.Fatalf("error %v after %d rows, want stop after 4", err, rows)
	}
}
