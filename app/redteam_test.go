package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/report"
	sqlserver "github.com/shoal-analytics/shoal/sql"
	"github.com/shoal-analytics/shoal/synth"
)

// The red-team tests reproduce the attacks of issue 20 against the real
// outputs of a running Shoal (/metrics, the SQL endpoint through pgx, the
// report files) on a crafted organisation, each as a reader who reads
// everything, repeatedly, would run it. Each attack worked on the
// outputs before releases; each subtest fails if it works again.

// redTeamTeams is the crafted organisation's teams file: k = 5.
const redTeamTeams = `min_group_size: 5
units:
  - id: alpha
    teams:
      - id: live-a
      - id: big-b
      - id: tiny-c
  - id: beta
    teams:
      - id: beta-d
      - id: beta-e
  - id: gamma
    teams:
      - id: dom-f
      - id: dom-h
      - id: ghost-g
`

// The weeks of the crafted organisation: two complete ones before the
// clock's start (redTeamStart, a Monday 00:00 UTC) and the one it is in.
var (
	redTeamW46   = time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	redTeamW47   = redTeamW46.AddDate(0, 0, 7)
	redTeamStart = redTeamW46.AddDate(0, 0, 14)
)

// redTeam crafts CloudEvents for the organisation.
type redTeam struct {
	n    int
	msgs []synth.Message
}

func (r *redTeam) add(typ, team string, at time.Time, data map[string]any) {
	r.n++
	data["team"] = team
	b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": fmt.Sprintf("rt-%d", r.n), "source": "redteam",
		"type": typ, "time": at.Format(time.RFC3339), "data": data})
	if err != nil {
		panic(err)
	}
	r.msgs = append(r.msgs, synth.Message{Key: []byte(team), Value: b})
}

func (r *redTeam) logged(team, person, category string, start time.Time, d time.Duration) {
	r.add(event.TimeLogged, team, start.Add(d), map[string]any{"person": person, "category": category,
		"start": start.Format(time.RFC3339), "end": start.Add(d).Format(time.RFC3339)})
}

func (r *redTeam) task(team, person, id string, created, done time.Time) {
	r.add(event.TaskCreated, team, created, map[string]any{"person": person, "task": id})
	r.add(event.TaskStarted, team, created.Add(time.Hour), map[string]any{"person": person, "task": id})
	r.add(event.TaskCompleted, team, done, map[string]any{"person": person, "task": id})
}

// workWeek is an ordinary week of team's people: an hour of meetings and
// three of focus each weekday, tasks completed (tasksEach per person,
// with lead times that differ) and a request each, answered by a
// teammate.
func (r *redTeam) workWeek(team string, people int, monday time.Time, tasksEach int) {
	for p := range people {
		who := fmt.Sprintf("%s.%d@redteam.example", team, p)
		for d := range 5 {
			day := monday.AddDate(0, 0, d)
			r.logged(team, who, "meeting", day.Add(10*time.Hour), time.Hour)
			r.logged(team, who, "focus", day.Add(13*time.Hour), 3*time.Hour)
		}
		for i := range tasksEach {
			id := fmt.Sprintf("%s-%s-%d-%d", team, monday.Format("0102"), p, i)
			created := monday.Add(time.Duration(8+p) * time.Hour)
			r.task(team, who, id, created, created.Add(time.Duration(20+7*p+3*i)*time.Hour+time.Duration(p*13)*time.Minute))
		}
		req := fmt.Sprintf("%s-%s-r%d", team, monday.Format("0102"), p)
		r.add(event.RequestOpened, team, monday.Add(9*time.Hour), map[string]any{"person": who, "request": req, "kind": "review"})
		r.add(event.RequestResponded, team, monday.Add(time.Duration(11+p)*time.Hour), map[string]any{
			"person": fmt.Sprintf("%s.%d@redteam.example", team, (p+1)%people), "request": req})
	}
}

