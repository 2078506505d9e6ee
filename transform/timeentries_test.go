package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// rev makes an event a revision of time entry e.
func rev(e string, r int64) func(*event.Event) {
	return func(ev *event.Event) { ev.Entry, ev.Revision = e, r }
}

// TestTimeEntryCorrections commits revisions and deletions of time entries
// in batches and checks the cells they leave, the corrections counted,
// and that the state equals the Go reference and a Rebuild.
func TestTimeEntryCorrections(t *testing.T) {
	hours := func(h float64) float64 { return h * 3600 }
	type check struct {
		team string
		day  int
		want func(TeamDay) bool
		desc string
	}
	for _, sc := range []struct {
		name        string
		batches     func(g *ids) [][]event.Event
		corrections []int64 // TimeCorrections per batch
		checks      []check
	}{
		{
			name: "a later revision replaces the entry on the same day",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1)), g.ev(event.TimeLogged, 0, 13, who(2), logged("focus", 1))},
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("meeting", 3), rev("x", 2))},
				}
			},
			corrections: []int64{0, 1},
			checks: []check{{"t1", 0, func(c TeamDay) bool {
				return c.FocusS == hours(1) && c.MeetingS == hours(3) && c.Contributors == 2 && c.Events == 3
			}, "focus 1h (the other entry), meeting 3h, both events counted"}},
		},
		{
			name: "a revision moves the entry to another day: the person leaves the old day",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1)), g.ev(event.TaskCreated, 0, 9, task("k"), who(2))},
					{g.ev(event.TimeLogged, 2, 9, who(1), logged("focus", 2), rev("x", 2))},
				}
			},
			corrections: []int64{0, 1},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool { return c.FocusS == 0 && c.Contributors == 1 && c.Events == 2 }, "no time, only the task's person"},
				{"t1", 2, func(c TeamDay) bool { return c.FocusS == hours(2) && c.Contributors == 1 }, "the entry's new day"},
			},
		},
		{
			name: "a revision moves the entry to another team",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeLogged, 1, 9, who(1), logged("support", 2), rev("x", 1)), g.ev(event.TimeLogged, 1, 12, who(1), logged("admin", 1))},
					{g.ev(event.TimeLogged, 1, 9, who(1), team("t2"), logged("support", 2), rev("x", 2))},
				}
			},
			corrections: []int64{0, 1},
			checks: []check{
				{"t1", 1, func(c TeamDay) bool { return c.SupportS == 0 && c.AdminS == hours(1) && c.Contributors == 1 }, "still a contributor by the other entry"},
				{"t2", 1, func(c TeamDay) bool { return c.SupportS == hours(2) && c.Contributors == 1 }, "moved here"},
			},
		},
		{
			name: "a deletion takes the time and the person away; the deletion counts as an event of its own day",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1)), g.ev(event.TimeLogged, 0, 9, who(2), logged("focus", 1))},
					{g.ev(event.TimeDeleted, 3, 9, rev("x", 2))},
				}
			},
			corrections: []int64{0, 1},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool { return c.FocusS == hours(1) && c.Contributors == 1 && c.Events == 2 }, "one entry and person left"},
				{"t1", 3, func(c TeamDay) bool { return c.Events == 1 && c.FocusS == 0 && c.Contributors == 0 }, "the deletion's day"},
			},
		},
		{
			name: "revisions out of order: the older one arriving last changes nothing",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 3), rev("x", 5))},
					{g.ev(event.TimeLogged, 1, 9, who(2), logged("meeting", 1), rev("x", 4))},
					{g.ev(event.TimeLogged, 2, 9, who(3), logged("meeting", 1), rev("x", 1)), g.ev(event.TimeLogged, 2, 10, who(3), logged("other", 1), rev("x", 2))},
				}
			},
			corrections: []int64{0, 0, 0},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool { return c.FocusS == hours(3) && c.Contributors == 1 }, "the newest revision"},
				{"t1", 1, func(c TeamDay) bool { return c.Events == 1 && c.MeetingS == 0 && c.Contributors == 0 }, "stale revision: an event, no time, no person"},
				{"t1", 2, func(c TeamDay) bool { return c.Events == 2 && c.MeetingS == 0 && c.OtherS == 0 }, "stale revisions in one batch"},
			},
		},
		{
			name: "the newest of several revisions in one batch wins; a deletion wins a tie",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{
						g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 1), rev("x", 2)),
						g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 4), rev("x", 3)),
						g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1)),
						g.ev(event.TimeLogged, 0, 9, who(2), logged("meeting", 1), rev("y", 7)),
						g.ev(event.TimeDeleted, 0, 10, rev("y", 7)),
					},
					{g.ev(event.TimeLogged, 0, 9, who(2), logged("meeting", 2), rev("y", 7))}, // another tie: the deletion still wins
				}
			},
			corrections: []int64{2, 0}, // in arrival order: x's revision 3 over 2, y's deletion
			checks: []check{{"t1", 0, func(c TeamDay) bool {
				return c.FocusS == hours(4) && c.MeetingS == 0 && c.Contributors == 1 && c.Events == 6
			}, "focus 4h, y deleted"}},
		},
		{
			name: "a deletion arriving first keeps older revisions out; a newer revision brings the entry back",
			batches: func(g *ids) [][]event.Event {
				return [][]event.Event{
					{g.ev(event.TimeDeleted, 4, 9, rev("x", 3))},
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 2))},
					{g.ev(event.TimeLogged, 1, 9, who(1), logged("focus", 1), rev("x", 4))},
				}
			},
			corrections: []int64{0, 0, 1},
			checks: []check{
				{"t1", 0, func(c TeamDay) bool { return c.FocusS == 0 && c.Contributors == 0 && c.Events == 1 }, "the deleted revision counts nothing"},
				{"t1", 1, func(c TeamDay) bool { return c.FocusS == hours(1) && c.Contributors == 1 }, "back"},
			},
		},
		{
			name: "a re-sent event changes nothing; the same revision under another id is no correction",
			batches: func(g *ids) [][]event.Event {
				e := g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1))
				again := e
				again.ID = "zz-" + e.ID // greater id: it becomes the entry's state
				return [][]event.Event{{e}, {e}, {again}}
			},
			corrections: []int64{0, 0, 0},
			checks: []check{{"t1", 0, func(c TeamDay) bool {
				return c.FocusS == hours(2) && c.Contributors == 1 && c.Events == 2
			}, "one entry of 2h, two events"}},
		},
		{
			name: "entries of two sources with the same entry id are two entries",
			batches: func(g *ids) [][]event.Event {
				other := func(e *event.Event) { e.Source = "other" }
				return [][]event.Event{
					{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("x", 1))},
					{g.ev(event.TimeDeleted, 0, 9, rev("x", 2), other)},
				}
			},
			corrections: []int64{0, 0},
			checks:      []check{{"t1", 0, func(c TeamDay) bool { return c.FocusS == hours(2) }, "not deleted"}},
		},
	} {
		t.Run(sc.name, func(t *testing.T) {
			mem := checkedMem(t)
			s, _ := openStore(t)
			var g ids
			var all []event.Event
			for i, batch := range sc.batches(&g) {
				all = append(all, batch...)
				if res := commit(t, s, mem, batch...); res.TimeCorrections != sc.corrections[i] || res.TimeCorrectionsAfterRelease != 0 {
					t.Errorf("batch %d: %d corrections (%d after release), want %d (0)", i, res.TimeCorrections, res.TimeCorrectionsAfterRelease, sc.corrections[i])
				}
			}
			for _, c := range sc.checks {
				if got := cell(t, s, c.team, c.day); !c.want(got) {
					t.Errorf("cell (%s, day %d): want %s, got %+v", c.team, c.day, c.desc, got)
				}
			}
			checkAgainstReference(t, s, all)
		})
	}
}

