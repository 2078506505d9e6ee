package transform

import (
	"fmt"
	"strings"

	"github.com/shoal-analytics/shoal/event"
)

// The derived state, kept up to date by merging each batch into it (Commit)
// and computed from scratch by the same SQL (Rebuild): derive(src) reads
// the new events from src, the staging table, which holds the batch's new
// events for Commit and, for Rebuild (whose derived tables start empty),
// the stored events of one slice of teams at a time (rebuildTx). No step
// of a Commit scans the events table:
// the cost of a batch depends on the batch and on the size of the derived
// tables, not on how many events are stored.
//
// How each table is merged:
//   - tasks and requests: every aggregate a state row holds is a monoid
//     (min, max, count, and the earliest or latest event with its
//     (source, id) tie-break), so the stored row of a touched task is turned
//     back into weighted stand-in events (collect task events) and
//     aggregated together with the batch's events. The rows keep the raw
//     aggregates the merge needs (last_completed_at before a reopen cancels
//     it, the created and opened events' (source, id)).
//   - time_entries: an entry without an entry id is its event, which is
//     new, so it is appended as it is. Of the others, the batch's newest
//     revision of each is compared with the entry's stored row (looked up
//     by k, only for a batch with entry ids); the rows the batch supersedes
//     are updated in place, the new ones inserted, and the changed entries
//     become time_delta: the new state (weight 1) and the old one it
//     replaces (weight -1).
//   - team_day, the counters of events per cell (events, reopens, blocks)
//     are old value + the batch's, the time by category old value + the
//     batch's entries without an entry id + the time_delta's (so a
//     replaced or deleted entry's time leaves its old cell, which is
//     touched too); the distinct counters (tasks_created, tasks_started,
//     contributors) add the batch's (team, day, task, type) and (team,
//     day, person) not yet in team_day_tasks and team_day_people (in any
//     family), the time family's from the batch's entries without an id
//     and time_delta's new states; a person whose time the batch took away
//     from a cell and who has no other entry there left (a lookup of
//     time_entries, only for such batches) leaves the cell's time family,
//     and that cell's contributors are counted again from team_day_people;
//     the counters of tasks and requests (completions, lead and cycle time,
//     due dates, requests opened and responded) are recomputed from the
//     tasks and requests tables for the cells of a touched task's or
//     request's old or new day.
//
// For tasks, requests and team_day, each keyed by its first columns (and
// matched by k, their pairKey, for tasks and requests): copy
// the rows in scope to old_X (one scan of X), compute next_X, update the
// rows that exist in place and insert the others, so a key is never
// stored twice. None of the derived tables has a primary key: the ART
// indexes cost ~15 % of a commit's CPU (BenchmarkCommit: 1,507 vs 1,282
// CPU-ms per 50k-event batch over 1 M stored) and no reader looks a key up;
// replacing rows by delete + insert instead of updating them measured
// dearer (1,454 CPU-ms). team_day_tasks is only appended to, and so is
// team_day_people but for a person whose time entries of a day were all
// replaced or deleted. Rows of tasks, requests, time_entries and team_day
// never vanish, since events are never deleted (a deleted time entry
// keeps its row, marked); a derived row no event supports (only a bug or
// a hand edit makes one) survives Commit and is removed by Rebuild.
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
// time_entries, one row per time entry: the entry is (source, entry) for
// events with an entry id, and each work.time.logged without one is an
// entry of its own; its state is its event (work.time.logged or
// work.time.deleted) with the greatest (revision, deleted, source, id),
// revision 0 for an entry without an id. An entry is live unless that
// event is a deletion.
//
// team_day, one row per (team, day) with at least one non-zero counter:
// events (every stored event that day, replaced revisions and deletions
// included), tasks_created/tasks_started (distinct tasks of created/started
// events that day), tasks_reopened/tasks_blocked (events that day), the
// time-by-category sums of the live time entries of that day, contributors
// (distinct non-null persons of that day's events other than time entries,
// and of its live time entries); tasks_completed and its
// lead/cycle/due sums over tasks whose completed_day is that day;
// requests_opened over requests whose opened_day is that day,
// requests_responded and the response-time sum over requests whose
// responded_day is that day.
//
// team_day_people: the distinct (team, day, family, person) of events with
// a person other than time entries, family from the event's type
// (familyExpr), and of live time entries with a person (the time family).

