package sql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	wire "github.com/jeroenrinzema/psql-wire"
	"github.com/jeroenrinzema/psql-wire/codes"
	pgerror "github.com/jeroenrinzema/psql-wire/errors"
	"github.com/jeroenrinzema/psql-wire/pkg/buffer"
	"github.com/jeroenrinzema/psql-wire/pkg/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-analytics/shoal/transform"
)

// Engine runs checked, read-only statements. transform's serving database
// implements it (cmd/shoal asserts so at compile time). Types are DuckDB
// type names (DATE, TIMESTAMP, DOUBLE, BIGINT, INTEGER, VARCHAR, BOOLEAN,
// ...); values are nil, bool, int64, float64, string or time.Time. An
// error the engine raises may carry a PostgreSQL error code through a
// SQLState() string method.
type Engine interface {
	// Describe checks query and returns its result columns and its number
	// of parameters ($1, $2, ...) without running it.
	Describe(ctx context.Context, query string) (names, types []string, params int, err error)
	// Query checks and runs query and returns its result open: at most
	// maxRows+1 rows, and an error with SQLSTATE 54000 rather than a
	// result whose values, as text, hold more than maxBytes.
	Query(ctx context.Context, query string, args []any, maxRows int, maxBytes int64) (transform.Rows, error)
}

// Outcomes of a statement, the values of the audit log's outcome field and
// of the counter's outcome label.
const (
	OutcomeOK       = "ok"
	OutcomeRefused  = "refused"   // not allowed: a write, DDL, a table function, a raw table ...
	OutcomeError    = "error"     // allowed but failed: syntax, unknown column, bad parameter ...
	OutcomeTimeout  = "timeout"   // ran past the statement timeout, or cancelled
	OutcomeRowLimit = "row_limit" // more rows than --sql-max-rows, or more bytes than --sql-max-result-bytes
)

// Server is the PostgreSQL wire endpoint.
type Server struct {
	cfg      Config
	maxBytes int64 // cfg.MaxResultBytes
	eng      Engine
	log      *slog.Logger
	users    Users
	wire     *wire.Server
	ln       *listener
	queries  *prometheus.CounterVec
	logins   *loginGuard
	loginsN  *prometheus.CounterVec // by outcome: ok, failed, throttled
	// Password hashes run in two slots: logins from addresses with failures
	// (suspect) take only hashSuspect, the others
	// either, so guesses cost at most one core and a clean login never
	// queues behind them.
	hashSuspect, hashClean chan struct{}
	done                   chan struct{}
}

