package transform

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
)

// reference computes team_day in plain Go, straight from the spec in
// rollup.go, as an independent check of the SQL. evs are in commit order;
// the first event with a given (source, id) wins. A time entry counts as
// its newest revision says (referenceEntries).
func reference(evs []event.Event) []TeamDay {
	type key struct{ a, b string }
	type cellKey struct {
		team string
		day  int32
	}
	seen := map[key]bool{}
	var uniq []event.Event
	for _, e := range evs {
		if k := (key{e.Source, e.ID}); !seen[k] {
			seen[k] = true
			uniq = append(uniq, e)
		}
	}
	// later reports whether a is later than b by (event_time, source, id).
	later := func(a, b *event.Event) bool {
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		if a.Source != b.Source {
			return a.Source > b.Source
		}
		return a.ID > b.ID
	}
	// earlier reports whether a comes before b: earliest event_time, ties to
	// the greatest (source, id).
	earlier := func(a, b *event.Event) bool {
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Source != b.Source {
			return a.Source > b.Source
		}
		return a.ID > b.ID
	}
	secs := func(a, b time.Time) float64 { return float64(a.UnixMicro()-b.UnixMicro()) / 1e6 }

	type taskState struct {
		created, completed *event.Event
		started, reopened  time.Time
	}
	tasks := map[key]*taskState{}
	type reqState struct{ opened, responded *event.Event }
	reqs := map[key]*reqState{}

	cells := map[cellKey]*TeamDay{}
	get := func(team string, day int32) *TeamDay {
		k := cellKey{team, day}
		if cells[k] == nil {
			cells[k] = &TeamDay{Team: team, Day: day}
		}
		return cells[k]
	}
	created := map[cellKey]map[string]bool{}
	started := map[cellKey]map[string]bool{}
	people := map[cellKey]map[string]bool{}
	add := func(m map[cellKey]map[string]bool, k cellKey, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}

	entries := referenceEntries(uniq)
	for i := range uniq {
		e := &uniq[i]
		c := get(e.Team, e.Day)
		ck := cellKey{e.Team, e.Day}
		c.Events++
		if e.Type == event.TimeLogged && entries[entryOf(e)] != e {
			continue // replaced by a newer revision, or deleted
		}
		if e.Person != "" {
			add(people, ck, e.Person)
		}
		switch e.Type {
		case event.TaskCreated:
			if e.Task != "" {
				add(created, ck, e.Task)
			}
		case event.TaskStarted:
			if e.Task != "" {
				add(started, ck, e.Task)
			}
		case event.TaskReopened:
			c.TasksReopened++
		case event.TaskBlocked:
			c.TasksBlocked++
		case event.TimeLogged:
			if !e.Start.IsZero() && !e.End.IsZero() {
				d := secs(e.End, e.Start)
				switch e.Category {
				case "focus":
					c.FocusS += d
				case "meeting":
					c.MeetingS += d
				case "collaboration":
					c.CollaborationS += d
				case "support":
					c.SupportS += d
				case "admin":
					c.AdminS += d
				case "learning":
					c.LearningS += d
				case "other":
					c.OtherS += d
				}
			}
		}
		if e.Task != "" && strings.HasPrefix(e.Type, "work.task.") {
			k := key{e.Team, e.Task}
			st := tasks[k]
			if st == nil {
				st = &taskState{}
				tasks[k] = st
			}
			switch e.Type {
			case event.TaskCreated:
				if st.created == nil || earlier(e, st.created) {
					st.created = e
				}
			case event.TaskStarted:
				if st.started.IsZero() || e.Time.Before(st.started) {
					st.started = e.Time
				}
			case event.TaskReopened:
				if e.Time.After(st.reopened) {
					st.reopened = e.Time
				}
			case event.TaskCompleted:
				if st.completed == nil || later(e, st.completed) {
					st.completed = e
				}
			}
		}
		if e.Request != "" && strings.HasPrefix(e.Type, "work.request.") {
			k := key{e.Team, e.Request}
			st := reqs[k]
			if st == nil {
				st = &reqState{}
				reqs[k] = st
			}
			switch e.Type {
			case event.RequestOpened:
				if st.opened == nil || earlier(e, st.opened) {
					st.opened = e
				}
			case event.RequestResponded:
				if st.responded == nil || earlier(e, st.responded) {
					st.responded = e
				}
			}
		}
	}
	for k, v := range created {
		cells[k].TasksCreated = int64(len(v))
	}
	for k, v := range started {
		cells[k].TasksStarted = int64(len(v))
	}
	for k, v := range people {
		cells[k].Contributors = int64(len(v))
	}
	for k, st := range tasks {
		done := st.completed
		if done == nil || (!st.reopened.IsZero() && !st.reopened.Before(done.Time)) {
			continue
		}
		c := get(k.a, done.Day)
		c.TasksCompleted++
		if st.created != nil && !done.Time.Before(st.created.Time) {
			c.LeadTimeSSum += secs(done.Time, st.created.Time)
			c.LeadTimeN++
		}
		if !st.started.IsZero() && !done.Time.Before(st.started) {
			c.CycleTimeSSum += secs(done.Time, st.started)
			c.CycleTimeN++
		}
		if cr := st.created; cr != nil {
			switch {
			case !cr.DueAt.IsZero():
				c.CompletedWithDue++
				if !done.Time.After(cr.DueAt) {
					c.CompletedOnTime++
				}
			case cr.HasDueDate:
				c.CompletedWithDue++
				if done.Day <= cr.DueDate {
					c.CompletedOnTime++
				}
			}
		}
	}
	for k, st := range reqs {
		if o := st.opened; o != nil {
			get(k.a, o.Day).RequestsOpened++
		}
		if r := st.responded; r != nil {
			c := get(k.a, r.Day)
			c.RequestsResponded++
			if st.opened != nil && !r.Time.Before(st.opened.Time) {
				c.ResponseTimeSSum += secs(r.Time, st.opened.Time)
				c.ResponseTimeN++
			}
		}
	}
	out := make([]TeamDay, 0, len(cells))
	for _, c := range cells {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Team != out[j].Team {
			return out[i].Team < out[j].Team
		}
		return out[i].Day < out[j].Day
	})
	return out
}

