package transform

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marcboeker/go-duckdb"
)

// ServingSchema is the one schema of the serving database.
const ServingSchema = "shoal"

// ServingColumn is one column of a published table: its name and DuckDB
// type (DATE, DOUBLE, BIGINT, INTEGER, VARCHAR, BOOLEAN, TIMESTAMP).
type ServingColumn struct {
	Name string
	Type string
}

// ServingTable is one published table and all of its rows. Every value
// must already have passed the privacy policy: the serving database
// publishes what it is given.
type ServingTable struct {
	Name    string
	Columns []ServingColumn
	Rows    [][]any
	// Fill, when set, produces rows after Rows: Publish calls it once,
	// inside the publication's transaction and after the tables before
	// this one, and each row handed to add is appended at once, so a large
	// table is never held whole. An error from Fill (or add's) fails the
	// publication.
	Fill func(add func(row []any) error) error
}

// ServingConfig configures the serving database.
type ServingConfig struct {
	// Threads caps the serving database's worker threads. Default: 2.
	Threads int
	// MemoryLimit caps its memory, e.g. "256MB". Default: 256MB.
	MemoryLimit string
}

// Serving is the serving database: a second, in-memory DuckDB instance,
// separate from the Store's file, that holds ONLY the tables published to
// it (privacy-safe outcome tables, the metric catalog, team agreements,
// data quality) in schema shoal. Raw events, tasks, pseudonyms and offsets
// never exist in it, so no query against it can name them. It is
// configured without external access (no files, no network, no extension
// loading) and its configuration is locked before any query runs.
//
// Query and Describe run only statements that pass an allowlist on
// DuckDB's own parse tree (json_serialize_sql): one SELECT (including
// WITH, VALUES and DESCRIBE of an allowed table), reading only the
// published tables and the information_schema / pg_catalog views, calling
// no table function and none of the refused scalar functions.
type Serving struct {
	db  *sql.DB
	log *slog.Logger

	pubMu sync.Mutex // one Publish at a time
	mu    sync.RWMutex
	// tables are the published table names (lower case).
	tables map[string]bool

	// budgets are the byte budgets of running queries, by id (see
	// resultBudgetFunction).
	budgets    sync.Map // int64 → *resultBudget
	nextBudget atomic.Int64
}

// ServingError is a refused or failed query. SQLState is the PostgreSQL
// error code a wire server reports for it.
type ServingError struct {
	Code string // SQLSTATE
	Msg  string
	Err  error // the DuckDB error, if any
}

func (e *ServingError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}
func (e *ServingError) Unwrap() error { return e.Err }

// SQLState is the PostgreSQL error code of the error.
func (e *ServingError) SQLState() string { return e.Code }

// SQLSTATE codes of ServingErrors.
const (
	StateInsufficientPrivilege = "42501" // a refused table, function or statement
	StateSyntaxError           = "42601"
	StateUndefinedObject       = "42P01" // an unknown table
	StateFeatureNotSupported   = "0A000" // not a read statement
	StateQueryCanceled         = "57014"
	StateInternal              = "XX000"
	StateDataException         = "22000"
	StateLimitExceeded         = "54000" // a statement or a result over its size limit
)

// OpenServing opens an empty serving database.
func OpenServing(ctx context.Context, cfg ServingConfig, logger *slog.Logger) (*Serving, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 2
	}
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = "256MB"
	}
	if !memoryLimitRE.MatchString(strings.TrimSpace(cfg.MemoryLimit)) {
		return nil, fmt.Errorf("%w: %q is not a size; use a number with a unit, e.g. 256MB", ErrBadMemoryLimit, cfg.MemoryLimit)
	}
	params := url.Values{}
	params.Set("threads", strconv.Itoa(cfg.Threads))
	params.Set("memory_limit", strings.TrimSpace(cfg.MemoryLimit))
	// Every connection resolves unqualified names in the published schema
	// (search_path is a session setting: lock_configuration leaves it).
	connector, err := duckdb.NewConnector("?"+params.Encode(), func(ex driver.ExecerContext) error {
		if _, err := ex.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+ServingSchema, nil); err != nil {
			return err
		}
		_, err := ex.ExecContext(ctx, "SET search_path = '"+ServingSchema+"'", nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open serving database: %w", err)
	}
	s := &Serving{db: sql.OpenDB(connector), log: logger.With("component", "serving"), tables: map[string]bool{}}
	if err := s.registerBudget(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("configure serving database: %w", err)
	}
	for _, q := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + ServingSchema,
		"SET enable_external_access = false",
		"SET allow_community_extensions = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET lock_configuration = true",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("configure serving database (%s): %w", q, err)
		}
	}
	return s, nil
}

