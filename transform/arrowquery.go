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
		intern := map[string]string{}
		for rdr.Next() {
			rec := rdr.Record()
			if int(rec.NumCols()) != len(dest) {
				return fmt.Errorf("query returns %d columns for %d destinations", rec.NumCols(), len(dest))
			}
			set := make([]func(int) error, len(dest))
			for c := range dest {
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
			if err := ctx.Err(); err != nil {
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
	case *int32, *sql.NullInt32:
		get, ok := arrowInt(col)
		if !ok {
			return nil, mismatch
		}
		return func(j int) error {
			valid := !col.IsNull(j)
			switch d := d.(type) {
			case *int32:
				if !valid {
					return errArrowNull
				}
				*d = int32(get(j))
			case *sql.NullInt32:
				*d = sql.NullInt32{Valid: valid}
				if valid {
					d.Int32 = int32(get(j))
				}
			}
			return nil
		}, nil
	case *int, *int64, *sql.NullInt64:
		get, ok := arrowInt(col)
		if !ok {
			return nil, mismatch
		}
		return func(j int) error {
			valid := !col.IsNull(j)
			switch d := d.(type) {
			case *int:
				if !valid {
					return errArrowNull
				}
				*d = int(get(j))
			case *int64:
				if !valid {
					return errArrowNull
				}
				*d = get(j)
			case *sql.NullInt64:
				*d = sql.NullInt64{Valid: valid}
				if valid {
					d.Int64 = get(j)
				}
			}
			return nil
		}, nil
	case *float64, *sql.NullFloat64:
		a, ok := col.(*array.Float64)
		if !ok {
			return nil, mismatch
		}
		return func(j int) error {
			valid := !a.IsNull(j)
			switch d := d.(type) {
			case *float64:
				if !valid {
					return errArrowNull
				}
				*d = a.Value(j)
			case *sql.NullFloat64:
				*d = sql.NullFloat64{Valid: valid}
				if valid {
					d.Float64 = a.Value(j)
				}
			}
			return nil
		}, nil
	case *bool, *sql.NullBool:
		a, ok := col.(*array.Boolean)
		if !ok {
			return nil, mismatch
		}
		return func(j int) error {
			valid := !a.IsNull(j)
			switch d := d.(type) {
			case *bool:
				if !valid {
					return errArrowNull
				}
				*d = a.Value(j)
			case *sql.NullBool:
				*d = sql.NullBool{Valid: valid}
				if valid {
					d.Bool = a.Value(j)
				}
			}
			return nil
		}, nil
	}
	return nil, mismatch
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