// New builds the server and binds its listener; Serve starts accepting.
func New(cfg Config, eng Engine, reg prometheus.Registerer, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("sql endpoint is off: set --sql-addr")
	}
	maxBytes, err := cfg.ResultBytes()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, maxBytes: maxBytes, eng: eng, log: logger.With("component", "sql"),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_sql_queries_total",
			Help: "Statements received on the SQL endpoint, by outcome (ok, refused, error, timeout, row_limit: over the row or byte cap).",
		}, []string{"outcome"}),
		logins:      newLoginGuard(cfg.StartupTimeout / 2),
		hashSuspect: make(chan struct{}, 1),
		hashClean:   make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	s.loginsN = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_sql_logins_total",
		Help: "SQL password logins by outcome: ok, failed (wrong user or password), throttled (refused inside a failed login's backoff window, unchecked).",
	}, []string{"outcome"})
	for _, o := range []string{"ok", "failed", "throttled"} {
		s.loginsN.WithLabelValues(o)
	}
	closed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_sql_connections_closed_total",
		Help: "SQL connections refused or closed by the endpoint's limits, by reason (max_conns, max_conns_per_addr, startup_timeout, idle_timeout, evicted, throttled).",
	}, []string{"reason"})
	for _, o := range []string{OutcomeOK, OutcomeRefused, OutcomeError, OutcomeTimeout, OutcomeRowLimit} {
		s.queries.WithLabelValues(o)
	}
	for _, r := range []string{closedMaxConns, closedMaxConnsPerAddr, closedStartupTimeout, closedIdleTimeout, closedEvicted, closedThrottled} {
		closed.WithLabelValues(r)
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shoal_sql_connections",
		Help: "Open SQL connections.",
	}, func() float64 {
		if s.ln == nil {
			return 0
		}
		return float64(s.ln.connections())
	})
	for _, c := range []prometheus.Collector{s.queries, s.loginsN, closed, open} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sql metrics: %w", err)
		}
	}
	opts := []wire.OptionFn{
		// The wire library logs statements at debug level: it gets a logger
		// that drops everything below info, whatever --log-level says.
		wire.Logger(slog.New(infoOnly{s.log.Handler()}).With("part", "wire")), // s.log already says component=sql
		wire.Version("15.0"),
		wire.GlobalParameters(wire.Parameters{"DateStyle": "ISO, MDY", "TimeZone": "UTC", "integer_datetimes": "on", "standard_conforming_strings": "on"}),
		wire.WithShutdownTimeout(5 * time.Second),
		wire.SessionMiddleware(s.session),
		// The library buffers one message per connection (16 MiB unless
		// told): 64 idle connections held a gigabyte.
		wire.MessageBufferSize(maxMessageBytes),
	}
	if cfg.Users != "" {
		users, err := LoadUsers(cfg.Users)
		if err != nil {
			return nil, err
		}
		s.users = users
		opts = append(opts, wire.SessionAuthStrategy(s.authenticate))
	}
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadTLS, err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts = append(opts, wire.TLSConfig(tlsCfg))
	}
	w, err := wire.NewServer(s.parse, opts...)
	if err != nil {
		return nil, fmt.Errorf("sql server: %w", err)
	}
	s.wire = w
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --sql-addr %s: %w (pick a free port, e.g. --sql-addr 127.0.0.1:0)", cfg.Addr, err)
	}
	s.ln = newListener(ln, cfg, tlsCfg, closed, s.log)
	if s.users != nil {
		s.ln.throttled = s.logins.addrWait
	}
	if cfg.Users != "" && cfg.TLSCert == "" {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		if !isLoopback(host) { // Validate allowed it: --sql-insecure-plaintext
			s.log.Warn("SQL passwords travel in clear text without TLS on a non-loopback address (--sql-insecure-plaintext); set --sql-tls-cert and --sql-tls-key", "addr", cfg.Addr)
		}
	}
	return s, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve accepts connections until Shutdown.
func (s *Server) Serve() error {
	defer close(s.done)
	s.log.Info("serving SQL", "addr", s.Addr(), "tls", s.cfg.TLSCert != "", "anonymous", s.cfg.AllowAnonymous)
	return s.wire.Serve(s.ln)
}

// Shutdown stops accepting connections and waits (up to ctx or 5s) for
// running statements; their contexts are cancelled after that.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.wire.Shutdown(ctx)
	s.ln.Close()
	return err
}