// Close closes the serving database.
func (s *Serving) Close() error { return s.db.Close() }

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
var typeRE = regexp.MustCompile(`^(DATE|DOUBLE|BIGINT|INTEGER|VARCHAR|BOOLEAN|TIMESTAMP)$`)

// Publish replaces the contents of the serving database with tables, in
// one transaction: a query sees either the previous contents or these,
// never a mix. Tables not given are dropped.
func (s *Serving) Publish(ctx context.Context, tables []ServingTable) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	for _, t := range tables {
		if !identRE.MatchString(t.Name) {
			return fmt.Errorf("publish: table name %q: use lower-case letters, digits and _", t.Name)
		}
		for _, c := range t.Columns {
			if !identRE.MatchString(c.Name) || !typeRE.MatchString(c.Type) {
				return fmt.Errorf("publish: table %s: column %q of type %q: use a lower-case name and one of DATE, DOUBLE, BIGINT, INTEGER, VARCHAR, BOOLEAN, TIMESTAMP", t.Name, c.Name, c.Type)
			}
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	s.mu.RLock()
	old := make([]string, 0, len(s.tables))
	for t := range s.tables {
		old = append(old, t)
	}
	s.mu.RUnlock()
	keep := map[string]bool{}
	for _, t := range tables {
		keep[t.Name] = true
	}
	for _, t := range old {
		if !keep[t] {
			if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+ServingSchema+"."+t); err != nil {
				return fmt.Errorf("publish: drop %s: %w", t, err)
			}
		}
	}
	for _, t := range tables {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = c.Name + " " + c.Type
		}
		name := ServingSchema + "." + t.Name
		if _, err := tx.ExecContext(ctx, "CREATE OR REPLACE TABLE "+name+" ("+strings.Join(cols, ", ")+")"); err != nil {
			return fmt.Errorf("publish: create %s: %w", t.Name, err)
		}
		// Rows go in through DuckDB's appender, in the transaction: as SQL
		// literals, 512 rows to an INSERT, DuckDB spent 115 s parsing the
		// 330 k rows of 2,000 teams' 26 weeks.
		if err := appendRows(conn, t); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("publish: commit: %w", err)
	}
	s.mu.Lock()
	s.tables = keep
	s.mu.Unlock()
	return nil
}

// Rows is an open query result: its columns, then its rows one at a
// time. Values are nil, bool, int64, float64, string or time.Time (other
// DuckDB types arrive as text); a row's slice is the caller's to keep.
type Rows interface {
	// Columns are the result's column names and DuckDB type names (DATE,
	// TIMESTAMP, DOUBLE, BIGINT, INTEGER, VARCHAR, BOOLEAN, ...).
	Columns() (names, types []string)
	// Next advances to the next row; false at the end or on an error.
	Next() bool
	// Values is the current row.
	Values() []any
	// Err is the error that ended the rows, if any.
	Err() error
	// Close releases the result; it is safe to call more than once.
	Close() error
}

// Describe checks query against the allowlist and returns its result
// columns and its number of parameters ($1, $2, ...) without running it.
func (s *Serving) Describe(ctx context.Context, query string) (names, types []string, params int, err error) {
	q, params, err := s.check(ctx, query, false)
	if err != nil {
		return nil, nil, 0, err
	}
	wrapped := "SELECT * FROM (\n" + q + "\n) AS shoal_query LIMIT 0"
	if _, _, err := s.check(ctx, wrapped, false); err != nil {
		return nil, nil, 0, err
	}
	// DuckDB infers the parameters' types when it prepares the statement;
	// NULLs bound to them keep those types, so the columns are the ones
	// the statement has.
	rows, err := s.db.QueryContext(ctx, wrapped, make([]any, params)...)
	if err != nil {
		return nil, nil, 0, classify(ctx, err)
	}
	defer rows.Close()
	names, types, err = columnsOf(rows)
	if err != nil {
		return nil, nil, 0, classify(ctx, err)
	}
	return names, types, params, nil
}

func columnsOf(rows *sql.Rows) (names, types []string, err error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	for _, ct := range cts {
		names = append(names, ct.Name())
		types = append(types, ct.DatabaseTypeName())
	}
	return names, types, nil
}