// step is one SQL statement of a commit or rebuild, named for errors and
// failure injection in tests.
type step struct {
	name string
	sql  string
	// guard, if set, is a count query; the step is skipped when it is 0.
	guard string
	// scan marks a step that scans a stored table growing with the store
	// (event_keys, tasks, requests, team_day*): with the default threads it
	// runs on all the cores (Store.scanThreads).
	scan bool
}

// seconds converts the difference of two TIMESTAMPs to DOUBLE seconds with
// microsecond precision.
const secondsExpr = `CAST(epoch_us(%[1]s) - epoch_us(%[2]s) AS DOUBLE) / 1000000`

// The derived state's steps for a batch (and for each slice of a rebuild).
var batchSteps = derive("staging")

// The name of the step whose rows-affected count is Result.CellsTouched.
const stepCells = "cells"

// derive merges the events of table src into the derived state. Order
// matters: the cells of old completion/open/response days are collected
// before tasks and requests change, those of the new days after, and
// team_day is computed after tasks and requests.
func derive(src string) []step {
	r := strings.NewReplacer("{src}", src)
	steps := []step{
		{name: "scope tasks", sql: `INSERT INTO touched_tasks SELECT team, task, ` + pairKey("team", "task") + ` FROM (
			SELECT DISTINCT team, task FROM {src} WHERE task IS NOT NULL AND type LIKE 'work.task.%')`},
		{name: "scope requests", sql: `INSERT INTO touched_requests SELECT team, request, ` + pairKey("team", "request") + ` FROM (
			SELECT DISTINCT team, request FROM {src} WHERE request IS NOT NULL AND type LIKE 'work.request.%')`},
		{name: "scope cells", sql: `INSERT INTO touched_cells SELECT DISTINCT team, day, true FROM {src}`},

		// Time entries. One without an entry id is new (its event is) and
		// never changes: it is stored as it is, and its time and person
		// reach team_day straight from the batch. Of those with an entry
		// id, the batch's newest revision of each is merged with the
		// stored one, and only the entries whose state changes reach
		// team_day, through time_delta: the old contribution taken away,
		// the new added. Those steps run only for a batch with entry ids.
		{name: "plain entries", sql: `INSERT INTO time_entries
			SELECT team, day, person, category, started_at, ended_at, false, 0, source, id, h
			FROM {src} WHERE type = '` + event.TimeLogged + `' AND entry IS NULL`},
		{name: "batch entries", guard: keyedGuard, sql: `INSERT INTO batch_entries SELECT * FROM (
				SELECT team, day, person, category, started_at, ended_at, type = '` + event.TimeDeleted + `' AS deleted,
					revision, source, id, ` + pairKey("source", "entry") + ` AS k
				FROM {src} WHERE ` + keyedEntry + `
			) QUALIFY row_number() OVER (PARTITION BY k ORDER BY revision DESC, deleted DESC, source DESC, id DESC) = 1`},
		{name: "stored entries", scan: true, guard: `SELECT count(*) FROM batch_entries`,
			sql: `INSERT INTO old_entries SELECT t.* FROM time_entries t SEMI JOIN batch_entries b ON t.k = b.k`},
		{name: "changed entries", guard: `SELECT count(*) FROM batch_entries`, sql: `INSERT INTO next_entries SELECT b.* FROM batch_entries b
			LEFT JOIN old_entries o ON o.k = b.k WHERE o.k IS NULL OR ` + supersedes("b", "o")},
		withGuard(updateStep("time_entries", "next_entries", hashKey, entryColumns),
			`SELECT count(*) FROM next_entries n SEMI JOIN old_entries o ON o.k = n.k`),
		withGuard(insertNewStep("time_entries", "next_entries", "old_entries", hashKey), `SELECT count(*) FROM next_entries`),
		{name: "time delta", guard: `SELECT count(*) FROM next_entries`, sql: `INSERT INTO time_delta
			SELECT team, day, person, category, ` + seconds("ended_at", "started_at") + `, 1 FROM next_entries WHERE NOT deleted
			UNION ALL SELECT o.team, o.day, o.person, o.category, ` + seconds("o.ended_at", "o.started_at") + `, -1
				FROM old_entries o SEMI JOIN next_entries n ON n.k = o.k WHERE NOT o.deleted`},
		{name: "time cells", sql: `INSERT INTO touched_cells SELECT DISTINCT team, day, true FROM time_delta WHERE w < 0`},

		existingStep("tasks", "old_tasks", "touched_tasks", hashKey),
		existingStep("requests", "old_requests", "touched_requests", hashKey),
		{name: "old state cells", sql: `INSERT INTO touched_cells
			SELECT team, completed_day, false FROM old_tasks WHERE completed_day IS NOT NULL
			UNION ALL SELECT team, opened_day, false FROM old_requests WHERE opened_day IS NOT NULL
			UNION ALL SELECT team, responded_day, false FROM old_requests WHERE responded_day IS NOT NULL`},

		// A stored task stands in as the events its aggregates keep: its
		// earliest created event (with that event's tie-break), first start,
		// latest reopen (weighted by the number of reopens), latest
		// completion and cancellation, its blocks (weighted), and a
		// presence row of weight 0.
		{name: "collect task events", sql: `INSERT INTO task_ev
			SELECT team, task, type, event_time, day, source, id, kind, due_at, due_date, estimate_hours, 1
				FROM {src} WHERE task IS NOT NULL AND type LIKE 'work.task.%'
			UNION ALL SELECT team, task, 'work.task.created', created_at, created_day, created_source, created_id,
				kind, due_at, due_date, estimate_hours, 1 FROM old_tasks WHERE created_at IS NOT NULL
			UNION ALL SELECT team, task, 'work.task.started', first_started_at, NULL, '', '', NULL, NULL, NULL, NULL, 1
				FROM old_tasks WHERE first_started_at IS NOT NULL
			UNION ALL SELECT team, task, 'work.task.reopened', last_reopened_at, NULL, '', '', NULL, NULL, NULL, NULL, reopens
				FROM old_tasks WHERE reopens > 0
			UNION ALL SELECT team, task, 'work.task.completed', last_completed_at, last_completed_day, '', '', NULL, NULL, NULL, NULL, 1
				FROM old_tasks WHERE last_completed_at IS NOT NULL
			UNION ALL SELECT team, task, 'work.task.cancelled', last_cancelled_at, NULL, '', '', NULL, NULL, NULL, NULL, 1
				FROM old_tasks WHERE last_cancelled_at IS NOT NULL
			UNION ALL SELECT team, task, 'work.task.blocked', NULL, NULL, '', '', NULL, NULL, NULL, NULL, blocked_count
				FROM old_tasks WHERE blocked_count > 0
			UNION ALL SELECT team, task, 'state', NULL, NULL, '', '', NULL, NULL, NULL, NULL, 0 FROM old_tasks`},
		{name: "compute tasks", sql: `INSERT INTO next_tasks
			WITH ev AS (SELECT * FROM task_ev),
			` + pickEvent("created", "task", "event_time, day, source, id, kind, due_at, due_date, estimate_hours", "work.task.created", "ASC") + `,
			` + pickEvent("completed", "task", "event_time, day", "work.task.completed", "DESC") + `,
			agg AS (
				SELECT team, task,
					min(event_time) FILTER (WHERE type = 'work.task.started')   AS first_started_at,
					max(event_time) FILTER (WHERE type = 'work.task.reopened')  AS last_reopened_at,
					CAST(coalesce(sum(w) FILTER (WHERE type = 'work.task.reopened'), 0) AS BIGINT) AS reopens,
					max(event_time) FILTER (WHERE type = 'work.task.cancelled') AS last_cancelled_at,
					CAST(coalesce(sum(w) FILTER (WHERE type = 'work.task.blocked'), 0) AS BIGINT) AS blocked_count
				FROM ev GROUP BY team, task
			),
			st AS (
				SELECT a.team, a.task,
					c.event_time AS created_at, c.day AS created_day, c.kind, c.due_at, c.due_date, c.estimate_hours,
					a.first_started_at, a.last_reopened_at, a.reopens,
					CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < d.event_time THEN d.event_time END AS completed_at,
					CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < d.event_time THEN d.day END AS completed_day,
					CASE WHEN a.last_reopened_at IS NULL OR a.last_reopened_at < a.last_cancelled_at THEN a.last_cancelled_at END AS cancelled_at,
					a.blocked_count,
					c.source AS created_source, c.id AS created_id,
					d.event_time AS last_completed_at, d.day AS last_completed_day, a.last_cancelled_at
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
				END AS on_time,
				created_source, created_id, last_completed_at, last_completed_day, last_cancelled_at,
				` + pairKey("team", "task") + `
			FROM st`},
		updateStep("tasks", "next_tasks", hashKey, taskColumns),
		insertNewStep("tasks", "next_tasks", "old_tasks", hashKey),

		// A stored request stands in as its earliest opened and responded
		// events (the opened one with its tie-break) and a presence row.
		{name: "collect request events", sql: `INSERT INTO request_ev
			SELECT team, request, type, event_time, day, source, id, kind
				FROM {src} WHERE request IS NOT NULL AND type LIKE 'work.request.%'
			UNION ALL SELECT team, request, 'work.request.opened', opened_at, opened_day, opened_source, opened_id, kind
				FROM old_requests WHERE opened_at IS NOT NULL
			UNION ALL SELECT team, request, 'work.request.responded', responded_at, responded_day, '', '', NULL
				FROM old_requests WHERE responded_at IS NOT NULL
			UNION ALL SELECT team, request, 'state', NULL, NULL, '', '', NULL FROM old_requests`},
		{name: "compute requests", sql: `INSERT INTO next_requests
			WITH ev AS (SELECT * FROM request_ev),
			` + pickEvent("opened", "request", "event_time, day, kind, source, id", "work.request.opened", "ASC") + `,
			` + pickEvent("responded", "request", "event_time, day", "work.request.responded", "ASC") + `,
			k AS (SELECT DISTINCT team, request FROM ev)
			SELECT k.team, k.request, o.event_time, o.day, o.kind, r.event_time, r.day,
				CASE WHEN r.event_time >= o.event_time THEN ` + seconds("r.event_time", "o.event_time") + ` END,
				o.source, o.id, ` + pairKey("k.team", "k.request") + `
			FROM k
			LEFT JOIN opened o ON o.team = k.team AND o.request = k.request
			LEFT JOIN responded r ON r.team = k.team AND r.request = k.request`},
		updateStep("requests", "next_requests", hashKey, requestColumns),
		insertNewStep("requests", "next_requests", "old_requests", hashKey),

		{name: "new state cells", sql: `INSERT INTO touched_cells
			SELECT team, completed_day, false FROM next_tasks WHERE completed_day IS NOT NULL
			UNION ALL SELECT team, opened_day, false FROM next_requests WHERE opened_day IS NOT NULL
			UNION ALL SELECT team, responded_day, false FROM next_requests WHERE responded_day IS NOT NULL`},
		{name: stepCells, sql: `INSERT INTO cells SELECT team, day, bool_or(ev), bool_or(NOT ev) FROM touched_cells GROUP BY team, day`},
		existingStep("team_day", "old_team_day", "cells", teamDayKeys),

		// The distinct counters: what the batch adds that is not stored yet.
		{name: "batch people", sql: `INSERT INTO new_people
			SELECT DISTINCT team, day, ` + familyExpr + `, person FROM {src} WHERE person IS NOT NULL AND NOT (` + keyedEntry + `)
			UNION SELECT team, day, ` + fmt.Sprint(famTime) + `, person FROM time_delta WHERE w > 0 AND person IS NOT NULL`},
		// Every stored family of the batch's (team, day, person)s: a person
		// is a new contributor of a day only if none is stored.
		{name: "stored people", scan: true, sql: `INSERT INTO seen_people SELECT p.* FROM team_day_people p
			SEMI JOIN new_people n ON p.team = n.team AND p.day = n.day AND p.person = n.person`},
		{name: "drop stored people", guard: `SELECT count(*) FROM seen_people`, sql: `DELETE FROM new_people WHERE EXISTS (SELECT 1 FROM seen_people s
			WHERE s.team = new_people.team AND s.day = new_people.day AND s.family = new_people.family AND s.person = new_people.person)`},
		{name: "insert team_day_people", sql: `INSERT INTO team_day_people SELECT * FROM new_people`},
		// A person whose time the batch took away from a cell stays one of
		// its time people only while another of their entries is there;
		// those cells' contributors are counted again.
		{name: "removed time people", sql: `INSERT INTO gone_people SELECT DISTINCT team, day, person FROM time_delta WHERE w < 0 AND person IS NOT NULL`},
		{name: "people still logging", scan: true, guard: `SELECT count(*) FROM gone_people`, sql: `INSERT INTO kept_people
			SELECT DISTINCT t.team, t.day, t.person FROM time_entries t
			SEMI JOIN gone_people g ON t.team = g.team AND t.day = g.day AND t.person = g.person WHERE NOT t.deleted`},
		{name: "drop people still logging", guard: `SELECT count(*) FROM kept_people`, sql: `DELETE FROM gone_people WHERE EXISTS (SELECT 1 FROM kept_people k
			WHERE k.team = gone_people.team AND k.day = gone_people.day AND k.person = gone_people.person)`},
		// The rows are found by a semi join probing team_day_people with
		// the few gone people, then deleted by rowid: DELETE ... WHERE
		// EXISTS cost several times more.
		{name: "delete gone people", scan: true, guard: `SELECT count(*) FROM gone_people`, sql: `DELETE FROM team_day_people WHERE rowid IN (
			SELECT p.rowid FROM team_day_people p SEMI JOIN gone_people g ON p.team = g.team AND p.day = g.day AND p.person = g.person
			WHERE p.family = ` + fmt.Sprint(famTime) + `)`},
		{name: "gone cells", sql: `INSERT INTO gone_cells SELECT DISTINCT team, day FROM gone_people`},
		{name: "recount contributors", scan: true, guard: `SELECT count(*) FROM gone_cells`, sql: `INSERT INTO recount
			SELECT p.team, p.day, count(DISTINCT p.person) FROM team_day_people p
			SEMI JOIN gone_cells g ON p.team = g.team AND p.day = g.day GROUP BY p.team, p.day`},
		{name: "batch day tasks", sql: `INSERT INTO new_day_tasks SELECT DISTINCT team, day, task, type FROM {src}
			WHERE task IS NOT NULL AND type IN ('work.task.created', 'work.task.started')`},
		{name: "stored day tasks", scan: true, sql: `INSERT INTO seen_day_tasks SELECT t.* FROM team_day_tasks t
			SEMI JOIN new_day_tasks n ON t.team = n.team AND t.day = n.day AND t.task = n.task AND t.type = n.type`},
		{name: "drop stored day tasks", guard: `SELECT count(*) FROM seen_day_tasks`, sql: `DELETE FROM new_day_tasks WHERE EXISTS (SELECT 1 FROM seen_day_tasks s
			WHERE s.team = new_day_tasks.team AND s.day = new_day_tasks.day AND s.task = new_day_tasks.task AND s.type = new_day_tasks.type)`},
		{name: "insert team_day_tasks", sql: `INSERT INTO team_day_tasks SELECT * FROM new_day_tasks`},

		// The batch's own counters per cell, in team_day's shape.
		{name: "batch team_day", sql: `INSERT INTO delta_team_day (team, day, events, tasks_reopened, tasks_blocked,
				focus_s, meeting_s, collaboration_s, support_s, admin_s, learning_s, other_s)
			WITH ev AS (
				SELECT team, day, type, CASE WHEN type = '` + event.TimeLogged + `' AND entry IS NULL THEN category END AS category,
					` + seconds("ended_at", "started_at") + ` AS dur, 1 AS n FROM {src}
				UNION ALL SELECT team, day, NULL, category, dur * w, 0 FROM time_delta
			)
			SELECT team, day, sum(n),
				count(*) FILTER (WHERE type = 'work.task.reopened'),
				count(*) FILTER (WHERE type = 'work.task.blocked'),
				` + categorySums() + `
			FROM ev GROUP BY team, day`},
		{name: "compute team_day", sql: `INSERT INTO next_team_day
			WITH st AS (SELECT team, day FROM cells WHERE st),
			nt AS (
				SELECT team, day,
					count(*) FILTER (WHERE type = 'work.task.created') AS created,
					count(*) FILTER (WHERE type = 'work.task.started') AS started
				FROM new_day_tasks GROUP BY team, day
			),
			np AS (
				SELECT team, day, count(DISTINCT person) AS people FROM new_people n
				WHERE NOT EXISTS (SELECT 1 FROM seen_people s WHERE s.team = n.team AND s.day = n.day AND s.person = n.person)
				GROUP BY team, day
			),
			ta AS (
				SELECT t.team, t.completed_day AS day,
					count(*) AS tasks_completed,
					sum(t.lead_time_s) AS lead_time_s_sum, count(t.lead_time_s) AS lead_time_n,
					sum(t.cycle_time_s) AS cycle_time_s_sum, count(t.cycle_time_s) AS cycle_time_n,
					count(t.on_time) AS completed_with_due,
					count(*) FILTER (WHERE t.on_time) AS completed_on_time
				FROM tasks t
				SEMI JOIN st c ON t.team = c.team AND t.completed_day = c.day
				WHERE t.completed_at IS NOT NULL
				GROUP BY t.team, t.completed_day
			),
			ro AS (
				SELECT r.team, r.opened_day AS day, count(*) AS requests_opened
				FROM requests r
				SEMI JOIN st c ON r.team = c.team AND r.opened_day = c.day
				GROUP BY r.team, r.opened_day
			),
			rr AS (
				SELECT r.team, r.responded_day AS day, count(*) AS requests_responded,
					sum(r.response_time_s) AS response_time_s_sum, count(r.response_time_s) AS response_time_n
				FROM requests r
				SEMI JOIN st c ON r.team = c.team AND r.responded_day = c.day
				GROUP BY r.team, r.responded_day
			),
			x AS (
				SELECT c.team, c.day,
					coalesce(o.events, 0) + coalesce(d.events, 0) AS events,
					coalesce(o.tasks_created, 0) + coalesce(nt.created, 0) AS tasks_created,
					coalesce(o.tasks_started, 0) + coalesce(nt.started, 0) AS tasks_started,
					` + stateCounters("ta", "tasks_completed", "lead_time_s_sum", "lead_time_n", "cycle_time_s_sum",
			"cycle_time_n", "completed_with_due", "completed_on_time") + `,
					coalesce(o.tasks_reopened, 0) + coalesce(d.tasks_reopened, 0) AS tasks_reopened,
					coalesce(o.tasks_blocked, 0) + coalesce(d.tasks_blocked, 0) AS tasks_blocked,
					` + addedCategories() + `,
					` + stateCounters("ro", "requests_opened") + `,
					` + stateCounters("rr", "requests_responded", "response_time_s_sum", "response_time_n") + `,
					CASE WHEN gc.team IS NULL THEN coalesce(o.contributors, 0) + coalesce(np.people, 0)
						ELSE coalesce(rc.people, 0) END AS contributors
				FROM cells c
				LEFT JOIN old_team_day o ON o.team = c.team AND o.day = c.day
				LEFT JOIN delta_team_day d ON d.team = c.team AND d.day = c.day
				LEFT JOIN nt ON nt.team = c.team AND nt.day = c.day
				LEFT JOIN np ON np.team = c.team AND np.day = c.day
				LEFT JOIN ta ON ta.team = c.team AND ta.day = c.day
				LEFT JOIN ro ON ro.team = c.team AND ro.day = c.day
				LEFT JOIN rr ON rr.team = c.team AND rr.day = c.day
				LEFT JOIN gone_cells gc ON gc.team = c.team AND gc.day = c.day
				LEFT JOIN recount rc ON rc.team = c.team AND rc.day = c.day
			)
			SELECT * FROM x WHERE events > 0 OR tasks_completed > 0 OR requests_opened > 0 OR requests_responded > 0`},
		deleteVanishedStep("team_day", "old_team_day", "next_team_day", teamDayKeys),
		updateStep("team_day", "next_team_day", teamDayKeys, teamDayColumns),
		insertNewStep("team_day", "next_team_day", "old_team_day", teamDayKeys),
	}
	for i := range steps {
		steps[i].sql, steps[i].guard = r.Replace(steps[i].sql), r.Replace(steps[i].guard)
	}
	return steps
}