// authenticate asks for a password and checks it, PostgreSQL's
// cleartext password exchange. An attempt within its backoff window
// (login.go) is refused before the password is asked for, or once it has a
// hash slot if a failure beside it opened the window meanwhile; the hash
// runs in one of two slots: clean addresses may take either, addresses
// with failures only the suspect one.
func (s *Server) authenticate(ctx context.Context, w *buffer.Writer, r *buffer.Reader) (context.Context, error) {
	user := wire.AuthenticatedUsername(ctx)
	key := loginKey{user: safeUser(user)}
	wctx := ctx // waits end at the startup deadline; the session keeps ctx
	c := connOf(ctx)
	phase := func(p int32) {
		if c != nil {
			c.setPhase(p)
		}
	}
	if c != nil {
		key.addr = c.addr
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, c.startupDeadline)
		defer cancel()
	}
	refuse := func(code codes.Code, msg string) (context.Context, error) {
		err := pgerror.WithSeverity(pgerror.WithCode(errors.New(msg), code), pgerror.LevelFatal)
		if werr := wire.WriteUnterminatedError(w, err); werr != nil {
			return ctx, werr
		}
		return ctx, err
	}
	retry, clean := s.logins.begin(key, time.Now())
	if retry > 0 {
		s.loginsN.WithLabelValues("throttled").Inc() // not logged: a guesser would fill the log
		return refuse(codes.InvalidAuthorizationSpecification, fmt.Sprintf("too many failed logins from your address: try again in %s", retry.Round(10*time.Millisecond)))
	}
	ended := false // a checked attempt ends while it holds its hash slot, before the next may check
	defer func() {
		if !ended {
			s.logins.end(key, loginUnchecked, time.Now())
		}
	}()
	phase(phasePassword)
	w.Start(types.ServerAuth)
	w.AddInt32(authCleartextPassword)
	if err := w.End(); err != nil {
		return ctx, err
	}
	t, _, err := r.ReadTypedMsg()
	if err != nil {
		return ctx, err
	}
	phase(phaseChecking)
	if t != types.ClientPassword {
		return ctx, errors.New("unexpected message instead of a password")
	}
	password, err := r.GetString()
	if err != nil {
		return ctx, err
	}
	if clean {
		select {
		case s.hashClean <- struct{}{}:
			defer func() { <-s.hashClean }()
		case s.hashSuspect <- struct{}{}:
			defer func() { <-s.hashSuspect }()
		case <-wctx.Done():
			return ctx, wctx.Err()
		}
	} else {
		select {
		case s.hashSuspect <- struct{}{}:
			defer func() { <-s.hashSuspect }()
		case <-wctx.Done():
			return ctx, wctx.Err()
		}
	}
	if retry := s.logins.check(key, time.Now()); retry > 0 { // a guess beside it failed meanwhile
		s.loginsN.WithLabelValues("throttled").Inc()
		return refuse(codes.InvalidAuthorizationSpecification, fmt.Sprintf("too many failed logins from your address: try again in %s", retry.Round(10*time.Millisecond)))
	}
	ok := s.users.Check(user, password)
	outcome := loginFailed
	if ok {
		outcome = loginOK
		s.loginsN.WithLabelValues("ok").Inc()
	}
	s.logins.end(key, outcome, time.Now())
	ended = true
	if !ok {
		s.loginsN.WithLabelValues("failed").Inc()
		s.log.Warn("SQL login refused", "user", key.user, "client", clientAddr(ctx)) // at most one per backoff window and address
		return refuse(codes.InvalidPassword, "invalid username/password")
	}
	w.Start(types.ServerAuth)
	w.AddInt32(authOK)
	return ctx, w.End()
}

// Authentication request codes (PostgreSQL's AuthenticationOk and
// AuthenticationCleartextPassword).
const (
	authOK                = 0
	authCleartextPassword = 3
)

// connOf is the connection a session runs on (nil outside the listener,
// in tests of the wire handlers).
func connOf(ctx context.Context) *conn {
	if a, ok := wire.RemoteAddress(ctx).(*remoteAddr); ok {
		return a.conn
	}
	return nil
}

func (s *Server) session(ctx context.Context) (context.Context, error) {
	if c := connOf(ctx); c != nil {
		c.establish()
	}
	s.log.Debug("SQL session", "user", safeUser(wire.AuthenticatedUsername(ctx)), "client", clientAddr(ctx))
	return ctx, nil
}

// safeUser is the user name for logs: a name that is not a valid user
// name (it might be anything, an e-mail address) is not logged.
func safeUser(u string) string {
	if userNameRE.MatchString(u) {
		return u
	}
	return "(invalid name)"
}

func clientAddr(ctx context.Context) string {
	if a := wire.RemoteAddress(ctx); a != nil {
		return a.String()
	}
	return ""
}

// parse prepares one statement. The engine checks it here, so a refused
// statement fails at Parse (extended protocol) or before any row (simple
// protocol); it runs when executed, its rows streamed to the client as the
// engine hands them over. A simple query's statement timeout counts from
// here.
func (s *Server) parse(ctx context.Context, q wire.Query) (wire.PreparedStatements, error) {
	start := time.Now()
	q.Query = psqlCompat(q.Query)
	dctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	names, types, nparams, err := s.eng.Describe(dctx, q.Query)
	cancel()
	if err != nil {
		return nil, s.fail(ctx, q.Query, start, err)
	}
	// Parameters are untyped (OID 0) unless the client gave a type: the
	// client sends them as text, and the engine binds them as literals that
	// take their type from where they are used, like PostgreSQL's unknown.
	oids := make([]uint32, nparams)
	for i := range oids {
		if i < len(q.ParameterOIDs) {
			oids[i] = q.ParameterOIDs[i]
		}
	}
	cols := columns(names, types)
	stmt := wire.NewStatement(func(ctx context.Context, w wire.DataWriter, params []wire.Parameter) error {
		began := start
		if !q.SimpleQuery {
			began = time.Now()
		}
		args := make([]any, len(params))
		for i, p := range params {
			var oid uint32
			if i < len(oids) {
				oid = oids[i]
			}
			v, err := paramValue(p, oid)
			if err != nil {
				return s.fail(ctx, q.Query, began, &engineError{code: "22P02", msg: fmt.Sprintf("parameter $%d: %v", i+1, err)})
			}
			args[i] = v
		}
		return s.run(ctx, w, q.Query, began, cols, args)
	}, wire.WithColumns(cols), wire.WithParameters(oids))
	return wire.Prepared(stmt), nil
}

