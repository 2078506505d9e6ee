package transform

// schemaSQL creates the persistent tables. Every statement is idempotent.
// events has exactly event.Schema's columns, in its order (TestEventsTable
// checks this); the derived tables are documented in rollup.go.
var schemaSQL = []string{
	`CREATE TABLE IF NOT EXISTS events (
		source          VARCHAR   NOT NULL,
		id              VARCHAR   NOT NULL,
		type            VARCHAR   NOT NULL,
		event_time      TIMESTAMP NOT NULL,
		day             DATE      NOT NULL,
		team            VARCHAR   NOT NULL,
		task            VARCHAR,
		request         VARCHAR,
		person          VARCHAR,
		due_at          TIMESTAMP,
		due_date        DATE,
		estimate_hours  DOUBLE,
		kind            VARCHAR,
		started_at      TIMESTAMP,
		ended_at        TIMESTAMP,
		category        VARCHAR,
		kafka_partition INTEGER   NOT NULL,
		kafka_offset    BIGINT    NOT NULL,
		entry           VARCHAR,
		revision        BIGINT
	)`,
	// A file written before time entries had revisions gains the columns,
	// last as in event.Schema, NULL for its events (entries of their own).
	`ALTER TABLE events ADD COLUMN IF NOT EXISTS entry VARCHAR`,
	`ALTER TABLE events ADD COLUMN IF NOT EXISTS revision BIGINT`,
	`CREATE TABLE IF NOT EXISTS offsets (
		topic       VARCHAR NOT NULL,
		part        INTEGER NOT NULL,
		next_offset BIGINT  NOT NULL,
		PRIMARY KEY (topic, part)
	)`,
	`CREATE TABLE IF NOT EXISTS rejections (
		day    DATE    NOT NULL,
		reason VARCHAR NOT NULL,
		events BIGINT  NOT NULL,
		PRIMARY KEY (day, reason)
	)`,
	metaDDL,
	eventKeysDDL,
	tasksDDL,
	requestsDDL,
	teamDayDDL,
	teamDayPeopleDDL,
	teamDayTasksDDL,
	timeEntriesDDL,
	releasesDDL,
	releasedCellsDDL,
	releasedQualityDDL,
	erasuresDDL,
	pendingDDL,
}

// metaDDL holds named integers about the file; derived_version is the
// version of the derived tables' layout and semantics (derivedVersion).
const metaDDL = `CREATE TABLE IF NOT EXISTS shoal_meta (
	name  VARCHAR NOT NULL PRIMARY KEY,
	value BIGINT  NOT NULL
)`

// eventKeysDDL: one row per stored event, the 128-bit hash of its (source,
// id) (keyExpr), so deduplicating a batch probes 16 bytes per stored event
// instead of two strings. Same rows as events, written in the same
// transaction.
const eventKeysDDL = `CREATE TABLE IF NOT EXISTS event_keys (
	h HUGEINT NOT NULL
)`

// keyExpr is the dedup key of an event: the hash key (pairKey) of its
// source and id.
var keyExpr = pairKey("source", "id")

// pairKey is the 128-bit key of the string pair (a, b): the MD5 of a
// length-prefixed, so that no two different pairs spell the same string.
// Matching 16 bytes instead of two strings is what keeps the commit's
// lookups in the stored tables cheap (event_keys, tasks.k, requests.k).
func pairKey(a, b string) string {
	return `md5_number(CAST(strlen(` + a + `) AS VARCHAR) || ':' || ` + a + ` || ` + b + `)`
}

// tasks and requests: one row per (team, task) and (team, request), k
// being pairKey of the two (rollup.go). A commit finds and updates the
// rows it touches by k: on a 20 M-event store (961 k tasks) looking up
// 50 k tasks took 22 ms by k against 114 ms by the two strings, and
// updating them 66 ms against 193 ms.
const tasksDDL = `CREATE TABLE IF NOT EXISTS tasks (
	team             VARCHAR NOT NULL,
	task             VARCHAR NOT NULL,
	created_at       TIMESTAMP,
	created_day      DATE,
	kind             VARCHAR,
	due_at           TIMESTAMP,
	due_date         DATE,
	estimate_hours   DOUBLE,
	first_started_at TIMESTAMP,
	last_reopened_at TIMESTAMP,
	reopens          BIGINT NOT NULL,
	completed_at     TIMESTAMP,
	completed_day    DATE,
	cancelled_at     TIMESTAMP,
	blocked_count    BIGINT NOT NULL,
	lead_time_s      DOUBLE,
	cycle_time_s     DOUBLE,
	on_time          BOOLEAN,
	created_source     VARCHAR,
	created_id         VARCHAR,
	last_completed_at  TIMESTAMP,
	last_completed_day DATE,
	last_cancelled_at  TIMESTAMP,
	k                  HUGEINT NOT NULL
)`