// redTeamOrg is the crafted organisation's events in W46 and W47.
func redTeamOrg() []synth.Message {
	var r redTeam
	for _, monday := range []time.Time{redTeamW46, redTeamW47} {
		r.workWeek("live-a", 6, monday, 1) // 6 tasks a week: too few for a percentile
		r.workWeek("big-b", 8, monday, 3)  // 24 tasks a week
		r.workWeek("beta-d", 6, monday, 2)
		r.workWeek("beta-e", 6, monday, 2)
		// dom-f: one person logs 60 h of meetings, four log one minute.
		r.logged("dom-f", "dominant@redteam.example", "meeting", monday.Add(8*time.Hour), 12*time.Hour)
		for d := 1; d < 5; d++ {
			r.logged("dom-f", "dominant@redteam.example", "meeting", monday.AddDate(0, 0, d).Add(8*time.Hour), 12*time.Hour)
		}
		for p := range 4 {
			r.logged("dom-f", fmt.Sprintf("minute.%d@redteam.example", p), "meeting", monday.Add(9*time.Hour), time.Minute)
		}
		// dom-h: the same 60 h, and four people with 90 minutes each (above
		// the 1 h floor): five contributors, one of them nearly all of it.
		for d := range 5 {
			r.logged("dom-h", "dominant-h@redteam.example", "meeting", monday.AddDate(0, 0, d).Add(8*time.Hour), 12*time.Hour)
		}
		for p := range 4 {
			r.logged("dom-h", fmt.Sprintf("ninety.%d@redteam.example", p), "meeting", monday.Add(9*time.Hour), 90*time.Minute)
		}
		// ghost-g: one real person, and four invented ones with one event each.
		r.workWeek("ghost-g", 1, monday, 2)
		for p := range 4 {
			r.logged("ghost-g", fmt.Sprintf("invented.%d@redteam.example", p), "admin", monday.Add(9*time.Hour), time.Minute)
			r.add(event.RequestResponded, "ghost-g", monday.Add(12*time.Hour), map[string]any{"person": fmt.Sprintf("invented.%d@redteam.example", p), "request": "ghost-g-" + monday.Format("0102") + "-r0"})
		}
	}
	// tiny-c: one person, Saturday 22:00 of W47 only.
	r.logged("tiny-c", "solo@redteam.example", "focus", redTeamW47.AddDate(0, 0, 5).Add(22*time.Hour), 2*time.Hour)
	return r.msgs
}

// redTeamEnv is a running Shoal on the crafted organisation with the SQL
// endpoint on, its clock movable.
type redTeamEnv struct {
	*sqlEndpoint
	kafka string
	teams string
	clock *atomic.Int64
	conn  *pgx.Conn
}

