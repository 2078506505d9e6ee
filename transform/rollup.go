package transform

import (
	"fmt"
	"strings"
)

// The derived state, recomputed by the same SQL for one batch (Commit) and
// for everything (Rebuild). Only the scope differs: the touched_tasks,
// touched_requests and touched_cells temp tables list what to recompute.
//
// For tasks, requests and team_day, which have primary keys, the pattern
// with scope S is: copy the keys of X in S to old_X (one scan of X), compute
// next_X for S from events, delete the rows of old_X that next_X lacks
// (guarded: events are never deleted, so rows practically never vanish),
// update the rows that stay in place, and insert those not in old_X.
// Deleting and re-inserting a primary key in one transaction trips DuckDB
// 1.1's over-eager constraint check ("Duplicate key ... violates primary key
// constraint"), and INSERT OR REPLACE costs ~45µs per conflicting row (7.8 s
// for 170k tasks), so neither is used. team_day_people has no key (its ART
// index made every commit ~10% dearer for no reader benefit), so its rows in
// S are deleted and re-inserted.
//
// Semantics (the spec an independent Go oracle is written from):
//
// tasks, one row per (team, task) with at least one work.task.* event:
//   - created_at = min event_time of work.task.created; created_day, kind,
//     due_at, due_date, estimate_hours come from that earliest created event;
//   - first_started_at = min event_time of work.task.started;
//   - last_reopened_at = max event_time of work.task.reopened; reopens = count;
//   - completed_at = max event_time of work.task.completed, NULL if
//     last_reopened_at >= it; completed_day = day of that latest completed
//     event (NULL when completed_at is NULL);
//   - cancelled_at = max event_time of work.task.cancelled, NULL if
//     last_reopened_at >= it; blocked_count = count of work.task.blocked;
//   - lead_time_s = completed_at - created_at in seconds, NULL if either is
//     NULL or it is negative; cycle_time_s likewise from first_started_at;
//   - on_time = NULL unless completed; completed_at <= due_at if due_at is
//     set, else completed_day <= due_date if due_date is set, else NULL.
//
// Ties in "the earliest/latest event" are broken by the greatest
// (source, id), so the choice never depends on arrival order.
//
// requests, one row per (team, request) with at least one work.request.*
// event: opened_at/opened_day/kind from the earliest opened event,
// responded_at/responded_day from the earliest responded event,
// response_time_s = responded_at - opened_at in seconds, NULL if either is
// missing or it is negative.
//
// team_day, one row per (team, day) with at least one non-zero counter:
// events, tasks_created/tasks_started (distinct tasks of created/started
// events that day), tasks_reopened/tasks_blocked (events that day), the
// time-by-category sums of work.time.logged events that day, contributors
// (distinct non-null persons of events that day); tasks_completed and its
// lead/cycle/due sums over tasks whose completed_day is that day;
// requests_opened over requests whose opened_day is that day,
// requests_responded and the response-time sum over requests whose
// responded_day is that day.
//
// team_day_people: the distinct (team, day, person) of events with a person.

// step is one SQL statement of a commit or rebuild, named for errors and
// failure injection in tests.
type step struct {
	name string
	sql  string
	// guard, if set, is a count query; the step is skipped when it is 0.
	guard string
}

// seconds converts the difference of two TIMESTAMPs to DOUBLE seconds with
// microsecond precision.
const secondsExpr = `CAST(epoch_us(%[1]s) - epoch_us(%[2]s) AS DOUBLE) / 1000000`

// incrementalScope fills the scope tables from the batch's new events (what
// is left in staging after deduplication).
var incrementalScope = []step{
	{name: "scope tasks", sql: `INSERT INTO touched_tasks SELECT DISTINCT team, task FROM staging WHERE task IS NOT NULL`},
	{name: "scope requests", sql: `INSERT INTO touched_requests SELECT DISTINCT team, request FROM staging WHERE request IS NOT NULL`},
	{name: "scope cells", sql: `INSERT INTO touched_cells SELECT DISTINCT team, day FROM staging`},
}