// entryKey names a time entry: its source and entry id, or for an entry
// without one, its event's (source, id).
type entryKey struct {
	source, entry, id string
}

func entryOf(e *event.Event) entryKey {
	if e.Entry == "" {
		return entryKey{source: e.Source, id: e.ID}
	}
	return entryKey{source: e.Source, entry: e.Entry}
}

// referenceEntries returns the newest revision of each time entry of evs
// (distinct events), by (revision, deletion over entry, source, id); a
// deleted entry's newest revision is its deletion.
func referenceEntries(evs []event.Event) map[entryKey]*event.Event {
	newer := func(a, b *event.Event) bool {
		if a.Revision != b.Revision {
			return a.Revision > b.Revision
		}
		if ad, bd := a.Type == event.TimeDeleted, b.Type == event.TimeDeleted; ad != bd {
			return ad
		}
		if a.Source != b.Source {
			return a.Source > b.Source
		}
		return a.ID > b.ID
	}
	out := map[entryKey]*event.Event{}
	for i := range evs {
		e := &evs[i]
		if e.Type != event.TimeLogged && e.Type != event.TimeDeleted {
			continue
		}
		k := entryOf(e)
		if cur := out[k]; cur == nil || newer(e, cur) {
			out[k] = e
		}
	}
	return out
}

// diffTeamDays describes how got differs from want (float fields compared
// with a relative tolerance, since summation order differs), or "".
func diffTeamDays(got, want []TeamDay) string {
	var b strings.Builder
	if len(got) != len(want) {
		fmt.Fprintf(&b, "%d rows, want %d\n", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
		for f := 0; f < g.NumField(); f++ {
			gf, wf := g.Field(f), w.Field(f)
			same := gf.Equal(wf)
			if gf.Kind() == reflect.Float64 {
				x, y := gf.Float(), wf.Float()
				same = math.Abs(x-y) <= 1e-9*math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
			}
			if !same {
				fmt.Fprintf(&b, "row %d (%s, %s): %s = %v, want %v\n", i, got[i].Team,
					calendar.DayTime(got[i].Day).Format(time.DateOnly), g.Type().Field(f).Name, gf, wf)
			}
		}
		if b.Len() > 2000 {
			break
		}
	}
	return b.String()
}
