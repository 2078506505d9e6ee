package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	sqlserver "github.com/shoal-analytics/shoal/sql"
)

const sqlSummary = `Run one SQL statement against a running Shoal's governed SQL endpoint (see
--sql-addr of run; demo serves it on 127.0.0.1:5433) and print the result: an aligned
table, or --format csv|json. Only the privacy-safe tables in schema shoal are there:
weekly_outcomes, daily_outcomes, metric_catalog, team_agreements, data_quality.
The password comes from PGPASSWORD or --password-file.

  shoal sql "SELECT week, team, tasks_completed FROM shoal.weekly_outcomes WHERE level = 'team'"

With --hash-password NAME it instead reads a password from stdin and prints the
NAME:hash line for the --sql-users file.`

func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sql", sqlSummary, stdout, stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: shoal sql [flags] \"STATEMENT\"\n\n%s\n\nFlags:\n", sqlSummary)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:5433", "host:port of the SQL endpoint")
	user := fs.String("user", "analyst", "SQL user")
	passwordFile := fs.String("password-file", "", "file holding the password (default: the PGPASSWORD environment variable)")
	format := fs.String("format", "table", "output format: table, csv or json")
	tlsMode := fs.String("tls", "prefer", "TLS: disable, prefer, require or verify-full (PostgreSQL sslmode)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on connecting and running after this long")
	hashFor := fs.String("hash-password", "", "read a password from stdin and print the users-file line for this user name")
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	// Flags may come before or after the statement.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *hashFor != "" {
		return hashPassword(*hashFor, os.Stdin, stdout)
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "shoal sql: give exactly one statement, quoted, e.g. shoal sql \"SELECT * FROM shoal.metric_catalog\" (got %d arguments)\nRun 'shoal sql --help' to see the flags.\n", len(rest))
		return errUsage
	}
	switch *format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(stderr, "shoal sql: --format %q: use table, csv or json\n", *format)
		return errUsage
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w (use host:port, e.g. 127.0.0.1:5433)", *addr, err)
	}
	password := os.Getenv("PGPASSWORD")
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	dsn := url.URL{Scheme: "postgres", User: url.UserPassword(*user, password), Host: net.JoinHostPort(host, port), Path: "/shoal"}
	q := dsn.Query()
	q.Set("sslmode", *tlsMode)
	q.Set("connect_timeout", strconv.Itoa(max(1, int(timeout.Seconds()))))
	dsn.RawQuery = q.Encode()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn.String())
	if err != nil {
		return fmt.Errorf("connect to the SQL endpoint at %s: %w (is `shoal run --sql-addr %s` running? check --user and the password)", *addr, err, *addr)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(cctx, rest[0], pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	var data [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			return err
		}
		data = append(data, v)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	names := make([]string, len(fields))
	oids := make([]uint32, len(fields))
	for i, f := range fields {
		names[i], oids[i] = f.Name, f.DataTypeOID
	}
	switch *format {
	case "csv":
		return writeCSV(stdout, names, oids, data)
	case "json":
		return writeJSON(stdout, names, oids, data)
	}
	writeTable(stdout, names, oids, data)
	return nil
}

func hashPassword(user string, in io.Reader, out io.Writer) error {
	pw, err := readPassword(in)
	if err != nil {
		return err
	}
	h, err := sqlserver.HashPassword(pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s:%s\n", user, h)
	return nil
}

// readPassword reads a password, the first line of in, for the
// --hash-password and web-user commands: at least 12 characters.
func readPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		return "", errors.New("the password must have at least 12 characters")
	}
	return pw, nil
}

// text renders one value the way psql does; NULL is empty.
func text(v any, oid uint32) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		if oid == pgtype.DateOID {
			return x.Format(time.DateOnly)
		}
		return x.Format("2006-01-02 15:04:05.999999")
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "t"
		}
		return "f"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func writeTable(w io.Writer, names []string, oids []uint32, data [][]any) {
	width := make([]int, len(names))
	cells := make([][]string, len(data))
	for i, n := range names {
		width[i] = utf8.RuneCountInString(n)
	}
	for r, row := range data {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			cells[r][i] = text(v, oids[i])
			width[i] = max(width[i], utf8.RuneCountInString(cells[r][i]))
		}
	}
	numeric := func(oid uint32) bool {
		return oid == pgtype.Int4OID || oid == pgtype.Int8OID || oid == pgtype.Float8OID || oid == pgtype.Int2OID
	}
	pad := func(s string, n int, right bool) string {
		p := strings.Repeat(" ", n-utf8.RuneCountInString(s))
		if right {
			return p + s
		}
		return s + p
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(pad(n, width[i], false))
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	b.Reset()
	for i := range names {
		if i > 0 {
			b.WriteString("-+-")
		}
		b.WriteString(strings.Repeat("-", width[i]))
	}
	fmt.Fprintln(w, b.String())
	for _, row := range cells {
		b.Reset()
		for i, c := range row {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(pad(c, width[i], numeric(oids[i])))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if len(data) == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(data))
	}
}

func writeCSV(w io.Writer, names []string, oids []uint32, data [][]any) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(names); err != nil {
		return err
	}
	for _, row := range data {
		rec := make([]string, len(row))
		for i, v := range row {
			rec[i] = text(v, oids[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSON(w io.Writer, names []string, oids []uint32, data [][]any) error {
	out := make([]map[string]any, 0, len(data))
	for _, row := range data {
		m := make(map[string]any, len(row))
		for i, v := range row {
			switch x := v.(type) {
			case time.Time:
				m[names[i]] = text(x, oids[i])
			case float64:
				if math.IsInf(x, 0) || math.IsNaN(x) {
					m[names[i]] = nil
				} else {
					m[names[i]] = x
				}
			default:
				m[names[i]] = v
			}
		}
		out = append(out, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