// checkAgainstReference checks the store's team_day against the Go
// reference of evs, then that a Rebuild gives the same derived state.
func checkAgainstReference(t *testing.T, s *Store, evs []event.Event) {
	t.Helper()
	incremental := teamDays(t, s)
	if d := diffTeamDays(incremental, reference(evs)); d != "" {
		t.Errorf("incremental vs Go reference:\n%s", d)
	}
	state := dumpState(t, s)
	if err := s.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffTeamDays(teamDays(t, s), incremental); d != "" {
		t.Errorf("rebuild vs incremental:\n%s", d)
	}
	if rebuilt := dumpState(t, s); !reflect.DeepEqual(rebuilt, state) {
		t.Errorf("derived state differs after rebuild:\nincremental %v\nrebuilt     %v", state, rebuilt)
	}
}

// TestTimeEntryOutcomes: the outcomes (and the people counted towards k
// for time) follow an entry's newest revision: a replaced revision's time
// and a deleted entry's are nowhere.
func TestTimeEntryOutcomes(t *testing.T) {
	s, _ := openStore(t)
	mem := checkedMem(t)
	var g ids
	commit(t, s, mem,
		g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2), rev("a", 1)),
		g.ev(event.TimeLogged, 0, 9, who(2), logged("meeting", 2), rev("b", 1)),
		g.ev(event.TimeLogged, 0, 9, who(3), logged("meeting", 1)),
	)
	commit(t, s, mem,
		g.ev(event.TimeLogged, 0, 9, who(1), logged("meeting", 1), rev("a", 2)), // focus 2h → meeting 1h
		g.ev(event.TimeDeleted, 1, 9, rev("b", 2)),
	)
	m := outcomes(t, s, mustOrg(t, outcomeOrg), day0, day0, at(30, 0))
	team := outcomeCell{day0, outcome.LevelTeam, "t1", "meeting_load"}
	want(t, m, team, hour) // 2h of meeting over people 1 and 3
	want(t, m, outcomeCell{day0, outcome.LevelTeam, "t1", "focus_ratio"}, 0)
	wantPeople(t, m, team, 2)
}

