package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxQueryBytes is the longest statement the serving database parses.
const maxQueryBytes = 64 << 10

// Discovery views a query may read besides the published tables. They are
// views over DuckDB's catalog, which in the serving database holds only
// the published tables. pg_settings (the configuration) and
// pg_prepared_statements are not among them.
var (
	infoSchemaViews = map[string]bool{
		"schemata": true, "tables": true, "columns": true, "views": true,
		"table_constraints": true, "key_column_usage": true, "referential_constraints": true,
		"constraint_column_usage": true, "constraint_table_usage": true, "character_sets": true,
	}
	pgCatalogViews = map[string]bool{
		"pg_am": true, "pg_attrdef": true, "pg_attribute": true, "pg_class": true, "pg_constraint": true,
		"pg_database": true, "pg_depend": true, "pg_description": true, "pg_enum": true, "pg_index": true,
		"pg_indexes": true, "pg_namespace": true, "pg_proc": true, "pg_tables": true, "pg_type": true,
		"pg_views": true, "pg_tablespace": true, "pg_sequence": true, "pg_sequences": true,
	}
)

// Scalar functions a query may not call: ones that read the environment,
// the configuration, files or other statements, or change state. (Every
// table function is refused as well, by its place in the parse tree.)
var (
	refusedFunctions = map[string]bool{
		"getenv": true, "current_setting": true, "which_secret": true, "sql_auto_complete": true,
		"setseed": true, "nextval": true, "currval": true, "query": true, "query_table": true,
		"checkpoint": true, "force_checkpoint": true, "glob": true, "error": true,
		"current_setting_list": true, "set_config": true, "pg_read_file": true, "pg_ls_dir": true,
	}
	refusedPrefixes = []string{
		"read_", "duckdb_", "pragma_", "json_execute", "json_serialize", "json_deserialize",
		"sqlite_", "postgres_", "mysql_", "parquet_", "iceberg_", "delta_", "http", "s3", "load",
		"install", "enable_", "disable_", "scan_", "sniff_", "copy_", "export_", "import_",
		"shoal_", // the serving database's own functions (resultBudgetFunction)
	}
	tableRefTypes = map[string]bool{
		"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "EMPTY": true, "EXPRESSION_LIST": true,
		"SHOW_REF": true, "PIVOT": true, "TABLE_FUNCTION": true, "COLUMN_DATA": true, "DELIM_GET": true,
	}
)

// psqlism rewrites PostgreSQL spellings that psql's describe queries use
// and DuckDB's parser does not understand. The rewritten text is what is
// checked and run.
var (
	operatorRE = regexp.MustCompile(`(?i)OPERATOR\s*\(\s*pg_catalog\s*\.\s*([~!=<>]+\*?)\s*\)`)
	collateRE  = regexp.MustCompile(`(?i)\s+COLLATE\s+pg_catalog\s*\.\s*"?default"?`)
)

func refusal(code, format string, args ...any) error {
	return &ServingError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// check parses query with DuckDB's own parser and walks the parse tree
// against the allowlist. It returns the text to run and the number of
// parameters. internal allows the result budget function, for the
// wrapper Query puts around a checked statement.
func (s *Serving) check(ctx context.Context, query string, internal bool) (string, int, error) {
	if len(query) > maxQueryBytes {
		return "", 0, refusal("54000", "statement of %d bytes is longer than the %d allowed", len(query), maxQueryBytes)
	}
	if strings.ContainsRune(query, 0) {
		return "", 0, refusal(StateSyntaxError, "statement contains a NUL byte")
	}
	q := operatorRE.ReplaceAllString(query, " $1 ")
	q = collateRE.ReplaceAllString(q, "")
	q = strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
	if q == "" {
		return "", 0, refusal(StateSyntaxError, "empty statement")
	}
	var js string
	if err := s.db.QueryRowContext(ctx, "SELECT json_serialize_sql(CAST(? AS VARCHAR))", q).Scan(&js); err != nil {
		return "", 0, classify(ctx, err)
	}
	var tree struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return "", 0, refusal(StateInternal, "cannot read the parse tree: %v", err)
	}
	if tree.Error {
		if strings.Contains(tree.ErrorMessage, "Only SELECT") {
			return "", 0, refusal(StateFeatureNotSupported, "only a single read statement may run here (SELECT, WITH ... SELECT, VALUES, DESCRIBE/SUMMARIZE of a table); the SQL endpoint is read-only")
		}
		return "", 0, refusal(StateSyntaxError, "syntax error: %s", tree.ErrorMessage)
	}
	if len(tree.Statements) != 1 {
		return "", 0, refusal(StateFeatureNotSupported, "%d statements: send one statement at a time", len(tree.Statements))
	}
	var root any
	if err := json.Unmarshal(tree.Statements[0], &root); err != nil {
		return "", 0, refusal(StateInternal, "cannot read the parse tree: %v", err)
	}
	w := walker{internal: internal}
	s.mu.RLock()
	w.tables = s.tables
	err := w.walk(root, nil)
	s.mu.RUnlock()
	if err != nil {
		return "", 0, err
	}
	return q, w.params, nil
}

