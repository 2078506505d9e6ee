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

// psqlCompat returns the statement to run for query.
func psqlCompat(query string) string {
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
