// Package sql serves governed, read-only ad-hoc SQL over the PostgreSQL
// wire protocol (github.com/jeroenrinzema/psql-wire), so analysts can use
// psql, DBeaver, Metabase or Grafana's PostgreSQL datasource.
//
// It owns the wire server, its authentication (users with PBKDF2 password
// hashes, or anonymous access for a demo on a loopback address), TLS, the
// limits around it (limit.go: connections in all and per client address,
// startup and idle timeouts; login.go: backoff of failed logins per user
// and address; the statement timeout, row and byte caps), the mapping of
// result columns to PostgreSQL types, and the audit log and counters.
//
// It also owns what is published to it (publish.go): the five tables'
// schemas and null rules, filled by a Publisher from transform's weekly and
// daily outcome cells through privacy.Apply and privacy.ApplyDaily (the one
// disclosure policy), the metric catalog, the team agreements and the data
// quality counts.
//
// It never opens a database itself and never imports DuckDB: it queries an
// Engine, which app wires to transform's serving database — a separate
// in-memory DuckDB instance that holds only published, privacy-safe
// tables. The engine checks every statement against its allowlist; this
// package adds the limits around it.
//
// It must never:
//   - run a statement that is not a single read statement, or reach
//     anything but the engine's published tables and discovery views (the
//     engine refuses; this package reports its refusal to the client);
//   - log a statement's text or its literal values (a literal can be
//     anything a user typed, including a person's name): the audit log
//     carries a fingerprint, a hash of the statement with its literals
//     replaced, never the statement;
//   - accept a connection without a password unless anonymous access was
//     explicitly enabled, or accept anonymous access on a non-loopback
//     address;
//   - let one client's statement run past the statement timeout or return
//     more rows or bytes than the caps (a result over a cap is an error,
//     never cut short silently);
//   - let one client address hold every connection, a connection that
//     has not logged in stay past the startup timeout (or keep a slot
//     another client needs), or a failed login be retried at full speed;
//   - accept passwords in clear text off loopback unless told to
//     (--sql-insecure-plaintext).
package sql