// TestTimeCorrectionsAfterRelease: a correction of an entry in a released
// week is stored and counted, the store follows it, and the released
// cells do not change.
func TestTimeCorrectionsAfterRelease(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	week := calendar.WeekStart(day0)
	var evs []event.Event
	for p := range 6 {
		evs = append(evs, g.ev(event.TimeLogged, 0, 9, who(p), logged("meeting", 1), rev(string(rune('a'+p)), 1)))
	}
	evs = append(evs, g.ev(event.TimeLogged, 8, 9, who(1), logged("focus", 1), rev("next", 1)))
	commit(t, s, mem, evs...)
	released := releaseWeek(t, s, week)

	res := commit(t, s, mem,
		g.ev(event.TimeLogged, 0, 9, who(0), logged("meeting", 3), rev("a", 2)),  // in the released week
		g.ev(event.TimeDeleted, 9, 9, rev("b", 2)),                               // dated next week, of an entry in the released one
		g.ev(event.TimeLogged, 9, 9, who(2), logged("focus", 1), rev("c", 2)),    // moved out of the released week
		g.ev(event.TimeLogged, 8, 9, who(1), logged("focus", 2), rev("next", 2)), // not released: a correction, not late
		g.ev(event.TimeLogged, 0, 9, who(3), logged("meeting", 1), rev("d", 0)),  // older: no correction
	)
	if res.TimeCorrections != 4 || res.TimeCorrectionsAfterRelease != 3 || res.AfterRelease != 2 {
		t.Errorf("commit result %+v: want 4 corrections, 3 of them after the release, 2 events after it", res)
	}
	if c := cell(t, s, "t1", 0); c.MeetingS != 3600*(3+3) || c.Contributors != 4 {
		t.Errorf("the store does not follow the corrections: %+v", c)
	}
	if got, _, err := s.Released(ctx, week, week, true); err != nil || !reflect.DeepEqual(got, released) {
		t.Errorf("the released week changed (%v)", err)
	}
	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Released(ctx, week, week, true); err != nil || !reflect.DeepEqual(got, released) {
		t.Errorf("the released week changed after a rebuild (%v)", err)
	}
}