// run runs a prepared statement and streams its rows to w. The statement
// timeout covers the streaming too: a client that does not take its rows
// in time gets SQLSTATE 57014, or, if it takes none, loses the connection
// shortly after.
func (s *Server) run(ctx context.Context, w wire.DataWriter, query string, start time.Time, cols wire.Columns, args []any) error {
	qctx, cancel := context.WithDeadline(ctx, start.Add(s.cfg.StatementTimeout))
	defer cancel()
	rows, err := s.eng.Query(qctx, query, args, s.cfg.MaxRows, s.maxBytes)
	if err != nil {
		return s.fail(ctx, query, start, err)
	}
	defer rows.Close()
	_, gotTypes := rows.Columns()
	if err := sameTypes(cols, gotTypes); err != nil {
		return s.fail(ctx, query, start, err)
	}
	if c := connOf(ctx); c != nil {
		stop := context.AfterFunc(qctx, c.limitWrites)
		defer func() {
			if !stop() {
				c.unlimitWrites()
			}
		}()
	}
	n := 0
	for rows.Next() {
		if err := qctx.Err(); err != nil {
			return s.fail(ctx, query, start, err)
		}
		if n == s.cfg.MaxRows {
			return s.fail(ctx, query, start, s.rowLimit())
		}
		if err := w.Row(encodeRow(cols, rows.Values())); err != nil {
			s.audit(ctx, query, start, n, OutcomeError, err)
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return s.fail(ctx, query, start, err)
	}
	s.audit(ctx, query, start, n, OutcomeOK, nil)
	if len(cols) == 0 {
		return w.Empty()
	}
	return w.Complete("SELECT " + strconv.Itoa(n))
}

func (s *Server) rowLimit() error {
	return &engineError{code: string(codes.ProgramLimitExceeded), msg: fmt.Sprintf(
		"the result has more than %d rows (--sql-max-rows): aggregate, filter or add a LIMIT", s.cfg.MaxRows)}
}

// engineError is an error with a PostgreSQL error code.
type engineError struct{ code, msg string }

func (e *engineError) Error() string    { return e.msg }
func (e *engineError) SQLState() string { return e.code }

// fail audits a failed statement and returns the error the client sees.
func (s *Server) fail(ctx context.Context, query string, start time.Time, err error) error {
	code := codes.Uncategorized
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code = codes.Code(st.SQLState())
	}
	outcome := OutcomeError
	switch {
	case code == codes.InsufficientPrivilege || code == codes.FeatureNotSupported:
		outcome = OutcomeRefused
	case code == codes.QueryCanceled || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		outcome = OutcomeTimeout
		code = codes.QueryCanceled
		err = fmt.Errorf("statement cancelled: it ran past the statement timeout of %s (--sql-statement-timeout); aggregate or filter more", s.cfg.StatementTimeout)
	case code == codes.ProgramLimitExceeded:
		outcome = OutcomeRowLimit
	}
	s.audit(ctx, query, start, 0, outcome, err)
	return pgerror.WithCode(errors.New(err.Error()), code)
}

func (s *Server) audit(ctx context.Context, query string, start time.Time, rows int, outcome string, err error) {
	s.queries.WithLabelValues(outcome).Inc()
	attrs := []any{
		"user", safeUser(wire.AuthenticatedUsername(ctx)),
		"client", clientAddr(ctx),
		"fingerprint", Fingerprint(query),
		"bytes", len(query),
		"rows", rows,
		"outcome", outcome,
		"duration", time.Since(start).Round(time.Microsecond),
	}
	if err != nil {
		var st interface{ SQLState() string }
		if errors.As(err, &st) {
			attrs = append(attrs, "sqlstate", st.SQLState())
		}
	}
	s.log.Info("sql query", attrs...)
}

// columns maps DuckDB result types to PostgreSQL column types.
func columns(names, types []string) wire.Columns {
	cols := make(wire.Columns, len(names))
	for i, n := range names {
		oid, width := oidOf(types[i])
		cols[i] = wire.Column{Name: n, Oid: oid, Width: width, TypeModifier: -1, AttrNo: int16(i + 1)}
	}
	return cols
}

