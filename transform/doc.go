// Package transform is the only owner of Shoal's DuckDB file. Nothing else
// in Shoal opens it, and no other package imports a DuckDB driver.
//
// It also owns the serving database (serving.go): a second, in-memory
// DuckDB instance for the SQL endpoint that holds only the tables
// published to it (already through the privacy policy), never anything
// of the file. It runs without external access, with its configuration
// locked, and runs only statements that pass an allowlist walked over
// DuckDB's own parse tree (servingcheck.go). It must never be given raw
// events, tasks, pseudonyms or offsets. Shoal runs it in a child process
// of its own binary (engine.go, enginechild.go; binaries call RunEngine
// first in main) under a hard memory limit, because DuckDB's memory_limit
// does not bound a query's vectors or results: a statement past the limit
// fails there, a process past it is restarted and republished, and the
// pipeline's process never holds a query's memory.
//
// It owns:
//   - the raw events table (exactly event.Schema's columns), deduplicated by
//     (source, id) so a redelivered or re-sent event changes nothing;
//   - the Kafka offsets that produced those rows, and the counts of rejected
//     events, committed in the same transaction as the rows (exactly-once
//     effect: Commit is one DuckDB transaction or nothing);
//   - the checkpoint policy (checkpoint.go): DuckDB's write-ahead log is
//     checkpointed once the stream pauses after a commit;
//   - the derived state: one row per task, per async request and per time
//     entry (its newest revision: a later revision of an entry replaces it,
//     a work.time.deleted removes it, an older one changes nothing), and the
//     team_day rollup cells and the distinct contributors per team and day,
//     merged incrementally with each batch (reading the batch and the
//     derived rows it touches, never the stored events), and computed in
//     full by Rebuild, with the same SQL over all events (rollup.go).
//
// It must never store a raw person identifier. Only keyed pseudonyms arrive
// here (ingest pseudonymizes before an event exists); Commit refuses a whole
// batch if its person column holds anything that does not have the shape of
// a pseudonym (privacy.IsPseudonym), so a bug upstream cannot leak a raw id
// to disk. It never logs person values, and it applies no suppression:
// minimum-group-size rules belong to privacy and to every output path, not to
// storage. What those rules decide on it computes, per cell, from each
// person's contributions without letting a person's row leave DuckDB: the
// people at the teams file's contribution floors and each family's
// magnitudes with their two largest single-person parts (outcomes.go).
//
// Task, request and time-entry ids arrive as keyed ids (ingest keys them
// with the pseudonym key), so the file does not join back to the tracker's
// assignees without the key. A file written before that holds raw ids in
// its events, which transform cannot key (it never has the key): Open
// refuses it with ErrRawIDs rather than mix the two.
//
// A DuckDB file has one writer process. Open refuses a file that another
// process (or another Store in this process) holds.
//
// go-duckdb v1.8.2 / DuckDB 1.1.2 facts this package works around (measured;
// details where each is handled):
//   - a query that reads only some columns of a registered Arrow view
//     crashes or returns garbage, so each batch is copied with INSERT ...
//     SELECT * into a temporary staging table first (arrowview.go);
//   - DuckDB never releases a registered Arrow stream, so one view is
//     registered per Store and fed one record per scan, instead of one view
//     (and one leaked reader) per batch (arrowview.go);
//   - duckdb_arrow_scan creates a persistent view holding raw pointers, so
//     it is created in an attached in-memory database, not the file (store.go);
//   - deleted rows of a temporary table keep counting in its cardinality
//     estimate, so the scratch tables are recreated per commit (store.go).
package transform
