package transform

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/marcboeker/go-duckdb"
)

// queryArrow runs q on a pool connection and, for each row of its result,
// sets dest (as rows.Scan would) and calls row. The result crosses from
// DuckDB as Arrow arrays (DuckDB's Arrow export), so a row costs a few
// array reads instead of a driver.Value and a reflective conversion per
// column, which were half the CPU of the outcome queries that return a row
// per task or request. go-duckdb materializes the whole result as Arrow
// before the first row (DuckDB materializes it either way).
//
// dest holds pointers to string, int32, int64, float64, bool or their
// sql.Null* forms; a NULL into a non-Null destination is an error, as it
// is for rows.Scan. Only query results go through Arrow here: the
// registered-view bug of go-duckdb 1.8.2 (ARCHITECTURE.md) is about
// scanning a Go-side Arrow stream from DuckDB, not this direction.
func queryArrow(ctx context.Context, db *sql.DB, q string, args []any, dest []any, row func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	intern := map[string]string{}
	return arrowRecords(ctx, conn, q, args, func(rec arrow.Record) error {
		if int(rec.NumCols()) != len(dest) {
			return fmt.Errorf("query returns %d columns for %d destinations", rec.NumCols(), len(dest))
		}
		set := make([]func(int) error, len(dest))
		for c := range dest {
			var err error
			if set[c], err = arrowSetter(rec.Column(c), dest[c], intern); err != nil {
				return fmt.Errorf("column %d (%s): %w", c, rec.ColumnName(c), err)
			}
		}
		for j := range int(rec.NumRows()) {
			for c, f := range set {
				if err := f(j); err != nil {
					return fmt.Errorf("column %d (%s): %w", c, rec.ColumnName(c), err)
				}
			}
			if err := row(); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
}

// arrowRecords runs q on conn through DuckDB's Arrow export and hands
// each record of the result to f (valid only during the call).
func arrowRecords(ctx context.Context, conn *sql.Conn, q string, args []any, f func(arrow.Record) error) error {
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("%T is not a database/sql/driver.Conn", dc)
		}
		ar, err := duckdb.NewArrowFromConn(dconn)
		if err != nil {
			return fmt.Errorf("arrow interface: %w", err)
		}
		rdr, err := ar.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rdr.Release()
		for rdr.Next() {
			if err := f(rdr.Record()); err != nil {
				return err
			}
		}
		return rdr.Err()
	})
}

// errArrowNull is a NULL for a destination that cannot hold one.
var errArrowNull = fmt.Errorf("NULL into a destination that is not a sql.Null type")

// arrowSetter returns a function that sets dest from row j of col. A
// string is copied out of the Arrow buffer (which DuckDB frees with the
// result) once per distinct value, through intern: the team and period
// keys repeat across rows.
func arrowSetter(col arrow.Array, dest any, intern map[string]string) (func(int) error, error) {
	mismatch := fmt.Errorf("cannot scan Arrow %s into %T", col.DataType(), dest)
	switch d := dest.(type) {
	case *string:
		a, ok := col.(*array.String)
		if !ok {
			return nil, mismatch
		}
		return func(j int) error {
			if a.IsNull(j) {
				return errArrowNull
			}
			v := a.Value(j)
			s, ok := intern[v]
			if !ok {
				s = strings.Clone(v)
				intern[s] = s
			}
			*d = s
			return nil
		}, nil
	}
	// The other destinations read a number or a bool, into a plain value
	// or a sql.Null form.
	ints, isInt := arrowInt(col)
	floats, isFloat := col.(*array.Float64)
	bools, isBool := col.(*array.Boolean)
	switch d := dest.(type) {
	case *int32:
		if isInt {
			return scanInto(col, func(j int) int32 { return int32(ints(j)) }, d, nil), nil
		}
	case *sql.NullInt32:
		if isInt {
			return scanInto(col, func(j int) int32 { return int32(ints(j)) }, nil, func(v int32, ok bool) { *d = sql.NullInt32{Int32: v, Valid: ok} }), nil
		}
	case *int:
		if isInt {
			return scanInto(col, func(j int) int { return int(ints(j)) }, d, nil), nil
		}
	case *int64:
		if isInt {
			return scanInto(col, ints, d, nil), nil
		}
	case *sql.NullInt64:
		if isInt {
			return scanInto(col, ints, nil, func(v int64, ok bool) { *d = sql.NullInt64{Int64: v, Valid: ok} }), nil
		}
	case *float64:
		if isFloat {
			return scanInto(col, floats.Value, d, nil), nil
		}
	case *sql.NullFloat64:
		if isFloat {
			return scanInto(col, floats.Value, nil, func(v float64, ok bool) { *d = sql.NullFloat64{Float64: v, Valid: ok} }), nil
		}
	case *bool:
		if isBool {
			return scanInto(col, bools.Value, d, nil), nil
		}
	case *sql.NullBool:
		if isBool {
			return scanInto(col, bools.Value, nil, func(v bool, ok bool) { *d = sql.NullBool{Bool: v, Valid: ok} }), nil
		}
	}
	return nil, mismatch
}

// scanInto returns a setter of row j of col, read by get: into plain (a
// NULL is an error), or else through null (a sql.Null form; the zero value
// and false for a NULL).
func scanInto[T any](col arrow.Array, get func(int) T, plain *T, null func(v T, valid bool)) func(int) error {
	if plain != nil {
		return func(j int) error {
			if col.IsNull(j) {
				return errArrowNull
			}
			*plain = get(j)
			return nil
		}
	}
	return func(j int) error {
		if col.IsNull(j) {
			var zero T
			null(zero, false)
			return nil
		}
		null(get(j), true)
		return nil
	}
}

// arrowInt reads an integer column of any width as int64.
func arrowInt(col arrow.Array) (func(int) int64, bool) {
	switch a := col.(type) {
	case *array.Int8:
		return func(j int) int64 { return int64(a.Value(j)) }, true
	case *array.Int16:
		return func(j int) int64 { return int64(a.Value(j)) }, true
	case *array.Int32:
		return func(j int) int64 { return int64(a.Value(j)) }, true
	case *array.Int64:
		return func(j int) int64 { return a.Value(j) }, true
	}
	return nil, false
}