// rebuildScope empties the derived tables (dropping and recreating them:
// DuckDB's DELETE of all rows then INSERT of the same keys would trip the
// over-eager constraint check, and dropping is also the fastest) and fills
// the scope tables with every key in events.
var rebuildScope = []step{
	{name: "recreate derived tables", sql: `DROP TABLE tasks; DROP TABLE requests; DROP TABLE team_day; DROP TABLE team_day_people;
		` + strings.Join([]string{tasksDDL, requestsDDL, teamDayDDL, teamDayPeopleDDL}, ";\n")},
	{name: "scope tasks", sql: `INSERT INTO touched_tasks SELECT DISTINCT team, task FROM events WHERE task IS NOT NULL`},
	{name: "scope requests", sql: `INSERT INTO touched_requests SELECT DISTINCT team, request FROM events WHERE request IS NOT NULL`},
	{name: "scope cells", sql: `INSERT INTO touched_cells SELECT DISTINCT team, day FROM events`},
}

// The name of the step whose rows-affected count is Result.CellsTouched.
const stepCells = "cells"

// recompute recomputes the derived state for the scope. Order matters: the
// cells of old completion/open/response days are collected before tasks and
// requests change, those of the new days after.
var recompute = []step{
	existingStep("tasks", "old_tasks", "touched_tasks", taskKeys, "completed_day"),
	existingStep("requests", "old_requests", "touched_requests", requestKeys, "opened_day", "responded_day"),
	{name: "old state cells", sql: `INSERT INTO touched_cells
		SELECT team, completed_day FROM old_tasks WHERE completed_day IS NOT NULL
		UNION ALL SELECT team, opened_day FROM old_requests WHERE opened_day IS NOT NULL
		UNION ALL SELECT team, responded_day FROM old_requests WHERE responded_day IS NOT NULL`},

	{name: "collect task events", sql: `INSERT INTO task_ev
		SELECT e.team, e.task, e.type, e.event_time, e.day, e.source, e.id,
			e.kind, e.due_at, e.due_date, e.estimate_hours
		FROM events e
		SEMI JOIN touched_tasks k ON e.team = k.team AND e.task = k.task
		WHERE e.type LIKE 'work.task.%'`},
	{name: "compute tasks", sql: `INSERT INTO next_tasks
		WITH ev AS (SELECT * FROM task_ev),
		created AS (
			SELECT team, task, event_time, day, kind, due_at, due_date, estimate_hours
			FROM ev WHERE type = 'work.task.created'
			QUALIFY row_number() OVER (PARTITION BY team, task ORDER BY event_time ASC, source DESC, id DESC) = 1
		),
		completed AS (
			SELECT team, task, event_time, day
			FROM ev WHERE type = 'work.task.completed'
			QUALIFY row_number() OVER (PARTITION BY team, task ORDER BY event_time DESC, source DESC, id DESC) = 1
		),
		agg AS (
			SELECT team, task,
				min(event_time) FILTER (WHERE type = 'work.task.started')   AS first_started_at,
				max(event_time) FILTER (WHERE type = 'work.task.reopened')  AS last_reopened_at,
				count(*)        FILTER (WHERE type = 'work.task.reopened')  AS reopens,
				max(event_time) FILTER (WHERE type = 'work.task.cancelled') AS cancelled_at,
				count(*)        FILTER (WHERE type = 'work.task.blocked')   AS blocked_count
			FROM ev GROUP BY team, task
		),
		st AS (
			SELECT a.team, a.task,
				c.event_time AS created_at, c.day AS created_day, c.kind, c.due_at, c.due_date, c.estimate_hours,
				a.first_started_at, a.last_reopened_at, a.reopens,
				CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < d.event_time THEN d.event_time END AS completed_at,
				CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < d.event_time THEN d.day END AS completed_day,
				CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < a.cancelled_at THEN a.cancelled_at END AS cancelled_at,
				a.blocked_count
			FROM agg a
			LEFT JOIN created c ON c.team = a.team AND c.task = a.task
			LEFT JOIN completed d ON d.team = a.team AND d.task = a.task
		)
		SELECT team, task, created_at, created_day, kind, due_at, due_date, estimate_hours,
			first_started_at, last_reopened_at, reopens, completed_at, completed_day, cancelled_at, blocked_count,
			CASE WHEN completed_at >= created_at THEN ` + seconds("completed_at", "created_at") + ` END AS lead_time_s,
			CASE WHEN completed_at >= first_started_at THEN ` + seconds("completed_at", "first_started_at") + ` END AS cycle_time_s,
			CASE
				WHEN completed_at IS NULL THEN NULL
				WHEN due_at IS NOT NULL THEN completed_at <= due_at
				WHEN due_date IS NOT NULL THEN completed_day <= due_date
			END AS on_time
		FROM st`},
	deleteVanishedStep("tasks", "old_tasks", "next_tasks", taskKeys),
	updateStep("tasks", "next_tasks", taskKeys, taskColumns),
	insertNewStep("tasks", "next_tasks", "old_tasks", taskKeys),

	{name: "collect request events", sql: `INSERT INTO request_ev
		SELECT e.team, e.request, e.type, e.event_time, e.day, e.source, e.id, e.kind
		FROM events e
		SEMI JOIN touched_requests k ON e.team = k.team AND e.request = k.request
		WHERE e.type LIKE 'work.request.%'`},
	{name: "compute requests", sql: `INSERT INTO next_requests
		WITH ev AS (SELECT * FROM request_ev),
		opened AS (
			SELECT team, request, event_time, day, kind
			FROM ev WHERE type = 'work.request.opened'
			QUALIFY row_number() OVER (PARTITION BY team, request ORDER BY event_time ASC, source DESC, id DESC) = 1
		),
		responded AS (
			SELECT team, request, event_time, day
			FROM ev WHERE type = 'work.request.responded'
			QUALIFY row_number() OVER (PARTITION BY team, request ORDER BY event_time ASC, source DESC, id DESC) = 1
		),
		k AS (SELECT DISTINCT team, request FROM ev)
		SELECT k.team, k.request, o.event_time, o.day, o.kind, r.event_time, r.day,
			CASE WHEN r.event_time >= o.event_time THEN ` + seconds("r.event_time", "o.event_time") + ` END
		FROM k
		LEFT JOIN opened o ON o.team = k.team AND o.request = k.request
		LEFT JOIN responded r ON r.team = k.team AND r.request = k.request`},
	deleteVanishedStep("requests", "old_requests", "next_requests", requestKeys),
	updateStep("requests", "next_requests", requestKeys, requestColumns),
	insertNewStep("requests", "next_requests", "old_requests", requestKeys),

	{name: "new state cells", sql: `INSERT INTO touched_cells
		SELECT team, completed_day FROM next_tasks WHERE completed_day IS NOT NULL
		UNION ALL SELECT team, opened_day FROM next_requests WHERE opened_day IS NOT NULL
		UNION ALL SELECT team, responded_day FROM next_requests WHERE responded_day IS NOT NULL`},
	{name: stepCells, sql: `INSERT INTO cells SELECT DISTINCT team, day FROM touched_cells`},

	existingStep("team_day", "old_team_day", "cells", teamDayKeys),
	{name: "compute team_day", sql: `INSERT INTO next_team_day
		WITH ev AS (
			SELECT e.team, e.day, e.type, e.task, e.person, e.category,
				` + seconds("e.ended_at", "e.started_at") + ` AS dur
			FROM events e
			SEMI JOIN cells c ON e.team = c.team AND e.day = c.day
		),
		ea AS (
			SELECT team, day,
				count(*) AS events,
				count(DISTINCT task) FILTER (WHERE type = 'work.task.created') AS tasks_created,
				count(DISTINCT task) FILTER (WHERE type = 'work.task.started') AS tasks_started,
				count(*) FILTER (WHERE type = 'work.task.reopened') AS tasks_reopened,
				count(*) FILTER (WHERE type = 'work.task.blocked') AS tasks_blocked,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'focus') AS focus_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'meeting') AS meeting_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'collaboration') AS collaboration_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'support') AS support_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'admin') AS admin_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'learning') AS learning_s,
				sum(dur) FILTER (WHERE type = 'work.time.logged' AND category = 'other') AS other_s,
				count(DISTINCT person) AS contributors
			FROM ev GROUP BY team, day
		),
		ta AS (
			SELECT t.team, t.completed_day AS day,
				count(*) AS tasks_completed,
				sum(t.lead_time_s) AS lead_time_s_sum, count(t.lead_time_s) AS lead_time_n,
				sum(t.cycle_time_s) AS cycle_time_s_sum, count(t.cycle_time_s) AS cycle_time_n,
				count(t.on_time) AS completed_with_due,
				count(*) FILTER (WHERE t.on_time) AS completed_on_time
			FROM tasks t
			SEMI JOIN cells c ON t.team = c.team AND t.completed_day = c.day
			WHERE t.completed_at IS NOT NULL
			GROUP BY t.team, t.completed_day
		),
		ro AS (
			SELECT r.team, r.opened_day AS day, count(*) AS requests_opened
			FROM requests r
			SEMI JOIN cells c ON r.team = c.team AND r.opened_day = c.day
			GROUP BY r.team, r.opened_day
		),
		rr AS (
			SELECT r.team, r.responded_day AS day, count(*) AS requests_responded,
				sum(r.response_time_s) AS response_time_s_sum, count(r.response_time_s) AS response_time_n
			FROM requests r
			SEMI JOIN cells c ON r.team = c.team AND r.responded_day = c.day
			GROUP BY r.team, r.responded_day
		)
		SELECT c.team, c.day,
			coalesce(ea.events, 0), coalesce(ea.tasks_created, 0), coalesce(ea.tasks_started, 0),
			coalesce(ta.tasks_completed, 0),
			coalesce(ta.lead_time_s_sum, 0), coalesce(ta.lead_time_n, 0),
			coalesce(ta.cycle_time_s_sum, 0), coalesce(ta.cycle_time_n, 0),
			coalesce(ta.completed_with_due, 0), coalesce(ta.completed_on_time, 0),
			coalesce(ea.tasks_reopened, 0), coalesce(ea.tasks_blocked, 0),
			coalesce(ea.focus_s, 0), coalesce(ea.meeting_s, 0), coalesce(ea.collaboration_s, 0),
			coalesce(ea.support_s, 0), coalesce(ea.admin_s, 0), coalesce(ea.learning_s, 0), coalesce(ea.other_s, 0),
			coalesce(ro.requests_opened, 0), coalesce(rr.requests_responded, 0),
			coalesce(rr.response_time_s_sum, 0), coalesce(rr.response_time_n, 0),
			coalesce(ea.contributors, 0)
		FROM cells c
		LEFT JOIN ea ON ea.team = c.team AND ea.day = c.day
		LEFT JOIN ta ON ta.team = c.team AND ta.day = c.day
		LEFT JOIN ro ON ro.team = c.team AND ro.day = c.day
		LEFT JOIN rr ON rr.team = c.team AND rr.day = c.day
		WHERE ea.team IS NOT NULL OR ta.team IS NOT NULL OR ro.team IS NOT NULL OR rr.team IS NOT NULL`},
	deleteVanishedStep("team_day", "old_team_day", "next_team_day", teamDayKeys),
	updateStep("team_day", "next_team_day", teamDayKeys, teamDayColumns),
	insertNewStep("team_day", "next_team_day", "old_team_day", teamDayKeys),

	{name: "compute team_day_people", sql: `INSERT INTO next_people
		SELECT DISTINCT e.team, e.day, e.person
		FROM events e
		SEMI JOIN cells c ON e.team = c.team AND e.day = c.day
		WHERE e.person IS NOT NULL`},
	{name: "delete team_day_people of cells", sql: `DELETE FROM team_day_people
		WHERE EXISTS (SELECT 1 FROM cells c WHERE c.team = team_day_people.team AND c.day = team_day_people.day)`},
	{name: "insert team_day_people", sql: `INSERT INTO team_day_people SELECT * FROM next_people`},
}