// pickEvent is a CTE named name holding, per (team, key), the cols of the
// earliest (ASC) or latest (DESC) event of type typ in ev, ties broken by
// the greatest (source, id).
func pickEvent(name, key, cols, typ, order string) string {
	return fmt.Sprintf(`%s AS (
				SELECT team, %s, %s FROM ev WHERE type = '%s'
				QUALIFY row_number() OVER (PARTITION BY team, %s ORDER BY event_time %s, source DESC, id DESC) = 1
			)`, name, key, cols, typ, key, order)
}

// categorySums sums the time the batch adds per category (its entries
// without an entry id, and the time delta), in team_day's column order.
func categorySums() string {
	parts := make([]string, len(event.Categories))
	for i, c := range event.Categories {
		parts[i] = fmt.Sprintf("coalesce(sum(dur) FILTER (WHERE category = '%s'), 0)", c)
	}
	return strings.Join(parts, ",\n\t\t\t\t")
}

// addedCategories adds the batch's time per category to the stored one.
func addedCategories() string {
	parts := make([]string, len(event.Categories))
	for i, c := range event.Categories {
		parts[i] = fmt.Sprintf("coalesce(o.%[1]s_s, 0) + coalesce(d.%[1]s_s, 0) AS %[1]s_s", c)
	}
	return strings.Join(parts, ",\n\t\t\t\t\t")
}