// Query checks query against the allowlist and runs it with args. The
// result holds at most maxRows+1 rows (so the caller can tell a result
// over its cap; maxRows <= 0: no cap), and a result whose values, as text,
// would exceed maxBytes fails with StateLimitExceeded as DuckDB produces
// it, before it is held whole (maxBytes <= 0: no cap). Cancelling ctx
// interrupts DuckDB.
func (s *Serving) Query(ctx context.Context, query string, args []any, maxRows int, maxBytes int64) (Rows, error) {
	q, params, err := s.check(ctx, query, false)
	if err != nil {
		return nil, err
	}
	if len(args) != params {
		return nil, &ServingError{Code: "08P01", Msg: fmt.Sprintf("the statement has %d parameters but %d values were bound", params, len(args))}
	}
	if params > 0 {
		if q, err = bindLiterals(q, args); err != nil {
			return nil, err
		}
	}
	// The statement runs as a subquery under an alias the client cannot
	// guess (a column of the same name would hide the row), so the budget
	// function measures whole rows.
	var rnd [8]byte
	rand.Read(rnd[:])
	alias := "shoal_result_" + hex.EncodeToString(rnd[:])
	run := "SELECT * FROM (\n" + q + "\n) AS " + alias
	var budget *resultBudget
	if maxBytes > 0 {
		id := s.nextBudget.Add(1)
		budget = &resultBudget{max: maxBytes}
		s.budgets.Store(id, budget)
		defer s.budgets.Delete(id)
		run += fmt.Sprintf(" WHERE %s(%d, strlen(CAST(%s AS VARCHAR)))", resultBudgetFunction, id, alias)
	}
	if maxRows > 0 {
		run += " LIMIT " + strconv.Itoa(maxRows+1)
	}
	// What runs is checked, not only what was sent.
	if _, n, err := s.check(ctx, run, true); err != nil {
		return nil, err
	} else if n != 0 {
		return nil, refusal(StateSyntaxError, "parameters left after binding")
	}
	rows, err := s.db.QueryContext(ctx, run)
	if budget != nil && budget.over.Load() {
		if err == nil {
			rows.Close()
		}
		return nil, &ServingError{Code: StateLimitExceeded, Msg: fmt.Sprintf(
			"the result is larger than %d bytes, the most a statement may return (--sql-max-result-bytes): aggregate, filter or select fewer columns", maxBytes)}
	}
	if err != nil {
		return nil, classify(ctx, err)
	}
	r := &servingRows{ctx: ctx, rows: rows}
	if r.names, r.types, err = columnsOf(rows); err != nil {
		rows.Close()
		return nil, classify(ctx, err)
	}
	r.dest = make([]any, len(r.names))
	r.ptrs = make([]any, len(r.names))
	for i := range r.dest {
		r.ptrs[i] = &r.dest[i]
	}
	return r, nil
}

// servingRows is a Rows over database/sql's rows of DuckDB's (held whole,
// within the byte budget).
type servingRows struct {
	ctx          context.Context
	rows         *sql.Rows
	names, types []string
	dest, ptrs   []any
	cur          []any
	err          error
}

func (r *servingRows) Columns() (names, types []string) { return r.names, r.types }
func (r *servingRows) Values() []any                    { return r.cur }
func (r *servingRows) Err() error                       { return r.err }
func (r *servingRows) Close() error                     { return r.rows.Close() }

func (r *servingRows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		if r.err == nil && r.rows.Err() != nil {
			r.err = classify(r.ctx, r.rows.Err())
		}
		return false
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		r.err = classify(r.ctx, err)
		return false
	}
	r.cur = make([]any, len(r.dest))
	for i, v := range r.dest {
		r.cur[i] = plain(v)
	}
	return true
}

// resultBudgetFunction is the scalar function Query's wrapper filters
// every row through: it adds the row's size to its query's budget and
// fails the query once the budget is spent, so DuckDB stops before it
// holds a larger result. Client statements may not call it (the shoal_
// prefix is refused).
const resultBudgetFunction = "shoal_result_budget"

type resultBudget struct {
	max  int64
	used atomic.Int64
	over atomic.Bool
}

type budgetFunc struct{ s *Serving }

func (f budgetFunc) Config() duckdb.ScalarFuncConfig {
	bigint, _ := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	boolean, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{bigint, bigint}, ResultTypeInfo: boolean, Volatile: true}
}

func (f budgetFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(v []driver.Value) (any, error) {
		id, _ := v[0].(int64)
		n, _ := v[1].(int64)
		b, ok := f.s.budgets.Load(id)
		if !ok {
			return nil, errors.New("no such result budget")
		}
		budget := b.(*resultBudget)
		if budget.used.Add(n) > budget.max {
			budget.over.Store(true)
			return nil, errors.New("result size limit exceeded")
		}
		return true, nil
	}}
}

func (s *Serving) registerBudget(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return duckdb.RegisterScalarUDF(conn, resultBudgetFunction, budgetFunc{s})
}

