package sql

import (
	"regexp"
	"strings"
)

// psql's \d, \dt, \dv ... list relations with a query over pg_catalog that
// calls functions DuckDB does not have (pg_get_userbyid). Such a query is
// answered with the equivalent over information_schema, which the engine
// checks like any other statement. Other backslash commands use whatever
// DuckDB's pg_catalog views support; information_schema.tables and
// information_schema.columns always work.
var (
	psqlListRE = regexp.MustCompile(`(?s)^\s*SELECT n\.nspname as "Schema",\s*c\.relname as "Name",.*pg_catalog\.pg_get_userbyid\(c\.relowner\) as "Owner".*FROM pg_catalog\.pg_class c`)
	// psqlNameRE finds the name pattern psql turned into a regular
	// expression: c.relname OPERATOR(pg_catalog.~) '^(weekly.*)$'.
	psqlNameRE   = regexp.MustCompile(`c\.relname OPERATOR\(pg_catalog\.~\) '(\^\([A-Za-z0-9_.*]+\)\$)'`)
	psqlSchemaRE = regexp.MustCompile(`n\.nspname OPERATOR\(pg_catalog\.~\) '(\^\([A-Za-z0-9_.*]+\)\$)'`)
)

// psql's \d NAME: after looking the table's oid up (which DuckDB's
// pg_catalog answers), it asks for the table's flags and its columns with
// casts and functions DuckDB lacks; both are answered from the catalog
// views, and its questions about indexes, policies, statistics,
// publications and inheritance (none exist here) get no rows.
var (
	psqlTableRE   = regexp.MustCompile(`(?s)^\s*SELECT c\.relchecks, c\.relkind, c\.relhasindex,.*WHERE c\.oid = '([0-9]+)'`)
	psqlColumnsRE = regexp.MustCompile(`(?s)^\s*SELECT a\.attname,\s*pg_catalog\.format_type\(a\.atttypid, a\.atttypmod\).*FROM pg_catalog\.pg_attribute a\s*WHERE a\.attrelid = '([0-9]+)'`)
	psqlNoRowsRE  = regexp.MustCompile(`(?s)^\s*SELECT .*(FROM pg_catalog\.pg_(policy|statistic_ext|publication|inherits|trigger|constraint|index|rewrite)\b|pg_catalog\.pg_publication|pg_catalog\.pg_inherits)`)
)

// psqlCompat returns the statement to run for query.
func psqlCompat(query string) string {
	if m := psqlTableRE.FindStringSubmatch(query); m != nil {
		return `SELECT 0 AS relchecks, 'r' AS relkind, false AS relhasindex, false AS relhasrules, false AS relhastriggers,
	false AS relrowsecurity, false AS relforcerowsecurity, false AS relhasoids, false AS relispartition, '' AS "?column?",
	0 AS reltablespace, '' AS reloftype, 'p' AS relpersistence, 'd' AS relreplident, CAST(NULL AS VARCHAR) AS amname
FROM pg_catalog.pg_class WHERE oid = ` + m[1]
	}
	if m := psqlColumnsRE.FindStringSubmatch(query); m != nil {
		return `SELECT c.column_name AS attname, lower(c.data_type) AS format_type, CAST(NULL AS VARCHAR) AS pg_get_expr,
	c.is_nullable = 'NO' AS attnotnull, CAST(NULL AS VARCHAR) AS attcollation, '' AS attidentity, '' AS attgenerated
FROM information_schema.columns c
JOIN pg_catalog.pg_class k ON k.relname = c.table_name
JOIN pg_catalog.pg_namespace n ON n.oid = k.relnamespace AND n.nspname = c.table_schema
WHERE k.oid = ` + m[1] + ` ORDER BY c.ordinal_position`
	}
	if psqlNoRowsRE.MatchString(query) {
		return "SELECT NULL AS none WHERE false"
	}
	if !psqlListRE.MatchString(query) {
		return query
	}
	where := []string{"table_schema NOT IN ('information_schema', 'pg_catalog')"}
	if m := psqlNameRE.FindStringSubmatch(query); m != nil {
		where = append(where, "regexp_matches(table_name, '"+m[1]+"')")
	}
	if m := psqlSchemaRE.FindStringSubmatch(query); m != nil {
		where = append(where, "regexp_matches(table_schema, '"+m[1]+"')")
	}
	return `SELECT table_schema AS "Schema", table_name AS "Name", CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS "Type", 'shoal' AS "Owner"
FROM information_schema.tables WHERE ` + strings.Join(where, " AND ") + ` ORDER BY 1, 2`
}