func startRedTeam(t *testing.T) *redTeamEnv {
	t.Helper()
	dir := t.TempDir()
	teams := filepath.Join(dir, "teams.yaml")
	if err := os.WriteFile(teams, []byte(redTeamTeams), 0o640); err != nil {
		t.Fatal(err)
	}
	hash, err := sqlserver.HashPassword(sqlTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "sql-users")
	if err := os.WriteFile(users, []byte("analyst:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &atomic.Int64{}
	clock.Store(redTeamStart.UnixNano())
	kafka := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, kafka, "shoal.events", redTeamOrg())
	logs := &apptest.SyncBuffer{}
	p, _ := testPipeline(t, kafka, t.TempDir(), &synth.Org{}, logs, func(c *Config) {
		c.Teams = teams
		c.SQL.Addr, c.SQL.Users = "127.0.0.1:0", users
		c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	})
	waitCaughtUp(t, p)
	if weeks := release(t, p); len(weeks) != 2 {
		t.Fatalf("released %v, want W46 and W47", weeks)
	}
	e := &redTeamEnv{sqlEndpoint: &sqlEndpoint{p: p, logs: logs, addr: p.sqlSrv.Addr()}, kafka: kafka, teams: teams, clock: clock}
	e.host, e.port, _ = strings.Cut(e.addr, ":")
	e.conn = e.connect(t)
	return e
}

// outputs is everything a reader can read about outcomes: the outcome
// lines of /metrics, every SQL table but the agreements in force, and the
// W47 report in every format.
func (e *redTeamEnv) outputs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	outcomeNames := map[string]bool{"shoal_suppressed_cells": true, outcome.ReleaseWeekName: true, outcome.ReleasedAtName: true}
	for _, m := range outcome.Catalog {
		outcomeNames[m.Name] = true
	}
	var lines []string
	for _, l := range strings.Split(apptest.HTTPGet(t, e.p.URL()+"/metrics"), "\n") {
		name, _, _ := strings.Cut(l, " ")
		name, _, _ = strings.Cut(name, "{")
		if outcomeNames[name] {
			lines = append(lines, l)
		}
	}
	if len(lines) < 50 {
		t.Fatalf("only %d outcome lines on /metrics", len(lines))
	}
	out["/metrics"] = strings.Join(lines, "\n")
	for _, table := range []string{"weekly_outcomes", "daily_outcomes", "data_quality", "releases"} {
		_, rows := sqlRows(t, e.conn, "SELECT * FROM shoal."+table+" ORDER BY ALL")
		var b strings.Builder
		for _, r := range rows {
			for _, v := range r {
				if v == nil {
					b.WriteString("NULL|")
				} else {
					b.WriteString(*v + "|")
				}
			}
			b.WriteString("\n")
		}
		out["sql "+table] = b.String()
	}
	for _, f := range report.Formats {
		out["report."+string(f)] = apptest.HTTPGet(t, e.p.URL()+"/reports/2026-W47."+string(f))
	}
	return out
}

func sameOutputs(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, b := range before {
		if after[k] != b {
			t.Errorf("%s changed %s:\nbefore %.400s\nafter  %.400s", what, k, b, after[k])
		}
	}
}

// sqlValue reads one cell of a query's single row, "NULL" for NULL.
func (e *redTeamEnv) sqlValue(t *testing.T, q string) string {
	t.Helper()
	_, rows := sqlRows(t, e.conn, q)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: %d rows, want one value", q, len(rows))
	}
	if rows[0][0] == nil {
		return "NULL"
	}
	return *rows[0][0]
}

