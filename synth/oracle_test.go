package synth

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
)

// ce builds a fixture message; data is the inside of the data object.
func ce(source, id, typ, at, data string) Message {
	return Message{Value: []byte(`{"specversion":"1.0","id":"` + id + `","source":"` + source + `","type":"` + typ +
		`","time":"` + at + `","data":{` + data + `}}`)}
}

func fixtureZone(team string) *time.Location {
	name := map[string]string{"ber": "Europe/Berlin", "nyc": "America/New_York", "sao": "America/Sao_Paulo"}[team]
	if name == "" {
		return time.UTC
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// march returns the day number of 2025-03-d.
func march(d int) int32 { return calendar.DateOf(2025, time.March, d) }

const (
	jira  = "https://jira.test"
	cu    = "https://clickup.test"
	slack = "https://slack.test"
	tg    = "https://toggl.test"
)

func TestExpectFixtures(t *testing.T) {
	tests := []struct {
		name string
		msgs []Message
		want []TeamDay
	}{
		{
			name: "reopened task completed again counts on the last completion",
			msgs: []Message{
				ce(jira, "1", event.TaskCreated, "2025-03-03T09:00:00Z", `"team":"utc","task":"A","person":"a@x.example"`),
				ce(jira, "2", event.TaskStarted, "2025-03-03T10:00:00Z", `"team":"utc","task":"A","person":"b@x.example"`),
				ce(jira, "3", event.TaskCompleted, "2025-03-04T12:00:00Z", `"team":"utc","task":"A","person":"b@x.example"`),
				ce(jira, "4", event.TaskReopened, "2025-03-05T09:00:00Z", `"team":"utc","task":"A"`),
				ce(jira, "5", event.TaskCompleted, "2025-03-06T15:00:00Z", `"team":"utc","task":"A","person":"b@x.example"`),
			},
			want: []TeamDay{
				{Team: "utc", Day: march(3), Events: 2, TasksCreated: 1, TasksStarted: 1, Contributors: 2},
				{Team: "utc", Day: march(4), Events: 1, Contributors: 1},
				{Team: "utc", Day: march(5), Events: 1, TasksReopened: 1},
				// lead 03-03 09:00 -> 03-06 15:00 = 3d6h; cycle from 10:00 = 3d5h
				{Team: "utc", Day: march(6), Events: 1, Contributors: 1, TasksCompleted: 1,
					LeadTimeN: 1, LeadTimeSSum: 3*86400 + 6*3600, CycleTimeN: 1, CycleTimeSSum: 3*86400 + 5*3600},
			},
		},
		{
			name: "reopened at the completion instant is not completed",
			msgs: []Message{
				ce(jira, "1", event.TaskCreated, "2025-03-03T09:00:00Z", `"team":"utc","task":"B","person":"a@x.example"`),
				ce(jira, "2", event.TaskCompleted, "2025-03-04T12:00:00Z", `"team":"utc","task":"B","person":"a@x.example"`),
				ce(jira, "3", event.TaskReopened, "2025-03-04T12:00:00Z", `"team":"utc","task":"B"`),
			},
			want: []TeamDay{
				{Team: "utc", Day: march(3), Events: 1, TasksCreated: 1, Contributors: 1},
				{Team: "utc", Day: march(4), Events: 2, TasksReopened: 1, Contributors: 1},
			},
		},
		{
			name: "late created event and a second created event",
			msgs: []Message{
				ce(jira, "1", event.TaskStarted, "2025-03-04T10:00:00Z", `"team":"utc","task":"C","person":"b@x.example"`),
				ce(jira, "2", event.TaskCompleted, "2025-03-05T16:00:00Z", `"team":"utc","task":"C","person":"b@x.example"`),
				// published after the completion; the earliest created event gives created_at and due
				ce(jira, "3", event.TaskCreated, "2025-03-03T08:00:00Z", `"team":"utc","task":"C","person":"a@x.example","due":"2025-03-05"`),
				ce(jira, "4", event.TaskCreated, "2025-03-04T09:00:00Z", `"team":"utc","task":"C","due":"2025-03-04"`),
			},
			want: []TeamDay{
				{Team: "utc", Day: march(3), Events: 1, TasksCreated: 1, Contributors: 1},
				{Team: "utc", Day: march(4), Events: 2, TasksCreated: 1, TasksStarted: 1, Contributors: 1},
				// lead 03-03 08:00 -> 03-05 16:00 = 2d8h; cycle 03-04 10:00 -> 1d6h; due 03-05 met
				{Team: "utc", Day: march(5), Events: 1, Contributors: 1, TasksCompleted: 1,
					LeadTimeN: 1, LeadTimeSSum: 2*86400 + 8*3600, CycleTimeN: 1, CycleTimeSSum: 86400 + 6*3600,
					CompletedWithDue: 1, CompletedOnTime: 1},
			},
		},
		{
			name: "date-only due: 23:30 local on the day is on time, 00:30 the next day is late",
			msgs: []Message{
				ce(jira, "1", event.TaskCreated, "2025-03-03T09:00:00+01:00", `"team":"ber","task":"A","person":"Ana@Acme.example","due":"2025-03-10"`),
				ce(jira, "2", event.TaskCreated, "2025-03-03T09:00:00+01:00", `"team":"ber","task":"B","person":" ana@acme.example","due":"2025-03-10"`),
				ce(jira, "3", event.TaskCreated, "2025-03-03T08:00:00Z", `"team":"ber","task":"C","due":"2025-03-10T17:00:00+01:00"`),
				ce(jira, "4", event.TaskCreated, "2025-03-03T08:00:00Z", `"team":"ber","task":"D"`),
				ce(jira, "5", event.TaskCompleted, "2025-03-10T23:30:00+01:00", `"team":"ber","task":"A","person":"c@x.example"`),
				ce(jira, "6", event.TaskCompleted, "2025-03-11T00:30:00+01:00", `"team":"ber","task":"B","person":"c@x.example"`),
				ce(jira, "7", event.TaskCompleted, "2025-03-10T16:00:00Z", `"team":"ber","task":"C","person":"c@x.example"`),
				ce(jira, "8", event.TaskCompleted, "2025-03-10T12:00:00Z", `"team":"ber","task":"D","person":"c@x.example"`),
			},
			want: []TeamDay{
				{Team: "ber", Day: march(3), Events: 4, TasksCreated: 4, Contributors: 1},
				// A: 7d14h30m on time; C: 7d8h, due_at reached exactly, on time; D: 7d4h, no due
				{Team: "ber", Day: march(10), Events: 3, Contributors: 1, TasksCompleted: 3,
					LeadTimeN: 3, LeadTimeSSum: (7*86400 + 14*3600 + 1800) + (7*86400 + 8*3600) + (7*86400 + 4*3600),
					CompletedWithDue: 2, CompletedOnTime: 2},
				// B: completed 00:30 local on 03-11 = 7d15h30m after creation, late
				{Team: "ber", Day: march(11), Events: 1, Contributors: 1, TasksCompleted: 1,
					LeadTimeN: 1, LeadTimeSSum: 7*86400 + 15*3600 + 1800, CompletedWithDue: 1},
			},
		},
		{
			name: "response over a weekend, unanswered and clock-skewed requests",
			msgs: []Message{
				ce(slack, "1", event.RequestOpened, "2025-03-07T16:30:00-05:00", `"team":"nyc","request":"R1","kind":"review","person":"a@x.example"`),
				ce(slack, "2", event.RequestOpened, "2025-03-07T17:00:00-05:00", `"team":"nyc","request":"R2","kind":"question","person":"a@x.example"`),
				ce(slack, "3", event.RequestOpened, "2025-03-07T10:00:00-05:00", `"team":"nyc","request":"R3","kind":"handoff"`),
				ce(slack, "4", event.RequestResponded, "2025-03-07T09:59:00-05:00", `"team":"nyc","request":"R3","person":"b@x.example"`),
				// Monday, after the switch to daylight saving time
				ce(slack, "5", event.RequestResponded, "2025-03-10T09:15:00-04:00", `"team":"nyc","request":"R1","person":"b@x.example"`),
				ce(slack, "6", event.RequestResponded, "2025-03-10T11:00:00-04:00", `"team":"nyc","request":"R1","person":"c@x.example"`),
			},
			want: []TeamDay{
				{Team: "nyc", Day: march(7), Events: 4, RequestsOpened: 3, RequestsResponded: 1, Contributors: 2},
				// Fri 21:30Z -> Mon 13:15Z = 2d15h45m
				{Team: "nyc", Day: march(10), Events: 2, RequestsResponded: 1, ResponseTimeN: 1,
					ResponseTimeSSum: 2*86400 + 15*3600 + 45*60, Contributors: 2},
			},
		},
		{
			name: "duplicates ignored, same id in another source counted, bad messages ignored",
			msgs: []Message{
				ce(jira, "1", event.TaskCreated, "2025-03-03T09:00:00Z", `"team":"utc","task":"X"`),
				ce(jira, "1", event.TaskCreated, "2025-03-03T09:00:00Z", `"team":"utc","task":"X"`),
				ce(cu, "1", event.TaskCreated, "2025-03-03T10:00:00Z", `"team":"utc","task":"Y"`),
				ce(jira, "1", event.TaskStarted, "2025-03-03T11:00:00Z", `"team":"utc","task":"X","person":"a@x.example"`),
				func() Message {
					m := ce(jira, "9", event.TaskCreated, "2025-03-03T09:00:00Z", `"team":"utc","task":"Z","mood":"happy"`)
					m.Bad = BadUnknownField
					return m
				}(),
			},
			want: []TeamDay{
				{Team: "utc", Day: march(3), Events: 2, TasksCreated: 2},
			},
		},
		{
			name: "time zone day boundary: local day of the start, not UTC",
			msgs: []Message{
				// 22:00-00:30 local, logged after local midnight: counts on 03-03
				ce(tg, "1", event.TimeLogged, "2025-03-04T00:35:00-03:00",
					`"team":"sao","person":"Ana@X.example","start":"2025-03-03T22:00:00-03:00","end":"2025-03-04T00:30:00-03:00","category":"focus"`),
				// 03-03T23:30Z is 20:30 local on 03-03
				ce(tg, "2", event.TimeLogged, "2025-03-04T00:20:00Z",
					`"team":"sao","person":"ana@x.example","start":"2025-03-03T23:30:00Z","end":"2025-03-04T00:15:00Z","category":"meeting"`),
				ce(jira, "3", event.TaskCreated, "2025-03-04T02:00:00Z", `"team":"sao","task":"T","person":" ANA@x.example"`),
				// 03-04T03:00Z is local midnight of 03-04
				ce(tg, "4", event.TimeLogged, "2025-03-04T03:31:00Z",
					`"team":"sao","person":"b@x.example","start":"2025-03-04T03:00:00Z","end":"2025-03-04T03:30:00Z","category":"support"`),
				ce(tg, "5", event.TimeLogged, "2025-03-04T04:00:00Z",
					`"team":"sao","person":"b@x.example","start":"2025-03-04T03:30:00Z","end":"2025-03-04T03:40:00Z","category":"other","task":"T"`),
			},
			want: []TeamDay{
				{Team: "sao", Day: march(3), Events: 3, TasksCreated: 1, FocusS: 9000, MeetingS: 2700, Contributors: 1},
				{Team: "sao", Day: march(4), Events: 2, SupportS: 1800, OtherS: 600, Contributors: 1},
			},
		},
		{
			name: "negative lead time is none, blocked events counted",
			msgs: []Message{
				ce(jira, "1", event.TaskStarted, "2025-03-03T09:00:00Z", `"team":"utc","task":"N","person":"a@x.example"`),
				ce(jira, "2", event.TaskBlocked, "2025-03-03T09:30:00Z", `"team":"utc","task":"N"`),
				ce(jira, "3", event.TaskUnblocked, "2025-03-03T09:40:00Z", `"team":"utc","task":"N"`),
				ce(jira, "4", event.TaskBlocked, "2025-03-03T09:45:00Z", `"team":"utc","task":"N"`),
				ce(jira, "5", event.TaskCompleted, "2025-03-03T10:00:00Z", `"team":"utc","task":"N","person":"a@x.example"`),
				ce(jira, "6", event.TaskCreated, "2025-03-03T11:00:00Z", `"team":"utc","task":"N","due":"2025-03-03T09:00:00Z"`),
				ce(jira, "7", event.TaskCancelled, "2025-03-04T11:00:00Z", `"team":"utc","task":"W"`),
			},
			want: []TeamDay{
				{Team: "utc", Day: march(3), Events: 6, TasksCreated: 1, TasksStarted: 1, TasksCompleted: 1, TasksBlocked: 2,
					CycleTimeN: 1, CycleTimeSSum: 3600, CompletedWithDue: 1, Contributors: 1},
				{Team: "utc", Day: march(4), Events: 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Expect(tc.msgs, fixtureZone)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Expect:\n%s\nwant:\n%s", rowsString(got), rowsString(tc.want))
			}
		})
	}
}

func rowsString(rows []TeamDay) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %s %s %+v\n", r.Team, calendar.DayTime(r.Day).Format(time.DateOnly), r)
	}
	return b.String()
}

