// Package synth generates a synthetic organisation and the events its
// tools would send to Shoal, and independently computes the rollups Shoal
// must derive from them (the oracle), so tests, benchmarks and the
// `shoal generate` command share one realistic, reproducible workload.
//
// # What it owns
//
// Generate (or GenerateTo, which streams) builds an Org — units of teams
// of people, in several IANA time zones — and CloudEvents 1.0 structured
// JSON messages, one per Kafka message keyed by team, in publish order.
// The output is a pure function of Options: same Seed and End, same bytes.
// synth has its own random number generator and embeds the zone
// database, so neither math/rand's algorithms nor the host's zone files
// change the output.
//
// The organisation is shaped to exercise the privacy rules: some teams
// are under k=5 people; one unit holds exactly one large team and one
// small team, and another exactly one small team among several (so a
// suppressed team could be derived as parent minus siblings unless
// suppression is complementary).
//
// The events follow the contract of package event: task lifecycles
// (created, started, blocked/unblocked, completed, reopened, cancelled,
// some never finished, some created events published after the
// completion), time entries people logged in their own working hours
// (and a little on evenings and weekends), and review/question/handoff
// requests with responses from minutes to days later. Person values are
// RAW identifiers (e-mails, chat-tool ids, and differently-cased
// spellings of the same e-mail); Org.RawPeople lists them so tests can
// prove none leaks. Event ids are unique per source and deliberately
// collide across sources. Mixed in are duplicates (same source, id and
// body), late events (up to 10 days after their time) and bad events,
// each with exactly one fault and its expected rejection reason in
// Message.Bad (see BadReasons).
//
// # The oracle
//
// Expect reimplements the DuckDB rollups in plain Go from the message
// bytes alone (encoding/json; no ingest code), reading only messages with
// Bad == "" and keeping the first of a repeated (source, id). A person is
// the trimmed, lower-cased raw id. An event's day is calendar.DayOf(time,
// team zone), except work.time.logged, whose day is that of its start.
//
// Tasks, per (team, task), from that task's events only: created_at = min
// time of created, created_day its day, due from that earliest created
// event (due_at if RFC 3339, due_date if date-only); first_started_at =
// min time of started; last_reopened_at = max time of reopened;
// completed_at = max time of completed, none if last_reopened_at >= it;
// completed_day = day of the completed event with max time; lead_time_s =
// seconds(completed_at - created_at), none if either is missing or it is
// negative; cycle_time_s likewise from first_started_at; on_time is none
// unless completed, else completed_at <= due_at, or completed_day <=
// due_date (a date-only due is the end of that day in the team's zone),
// else none.
//
// Requests, per (team, request): opened_at = min time of opened,
// opened_day its day; responded_at = min time of responded, responded_day
// its day; response_time_s = seconds(responded_at - opened_at), none if
// either is missing or it is negative.
//
// A TeamDay row exists for (team, day) iff any of its counters is
// non-zero: Events = events of that day; TasksCreated / TasksStarted =
// distinct tasks with a created / started event that day; TasksCompleted
// = tasks completed with completed_day = day, with LeadTimeSSum/N,
// CycleTimeSSum/N over those, CompletedWithDue = those with on_time
// defined, CompletedOnTime = those on time; TasksReopened / TasksBlocked =
// reopened / blocked events that day; FocusS .. OtherS = seconds(end -
// start) of that day's time entries by category; RequestsOpened /
// RequestsResponded = requests with opened_day / responded_day = day,
// ResponseTimeSSum/N over the responded ones with a response time;
// Contributors = distinct people among the team's events of that day.
//
// # What it must never do
//
// synth stays light: the standard library plus event (and privacy in
// tests); never cgo, Kafka or DuckDB, so any test or the CLI can use it.
// Expect must never share code with ingest or transform: it is the
// independent check on them.
package synth