func seconds(a, b string) string { return fmt.Sprintf(secondsExpr, a, b) }

// The non-key columns of the keyed derived tables, updated in place
// (TestColumnLists checks them against the tables).
var (
	taskColumns = []string{"created_at", "created_day", "kind", "due_at", "due_date", "estimate_hours",
		"first_started_at", "last_reopened_at", "reopens", "completed_at", "completed_day", "cancelled_at",
		"blocked_count", "lead_time_s", "cycle_time_s", "on_time"}
	requestColumns = []string{"opened_at", "opened_day", "kind", "responded_at", "responded_day", "response_time_s"}
	teamDayColumns = []string{"events", "tasks_created", "tasks_started", "tasks_completed",
		"lead_time_s_sum", "lead_time_n", "cycle_time_s_sum", "cycle_time_n", "completed_with_due",
		"completed_on_time", "tasks_reopened", "tasks_blocked", "focus_s", "meeting_s", "collaboration_s",
		"support_s", "admin_s", "learning_s", "other_s", "requests_opened", "requests_responded",
		"response_time_s_sum", "response_time_n", "contributors"}
)

// The primary keys of the keyed derived tables.
var (
	taskKeys    = []string{"team", "task"}
	requestKeys = []string{"team", "request"}
	teamDayKeys = []string{"team", "day"}
)