// plain converts a scanned DuckDB value to nil, bool, int64, float64,
// string or time.Time.
func plain(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, time.Time:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return float64(x)
	case *big.Int:
		return x.String()
	case duckdb.Decimal:
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(x.Value), new(big.Float).SetFloat64(pow10(x.Scale))).Float64()
		return f
	case []byte:
		return fmt.Sprintf("%x", x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func pow10(n uint8) float64 {
	f := 1.0
	for range n {
		f *= 10
	}
	return f
}

// classify turns a DuckDB error into a ServingError.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &ServingError{Code: StateQueryCanceled, Msg: "query cancelled: it ran past the statement timeout or the client cancelled it", Err: ctx.Err()}
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeParser:
			return &ServingError{Code: StateSyntaxError, Msg: "syntax error", Err: err}
		case duckdb.ErrorTypeCatalog:
			return &ServingError{Code: StateUndefinedObject, Msg: "unknown table, column or function (the tables are in schema shoal: SELECT table_name FROM information_schema.tables WHERE table_schema = 'shoal')", Err: err}
		case duckdb.ErrorTypePermission:
			return &ServingError{Code: StateInsufficientPrivilege, Msg: "not permitted", Err: err}
		case duckdb.ErrorTypeInterrupt:
			return &ServingError{Code: StateQueryCanceled, Msg: "query cancelled", Err: err}
		case duckdb.ErrorTypeOutOfMemory:
			return &ServingError{Code: "53200", Msg: "query needs more memory than the SQL endpoint allows; aggregate or filter more", Err: err}
		case duckdb.ErrorTypeBinder, duckdb.ErrorTypeConversion, duckdb.ErrorTypeInvalidInput, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeMismatchType:
			return &ServingError{Code: StateDataException, Msg: "query error", Err: err}
		}
	}
	return &ServingError{Code: StateInternal, Msg: "query failed", Err: err}
}

// appendRows appends t's rows to its table on conn, inside the
// transaction open on conn.
func appendRows(conn *sql.Conn, t ServingTable) error {
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("publish: %T is not a database/sql/driver.Conn", dc)
		}
		a, err := duckdb.NewAppenderFromConn(dconn, ServingSchema, t.Name)
		if err != nil {
			return fmt.Errorf("publish: append to %s: %w", t.Name, err)
		}
		vals := make([]driver.Value, len(t.Columns))
		add := func(r []any) error {
			if len(r) != len(t.Columns) {
				return fmt.Errorf("publish: table %s: a row of %d values for %d columns", t.Name, len(r), len(t.Columns))
			}
			for k, v := range r {
				var err error
				if vals[k], err = appendValue(v, t.Columns[k].Type); err != nil {
					return fmt.Errorf("publish: table %s column %s: %w", t.Name, t.Columns[k].Name, err)
				}
			}
			if err := a.AppendRow(vals...); err != nil {
				return fmt.Errorf("publish: append to %s: %w", t.Name, err)
			}
			return nil
		}
		for _, r := range t.Rows {
			if err := add(r); err != nil {
				a.Close()
				return err
			}
		}
		if t.Fill != nil {
			if err := t.Fill(add); err != nil {
				a.Close()
				return err
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("publish: append to %s: %w", t.Name, err)
		}
		return nil
	})
}

// appendValue is v as the appender takes it for a column of DuckDB type
// typ (exactly the column's Go type): nil, a bool for BOOLEAN, an integer
// for BIGINT or INTEGER, a float64 or an integer for DOUBLE, a string
// without NUL bytes for VARCHAR, a time.Time for DATE (its date) or
// TIMESTAMP (in UTC).
func appendValue(v any, typ string) (driver.Value, error) {
	if v == nil {
		return nil, nil
	}
	var n int64
	isInt := true
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	default:
		isInt = false
	}
	switch typ {
	case "BIGINT":
		if isInt {
			return n, nil
		}
	case "INTEGER":
		if isInt {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("%d does not fit an INTEGER", n)
			}
			return int32(n), nil
		}
	case "DOUBLE":
		if isInt {
			return float64(n), nil
		}
		if x, ok := v.(float64); ok {
			return x, nil
		}
	case "BOOLEAN":
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case "VARCHAR":
		if x, ok := v.(string); ok {
			if strings.ContainsRune(x, 0) {
				return nil, errors.New("a string with a NUL byte")
			}
			return x, nil
		}
	case "DATE":
		if x, ok := v.(time.Time); ok {
			y, m, d := x.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
		}
	case "TIMESTAMP":
		if x, ok := v.(time.Time); ok {
			return x.UTC(), nil
		}
	}
	return nil, fmt.Errorf("value of type %T for a %s column: publish nil, bool, integers, float64, string or time.Time as the column's type", v, typ)
}