const requestsDDL = `CREATE TABLE IF NOT EXISTS requests (
	team            VARCHAR NOT NULL,
	request         VARCHAR NOT NULL,
	opened_at       TIMESTAMP,
	opened_day      DATE,
	kind            VARCHAR,
	responded_at    TIMESTAMP,
	responded_day   DATE,
	response_time_s DOUBLE,
	opened_source   VARCHAR,
	opened_id       VARCHAR,
	k               HUGEINT NOT NULL
)`

const teamDayDDL = `CREATE TABLE IF NOT EXISTS team_day (
	team                VARCHAR NOT NULL,
	day                 DATE    NOT NULL,
	events              BIGINT  NOT NULL DEFAULT 0,
	tasks_created       BIGINT  NOT NULL DEFAULT 0,
	tasks_started       BIGINT  NOT NULL DEFAULT 0,
	tasks_completed     BIGINT  NOT NULL DEFAULT 0,
	lead_time_s_sum     DOUBLE  NOT NULL DEFAULT 0,
	lead_time_n         BIGINT  NOT NULL DEFAULT 0,
	cycle_time_s_sum    DOUBLE  NOT NULL DEFAULT 0,
	cycle_time_n        BIGINT  NOT NULL DEFAULT 0,
	completed_with_due  BIGINT  NOT NULL DEFAULT 0,
	completed_on_time   BIGINT  NOT NULL DEFAULT 0,
	tasks_reopened      BIGINT  NOT NULL DEFAULT 0,
	tasks_blocked       BIGINT  NOT NULL DEFAULT 0,
	focus_s             DOUBLE  NOT NULL DEFAULT 0,
	meeting_s           DOUBLE  NOT NULL DEFAULT 0,
	collaboration_s     DOUBLE  NOT NULL DEFAULT 0,
	support_s           DOUBLE  NOT NULL DEFAULT 0,
	admin_s             DOUBLE  NOT NULL DEFAULT 0,
	learning_s          DOUBLE  NOT NULL DEFAULT 0,
	other_s             DOUBLE  NOT NULL DEFAULT 0,
	requests_opened     BIGINT  NOT NULL DEFAULT 0,
	requests_responded  BIGINT  NOT NULL DEFAULT 0,
	response_time_s_sum DOUBLE  NOT NULL DEFAULT 0,
	response_time_n     BIGINT  NOT NULL DEFAULT 0,
	contributors        BIGINT  NOT NULL DEFAULT 0
)`

// teamDayPeopleDDL: distinct by construction (see rollup.go), no key.
// family is the metric family of the person's events (familyExpr), so the
// outcomes count each family's people from here instead of the events.
const teamDayPeopleDDL = `CREATE TABLE IF NOT EXISTS team_day_people (
	team   VARCHAR NOT NULL,
	day    DATE    NOT NULL,
	family TINYINT NOT NULL,
	person VARCHAR NOT NULL
)`

// teamDayTasksDDL: the distinct (team, day, task, type) of created and
// started task events, so a batch's tasks_created and tasks_started add
// only tasks not already counted that day. Distinct by construction.
const teamDayTasksDDL = `CREATE TABLE IF NOT EXISTS team_day_tasks (
	team VARCHAR NOT NULL,
	day  DATE    NOT NULL,
	task VARCHAR NOT NULL,
	type VARCHAR NOT NULL
)`

