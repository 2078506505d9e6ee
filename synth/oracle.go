package synth

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
)

// TeamDay is one row of the team-day rollup: what the pipeline must
// compute for a team on one team-local day.
type TeamDay struct {
	Team string
	Day  int32 // days since epoch, team-local

	Events, TasksCreated, TasksStarted, TasksCompleted, LeadTimeN, CycleTimeN, CompletedWithDue,
	CompletedOnTime, TasksReopened, TasksBlocked, RequestsOpened, RequestsResponded, ResponseTimeN,
	Contributors int64

	LeadTimeSSum, CycleTimeSSum, FocusS, MeetingS, CollaborationS, SupportS, AdminS, LearningS,
	OtherS, ResponseTimeSSum float64
}

// wireEvent is the oracle's own reading of the CloudEvents JSON.
type wireEvent struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Type   string `json:"type"`
	Time   string `json:"time"`
	Data   struct {
		Team     string `json:"team"`
		Task     string `json:"task"`
		Request  string `json:"request"`
		Person   string `json:"person"`
		Due      string `json:"due"`
		Start    string `json:"start"`
		End      string `json:"end"`
		Category string `json:"category"`
	} `json:"data"`
}

type teamDayKey struct {
	team string
	day  int32
}

type teamItem struct{ team, id string }

type stamp struct {
	at  time.Time
	day int32
	ok  bool
}

// earlier keeps the minimum, later the maximum (first one wins a tie).
func (s *stamp) earlier(at time.Time, day int32) {
	if !s.ok || at.Before(s.at) {
		*s = stamp{at, day, true}
	}
}

func (s *stamp) later(at time.Time, day int32) {
	if !s.ok || at.After(s.at) {
		*s = stamp{at, day, true}
	}
}

type taskState struct {
	created, started, reopened, completed stamp
	due                                   string // of the earliest created event
}

type requestState struct{ opened, responded stamp }