// stateCounters takes the counters of tasks or requests from the
// recomputation (rel) in the cells of a changed task's or request's day
// (c.st), and keeps the stored ones elsewhere.
func stateCounters(rel string, cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprintf("CASE WHEN c.st THEN coalesce(%[1]s.%[2]s, 0) ELSE coalesce(o.%[2]s, 0) END AS %[2]s", rel, c)
	}
	return strings.Join(parts, ",\n\t\t\t\t\t")
}

func seconds(a, b string) string { return fmt.Sprintf(secondsExpr, a, b) }

// keyedEntry is the SQL condition that an event is a revision of a time
// entry with an entry id; keyedGuard counts them in the batch.
var (
	keyedEntry = `entry IS NOT NULL AND type IN ('` + event.TimeLogged + `', '` + event.TimeDeleted + `')`
	keyedGuard = `SELECT count(*) FROM {src} WHERE ` + keyedEntry
)

// supersedes is the SQL condition that time entry state a replaces b: a
// greater revision, at equal revisions a deletion over an entry, then the
// greater (source, id).
func supersedes(a, b string) string {
	return fmt.Sprintf(`(%[1]s.revision > %[2]s.revision OR (%[1]s.revision = %[2]s.revision AND (%[1]s.deleted AND NOT %[2]s.deleted
		OR (%[1]s.deleted = %[2]s.deleted AND (%[1]s.source > %[2]s.source OR (%[1]s.source = %[2]s.source AND %[1]s.id > %[2]s.id))))))`, a, b)
}