func oidOf(duckType string) (uint32, int16) {
	switch duckType {
	case "BOOLEAN":
		return pgtype.BoolOID, 1
	case "TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT":
		return pgtype.Int4OID, 4
	case "BIGINT", "UINTEGER":
		return pgtype.Int8OID, 8
	case "FLOAT", "DOUBLE":
		return pgtype.Float8OID, 8
	case "DATE":
		return pgtype.DateOID, 4
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return pgtype.TimestampOID, 8
	case "TIMESTAMPTZ":
		return pgtype.TimestamptzOID, 8
	}
	if len(duckType) > 7 && duckType[:7] == "DECIMAL" {
		return pgtype.Float8OID, 8
	}
	return pgtype.TextOID, -1
}

// encodeRow converts engine values to what each column's codec encodes.
func encodeRow(cols wire.Columns, r []any) []any {
	out := make([]any, len(r))
	for i, v := range r {
		if v == nil {
			continue
		}
		switch cols[i].Oid {
		case pgtype.TextOID:
			switch x := v.(type) {
			case string:
				out[i] = x
			case time.Time:
				out[i] = x.Format("15:04:05.999999")
			default:
				out[i] = fmt.Sprint(x)
			}
		case pgtype.Int4OID, pgtype.Int8OID:
			// A statement's types come from Describe; bound values can
			// change them (an integer column computed from a parameter).
			switch x := v.(type) {
			case float64:
				out[i] = int64(x)
			case string:
				out[i] = x
			default:
				out[i] = v
			}
			if x, ok := out[i].(int64); ok && cols[i].Oid == pgtype.Int4OID {
				out[i] = int32(x)
			}
		case pgtype.Float8OID:
			if x, ok := v.(int64); ok {
				out[i] = float64(x)
			} else {
				out[i] = v
			}
		default:
			out[i] = v
		}
	}
	return out
}

// paramValue decodes a bound parameter: text as sent, binary by its type.
func paramValue(p wire.Parameter, oid uint32) (any, error) {
	if p.Value() == nil {
		return nil, nil
	}
	if p.Format() == wire.TextFormat {
		return string(p.Value()), nil
	}
	if oid == 0 {
		return nil, errors.New("a binary parameter needs a declared type")
	}
	return p.Scan(oid)
}

// infoOnly drops records below info (the wire library's debug records
// carry statement text).
type infoOnly struct{ slog.Handler }

func (h infoOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, l)
}
func (h infoOnly) WithAttrs(as []slog.Attr) slog.Handler { return infoOnly{h.Handler.WithAttrs(as)} }
func (h infoOnly) WithGroup(g string) slog.Handler       { return infoOnly{h.Handler.WithGroup(g)} }

func numericOID(oid uint32) bool {
	return oid == pgtype.Int4OID || oid == pgtype.Int8OID || oid == pgtype.Float8OID
}

// sameTypes checks that a prepared statement's result has the column types
// it was described with: a parameter whose type DuckDB could not infer
// (as in 'x' || $1) can change them.
func sameTypes(cols wire.Columns, types []string) error {
	if len(types) != len(cols) {
		return &engineError{code: "42804", msg: fmt.Sprintf("the statement returned %d columns but was described with %d", len(types), len(cols))}
	}
	for i, t := range types {
		got, _ := oidOf(t)
		if want := cols[i].Oid; got != want && !(numericOID(got) && numericOID(want)) {
			return &engineError{code: "42804", msg: fmt.Sprintf("column %s: its type depends on a parameter of unknown type (%s when prepared, %s with the values bound); cast the column's expression, e.g. CAST('x' || $1 AS VARCHAR)", cols[i].Name, typeName(want), t)}
		}
	}
	return nil
}

func typeName(oid uint32) string {
	switch oid {
	case pgtype.BoolOID:
		return "BOOLEAN"
	case pgtype.Int4OID:
		return "INTEGER"
	case pgtype.Int8OID:
		return "BIGINT"
	case pgtype.Float8OID:
		return "DOUBLE"
	case pgtype.DateOID:
		return "DATE"
	case pgtype.TimestampOID:
		return "TIMESTAMP"
	case pgtype.TimestamptzOID:
		return "TIMESTAMPTZ"
	}
	return "VARCHAR"
}