// decideWeek decides week's release from the store as app does (one unit
// of every team, k 5, the clock at day 10).
func decideWeek(t *testing.T, s *Store, week int32) privacy.Release {
	t.Helper()
	ctx := context.Background()
	policy, err := privacy.NewPolicy(5, privacy.DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	weekly, err := s.Outcomes(ctx, nil, week, week, at(10, 0))
	if err != nil {
		t.Fatal(err)
	}
	daily, err := s.DailyOutcomes(ctx, nil, week, week+6, at(10, 0))
	if err != nil {
		t.Fatal(err)
	}
	quality, err := s.Quality(ctx, week, week+6)
	if err != nil {
		t.Fatal(err)
	}
	teams, err := s.Teams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := privacy.NewRelease(policy, privacy.Hierarchy{Units: []privacy.HierarchyUnit{{ID: "unassigned", Teams: teams}}}, week, weekly, daily, quality)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// releaseWeek releases week (one unit of every team, k 5) and returns its
// weekly cells as the ledger holds them.
func releaseWeek(t *testing.T, s *Store, week int32) []privacy.Published {
	t.Helper()
	ctx := context.Background()
	if err := s.Release(ctx, decideWeek(t, s, week), time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Released(ctx, week, week, true)
	if err != nil {
		t.Fatal(err)
	}
	var shown bool
	for _, c := range got {
		shown = shown || c.Visible && c.Metric == "meeting_load" && c.Level == "team"
	}
	if !shown {
		t.Fatal("the released week shows no team meeting load: the test's week is too small")
	}
	return got
}

// TestOpenUpgradesToTimeEntries opens a file of the version before time
// entries had revisions (events without entry and revision, no
// time_entries, derived version 4): Open adds the columns, rebuilds the
// derived tables, and the stored entries can then be corrected.
func TestOpenUpgradesToTimeEntries(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	s, err := Open(ctx, Config{Path: path, Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	old := []event.Event{
		g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 2)),
		g.ev(event.TimeLogged, 0, 12, who(2), logged("meeting", 1)),
		g.ev(event.TaskCreated, 1, 9, task("k"), who(1)),
	}
	commit(t, s, mem, old...)
	for _, q := range []string{
		`ALTER TABLE events DROP COLUMN revision`, `ALTER TABLE events DROP COLUMN entry`,
		`DROP TABLE time_entries`, `UPDATE shoal_meta SET value = 4 WHERE name = 'derived_version'`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, Config{Path: path, Threads: 2}, nil); err != nil {
		t.Fatalf("Open of a file from before time-entry revisions: %v", err)
	}
	defer s.Close()
	var entries int
	if err := s.db.QueryRow(`SELECT count(*) FROM time_entries WHERE NOT deleted`).Scan(&entries); err != nil || entries != 2 {
		t.Errorf("time_entries after the upgrade: %d rows (%v), want the 2 stored entries", entries, err)
	}
	if d := diffTeamDays(teamDays(t, s), reference(old)); d != "" {
		t.Errorf("team_day after the upgrade vs Go reference:\n%s", d)
	}
	more := []event.Event{
		g.ev(event.TimeLogged, 2, 9, who(3), logged("focus", 1), rev("x", 1)),
		g.ev(event.TimeLogged, 2, 9, who(3), logged("focus", 3), rev("x", 2)),
	}
	if res := commit(t, s, mem, old...); res.Inserted != 0 {
		t.Errorf("the stored events are new again after the upgrade: %+v", res)
	}
	commit(t, s, mem, more[1])
	commit(t, s, mem, more[0])
	checkAgainstReference(t, s, append(old, more...))
}

// TestTimeCorrectionsDoNotDependOnBatches: the corrections counted are
// the same whether the revisions come in one batch or one at a time.
func TestTimeCorrectionsDoNotDependOnBatches(t *testing.T) {
	mem := checkedMem(t)
	r := rand.New(rand.NewPCG(5, 8))
	var evs []event.Event
	for i := range 60 {
		e := randomEvent(r, []string{event.TimeLogged, event.TimeLogged, event.TimeDeleted})
		e.ID, e.Offset = fmt.Sprintf("e%d", i), int64(i)
		e.Entry, e.Revision = fmt.Sprintf("x%d", r.IntN(6)), int64(r.IntN(8))
		evs = append(evs, e)
	}
	one, _ := openStore(t)
	whole := commit(t, one, mem, evs...)
	each, _ := openStore(t)
	var n int64
	for _, e := range evs {
		n += commit(t, each, mem, e).TimeCorrections
	}
	if whole.TimeCorrections != n || n < 10 {
		t.Errorf("%d corrections in one batch, %d one event at a time (want equal, and at least 10)", whole.TimeCorrections, n)
	}
	if d := diffTeamDays(teamDays(t, one), teamDays(t, each)); d != "" {
		t.Errorf("one batch vs one event at a time:\n%s", d)
	}
}