// withGuard returns st skipped when the count query guard is 0.
func withGuard(st step, guard string) step {
	st.guard = guard
	return st
}

// The non-key columns of the keyed derived tables, updated in place
// (TestColumnLists checks them against the tables).
var (
	taskColumns = []string{"created_at", "created_day", "kind", "due_at", "due_date", "estimate_hours",
		"first_started_at", "last_reopened_at", "reopens", "completed_at", "completed_day", "cancelled_at",
		"blocked_count", "lead_time_s", "cycle_time_s", "on_time",
		"created_source", "created_id", "last_completed_at", "last_completed_day", "last_cancelled_at"}
	requestColumns = []string{"opened_at", "opened_day", "kind", "responded_at", "responded_day", "response_time_s",
		"opened_source", "opened_id"}
	teamDayColumns = []string{"events", "tasks_created", "tasks_started", "tasks_completed",
		"lead_time_s_sum", "lead_time_n", "cycle_time_s_sum", "cycle_time_n", "completed_with_due",
		"completed_on_time", "tasks_reopened", "tasks_blocked", "focus_s", "meeting_s", "collaboration_s",
		"support_s", "admin_s", "learning_s", "other_s", "requests_opened", "requests_responded",
		"response_time_s_sum", "response_time_n", "contributors"}
	entryColumns = []string{"team", "day", "person", "category", "started_at", "ended_at", "deleted", "revision", "source", "id"}
)