// timeEntriesDDL: one row per time entry, its current state: the columns
// of the revision that wins (rollup.go: the greatest (revision, deleted,
// source, id)), deleted marking a work.time.deleted. k is the pairKey of
// (source, entry), or for a work.time.logged without an entry id, which is
// an entry of its own, its event key (keyExpr): so every time entry is
// here, and the outcomes read time from here, never from events. A
// deleted entry keeps its row (a tombstone), so that an older revision
// arriving later stays superseded.
const timeEntriesDDL = `CREATE TABLE IF NOT EXISTS time_entries (
	team       VARCHAR   NOT NULL,
	day        DATE      NOT NULL,
	person     VARCHAR,
	category   VARCHAR,
	started_at TIMESTAMP,
	ended_at   TIMESTAMP,
	deleted    BOOLEAN   NOT NULL,
	revision   BIGINT    NOT NULL,
	source     VARCHAR   NOT NULL,
	id         VARCHAR   NOT NULL,
	k          HUGEINT   NOT NULL
)`

// tempSQL (re)creates the per-connection scratch tables of the writer
// connection, at Open and at the start of every Commit and Rebuild. DuckDB
// temporary tables are transactional, so a failed Commit leaves them as
// they were.
var tempSQL = []string{
	// staging is events plus h, the dedup key (keyExpr).
	`CREATE OR REPLACE TEMP TABLE staging AS SELECT *, CAST(NULL AS HUGEINT) AS h FROM events LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE known_keys (h HUGEINT)`,
	`CREATE OR REPLACE TEMP TABLE touched_tasks (team VARCHAR, task VARCHAR, k HUGEINT)`,
	`CREATE OR REPLACE TEMP TABLE touched_requests (team VARCHAR, request VARCHAR, k HUGEINT)`,
	// ev: a cell of the batch's events; otherwise a cell of a task's or
	// request's old or new completion, open or response day.
	`CREATE OR REPLACE TEMP TABLE touched_cells (team VARCHAR, day DATE, ev BOOLEAN)`,
	`CREATE OR REPLACE TEMP TABLE cells (team VARCHAR, day DATE, ev BOOLEAN, st BOOLEAN)`,
	// w is how many events a row stands for: 1 for an event, more for a
	// stored state's count (reopens, blocked_count), 0 for its presence.
	`CREATE OR REPLACE TEMP TABLE task_ev (team VARCHAR, task VARCHAR, type VARCHAR, event_time TIMESTAMP, day DATE,
		source VARCHAR, id VARCHAR, kind VARCHAR, due_at TIMESTAMP, due_date DATE, estimate_hours DOUBLE, w BIGINT)`,
	`CREATE OR REPLACE TEMP TABLE request_ev (team VARCHAR, request VARCHAR, type VARCHAR, event_time TIMESTAMP, day DATE,
		source VARCHAR, id VARCHAR, kind VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE old_tasks AS SELECT * FROM tasks LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE old_requests AS SELECT * FROM requests LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE old_team_day AS SELECT * FROM team_day LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE next_tasks AS SELECT * FROM tasks LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE next_requests AS SELECT * FROM requests LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE next_team_day AS SELECT * FROM team_day LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE delta_team_day AS SELECT * FROM team_day LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE new_people AS SELECT * FROM team_day_people LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE seen_people AS SELECT * FROM team_day_people LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE new_day_tasks AS SELECT * FROM team_day_tasks LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE seen_day_tasks AS SELECT * FROM team_day_tasks LIMIT 0`,
	// The time entries of the batch (the newest revision of each), those
	// stored, and those whose state the batch changes.
	`CREATE OR REPLACE TEMP TABLE batch_entries AS SELECT * FROM time_entries LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE old_entries AS SELECT * FROM time_entries LIMIT 0`,
	`CREATE OR REPLACE TEMP TABLE next_entries AS SELECT * FROM time_entries LIMIT 0`,
	// What the changed entries add (w = 1) and take away (w = -1), per
	// entry.
	`CREATE OR REPLACE TEMP TABLE time_delta (team VARCHAR, day DATE, person VARCHAR, category VARCHAR, dur DOUBLE, w BIGINT)`,
	// The (team, day, person)s whose time the batch took away and who
	// logged no other time that day, and their cells' contributors.
	`CREATE OR REPLACE TEMP TABLE gone_people (team VARCHAR, day DATE, person VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE kept_people (team VARCHAR, day DATE, person VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE gone_cells (team VARCHAR, day DATE)`,
	`CREATE OR REPLACE TEMP TABLE recount (team VARCHAR, day DATE, people BIGINT)`,
}