func TestRedTeam(t *testing.T) {
	e := startRedTeam(t)
	ctx := context.Background()
	first := e.outputs(t)

	// 1. Live windows: a 47-minute Sunday meeting in the released week and
	// a 73-minute meeting in the running week change no output; the
	// running week is in none.
	t.Run("live windows difference out single entries", func(t *testing.T) {
		var r redTeam
		r.n = 1_000_000
		r.logged("live-a", "live-a.0@redteam.example", "meeting", redTeamW47.AddDate(0, 0, 6).Add(20*time.Hour), 47*time.Minute)
		r.logged("live-a", "live-a.1@redteam.example", "meeting", redTeamStart.Add(10*time.Hour), 73*time.Minute)
		apptest.Publish(t, e.kafka, "shoal.events", r.msgs)
		waitCaughtUp(t, e.p)
		e.clock.Add(int64(6 * time.Hour)) // the running week goes on
		if weeks := release(t, e.p); len(weeks) != 0 {
			t.Errorf("released %v before the running week ended", weeks)
		}
		if err := e.p.RefreshMetrics(ctx); err != nil {
			t.Fatal(err)
		}
		e.p.RefreshSQLNow(ctx, true)
		sameOutputs(t, "a late entry and an entry in the running week", first, e.outputs(t))
		if got := e.sqlValue(t, "SELECT count(*) FROM shoal.weekly_outcomes WHERE week >= DATE '2026-11-23'"); got != "0" {
			t.Errorf("%s weekly rows of the running week are served", got)
		}
		if got := e.sqlValue(t, "SELECT count(*) FROM shoal.daily_outcomes WHERE day >= DATE '2026-11-23'"); got != "0" {
			t.Errorf("%s daily rows of the running week are served", got)
		}
		metrics := apptest.HTTPGet(t, e.p.URL()+"/metrics")
		if !strings.Contains(metrics, "shoal_ingest_events_after_release_total 1") {
			t.Errorf("the late entry is not counted:\n%s", grepLines(metrics, "after_release"))
		}
		if !strings.Contains(metrics, fmt.Sprintf("%s %d", outcome.ReleaseWeekName, redTeamW47.Unix())) &&
			!strings.Contains(metrics, fmt.Sprintf("%s %s", outcome.ReleaseWeekName, strconv.FormatFloat(float64(redTeamW47.Unix()), 'e', -1, 64))) {
			t.Errorf("/metrics does not say it shows the week of %s:\n%s", redTeamW47.Format(time.DateOnly), grepLines(metrics, "release"))
		}
		resp, err := http.Get(e.p.URL() + "/reports/2026-W48.html")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the running week's report answers %s, want 404 until its release", resp.Status)
		}
	})

	// 1b. A time entry of the released week corrected and then deleted
	// in its tracker: both corrections are stored and counted as late, and
	// no output changes.
	t.Run("corrections of a released week change no output", func(t *testing.T) {
		before := e.outputs(t)
		var r redTeam
		r.n = 2_000_000
		start := redTeamW47.AddDate(0, 0, 2).Add(9 * time.Hour)
		entry := func(rev int64, start time.Time, d time.Duration) {
			r.add(event.TimeLogged, "live-a", start.Add(d), map[string]any{"person": "live-a.0@redteam.example", "category": "focus",
				"start": start.Format(time.RFC3339), "end": start.Add(d).Format(time.RFC3339), "entry": "toggl-4711", "revision": rev})
		}
		entry(1, start, time.Hour)
		entry(2, start.AddDate(0, 0, 1), 5*time.Hour)
		r.add(event.TimeDeleted, "live-a", redTeamStart.Add(time.Hour), map[string]any{"entry": "toggl-4711", "revision": 3})
		entry(2, start.AddDate(0, 0, 1), 5*time.Hour) // an older revision again, under another id: no correction
		apptest.Publish(t, e.kafka, "shoal.events", r.msgs)
		waitCaughtUp(t, e.p)
		// Corrections are counted when the stored events are derived (as
		// within minutes, or before a release).
		if err := e.p.Store().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.p.RefreshMetrics(ctx); err != nil {
			t.Fatal(err)
		}
		e.p.RefreshSQLNow(ctx, true)
		sameOutputs(t, "corrections of a released week's time entry", before, e.outputs(t))
		metrics := apptest.HTTPGet(t, e.p.URL()+"/metrics")
		for _, want := range []string{"shoal_ingest_time_corrections_total 2", "shoal_ingest_time_corrections_after_release_total 2"} {
			if !strings.Contains(metrics, want) {
				t.Errorf("want %s:\n%s", want, grepLines(metrics, "corrections"))
			}
		}
	})

	// 2. Contribution, not presence: 60 h of meetings among four people
	// with a minute each (dom-f), or with 90 minutes each (dom-h, above the
	// floor: the p % rule), and a one-person team with four invented
	// one-event accounts (ghost-g) show nothing of their one person.
	t.Run("k counts pseudonyms, not contribution", func(t *testing.T) {
		for _, q := range []struct{ team, metric, reason string }{
			{"dom-f", "meeting_load", "time:below_k"},
			{"dom-h", "meeting_load", "time:dominance"},
			{"ghost-g", "meeting_load", "time:below_k"},
			{"ghost-g", "tasks_completed", "flow:below_k"},
			{"ghost-g", "response_within_sla_ratio", "async:below_k"},
		} {
			for _, week := range []string{"2026-11-09", "2026-11-16"} {
				_, rows := sqlRows(t, e.conn, "SELECT coalesce(CAST("+q.metric+" AS VARCHAR), 'NULL'), coalesce(suppression_reason, '') FROM shoal.weekly_outcomes WHERE team = '"+q.team+"' AND week = DATE '"+week+"'")
				if len(rows) != 1 {
					t.Fatalf("%s %s: %d rows", q.team, week, len(rows))
				}
				if *rows[0][0] != "NULL" || !strings.Contains(*rows[0][1], q.reason) {
					t.Errorf("%s %s in %s = %s (reasons %q), want withheld with %s", q.team, q.metric, week, *rows[0][0], *rows[0][1], q.reason)
				}
			}
		}
		for _, l := range strings.Split(first["/metrics"], "\n") {
			for _, team := range []string{"dom-f", "dom-h", "ghost-g"} {
				if strings.HasPrefix(l, "shoal_meeting_load_seconds{") && strings.Contains(l, `team="`+team+`"`) {
					t.Errorf("/metrics shows %s's meeting load: %s", team, l)
				}
			}
		}
		// The rules withhold only what they must: an evenly busy team
		// shows its meeting load.
		if got := e.sqlValue(t, "SELECT coalesce(CAST(meeting_load AS VARCHAR), 'NULL') FROM shoal.weekly_outcomes WHERE team = 'big-b' AND week = DATE '2026-11-16'"); got == "NULL" {
			t.Error("big-b's meeting load is withheld")
		}
	})

	// 3. Percentiles over few values: live-a completes 6 tasks a week, so
	// its lead and cycle time percentiles are withheld, and no visible
	// percentile anywhere is over fewer values than its minimum.
	t.Run("quantiles over few samples are the samples", func(t *testing.T) {
		for _, m := range []string{"lead_time_p50", "lead_time_p85", "cycle_time_p50", "cycle_time_p85"} {
			if got := e.sqlValue(t, "SELECT coalesce(CAST("+m+" AS VARCHAR), 'NULL') FROM shoal.weekly_outcomes WHERE team = 'live-a' AND week = DATE '2026-11-16'"); got != "NULL" {
				t.Errorf("live-a's %s over 6 tasks is shown: %s", m, got)
			}
		}
		if got := e.sqlValue(t, "SELECT coalesce(CAST(lead_time_p50 AS VARCHAR), 'NULL') FROM shoal.weekly_outcomes WHERE team = 'big-b' AND week = DATE '2026-11-16'"); got == "NULL" {
			t.Error("big-b's median lead time over 24 tasks is withheld; the rule hides more than it must")
		}
		weekly, err := e.p.store.Outcomes(ctx, e.p.teams.Get(), redTeamW46Day(), redTeamW46Day()+7, e.p.now())
		if err != nil {
			t.Fatal(err)
		}
		_, rows := sqlRows(t, e.conn, "SELECT CAST(week AS VARCHAR), level, coalesce(unit, ''), coalesce(team, ''), lead_time_p50, lead_time_p85, cycle_time_p50, cycle_time_p85, response_time_p50 FROM shoal.weekly_outcomes")
		samples := map[string]int{}
		for _, c := range weekly {
			samples[fmt.Sprintf("%d/%s/%s/%s/%s", c.Week, c.Level, c.Unit, c.Team, c.Metric)] = c.Samples
		}
		for _, r := range rows {
			week, _ := time.Parse(time.DateOnly, *r[0])
			for i, m := range []string{"lead_time_p50", "lead_time_p85", "cycle_time_p50", "cycle_time_p85", "response_time_p50"} {
				if r[4+i] == nil {
					continue
				}
				mm, _ := outcome.ByID(m)
				if n := samples[fmt.Sprintf("%d/%s/%s/%s/%s", week.Unix()/86400, *r[1], *r[2], *r[3], m)]; n < mm.MinSamples {
					t.Errorf("%s %s %s/%s: %s shown over %d values", *r[0], *r[1], *r[2], *r[3], m, n)
				}
			}
		}
	})

	// 5. Row existence: every team has a row for every day of a released
	// week, and a one-person team's Saturday-night session looks like any
	// day it did nothing.
	t.Run("row existence is presence", func(t *testing.T) {
		_, rows := sqlRows(t, e.conn, "SELECT CAST(day AS VARCHAR), count(*) FROM shoal.daily_outcomes WHERE day BETWEEN DATE '2026-11-16' AND DATE '2026-11-22' GROUP BY day ORDER BY day")
		if len(rows) != 7 {
			t.Fatalf("%d days of W47 in daily_outcomes, want 7", len(rows))
		}
		for _, r := range rows {
			if *r[1] != *rows[0][1] {
				t.Errorf("day %s has %s rows, Monday %s: the row count tells which positions were active", *r[0], *r[1], *rows[0][1])
			}
		}
		_, tiny := sqlRows(t, e.conn, "SELECT * EXCLUDE (day) FROM shoal.daily_outcomes WHERE team = 'tiny-c' AND day BETWEEN DATE '2026-11-16' AND DATE '2026-11-22' ORDER BY day")
		if len(tiny) != 7 {
			t.Fatalf("tiny-c has %d daily rows in W47, want 7", len(tiny))
		}
		for i, r := range tiny {
			if !slices.EqualFunc(r, tiny[0], func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }) {
				t.Errorf("tiny-c's day %d of W47 differs from its Monday: a reader learns when its one person worked", i)
			}
		}
		_, weeks := sqlRows(t, e.conn, "SELECT * EXCLUDE (week) FROM shoal.weekly_outcomes WHERE team = 'tiny-c' ORDER BY week")
		if len(weeks) != 2 || !slices.EqualFunc(weeks[0], weeks[1], func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }) {
			t.Errorf("tiny-c's W46 (no event) and W47 (one session) rows differ or are missing: %d rows", len(weeks))
		}
	})

	// 6. Data quality: the week's accepted count minus the visible days
	// never gives a single withheld day; the report's count is SQL's.
	t.Run("data quality undoes itself", func(t *testing.T) {
		_, rows := sqlRows(t, e.conn, "SELECT CAST(week AS VARCHAR), coalesce(CAST(day AS VARCHAR), ''), events FROM shoal.data_quality WHERE reason = 'accepted' ORDER BY week, day NULLS FIRST")
		quality, err := e.p.store.Quality(ctx, redTeamW46Day(), redTeamW46Day()+13)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int64{}
		for _, q := range quality {
			stored[time.Unix(int64(q.Day)*86400, 0).UTC().Format(time.DateOnly)] = q.Accepted
		}
		type wk struct {
			total  *string
			hidden int
		}
		weeks := map[string]*wk{}
		for _, r := range rows {
			w := weeks[*r[0]]
			if w == nil {
				w = &wk{}
				weeks[*r[0]] = w
			}
			if *r[1] == "" {
				w.total = r[2]
				continue
			}
			// A withheld day without events is no protection: a reader
			// who guesses it empty is right.
			if r[2] == nil && stored[*r[1]] > 0 {
				w.hidden++
			}
		}
		saturday := e.sqlValue(t, "SELECT coalesce(CAST(events AS VARCHAR), 'NULL') FROM shoal.data_quality WHERE reason = 'accepted' AND day = DATE '2026-11-21'")
		if saturday != "NULL" {
			t.Errorf("W47's Saturday (tiny-c's one person only) shows %s accepted events", saturday)
		}
		for week, w := range weeks {
			if w.total != nil && w.hidden == 1 {
				t.Errorf("week %s: one withheld day with events and a visible week total: the total minus the visible days gives it", week)
			}
		}
		w47 := weeks["2026-11-16"]
		if w47 == nil || w47.total == nil {
			t.Fatal("W47's accepted count is missing or withheld")
		}
		n, _ := strconv.ParseInt(*w47.total, 10, 64)
		if md := first["report.md"]; !strings.Contains(md, thousandsText(n)+" events dated in this week were accepted") {
			t.Errorf("the report's accepted count is not SQL's %s:\n%s", *w47.total, grepLines(md, "accepted"))
		}
	})

	// 7. Precision: no released ratio or average carries more than three
	// significant digits, in SQL or on /metrics.
	t.Run("full precision reveals denominators", func(t *testing.T) {
		check := func(where, metric, v string) {
			m, ok := outcome.ByID(metric)
			if !ok || m.Unit == outcome.Tasks || m.Unit == outcome.Requests {
				return
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Errorf("%s %s: %q is not a number", where, metric, v)
				return
			}
			if r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 3, 64), 64); r != f {
				t.Errorf("%s %s = %s has more than 3 significant digits", where, metric, v)
			}
		}
		shown := 0
		for _, table := range []string{"weekly_outcomes", "daily_outcomes"} {
			names, rows := sqlRows(t, e.conn, "SELECT * FROM shoal."+table)
			for _, r := range rows {
				for i, v := range r {
					if v != nil {
						check(table, names[i], *v)
						shown++
					}
				}
			}
		}
		for _, l := range strings.Split(first["/metrics"], "\n") {
			name, val, ok := strings.Cut(l, " ")
			if !ok {
				continue
			}
			base, _, _ := strings.Cut(name, "{")
			for _, m := range outcome.Catalog {
				if m.Name == base {
					check("/metrics", m.ID, val)
				}
			}
		}
		if shown == 0 {
			t.Fatal("no value shown at all")
		}
		if got := e.sqlValue(t, "SELECT CAST(meeting_load AS VARCHAR) FROM shoal.weekly_outcomes WHERE level = 'org' AND week = DATE '2026-11-16'"); got == "NULL" {
			t.Error("the org's meeting load is withheld; the precision check needs it")
		}
	})

	// 4. A reorganisation: moving big-b from alpha to beta and reloading
	// changes no released week; the next week is released under the new
	// tree.
	t.Run("a reorg re-decides history", func(t *testing.T) {
		moved := strings.Replace(redTeamTeams, "      - id: big-b\n", "", 1)
		moved = strings.Replace(moved, "      - id: beta-e\n", "      - id: beta-e\n      - id: big-b\n", 1)
		if err := os.WriteFile(e.teams, []byte(moved), 0o640); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(e.p.URL()+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload: %s", resp.Status)
		}
		if err := e.p.RefreshMetrics(ctx); err != nil {
			t.Fatal(err)
		}
		sameOutputs(t, "a reorganisation", first, e.outputs(t))
		// The running week ends and is released under the new tree.
		e.clock.Store(redTeamStart.AddDate(0, 0, 7).UnixNano())
		if weeks := release(t, e.p); len(weeks) != 1 {
			t.Fatalf("released %v at the end of W48, want W48", weeks)
		}
		after := e.outputs(t)
		for _, k := range []string{"sql weekly_outcomes", "sql daily_outcomes"} {
			if !strings.HasPrefix(after[k], first[k]) && !containsAllLines(after[k], first[k]) {
				t.Errorf("%s: W46 and W47 rows changed after the reorganisation", k)
			}
		}
		if got := e.sqlValue(t, "SELECT unit FROM shoal.weekly_outcomes WHERE team = 'big-b' AND week = DATE '2026-11-23'"); got != "beta" {
			t.Errorf("W48 decided big-b under %s, want beta (the file in force at its release)", got)
		}
		if got := e.sqlValue(t, "SELECT unit FROM shoal.weekly_outcomes WHERE team = 'big-b' AND week = DATE '2026-11-16'"); got != "alpha" {
			t.Errorf("W47's big-b row moved to %s", got)
		}
	})
}

// redTeamW46Day is W46's Monday in days since 1970-01-01.
func redTeamW46Day() int32 { return int32(redTeamW46.Unix() / 86400) }

// containsAllLines reports whether every line of sub is a line of s.
func containsAllLines(s, sub string) bool {
	have := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		have[l] = true
	}
	for _, l := range strings.Split(sub, "\n") {
		if !have[l] {
			return false
		}
	}
	return true
}

// thousandsText writes n as the report does: 13,377.
func thousandsText(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