// The key columns of the keyed derived tables: tasks and requests are
// matched by k, the pairKey of (team, task) and (team, request), which
// their rows carry last; team_day by its first two columns.
var (
	hashKey     = []string{"k"}
	teamDayKeys = []string{"team", "day"}
)

func keyMatch(a, b string, keys []string) string {
	conds := make([]string, len(keys))
	for i, k := range keys {
		conds[i] = fmt.Sprintf("%s.%s = %s.%s", a, k, b, k)
	}
	return strings.Join(conds, " AND ")
}

// existingStep copies into old the rows of table in scope: one scan of
// table, after which merging and deciding what is new need only the small
// scratch tables.
func existingStep(table, old, scope string, keys []string) step {
	return step{name: "existing " + table, scan: true, sql: fmt.Sprintf("INSERT INTO %s SELECT t.* FROM %s t SEMI JOIN %s k ON %s",
		old, table, scope, keyMatch("t", "k", keys))}
}

// deleteVanishedStep deletes the rows of table in scope (old) that next no
// longer has. Events are never deleted, so this is almost never needed: the
// guard skips the scan of table when nothing vanished.
func deleteVanishedStep(table, old, next string, keys []string) step {
	vanished := fmt.Sprintf("SELECT * FROM %s o WHERE NOT EXISTS (SELECT 1 FROM %s n WHERE %s)", old, next, keyMatch("n", "o", keys))
	return step{
		name:  "delete vanished " + table,
		scan:  true,
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
	return step{name: "update " + table, scan: true, sql: fmt.Sprintf("UPDATE %s SET %s FROM %s n WHERE %s",
		table, strings.Join(set, ", "), next, keyMatch(table, "n", keys))}
}

// insertNewStep inserts the rows of next whose keys were not in table (old).
func insertNewStep(table, next, old string, keys []string) step {
	return step{name: "insert new " + table, sql: fmt.Sprintf("INSERT INTO %s SELECT * FROM %s n WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE %s)",
		table, next, old, keyMatch("o", "n", keys))}
}