// Expect computes the team-day rollups the pipeline must produce from
// msgs, independently of the pipeline: it reads only messages with
// Bad == "", parses them with encoding/json, ignores a repeated
// (source, id) after its first appearance, and follows the rollup
// specification in doc.go. loc gives each team's time zone. Rows are
// sorted by Team, then Day. It panics on a valid message it cannot read,
// which is a bug in the messages, not in the pipeline.
func Expect(msgs []Message, loc func(team string) *time.Location) []TeamDay {
	rows := map[teamDayKey]*TeamDay{}
	row := func(team string, day int32) *TeamDay {
		k := teamDayKey{team, day}
		r := rows[k]
		if r == nil {
			r = &TeamDay{Team: team, Day: day}
			rows[k] = r
		}
		return r
	}
	locs := map[string]*time.Location{}
	zoneOf := func(team string) *time.Location {
		l, ok := locs[team]
		if !ok {
			l = loc(team)
			locs[team] = l
		}
		return l
	}
	type daySet struct {
		k  teamDayKey
		id string
	}
	seen := map[[2]string]bool{}
	createdOn, startedOn, people := map[daySet]bool{}, map[daySet]bool{}, map[daySet]bool{}
	tasks := map[teamItem]*taskState{}
	requests := map[teamItem]*requestState{}
	var taskOrder, requestOrder []teamItem // first-seen order: sums add up in a fixed order

	expectOne := func(p *parsedEvent) {
		w := &p.w
		if k := [2]string{w.Source, w.ID}; seen[k] {
			return
		} else {
			seen[k] = true
		}
		at, start, end := p.at, p.start, p.end
		d := &w.Data
		l := zoneOf(d.Team)
		day := calendar.DayOf(at, l)
		if w.Type == event.TimeLogged {
			day = calendar.DayOf(start, l)
		}
		k := teamDayKey{d.Team, day}
		r := row(d.Team, day)
		r.Events++
		if p := strings.ToLower(strings.TrimSpace(d.Person)); p != "" && !people[daySet{k, p}] {
			people[daySet{k, p}] = true
			r.Contributors++
		}
		task := func() *taskState { return getOrAdd(tasks, &taskOrder, teamItem{d.Team, d.Task}) }
		request := func() *requestState { return getOrAdd(requests, &requestOrder, teamItem{d.Team, d.Request}) }
		switch w.Type {
		case event.TaskCreated:
			if !createdOn[daySet{k, d.Task}] {
				createdOn[daySet{k, d.Task}] = true
				r.TasksCreated++
			}
			s := task()
			if !s.created.ok || at.Before(s.created.at) {
				s.due = d.Due
			}
			s.created.earlier(at, day)
		case event.TaskStarted:
			if !startedOn[daySet{k, d.Task}] {
				startedOn[daySet{k, d.Task}] = true
				r.TasksStarted++
			}
			task().started.earlier(at, day)
		case event.TaskCompleted:
			task().completed.later(at, day)
		case event.TaskReopened:
			r.TasksReopened++
			task().reopened.later(at, day)
		case event.TaskBlocked:
			r.TasksBlocked++
		case event.TimeLogged:
			s := end.Sub(start).Seconds()
			switch d.Category {
			case "focus":
				r.FocusS += s
			case "meeting":
				r.MeetingS += s
			case "collaboration":
				r.CollaborationS += s
			case "support":
				r.SupportS += s
			case "admin":
				r.AdminS += s
			case "learning":
				r.LearningS += s
			default:
				r.OtherS += s
			}
		case event.RequestOpened:
			request().opened.earlier(at, day)
		case event.RequestResponded:
			request().responded.earlier(at, day)
		}
	}
	var buf []parsedEvent
	for lo := 0; lo < len(msgs); lo += parseBlock {
		block := msgs[lo:min(lo+parseBlock, len(msgs))]
		buf = parseAll(block, buf)
		for j := range block {
			p := &buf[j]
			if p.skip {
				continue
			}
			if p.err != nil {
				panic(fmt.Sprintf("synth.Expect: message %d: %v", lo+j, p.err))
			}
			expectOne(p)
		}
	}

	for _, ti := range taskOrder {
		s := tasks[ti]
		if !s.completed.ok || s.reopened.ok && !s.reopened.at.Before(s.completed.at) {
			continue
		}
		r := row(ti.team, s.completed.day)
		r.TasksCompleted++
		if s.created.ok {
			if lt := s.completed.at.Sub(s.created.at); lt >= 0 {
				r.LeadTimeN++
				r.LeadTimeSSum += lt.Seconds()
			}
		}
		if s.started.ok {
			if ct := s.completed.at.Sub(s.started.at); ct >= 0 {
				r.CycleTimeN++
				r.CycleTimeSSum += ct.Seconds()
			}
		}
		if s.due == "" {
			continue
		}
		var onTime bool
		if dueAt, err := time.Parse(time.RFC3339, s.due); err == nil {
			onTime = !s.completed.at.After(dueAt)
		} else if dueDate, err := time.Parse(time.DateOnly, s.due); err == nil {
			onTime = s.completed.day <= calendar.DayOf(dueDate, time.UTC)
		} else {
			panic(fmt.Sprintf("synth.Expect: task %q of team %q: due %q is neither RFC 3339 nor a date", ti.id, ti.team, s.due))
		}
		r.CompletedWithDue++
		if onTime {
			r.CompletedOnTime++
		}
	}
	for _, ri := range requestOrder {
		s := requests[ri]
		if s.opened.ok {
			row(ri.team, s.opened.day).RequestsOpened++
		}
		if !s.responded.ok {
			continue
		}
		r := row(ri.team, s.responded.day)
		r.RequestsResponded++
		if s.opened.ok {
			if rt := s.responded.at.Sub(s.opened.at); rt >= 0 {
				r.ResponseTimeN++
				r.ResponseTimeSSum += rt.Seconds()
			}
		}
	}

	out := make([]TeamDay, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b TeamDay) int {
		return cmp.Or(strings.Compare(a.Team, b.Team), cmp.Compare(a.Day, b.Day))
	})
	return out
}

// parsedEvent is one message as the oracle reads it.
type parsedEvent struct {
	w              wireEvent
	at, start, end time.Time
	skip           bool // a bad message
	err            error
}

// parseBlock is how many messages are parsed at once, in parallel.
const parseBlock = 1 << 14

// parseAll parses msgs into buf (grown as needed) on every CPU. Parsing
// is most of Expect's cost; the rollup itself stays sequential.
func parseAll(msgs []Message, buf []parsedEvent) []parsedEvent {
	if cap(buf) < len(msgs) {
		buf = make([]parsedEvent, len(msgs))
	}
	buf = buf[:len(msgs)]
	workers := min(runtime.GOMAXPROCS(0), (len(msgs)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(msgs)/workers, (w+1)*len(msgs)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				buf[i] = readEvent(msgs[i])
			}
		})
	}
	wg.Wait()
	return buf
}

func readEvent(m Message) (p parsedEvent) {
	if m.Bad != "" {
		return parsedEvent{skip: true}
	}
	if err := json.Unmarshal(m.Value, &p.w); err != nil {
		p.err = err
		return p
	}
	field := func(name, s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("%s: %w", name, err)
		}
		return t
	}
	p.at = field("time", p.w.Time)
	if p.w.Type == event.TimeLogged {
		p.start, p.end = field("data.start", p.w.Data.Start), field("data.end", p.w.Data.End)
	}
	return p
}

// getOrAdd returns m[k], creating it (and recording k in order, so the
// oracle's output does not depend on map iteration) when missing.
func getOrAdd[K comparable, V any](m map[K]*V, order *[]K, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
		*order = append(*order, k)
	}
	return v
}