type walker struct {
	tables   map[string]bool
	internal bool
	params   int
}

// scope is the set of common table expression names a table reference
// may name, by where it stands in the tree.
type scope map[string]bool

// with returns sc and names, leaving sc as it was.
func (sc scope) with(names ...string) scope {
	out := make(scope, len(sc)+len(names))
	for n := range sc {
		out[n] = true
	}
	for _, n := range names {
		out[strings.ToLower(n)] = true
	}
	return out
}

// Query node types of the parse tree; each may carry a cte_map.
var queryNodeTypes = map[string]bool{
	"SELECT_NODE": true, "SET_OPERATION_NODE": true, "RECURSIVE_CTE_NODE": true, "CTE_NODE": true,
}

// cteEntry is one WITH entry of a query node: its name and its body.
type cteEntry struct {
	name string
	body any
}

func cteEntries(m map[string]any) []cteEntry {
	cm, _ := m["cte_map"].(map[string]any)
	list, _ := cm["map"].([]any)
	var out []cteEntry
	for _, e := range list {
		em, _ := e.(map[string]any)
		name, _ := em["key"].(string)
		out = append(out, cteEntry{strings.ToLower(name), em["value"]})
	}
	return out
}

// queryNode walks a query node. The names of its WITH list shadow tables
// only inside this node and what it contains, never beside or above it:
// each WITH body sees the names before its own (as PostgreSQL does), the
// recursive term of a recursive CTE also its own name, and the node's
// body all of them.
func (w *walker) queryNode(m map[string]any, sc scope) error {
	entries := cteEntries(m)
	inner := sc
	for _, e := range entries {
		if err := w.walk(e.body, inner); err != nil {
			return err
		}
		inner = inner.with(e.name)
	}
	typ, _ := m["type"].(string)
	self := str(m, "cte_name")
	for k, v := range m {
		var err error
		switch {
		case k == "cte_map":
			continue
		case typ == "RECURSIVE_CTE_NODE" && k == "right":
			err = w.walk(v, inner.with(self))
		case typ == "CTE_NODE" && k == "query":
			// A materialized CTE: query is the body of the entry named
			// cte_name, which sees the entries before it.
			before := sc
			for _, e := range entries {
				if e.name == self {
					break
				}
				before = before.with(e.name)
			}
			err = w.walk(v, before)
		case typ == "CTE_NODE" && k == "child":
			// The query the CTE belongs to: it carries the WITH list
			// itself.
			err = w.walk(v, sc)
		default:
			err = w.walk(v, inner)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.ToLower(s)
}

// walk checks every node of the tree under n; sc holds the CTE names
// visible there.
func (w *walker) walk(n any, sc scope) error {
	switch x := n.(type) {
	case map[string]any:
		if _, expr := x["class"]; !expr && queryNodeTypes[fmt.Sprint(x["type"])] {
			return w.queryNode(x, sc)
		}
		if err := w.node(x, sc); err != nil {
			return err
		}
		for _, v := range x {
			if err := w.walk(v, sc); err != nil {
				return err
			}
		}
	case []any:
		for _, v := range x {
			if err := w.walk(v, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) node(m map[string]any, sc scope) error {
	if class, ok := m["class"].(string); ok {
		switch class {
		case "FUNCTION":
			return w.function(m)
		case "PARAMETER":
			id := str(m, "identifier")
			n, err := strconv.Atoi(id)
			if err != nil || n < 1 {
				return refusal(StateSyntaxError, "parameter $%s: use numbered parameters $1, $2, ...", id)
			}
			w.params = max(w.params, n)
		}
		return nil
	}
	typ, _ := m["type"].(string)
	if !tableRefTypes[typ] {
		return nil
	}
	switch typ {
	case "BASE_TABLE":
		return w.table(sc, str(m, "catalog_name"), str(m, "schema_name"), str(m, "table_name"))
	case "TABLE_FUNCTION":
		name := ""
		if f, ok := m["function"].(map[string]any); ok {
			name = str(f, "function_name")
		}
		return refusal(StateInsufficientPrivilege, "table function %s() is not allowed: queries read only the published tables (schema %s)", name, ServingSchema)
	case "SHOW_REF":
		if m["query"] != nil {
			return nil // DESCRIBE SELECT ...: the query is walked
		}
		parts := splitQualified(str(m, "table_name"))
		switch {
		case len(parts) == 1 && parts[0] == "tables":
			return nil // SHOW TABLES
		case len(parts) == 1:
			return w.table(nil, "", "", parts[0])
		case len(parts) == 2:
			return w.table(nil, "", parts[0], parts[1])
		case len(parts) == 3:
			return w.table(nil, parts[0], parts[1], parts[2])
		}
		return refusal(StateInsufficientPrivilege, "DESCRIBE of %q is not allowed", str(m, "table_name"))
	case "COLUMN_DATA", "DELIM_GET":
		return refusal(StateInsufficientPrivilege, "table reference %s is not allowed", typ)
	}
	return nil
}

// splitQualified splits `"a"."b"` or a.b into its lower-case parts.
func splitQualified(s string) []string {
	var parts []string
	for _, p := range strings.Split(s, ".") {
		parts = append(parts, strings.Trim(p, `"`))
	}
	return parts
}

func (w *walker) table(sc scope, catalog, schema, name string) error {
	full := strings.Trim(strings.Join([]string{catalog, schema, name}, "."), ".")
	if catalog != "" && catalog != "memory" && !(catalog == "system" && (schema == "information_schema" || schema == "pg_catalog")) {
		return refusal(StateInsufficientPrivilege, "database %s is not available: queries read only the published tables (schema %s)", catalog, ServingSchema)
	}
	switch schema {
	case "":
		if sc[name] || w.tables[name] || pgCatalogViews[name] {
			return nil
		}
	case ServingSchema:
		if w.tables[name] {
			return nil
		}
	case "information_schema":
		if infoSchemaViews[name] {
			return nil
		}
	case "pg_catalog":
		if pgCatalogViews[name] {
			return nil
		}
	}
	return refusal(StateInsufficientPrivilege, "table %s is not available: queries read only the published tables in schema %s (list them with SELECT table_name FROM information_schema.tables WHERE table_schema = '%s') and the information_schema / pg_catalog discovery views", full, ServingSchema, ServingSchema)
}

func (w *walker) function(m map[string]any) error {
	name := str(m, "function_name")
	schema := str(m, "schema")
	catalog := str(m, "catalog")
	if catalog != "" && catalog != "system" || schema != "" && schema != "main" && schema != "pg_catalog" {
		return refusal(StateInsufficientPrivilege, "function %s.%s() is not allowed", schema, name)
	}
	if w.internal && name == resultBudgetFunction {
		return nil
	}
	if refusedFunctions[name] {
		return refusal(StateInsufficientPrivilege, "function %s() is not allowed on the SQL endpoint", name)
	}
	for _, p := range refusedPrefixes {
		if strings.HasPrefix(name, p) {
			return refusal(StateInsufficientPrivilege, "function %s() is not allowed on the SQL endpoint", name)
		}
	}
	return nil
}

// bindLiterals replaces the parameters $1, $2, ... of q (outside string
// literals, quoted identifiers and comments) with args as SQL string
// literals, so they take their type from where they are used, as
// PostgreSQL's untyped parameters do (DuckDB would bind a VARCHAR and
// refuse to compare it with a DATE). The result is checked like any
// statement before it runs.
func bindLiterals(q string, args []any) (string, error) {
	var b strings.Builder
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	skipQuoted := func(i int, quote byte) int { // i at the opening quote; returns the index after the closing one
		for j := i + 1; j < len(q); j++ {
			if q[j] == quote {
				if j+1 < len(q) && q[j+1] == quote {
					j++
					continue
				}
				return j + 1
			}
		}
		return len(q)
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := skipQuoted(i, c)
			b.WriteString(q[i:j])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			end := len(q)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(q[i:end])
			i = end
		case c == '$' && i+1 < len(q) && isDigit(q[i+1]) && (i == 0 || !isIdentByte(q[i-1])):
			j := i + 1
			for j < len(q) && isDigit(q[j]) {
				j++
			}
			n, err := strconv.Atoi(q[i+1 : j])
			if err != nil || n < 1 || n > len(args) {
				return "", refusal("08P01", "parameter $%s has no bound value (%d given)", q[i+1:j], len(args))
			}
			b.WriteString(literal(args[n-1]))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// literal is v as a SQL string literal (NULL for nil).
func literal(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		s = x
	case []byte:
		s = string(x)
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	case time.Time:
		s = x.UTC().Format("2006-01-02 15:04:05.999999")
	default:
		s = fmt.Sprint(x)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