func keyMatch(a, b string, keys []string) string {
	conds := make([]string, len(keys))
	for i, k := range keys {
		conds[i] = fmt.Sprintf("%s.%s = %s.%s", a, k, b, k)
	}
	return strings.Join(conds, " AND ")
}

// existingStep copies into old the keys (and extra columns) of the rows of
// table in scope: one scan of table, after which deciding what is new or
// vanished needs only the small scratch tables.
func existingStep(table, old, scope string, keys []string, extra ...string) step {
	cols := append(append([]string(nil), keys...), extra...)
	for i, c := range cols {
		cols[i] = "t." + c
	}
	return step{name: "existing " + table, sql: fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s t SEMI JOIN %s k ON %s",
		old, strings.Join(cols, ", "), table, scope, keyMatch("t", "k", keys))}
}

// deleteVanishedStep deletes the rows of table in scope (old) that next no
// longer has. Events are never deleted, so this is almost never needed: the
// guard skips the scan of table when nothing vanished.
func deleteVanishedStep(table, old, next string, keys []string) step {
	vanished := fmt.Sprintf("SELECT * FROM %s o WHERE NOT EXISTS (SELECT 1 FROM %s n WHERE %s)", old, next, keyMatch("n", "o", keys))
	return step{
		name:  "delete vanished " + table,
		guard: "SELECT count(*) FROM (" + vanished + ")",
		sql: fmt.Sprintf("DELETE FROM %s WHERE EXISTS (SELECT 1 FROM (%s) v WHERE %s)",
			table, vanished, keyMatch("v", table, keys)),
	}
}

// updateStep updates the rows of table that next has, in place.
func updateStep(table, next string, keys, cols []string) step {
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = fmt.Sprintf("%s = n.%s", c, c)
	}
	return step{name: "update " + table, sql: fmt.Sprintf("UPDATE %s SET %s FROM %s n WHERE %s",
		table, strings.Join(set, ", "), next, keyMatch(table, "n", keys))}
}

// insertNewStep inserts the rows of next whose keys were not in table (old).
func insertNewStep(table, next, old string, keys []string) step {
	return step{name: "insert new " + table, sql: fmt.Sprintf("INSERT INTO %s SELECT * FROM %s n WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE %s)",
		table, next, old, keyMatch("o", "n", keys))}
}