func TestExpectOnGeneratedStream(t *testing.T) {
	org, msgs := defaultStream()
	rows := Expect(msgs, org.Location)
	size := map[string]int64{}
	for _, tm := range org.Teams {
		size[tm.ID] = int64(tm.Size)
	}
	distinct := map[string]bool{}
	for _, w := range defaultParsed() {
		distinct[w.Source+"\x00"+w.ID] = true
	}
	var sum TeamDay
	for i, r := range rows {
		if i > 0 && (rows[i-1].Team > r.Team || rows[i-1].Team == r.Team && rows[i-1].Day >= r.Day) {
			t.Fatalf("rows not sorted at %d", i)
		}
		if r.Events == 0 || r.Contributors > size[r.Team] || r.CompletedOnTime > r.CompletedWithDue ||
			r.CompletedWithDue > r.TasksCompleted || r.LeadTimeN > r.TasksCompleted || r.ResponseTimeN > r.RequestsResponded {
			t.Fatalf("implausible row %+v", r)
		}
		sum.Events += r.Events
		sum.TasksCompleted += r.TasksCompleted
		sum.CompletedWithDue += r.CompletedWithDue
		sum.CompletedOnTime += r.CompletedOnTime
		sum.ResponseTimeN += r.ResponseTimeN
		sum.TasksReopened += r.TasksReopened
		sum.FocusS += r.FocusS
	}
	t.Logf("%d team-days; totals %+v", len(rows), sum)
	if sum.Events != int64(len(distinct)) {
		t.Errorf("events = %d, want %d distinct valid events", sum.Events, len(distinct))
	}
	if sum.TasksCompleted < 1000 || sum.CompletedOnTime == 0 || sum.CompletedOnTime == sum.CompletedWithDue ||
		sum.ResponseTimeN < 5000 || sum.TasksReopened == 0 || sum.FocusS == 0 {
		t.Errorf("totals lack variety: %+v", sum)
	}

	// Publish order must not matter (beyond which duplicate comes first,
	// and duplicates are identical).
	reversed := slices.Clone(msgs)
	slices.Reverse(reversed)
	if !slices.Equal(Expect(reversed, org.Location), rows) {
		t.Error("Expect depends on message order")
	}
}
