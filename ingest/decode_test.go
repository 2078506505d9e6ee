package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/schema"
)

// Raw person identifiers used throughout the dtFixtures. Neither may ever
// appear in a Rejection.Detail or a dead-letter copy.
const (
	dtRawEmail  = "alice.smith@acme.example"
	dtRawUserID = "U12345"
)

func dtPseudonymizer(tb testing.TB) *privacy.Pseudonymizer {
	tb.Helper()
	p, err := privacy.NewPseudonymizer([]byte("ingest-decode-test-key-0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// dtUnlistedTeam is the one team the dtDecoder's teams file does not list.
const dtUnlistedTeam = "team-unlisted"

// dtDecoder is the fixtures' decoder: as with a teams file that lists
// every team but dtUnlistedTeam, whose events are refused as unknown_team.
func dtDecoder(tb testing.TB) *Decoder {
	d := NewDecoder(dtPseudonymizer(tb), nil, 0)
	d.SetTeams(func(team string) bool { return team != dtUnlistedTeam })
	return d
}

func dtTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// msg builds an event message with the given type and data (raw JSON),
// plus extra raw envelope members.
func dtMsg(typ, data string, extra ...string) []byte {
	s := `{"specversion":"1.0","id":"evt-1","source":"jira/acme","type":"` + typ + `","time":"2024-05-01T09:30:00Z"`
	for _, e := range extra {
		s += "," + e
	}
	if data != "" {
		s += `,"data":` + data
	}
	return []byte(s + "}")
}

// dtRetime replaces the envelope time msg puts in.
func dtRetime(m []byte, t string) []byte {
	return bytes.Replace(m, []byte(`"2024-05-01T09:30:00Z"`), []byte(`"`+t+`"`), 1)
}

func TestDecodeAccepts(t *testing.T) {
	p := dtPseudonymizer(t)
	alice, user := p.Pseudonym(dtRawEmail), p.Pseudonym(dtRawUserID)
	day := calendar.DateOf(2024, time.May, 1)
	base := func(typ string) event.Event {
		return event.Event{Source: "jira/acme", ID: "evt-1", Type: typ, Time: dtTime("2024-05-01T09:30:00Z"), Day: day, Team: "team-orca", Task: "ORCA-1"}
	}
	with := func(e event.Event, f func(*event.Event)) event.Event { f(&e); return e }
	tests := []struct {
		name string
		msg  []byte
		want event.Event
	}{
		{"task created minimal", dtMsg(event.TaskCreated, `{"team":"team-orca","task":"ORCA-1"}`), base(event.TaskCreated)},
		{"task created full with due timestamp",
			dtMsg(event.TaskCreated, `{"team":"team-orca","task":"ORCA-1","person":"`+dtRawEmail+`","due":"2024-05-31T17:00:00+02:00","estimate_hours":3.5,"kind":"feature"}`),
			with(base(event.TaskCreated), func(e *event.Event) {
				e.Person, e.DueAt, e.EstimateHours, e.HasEstimate, e.Kind = alice, dtTime("2024-05-31T15:00:00Z"), 3.5, true, "feature"
			})},
		{"task created due date and zero estimate",
			dtMsg(event.TaskCreated, `{"kind":"chore","estimate_hours":0,"due":"2000-01-01","task":"ORCA-1","team":"team-orca"}`),
			with(base(event.TaskCreated), func(e *event.Event) {
				e.DueDate, e.HasDueDate, e.HasEstimate, e.Kind = calendar.DateOf(2000, time.January, 1), true, true, "chore"
			})},
		{"task started", dtMsg(event.TaskStarted, `{"team":"team-orca","task":"ORCA-1","person":"`+dtRawUserID+`"}`),
			with(base(event.TaskStarted), func(e *event.Event) { e.Person = user })},
		{"task completed, person normalized before pseudonymizing",
			dtMsg(event.TaskCompleted, `{"team":"team-orca","task":"ORCA-1","person":" Alice.Smith@ACME.example"}`),
			with(base(event.TaskCompleted), func(e *event.Event) { e.Person = alice })},
		{"task blocked", dtMsg(event.TaskBlocked, `{"team":"team-orca","task":"ORCA-1"}`), base(event.TaskBlocked)},
		{"task unblocked", dtMsg(event.TaskUnblocked, `{"team":"team-orca","task":"ORCA-1"}`), base(event.TaskUnblocked)},
		{"task reopened", dtMsg(event.TaskReopened, `{"team":"team-orca","task":"ORCA-1"}`), base(event.TaskReopened)},
		{"task cancelled", dtMsg(event.TaskCancelled, `{"team":"team-orca","task":"ORCA-1"}`), base(event.TaskCancelled)},
		{"time logged, day of start",
			dtMsg(event.TimeLogged, `{"team":"team-orca","person":"`+dtRawEmail+`","start":"2024-04-30T23:00:00Z","end":"2024-05-01T01:00:00Z","category":"meeting","task":"ORCA-1"}`),
			with(base(event.TimeLogged), func(e *event.Event) {
				e.Person, e.Start, e.End, e.Category, e.Day = alice, dtTime("2024-04-30T23:00:00Z"), dtTime("2024-05-01T01:00:00Z"), "meeting", day-1
			})},
		{"time logged exactly 24h without task",
			dtMsg(event.TimeLogged, `{"team":"team-orca","person":"`+dtRawEmail+`","start":"2024-05-01T00:00:00Z","end":"2024-05-02T00:00:00Z","category":"other"}`),
			with(base(event.TimeLogged), func(e *event.Event) {
				e.Task, e.Person, e.Start, e.End, e.Category = "", alice, dtTime("2024-05-01T00:00:00Z"), dtTime("2024-05-02T00:00:00Z"), "other"
			})},
		{"time logged with entry and revision",
			dtMsg(event.TimeLogged, `{"team":"team-orca","person":"`+dtRawEmail+`","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"focus","entry":"99812","revision":1714555800123}`),
			with(base(event.TimeLogged), func(e *event.Event) {
				e.Task, e.Person, e.Start, e.End, e.Category = "", alice, dtTime("2024-05-01T09:00:00Z"), dtTime("2024-05-01T10:00:00Z"), "focus"
				e.Entry, e.Revision = "99812", 1714555800123
			})},
		{"time deleted, day of its time",
			dtMsg(event.TimeDeleted, `{"team":"team-orca","entry":"99812","revision":0}`),
			with(base(event.TimeDeleted), func(e *event.Event) { e.Task, e.Entry = "", "99812" })},
		{"time deleted, greatest revision",
			dtMsg(event.TimeDeleted, `{"revision":9223372036854775807,"entry":"a b/c","team":"team-orca"}`),
			with(base(event.TimeDeleted), func(e *event.Event) { e.Task, e.Entry, e.Revision = "", "a b/c", 1<<63-1 })},
		{"request opened", dtMsg(event.RequestOpened, `{"team":"team-orca","request":"PR-7","kind":"review","person":"`+dtRawEmail+`"}`),
			with(base(event.RequestOpened), func(e *event.Event) { e.Task, e.Request, e.Kind, e.Person = "", "PR-7", "review", alice })},
		{"request opened without person", dtMsg(event.RequestOpened, `{"team":"team-orca","request":"Q-1","kind":"handoff"}`),
			with(base(event.RequestOpened), func(e *event.Event) { e.Task, e.Request, e.Kind = "", "Q-1", "handoff" })},
		{"request responded", dtMsg(event.RequestResponded, `{"team":"team-orca","request":"PR-7","person":"`+dtRawUserID+`"}`),
			with(base(event.RequestResponded), func(e *event.Event) { e.Task, e.Request, e.Person = "", "PR-7", user })},
		{"optional envelope attributes",
			dtMsg(event.TaskBlocked, `{"team":"team-orca","task":"ORCA-1"}`, `"datacontenttype":"application/json"`, `"subject":"ORCA-1"`, `"dataschema":"https://example.com/s.json"`),
			base(event.TaskBlocked)},
		{"escapes, whitespace and key order",
			[]byte(" {\n\t\"data\" : {\"t\\u0061sk\":\"ORCA-\\u0031\",\"team\":\"team-orca\"},\r\n\"time\":\"2024-05-01T11:30:00.5+02:00\",\"type\":\"work.task.reopened\",\"source\":\"jira\\/acme\",\"id\":\"evt-1\",\"specversion\":\"1.0\"} \n"),
			with(base(event.TaskReopened), func(e *event.Event) { e.Time = dtTime("2024-05-01T09:30:00.5Z") })},
		{"unicode team and surrogate pair",
			dtMsg(event.TaskBlocked, `{"team":"équipe-海","task":"\ud83d\ude80 launch"}`),
			with(base(event.TaskBlocked), func(e *event.Event) { e.Team, e.Task = "équipe-海", "🚀 launch" })},
		{"lower-case t and z, fraction beyond nanoseconds",
			dtRetime(dtMsg(event.TaskBlocked, `{"team":"team-orca","task":"ORCA-1"}`), "2024-05-01t09:30:00.1234567891z"),
			with(base(event.TaskBlocked), func(e *event.Event) { e.Time = dtTime("2024-05-01T09:30:00.123456789Z") })},
		{"negative offset, leap day",
			dtRetime(dtMsg(event.TaskBlocked, `{"team":"team-orca","task":"ORCA-1"}`), "2024-02-29T23:30:00-01:30"),
			with(base(event.TaskBlocked), func(e *event.Event) {
				e.Time, e.Day = dtTime("2024-03-01T01:00:00Z"), calendar.DateOf(2024, time.March, 1)
			})},
	}

	d := NewDecoder(p, nil, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.Event{Partition: 3, Offset: 42, Task: "stale", HasEstimate: true}
			if r := d.Decode(tt.msg, &ev); r != nil {
				t.Fatalf("Decode refused a valid event: %v", r)
			}
			tt.want.Partition, tt.want.Offset = 3, 42
			// Task and request ids are stored keyed.
			tt.want.Task, tt.want.Request, tt.want.Entry = p.TaskID([]byte(tt.want.Task)), p.RequestID([]byte(tt.want.Request)), p.EntryID([]byte(tt.want.Entry))
			if !ev.Time.Equal(tt.want.Time) || !ev.Start.Equal(tt.want.Start) || !ev.End.Equal(tt.want.End) || !ev.DueAt.Equal(tt.want.DueAt) {
				t.Fatalf("times: got %v %v %v %v, want %v %v %v %v", ev.Time, ev.Start, ev.End, ev.DueAt, tt.want.Time, tt.want.Start, tt.want.End, tt.want.DueAt)
			}
			for _, tm := range []time.Time{ev.Time, ev.Start, ev.End, ev.DueAt} {
				if !tm.IsZero() && tm.Location() != time.UTC {
					t.Errorf("time %v is not in UTC", tm)
				}
			}
			ev.Time, ev.Start, ev.End, ev.DueAt = tt.want.Time, tt.want.Start, tt.want.End, tt.want.DueAt
			if ev != tt.want {
				t.Errorf("Decode:\n got %+v\nwant %+v", ev, tt.want)
			}
		})
	}
}

func TestDecodeDayUsesTeamZone(t *testing.T) {
	zones := map[string]*time.Location{
		"team-tokyo": time.FixedZone("JST", 9*3600),
		"team-sf":    time.FixedZone("PDT", -7*3600),
	}
	d := NewDecoder(dtPseudonymizer(t), func(team string) *time.Location { return zones[team] }, 0)
	may1 := calendar.DateOf(2024, time.May, 1)
	tests := []struct {
		name string
		msg  []byte
		want int32
	}{
		{"east of UTC rolls forward", dtMsg(event.TaskBlocked, `{"team":"team-tokyo","task":"T"}`), may1},
		{"late evening UTC is next day in Tokyo", bytes.Replace(dtMsg(event.TaskBlocked, `{"team":"team-tokyo","task":"T"}`), []byte("09:30:00Z"), []byte("20:00:00Z"), 1), may1 + 1},
		{"early morning UTC is previous day in SF", bytes.Replace(dtMsg(event.TaskBlocked, `{"team":"team-sf","task":"T"}`), []byte("09:30:00Z"), []byte("03:00:00Z"), 1), may1 - 1},
		{"unknown team falls back to UTC", bytes.Replace(dtMsg(event.TaskBlocked, `{"team":"team-x","task":"T"}`), []byte("09:30:00Z"), []byte("23:59:59Z"), 1), may1},
		{"time entry counts on the day of its start",
			dtMsg(event.TimeLogged, `{"team":"team-sf","person":"U1","start":"2024-05-02T06:00:00Z","end":"2024-05-02T08:00:00Z","category":"focus"}`), may1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev event.Event
			if r := d.Decode(tt.msg, &ev); r != nil {
				t.Fatal(r)
			}
			if ev.Day != tt.want {
				t.Errorf("Day = %v, want %v", calendar.DayTime(ev.Day), calendar.DayTime(tt.want))
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	task := func(data string, extra ...string) []byte { return dtMsg(event.TaskStarted, data, extra...) }
	created := func(data string) []byte { return dtMsg(event.TaskCreated, data) }
	entry := func(start, end string) []byte {
		return dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"`+start+`","end":"`+end+`","category":"focus"}`)
	}
	tests := []struct {
		name   string
		msg    []byte
		want   Reason
		detail string // substring the Detail must contain
	}{
		{"empty message", nil, ReasonMalformedJSON, "empty"},
		{"whitespace only", []byte(" \n"), ReasonMalformedJSON, "empty"},
		{"not an object", []byte(`"work.task.started"`), ReasonMalformedJSON, "not a JSON object"},
		{"batch mode array", []byte(`[{}]`), ReasonMalformedJSON, "batch"},
		{"byte order mark", append([]byte("\xef\xbb\xbf"), task(`{"team":"t","task":"x","person":"U1"}`)...), ReasonMalformedJSON, "byte order mark"},
		{"trailing comma", []byte(`{"id":"x",}`), ReasonMalformedJSON, "expected a quoted key"},
		{"truncated", task(`{"team":"t"`), ReasonMalformedJSON, "ends early"},
		{"trailing bytes", append(task(`{"team":"t","task":"x","person":"U1"}`), 'x'), ReasonMalformedJSON, "more after"},
		{"two objects", append(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`{}`)...), ReasonMalformedJSON, "more after"},
		{"duplicate envelope key", task(`{"team":"t","task":"x","person":"U1"}`, `"id":"evt-2"`), ReasonMalformedJSON, `"id" appears twice`},
		{"duplicate data key via escape", task(`{"team":"t","task":"x","person":"U1","te\u0061m":"u"}`), ReasonMalformedJSON, `"team" appears twice`},
		{"duplicate unknown key", task(`{"team":"t","task":"x","person":"U1"}`, `"x":1`, `"x":2`), ReasonMalformedJSON, "twice"},
		{"duplicate nested key", task(`{"team":"t","task":"x","person":"U1","m":{"a":1,"a":2}}`), ReasonMalformedJSON, "twice"},
		{"duplicate key outranks surveillance", task(`{"team":"t","task":"x","person":"U1","mouse":1,"mouse":2}`), ReasonMalformedJSON, "twice"},
		{"raw control character in string", task("{\"team\":\"t\x01\",\"task\":\"x\",\"person\":\"U1\"}"), ReasonMalformedJSON, "control character"},
		{"invalid escape", task(`{"team":"t\x","task":"x","person":"U1"}`), ReasonMalformedJSON, "escape"},
		{"invalid unicode escape", task(`{"team":"t\u12G4","task":"x","person":"U1"}`), ReasonMalformedJSON, "escape"},
		{"leading zero", task(`{"team":"t","task":"x","person":"U1"}`, `"n":01`), ReasonMalformedJSON, "expected ','"},
		{"bare word", task(`{"team":"t","task":"x","person":"U1"}`, `"n":nope`), ReasonMalformedJSON, "literal"},
		{"number without digits", task(`{"team":"t","task":"x","person":"U1"}`, `"n":-`), ReasonMalformedJSON, "number"},
		{"too deep", task(`{"team":"t","task":"x","person":"U1","n":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), ReasonMalformedJSON, "deeper"},

		{"surveillance type", dtMsg("work.screenshot.taken", `{"team":"t"}`), ReasonSurveillanceType, "monitoring"},
		{"surveillance type camelCase", dtMsg("com.acme.windowTitleChanged", `{"team":"t"}`), ReasonSurveillanceType, "monitoring"},
		{"surveillance type outranks surveillance field", dtMsg("work.idle.detected", `{"team":"t","idle_seconds":3}`), ReasonSurveillanceType, ""},
		{"surveillance type outranks unknown field", dtMsg("work.mouse.moved", `{"team":"t"}`, `"extra":1`), ReasonSurveillanceType, ""},

		{"surveillance field in data", task(`{"team":"t","task":"x","person":"U1","window_title":"x"}`), ReasonSurveillanceField, "data.window_title"},
		{"surveillance field in envelope", task(`{"team":"t","task":"x","person":"U1"}`, `"location":"x"`), ReasonSurveillanceField, "location"},
		{"surveillance field nested in object", task(`{"team":"t","task":"x","person":"U1","meta":{"client":{"ip":"x"}}}`), ReasonSurveillanceField, "data.meta.client.ip"},
		{"surveillance field inside array", task(`{"team":"t","task":"x","person":"U1","log":[1,{"urls":[]}]}`), ReasonSurveillanceField, "data.log[].urls"},
		{"surveillance field under a contract name", task(`{"team":"t","task":{"screenshot":"x"},"person":"U1"}`), ReasonSurveillanceField, "data.task.screenshot"},
		{"surveillance field outranks unknown type", dtMsg("work.task.assigned", `{"team":"t","keystrokes":5}`), ReasonSurveillanceField, ""},
		{"surveillance field outranks missing", dtMsg(event.TimeLogged, `{"team":"t","afk_minutes":5}`), ReasonSurveillanceField, "afk"},
		{"surveillance key name is escaped", task(`{"team":"t","task":"x","person":"U1","\u0067ps":1}`), ReasonSurveillanceField, "gps"},
		{"surveillance path hides identifier-like keys", task(`{"team":"t","task":"x","person":"U1","by_user":{"U12345":{"idle":1}}}`), ReasonSurveillanceField, "(a key not shown).idle"},

		{"unknown type", dtMsg("work.task.assigned", `{"team":"t","task":"x"}`), ReasonUnknownType, "work.task.assigned"},
		{"unknown type wrong case", dtMsg("Work.Task.Created", `{"team":"t","task":"x"}`), ReasonUnknownType, ""},
		{"empty type", dtMsg("", `{"team":"t"}`), ReasonUnknownType, ""},
		{"unknown type outranks unknown field", dtMsg("x.y", `{"team":"t"}`, `"traceparent":"x"`), ReasonUnknownType, ""},
		{"unknown type outranks missing", []byte(`{"type":"x.y"}`), ReasonUnknownType, ""},
		{"unknown type with identifier is not echoed", dtMsg(dtRawEmail, `{"team":"t"}`), ReasonUnknownType, "(a key not shown)"},

		{"unknown envelope attribute", task(`{"team":"t","task":"x","person":"U1"}`, `"traceparent":"x"`), ReasonUnknownField, "traceparent"},
		{"unknown data field", task(`{"team":"t","task":"x","person":"U1","priority":"high"}`), ReasonUnknownField, "data.priority"},
		{"field of another type", task(`{"team":"t","task":"x","person":"U1","category":"focus"}`), ReasonUnknownField, "data.category"},
		{"data field at envelope level", task(`{"team":"t","task":"x","person":"U1"}`, `"team":"t"`), ReasonUnknownField, "team"},
		{"unknown field outranks missing", dtMsg(event.TimeLogged, `{"team":"t","note":"x"}`), ReasonUnknownField, ""},
		{"unknown field with missing type", []byte(`{"x":1}`), ReasonUnknownField, ""},
		{"unknown field name with digits is not echoed", task(`{"team":"t","task":"x","person":"U1","U12345":3}`), ReasonUnknownField, "(a key not shown)"},

		{"missing data", dtMsg(event.TaskStarted, ""), ReasonMissingField, "data"},
		{"missing id and time", []byte(`{"specversion":"1.0","source":"s","type":"work.task.blocked","data":{"team":"t","task":"x"}}`), ReasonMissingField, "id, time"},
		{"missing type", []byte(`{"specversion":"1.0","id":"i","source":"s","time":"2024-05-01T09:30:00Z","data":{}}`), ReasonMissingField, "type"},
		{"missing team", task(`{"task":"x","person":"U1"}`), ReasonMissingField, "data.team"},
		{"missing person on started", task(`{"team":"t","task":"x"}`), ReasonMissingField, "data.person"},
		{"missing request kind", dtMsg(event.RequestOpened, `{"team":"t","request":"r"}`), ReasonMissingField, "data.kind"},
		{"entry without revision", dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"focus","entry":"7"}`), ReasonMissingField, "data.entry without data.revision"},
		{"revision without entry", dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"focus","revision":2}`), ReasonMissingField, "data.revision without data.entry"},
		{"deleted without entry", dtMsg(event.TimeDeleted, `{"team":"t","revision":2}`), ReasonMissingField, "data.entry"},
		{"deleted without revision", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7"}`), ReasonMissingField, "data.revision"},
		{"deleted with the entry's fields", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":2,"person":"U1"}`), ReasonUnknownField, "data.person"},
		{"entry on a task event", task(`{"team":"t","task":"x","person":"U1","entry":"7","revision":1}`), ReasonUnknownField, "data.entry, data.revision"},
		{"missing outranks bad value", dtMsg(event.TimeLogged, `{"team":"","person":"U1","start":"x","category":"nope"}`), ReasonMissingField, "data.end"},

		{"specversion 0.3", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`"1.0"`), []byte(`"0.3"`), 1), ReasonBadValue, "specversion"},
		{"specversion number", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`"1.0"`), []byte(`1.0`), 1), ReasonBadValue, "specversion"},
		{"id number", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`"evt-1"`), []byte(`1`), 1), ReasonBadValue, "id is a number"},
		{"empty source", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`"jira/acme"`), []byte(`""`), 1), ReasonBadValue, "source is empty"},
		{"type not a string", []byte(`{"specversion":"1.0","id":"i","source":"s","type":7,"time":"2024-05-01T09:30:00Z","data":{}}`), ReasonBadValue, "type is a number"},
		{"time number", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`"2024-05-01T09:30:00Z"`), []byte(`1714555800`), 1), ReasonBadValue, "time is a number"},
		{"datacontenttype other", task(`{"team":"t","task":"x","person":"U1"}`, `"datacontenttype":"application/xml"`), ReasonBadValue, "datacontenttype"},
		{"subject not a string", task(`{"team":"t","task":"x","person":"U1"}`, `"subject":{}`), ReasonBadValue, "subject"},
		{"dataschema not a string", task(`{"team":"t","task":"x","person":"U1"}`, `"dataschema":1`), ReasonBadValue, "dataschema"},
		{"data string", dtMsg(event.TaskStarted, `"x"`), ReasonBadValue, "data is a string"},
		{"data array", dtMsg(event.TaskStarted, `[]`), ReasonBadValue, "data is an array"},
		{"data null", dtMsg(event.TaskStarted, `null`), ReasonBadValue, "data is null"},
		{"empty team", task(`{"team":"","task":"x","person":"U1"}`), ReasonBadValue, "data.team is empty"},
		{"blank team", task(`{"team":" \u00a0 ","task":"x","person":"U1"}`), ReasonBadValue, "data.team is blank"},
		{"team too long", task(`{"team":"` + strings.Repeat("t", event.MaxTeamLen+1) + `","task":"x","person":"U1"}`), ReasonBadValue, "longer than 128 bytes"},
		{"team multibyte too long", task(`{"team":"` + strings.Repeat("é", event.MaxTeamLen/2+1) + `","task":"x","person":"U1"}`), ReasonBadValue, "longer than 128 bytes"},
		{"team number", task(`{"team":5,"task":"x","person":"U1"}`), ReasonBadValue, "data.team is a number"},
		{"task too long", task(`{"team":"t","task":"` + strings.Repeat("x", event.MaxIdentifierLen+1) + `","person":"U1"}`), ReasonBadValue, "data.task is longer than 256"},
		{"task escaped control", task(`{"team":"t","task":"a\nb","person":"U1"}`), ReasonBadValue, "control character"},
		{"task DEL", task(`{"team":"t","task":"a\u007fb","person":"U1"}`), ReasonBadValue, "control character"},
		{"task C1 control", task(`{"team":"t","task":"a\u0085b","person":"U1"}`), ReasonBadValue, "control character"},
		{"task invalid UTF-8", task("{\"team\":\"t\",\"task\":\"a\xc3(\",\"person\":\"U1\"}"), ReasonBadValue, "not valid UTF-8"},
		{"task lone surrogate", task(`{"team":"t","task":"a\ud800b","person":"U1"}`), ReasonBadValue, "surrogate"},
		{"person null", task(`{"team":"t","task":"x","person":null}`), ReasonBadValue, "data.person is null"},
		{"person number", task(`{"team":"t","task":"x","person":12345}`), ReasonBadValue, "data.person is a number"},
		{"person empty", task(`{"team":"t","task":"x","person":""}`), ReasonBadValue, "data.person is empty"},
		{"person too long", task(`{"team":"t","task":"x","person":"` + strings.Repeat("a", 300) + `@acme.example"}`), ReasonBadValue, "data.person is longer"},
		{"request empty", dtMsg(event.RequestResponded, `{"team":"t","request":"","person":"U1"}`), ReasonBadValue, "data.request is empty"},
		{"negative estimate", dtMsg(event.TaskCreated, `{"team":"t","task":"x","estimate_hours":-0.5}`), ReasonBadValue, "negative"},
		{"estimate string", dtMsg(event.TaskCreated, `{"team":"t","task":"x","estimate_hours":"3"}`), ReasonBadValue, "estimate_hours is a string"},
		{"estimate overflow", dtMsg(event.TaskCreated, `{"team":"t","task":"x","estimate_hours":1e999}`), ReasonBadValue, "out of range"},
		{"task kind not allowed", dtMsg(event.TaskCreated, `{"team":"t","task":"x","kind":"review"}`), ReasonBadValue, "data.kind"},
		{"task kind wrong case", dtMsg(event.TaskCreated, `{"team":"t","task":"x","kind":"Bug"}`), ReasonBadValue, "feature, bug, chore, other"},
		{"request kind not allowed", dtMsg(event.RequestOpened, `{"team":"t","request":"r","kind":"bug"}`), ReasonBadValue, "review, question, handoff"},
		{"category not allowed", dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"lunch"}`), ReasonBadValue, "data.category"},
		{"revision negative", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":-1}`), ReasonBadValue, "data.revision is not a whole number"},
		{"revision fraction", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":1.5}`), ReasonBadValue, "data.revision is not a whole number"},
		{"revision exponent", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":1e3}`), ReasonBadValue, "data.revision is not a whole number"},
		{"revision too large", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":9223372036854775808}`), ReasonBadValue, "larger than 2^63-1"},
		{"revision string", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":"3"}`), ReasonBadValue, "data.revision is a string"},
		{"revision null", dtMsg(event.TimeDeleted, `{"team":"t","entry":"7","revision":null}`), ReasonBadValue, "data.revision is null"},
		{"entry empty", dtMsg(event.TimeDeleted, `{"team":"t","entry":"","revision":1}`), ReasonBadValue, "data.entry is empty"},
		{"entry number", dtMsg(event.TimeDeleted, `{"team":"t","entry":7,"revision":1}`), ReasonBadValue, "data.entry is a number"},
		{"category before entry in field order", dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"x","entry":"","revision":-1}`), ReasonBadValue, "data.category"},
		{"due number", dtMsg(event.TaskCreated, `{"team":"t","task":"x","due":20240531}`), ReasonBadValue, "data.due is a number"},
		{"time entry over 24h", entry("2024-05-01T00:00:00Z", "2024-05-02T00:00:00.000001Z"), ReasonBadValue, "longer than 24 hours"},
		{"bad value outranks bad time in field order", dtMsg(event.TimeLogged, `{"team":"","person":"U1","start":"x","end":"y","category":"focus"}`), ReasonBadValue, "data.team"},
		{"bad value outranks end before start", dtMsg(event.TimeLogged, `{"team":"t","person":"U1","start":"2024-05-01T10:00:00Z","end":"2024-05-01T09:00:00Z","category":"x"}`), ReasonBadValue, "data.category"},

		{"time with space", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`T09:30:00Z`), []byte(` 09:30:00Z`), 1), ReasonBadTime, "time is not an RFC 3339"},
		{"time without zone", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`09:30:00`), 1), ReasonBadTime, "time"},
		{"time date only", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01T09:30:00Z`), []byte(`2024-05-01`), 1), ReasonBadTime, "time"},
		{"time leap second", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01T09:30:00Z`), []byte(`2016-12-31T23:59:60Z`), 1), ReasonBadTime, "time"},
		{"time hour 24", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`24:00:00Z`), 1), ReasonBadTime, "time"},
		{"time february 29 non leap year", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01`), []byte(`2023-02-29`), 1), ReasonBadTime, "time"},
		{"time empty fraction", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`09:30:00.Z`), 1), ReasonBadTime, "time"},
		{"time offset without colon", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`09:30:00+0200`), 1), ReasonBadTime, "time"},
		{"time offset hour 24", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`09:30:00+24:00`), 1), ReasonBadTime, "time"},
		{"time signed digits", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`09:30:00Z`), []byte(`09:+3:00Z`), 1), ReasonBadTime, "time"},
		{"time zero", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01T09:30:00Z`), []byte(`0001-01-01T00:00:00Z`), 1), ReasonBadTime, "time is before 2000-01-01"},
		{"time 1900", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01T09:30:00Z`), []byte(`1900-01-01T00:00:00Z`), 1), ReasonBadTime, "too early to be real"},
		{"time 9999", bytes.Replace(task(`{"team":"t","task":"x","person":"U1"}`), []byte(`2024-05-01T09:30:00Z`), []byte(`9999-12-31T23:59:59Z`), 1), ReasonBadTime, "time is more than 24h0m0s in the future"},
		{"due zero", created(`{"team":"t","task":"x","person":"U1","due":"0001-01-01"}`), ReasonBadTime, "data.due is before 2000-01-01"},
		{"time entry in 1970", entry("1970-01-01T09:00:00Z", "1970-01-01T10:00:00Z"), ReasonBadTime, "data.start is before 2000-01-01"},
		{"due far ahead", created(`{"team":"t","task":"x","person":"U1","due":"2999-01-01T00:00:00Z"}`), ReasonBadTime, "data.due is more than"},
		{"due bad date", dtMsg(event.TaskCreated, `{"team":"t","task":"x","due":"2024-13-01"}`), ReasonBadTime, "data.due"},
		{"due european", dtMsg(event.TaskCreated, `{"team":"t","task":"x","due":"31.05.2024"}`), ReasonBadTime, "data.due"},
		{"due timestamp without zone", dtMsg(event.TaskCreated, `{"team":"t","task":"x","due":"2024-05-31T17:00:00"}`), ReasonBadTime, "data.due"},
		{"start not a timestamp", entry("2024-05-01", "2024-05-01T10:00:00Z"), ReasonBadTime, "data.start"},
		{"end not a timestamp", entry("2024-05-01T09:00:00Z", "10:00"), ReasonBadTime, "data.end"},

		{"end before start", entry("2024-05-01T10:00:00Z", "2024-05-01T09:00:00Z"), ReasonEndBeforeStart, "data.end is not after data.start"},
		{"end equals start across zones", entry("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"), ReasonEndBeforeStart, ""},
	}
	d := dtDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.Event{Partition: 1, Offset: 2}
			r := d.Decode(tt.msg, &ev)
			if r == nil {
				t.Fatalf("Decode accepted %q", tt.msg)
			}
			if r.Reason != tt.want {
				t.Fatalf("Reason = %s, want %s (detail: %s)", r.Reason, tt.want, r.Detail)
			}
			if !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("Detail %q does not contain %q", r.Detail, tt.detail)
			}
			if strings.Contains(r.Detail, dtRawEmail) || strings.Contains(r.Detail, dtRawUserID) {
				t.Errorf("Detail contains a raw person identifier: %q", r.Detail)
			}
			if !strings.Contains(r.Error(), string(tt.want)) {
				t.Errorf("Error() = %q does not name the reason", r.Error())
			}
			if ev != (event.Event{Partition: 1, Offset: 2}) {
				t.Errorf("refused event left data in *ev: %+v", ev)
			}
		})
	}
}

// TestDecodeRefusesIdentifiersInFields: a value that looks like a person
// identifier in id, source, subject, team, task or request is refused as
// identifier_in_field, naming the field and never the value; ids that only
// look busy (URLs, keys, UUIDs, numbers, Slack timestamps) are accepted.
func TestDecodeRefusesIdentifiersInFields(t *testing.T) {
	const email = "dave.smith@acme.example"
	task := func(data string, extra ...string) []byte { return dtMsg(event.TaskBlocked, data, extra...) }
	envelope := func(attr, value string) []byte {
		m := task(`{"team":"team-orca","task":"ORCA-1"}`)
		switch attr {
		case "id":
			return bytes.Replace(m, []byte(`"id":"evt-1"`), []byte(`"id":"`+value+`"`), 1)
		case "source":
			return bytes.Replace(m, []byte(`"source":"jira/acme"`), []byte(`"source":"`+value+`"`), 1)
		}
		return task(`{"team":"team-orca","task":"ORCA-1"}`, `"subject":"`+value+`"`)
	}
	request := func(id string) []byte {
		return dtMsg(event.RequestOpened, `{"team":"team-orca","request":"`+id+`","kind":"review"}`)
	}
	refused := []struct {
		name, field string
		msg         []byte
	}{
		{"team named like a person", "data.team", task(`{"team":"` + email + `","task":"ORCA-1"}`)},
		{"team handle", "data.team", task(`{"team":"@dave","task":"ORCA-1"}`)},
		{"e-mail inside a task id", "data.task", task(`{"team":"team-orca","task":"ORCA-` + email + `"}`)},
		{"escaped e-mail in a task id", "data.task", task(`{"team":"team-orca","task":"dave.smith\u0040acme.example"}`)},
		{"phone number as a task id", "data.task", task(`{"team":"team-orca","task":"+49 151 12345678"}`)},
		{"e-mail in a request id", "data.request", request("review/" + email)},
		{"handle in a request id", "data.request", request("PR-7 @dave")},
		{"e-mail in an event id", "id", envelope("id", email+"-42")},
		{"e-mail in a source path", "source", envelope("source", "https://jira.acme.example/people/"+email)},
		{"userinfo in a source URL", "source", envelope("source", "https://dave@github.com/acme/orca")},
		{"mailto source", "source", envelope("source", "mailto:"+email)},
		{"percent-encoded e-mail in a source", "source", envelope("source", "https://x.example/dave%40acme.example")},
		{"e-mail subject", "subject", envelope("subject", email)},
		{"phone subject", "subject", envelope("subject", "tel:+14155550100")},
		{"e-mail in a time entry id", "data.entry", dtMsg(event.TimeDeleted, `{"team":"team-orca","entry":"`+email+`/7","revision":1}`)},
	}
	d := dtDecoder(t)
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.Event{Partition: 1, Offset: 2}
			r := d.Decode(tt.msg, &ev)
			if r == nil || r.Reason != ReasonIdentifierInField {
				t.Fatalf("Decode = %v, want %s", r, ReasonIdentifierInField)
			}
			if r.Field != tt.field || !strings.HasPrefix(r.Detail, tt.field+" ") {
				t.Errorf("Field %q, Detail %q: want both to name %s", r.Field, r.Detail, tt.field)
			}
			for _, leak := range []string{"dave", "acme.example", "4915", "555"} {
				if strings.Contains(r.Detail, leak) {
					t.Errorf("Detail holds part of the value (%q): %s", leak, r.Detail)
				}
			}
			if ev != (event.Event{Partition: 1, Offset: 2}) {
				t.Errorf("refused event left data in *ev: %+v", ev)
			}
		})
	}
	accepted := []struct {
		name string
		msg  []byte
	}{
		{"Jira key", task(`{"team":"team-orca","task":"PROJ-123"}`)},
		{"issue number", task(`{"team":"team-orca","task":"#123"}`)},
		{"numeric task id", task(`{"team":"team-orca","task":"4155550100123"}`)},
		{"UUID task id", task(`{"team":"team-orca","task":"8c7f3a52-0d64-4b8e-9a37-2f1f7c1b9e10"}`)},
		{"GitHub pull request", request("acme/orca/pull/77")},
		{"Slack thread", request("C07ABCD/1712345678.100001")},
		{"https source", envelope("source", "https://github.com/acme/orca")},
		{"source with port and path", envelope("source", "https://jira.acme.example:8443/rest/api/2/issue/ORCA-101")},
		{"urn source", envelope("source", "urn:uuid:8c7f3a52-0d64-4b8e-9a37-2f1f7c1b9e10")},
		{"UUID event id", envelope("id", "8c7f3a52-0d64-4b8e-9a37-2f1f7c1b9e10")},
		{"object id", envelope("id", "66000000000065f0a1001eef")},
		{"version in a subject", envelope("subject", "lib@1.2.3")},
		{"team with a plus", task(`{"team":"c++","task":"ORCA-1"}`)},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			var ev event.Event
			if r := d.Decode(tt.msg, &ev); r != nil {
				t.Fatalf("Decode refused an id that identifies no one: %v", r)
			}
		})
	}
}

// TestDecodeUnmappedIdentity: an event the intake marked shoalunmapped
// (a person its people file does not list, sent without the person) is
// refused as unmapped_identity on data.person, before the missing person
// or an unlisted team would be, and its dead-letter copy shows neither a
// person nor the marker's value.
func TestDecodeUnmappedIdentity(t *testing.T) {
	d := dtDecoder(t)
	withMark := func(msg []byte, v string) []byte {
		return bytes.Replace(msg, []byte(`"data":`), []byte(`"shoalunmapped":`+v+`,"data":`), 1)
	}
	for name, msg := range map[string][]byte{
		"intake's, without a person":       withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"gh-issue-1"}`), "true"),
		"time entry without a person":      withMark(dtMsg(event.TimeLogged, `{"team":"team-orca","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:00:00Z","category":"focus"}`), "true"),
		"of a team the file does not list": withMark(dtMsg(event.TaskStarted, `{"team":"`+dtUnlistedTeam+`","task":"gh-issue-1"}`), "true"),
		"with a raw person all the same":   withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"gh-issue-1","person":"`+dtRawEmail+`"}`), "true"),
	} {
		t.Run(name, func(t *testing.T) {
			ev := event.Event{Partition: 3, Offset: 4}
			r := d.Decode(msg, &ev)
			if r == nil || r.Reason != ReasonUnmappedIdentity || r.Field != "data.person" {
				t.Fatalf("Decode = %+v, want %s on data.person", r, ReasonUnmappedIdentity)
			}
			if ev != (event.Event{Partition: 3, Offset: 4}) {
				t.Errorf("refused event left data in *ev: %+v", ev)
			}
			_, body := d.DeadLetter([]byte("team-orca"), msg, r)
			if bytes.Contains(body, []byte(dtRawEmail)) || bytes.Contains(body, []byte("gh-issue-1")) || !bytes.Contains(body, []byte(`"shoal_reason":"unmapped_identity"`)) {
				t.Errorf("dead letter %s", body)
			}
		})
	}
	for msg, want := range map[string]Reason{
		string(withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"T-1","person":"U12345"}`), "false")): ReasonBadValue,
		string(withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"T-1","person":"U12345"}`), `"yes"`)): ReasonBadValue,
		string(withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"T-1"}`), "false")):                   ReasonMissingField,
		string(withMark(dtMsg(event.TaskStarted, `{"team":"team-orca","task":"T-1","assignee":"dave"}`), "true")):  ReasonUnknownField,
		string(withMark(dtMsg("work.screenshot.taken", `{"team":"team-orca"}`), "true")):                           ReasonSurveillanceType,
	} {
		var ev event.Event
		if r := d.Decode([]byte(msg), &ev); r == nil || r.Reason != want {
			t.Errorf("Decode(%s) = %v, want %s", msg, r, want)
		}
	}
}

// TestDecodeUnknownTeam: with SetTeams an event of a team the file does
// not list is refused as unknown_team, only once it is otherwise valid;
// without it every team is accepted.
func TestDecodeUnknownTeam(t *testing.T) {
	listed := map[string]bool{"team-orca": true}
	d := dtDecoder(t)
	d.SetTeams(func(team string) bool { return listed[team] })
	ok := dtMsg(event.TaskBlocked, `{"team":"team-orca","task":"ORCA-1"}`)
	ghost := dtMsg(event.TaskBlocked, `{"team":"ghosts","task":"ORCA-1"}`)
	var ev event.Event
	if r := d.Decode(ok, &ev); r != nil {
		t.Fatalf("listed team refused: %v", r)
	}
	ev = event.Event{Partition: 1, Offset: 2}
	r := d.Decode(ghost, &ev)
	if r == nil || r.Reason != ReasonUnknownTeam || r.Field != "data.team" {
		t.Fatalf("unlisted team: %+v, want %s on data.team", r, ReasonUnknownTeam)
	}
	if strings.Contains(r.Detail, "ghosts") {
		t.Errorf("Detail names the team: %s", r.Detail)
	}
	if ev != (event.Event{Partition: 1, Offset: 2}) {
		t.Errorf("refused event left data in *ev: %+v", ev)
	}
	// Every other problem outranks it; an identifier in team is named as such.
	for msg, want := range map[string]Reason{
		string(dtMsg(event.TaskBlocked, `{"team":"ghosts","task":""}`)):                         ReasonBadValue,
		string(dtRetime(ghost, "1999-01-01T00:00:00Z")):                                         ReasonBadTime,
		string(dtMsg(event.TaskBlocked, `{"team":"ghosts@acme.example","task":"ORCA-1"}`)):      ReasonIdentifierInField,
		string(dtMsg(event.TaskBlocked, `{"team":"ghosts","task":"ORCA-1","assignee":"dave"}`)): ReasonUnknownField,
	} {
		if r := d.Decode([]byte(msg), &ev); r == nil || r.Reason != want {
			t.Errorf("Decode(%s) = %v, want %s", msg, r, want)
		}
	}
	if r := NewDecoder(dtPseudonymizer(t), nil, 0).Decode(ghost, &ev); r != nil {
		t.Errorf("without SetTeams an unlisted team is refused: %v", r)
	}
}

func TestDecodeTooLarge(t *testing.T) {
	m := dtMsg(event.TaskBlocked, `{"team":"t","task":"x"}`)
	tests := []struct {
		name string
		max  int
		msg  []byte
		want Reason
	}{
		{"at the limit", len(m), m, ""},
		{"one byte over", len(m) - 1, m, ReasonTooLarge},
		{"size checked before syntax", 4, []byte(`{{{{{`), ReasonTooLarge},
		{"default limit", 0, append(m, bytes.Repeat([]byte(" "), event.DefaultMaxEventSz)...), ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(dtPseudonymizer(t), nil, tt.max)
			var ev event.Event
			r := d.Decode(tt.msg, &ev)
			switch {
			case tt.want == "" && r != nil:
				t.Fatalf("refused: %v", r)
			case tt.want != "" && (r == nil || r.Reason != tt.want):
				t.Fatalf("got %v, want %s", r, tt.want)
			}
		})
	}
}

func TestDecodeContractNamesAreNotSurveillance(t *testing.T) {
	names := append(envNames[:], dataNames[:]...)
	names = append(names, event.Types...)
	for _, n := range names {
		if term, bad := privacy.IsSurveillanceName(n); bad {
			t.Errorf("contract name %q matches surveillance term %q; the decoder's fast path skips the check for contract names", n, term)
		}
	}
}

func TestDecodeReasonsAreComplete(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		if seen[r] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[r] = true
		if _, err := os.Stat(filepath.Join("testdata", "invalid", string(r))); err != nil {
			t.Errorf("reason %s has no dtFixtures: add testdata/invalid/%s/*.json", r, r)
		}
	}
	dirs, err := os.ReadDir(filepath.Join("testdata", "invalid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !seen[Reason(d.Name())] {
			t.Errorf("testdata/invalid/%s is not a Reason", d.Name())
		}
	}
}

func TestDecodeConcurrent(t *testing.T) {
	d := dtDecoder(t)
	msgs := dtBenchMessages(200)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ev event.Event
			for i := range 2000 {
				m := msgs[(i+g*7)%len(msgs)]
				if r := d.Decode(m, &ev); r != nil {
					t.Errorf("refused %s: %v", m, r)
					return
				}
				if ev.Person != "" && !privacy.IsPseudonym(ev.Person) {
					t.Errorf("person %q is not a pseudonym", ev.Person)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecodeAllocations(t *testing.T) {
	d := dtDecoder(t)
	m := dtMsg(event.TimeLogged, `{"team":"team-orca","person":"`+dtRawEmail+`","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:30:00Z","category":"focus","task":"ORCA-101"}`)
	var ev event.Event
	allocs := testing.AllocsPerRun(200, func() {
		if r := d.Decode(m, &ev); r != nil {
			t.Fatal(r)
		}
	})
	// One for the event's strings (id, source, team, task share a buffer),
	// one for the raw person string looked up in the pseudonym cache. More
	// means something regressed to a slow path.
	if allocs > 2 {
		t.Errorf("Decode of a time entry allocates %v times, want at most 2", allocs)
	}
}

// dtFixtures returns the message files under testdata/dir, by relative path.
func dtFixtures(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	root := filepath.Join("testdata", dir)
	err := filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("no dtFixtures in %s", root)
	}
	return out
}

func dtSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dtCompileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Events))
	if err != nil {
		tb.Fatalf("schema/events.schema.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://github.com/shoal-analytics/shoal/schema/events.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		tb.Fatalf("compile schema/events.schema.json: %v", err)
	}
	return s
}

func dtValidate(s *jsonschema.Schema, msg []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// dtSchemaBlind lists invalid dtFixtures the JSON Schema cannot refuse, and why:
// the decoder is authoritative for these rules.
var dtSchemaBlind = map[string]string{
	"malformed_json/duplicate_key.json":      "JSON parsers keep the last duplicate",
	"bad_value/invalid_utf8_team.json":       "JSON parsers replace invalid UTF-8 with U+FFFD",
	"bad_value/time_entry_over_24h.json":     "the schema cannot compare two fields",
	"end_before_start/end_before_start.json": "the schema cannot compare two fields",
	"end_before_start/zero_length.json":      "the schema cannot compare two fields",
	"unknown_team/team_not_in_file.json":     "the teams file is configuration, not contract",
}

// dtSchemaBlindDirs lists reasons whose every fixture the JSON Schema
// cannot refuse, and why.
var dtSchemaBlindDirs = map[string]string{
	"identifier_in_field/": "the schema cannot tell an e-mail, a handle or a phone number inside an id from an id",
}

func TestSchemaValidFixtures(t *testing.T) {
	s := dtCompileSchema(t)
	d := dtDecoder(t)
	valid := dtFixtures(t, "valid")
	types := map[string]bool{}
	for _, name := range dtSortedKeys(valid) {
		b := valid[name]
		t.Run(name, func(t *testing.T) {
			var ev event.Event
			if r := d.Decode(b, &ev); r != nil {
				t.Errorf("Decode refused a valid fixture: %v", r)
			}
			types[ev.Type] = true
			if err := dtValidate(s, b); err != nil {
				t.Errorf("schema refused a valid fixture: %v", err)
			}
		})
	}
	for _, typ := range event.Types {
		if !types[typ] {
			t.Errorf("no valid fixture of type %s: add one to testdata/valid", typ)
		}
	}
}

func TestSchemaInvalidFixtures(t *testing.T) {
	s := dtCompileSchema(t)
	d := dtDecoder(t)
	invalid := dtFixtures(t, "invalid")
	withIDs := map[Reason]bool{}
	for _, name := range dtSortedKeys(invalid) {
		b := invalid[name]
		want := Reason(strings.SplitN(name, "/", 2)[0])
		t.Run(name, func(t *testing.T) {
			var ev event.Event
			r := d.Decode(b, &ev)
			if r == nil {
				t.Fatalf("Decode accepted an invalid fixture")
			}
			if r.Reason != want {
				t.Errorf("Reason = %s, want %s (detail: %s)", r.Reason, want, r.Detail)
			}
			if strings.Contains(r.Detail, dtRawEmail) || strings.Contains(r.Detail, dtRawUserID) {
				t.Errorf("Detail contains a raw person identifier: %q", r.Detail)
			}
			if bytes.Contains(b, []byte(dtRawEmail)) || bytes.Contains(b, []byte(dtRawUserID)) {
				withIDs[want] = true
			}
			_, blind := dtSchemaBlind[name]
			for dir := range dtSchemaBlindDirs {
				blind = blind || strings.HasPrefix(name, dir)
			}
			err := dtValidate(s, b)
			switch {
			case err == nil && !blind:
				t.Errorf("the schema accepts a fixture the decoder refuses as %s; tighten schema/events.schema.json or list the fixture in dtSchemaBlind with why", r.Reason)
			case err != nil && blind && json.Valid(b):
				t.Errorf("fixture is listed in dtSchemaBlind but the schema refuses it: %v", err)
			}
		})
	}
	for _, r := range Reasons {
		if !withIDs[r] {
			t.Errorf("no fixture for %s contains the raw person ids %q / %q", r, dtRawEmail, dtRawUserID)
		}
	}
}

// TestSchemaAgreesWithDecoder walks schema/events.schema.json and checks it
// describes exactly the decoder's contract: envelope attributes, the set of
// types, each type's data fields, required fields and enums, and limits.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(schema.Events, &root); err != nil {
		t.Fatal(err)
	}
	obj := func(v any, what string) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("schema: %s is not an object", what)
		}
		return m
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }
	defs := obj(root["$defs"], "$defs")
	deref := func(v any, what string) map[string]any {
		m := obj(v, what)
		if ref, ok := m["$ref"].(string); ok {
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			if !ok {
				t.Fatalf("schema: %s: unexpected $ref %s", what, ref)
			}
			return obj(defs[name], ref)
		}
		return m
	}

	if root["additionalProperties"] != false {
		t.Error("schema: envelope must have additionalProperties false")
	}
	props := obj(root["properties"], "properties")
	if got, want := keys(props), sorted(envNames[:]); !slices.Equal(got, want) {
		t.Errorf("schema envelope properties %v, decoder %v", got, want)
	}
	var wantReq []string
	for s := range nEnv {
		if envRequired&(1<<s) != 0 {
			wantReq = append(wantReq, envNames[s])
		}
	}
	if got := sorted(strs(root["required"])); !slices.Equal(got, sorted(wantReq)) {
		t.Errorf("schema envelope required %v, decoder %v", got, sorted(wantReq))
	}
	if got := strs(obj(props["type"], "type")["enum"]); !slices.Equal(got, event.Types) {
		t.Errorf("schema type enum %v, event.Types %v", got, event.Types)
	}
	if got := obj(props["specversion"], "specversion")["const"]; got != event.SpecVersion {
		t.Errorf("schema specversion %v, want %s", got, event.SpecVersion)
	}
	if got := defs["identifier"].(map[string]any)["maxLength"]; got != float64(event.MaxIdentifierLen) {
		t.Errorf("schema identifier maxLength %v, want %d", got, event.MaxIdentifierLen)
	}
	if got := defs["team"].(map[string]any)["maxLength"]; got != float64(event.MaxTeamLen) {
		t.Errorf("schema team maxLength %v, want %d", got, event.MaxTeamLen)
	}

	branches := root["oneOf"].([]any)
	seen := map[string]bool{}
	for i, br := range branches {
		bp := obj(obj(br, "oneOf branch")["properties"], "oneOf branch properties")
		typ, _ := obj(bp["type"], "branch type")["const"].(string)
		t.Run(typ, func(t *testing.T) {
			if seen[typ] {
				t.Fatalf("oneOf[%d]: type %q described twice", i, typ)
			}
			seen[typ] = true
			idx := typeIndex([]byte(typ))
			if idx < 0 {
				t.Fatalf("oneOf[%d]: the decoder does not accept type %q", i, typ)
			}
			spec := typeSpecs[idx]
			data := deref(bp["data"], typ+" data")
			if data["additionalProperties"] != false {
				t.Errorf("data of %s must have additionalProperties false", typ)
			}
			fields := obj(data["properties"], typ+" data properties")
			var allowed, required uint16
			for name := range fields {
				f := dataSlot([]byte(name))
				if f < 0 {
					t.Errorf("schema field data.%s is not a decoder field", name)
					continue
				}
				allowed |= 1 << f
			}
			for _, name := range strs(data["required"]) {
				required |= 1 << dataSlot([]byte(name))
			}
			if allowed != spec.allowed {
				t.Errorf("fields: schema %s, decoder %s", fieldList(allowed, ""), fieldList(spec.allowed, ""))
			}
			if required != spec.required {
				t.Errorf("required: schema %s, decoder %s", fieldList(required, ""), fieldList(spec.required, ""))
			}
			if k, ok := fields["kind"]; ok {
				if got := strs(deref(k, "kind")["enum"]); !slices.Equal(got, spec.kinds) {
					t.Errorf("kind enum: schema %v, decoder %v", got, spec.kinds)
				}
			}
			if c, ok := fields["category"]; ok {
				if got := strs(deref(c, "category")["enum"]); !slices.Equal(got, event.Categories) {
					t.Errorf("category enum: schema %v, event.Categories %v", got, event.Categories)
				}
			}
			if e, ok := fields["estimate_hours"]; ok {
				if m := deref(e, "estimate_hours"); m["type"] != "number" || m["minimum"] != float64(0) {
					t.Errorf("estimate_hours must be a number with minimum 0, got %v", m)
				}
			}
		})
	}
	for _, typ := range event.Types {
		if !seen[typ] {
			t.Errorf("schema has no oneOf branch for %s", typ)
		}
	}
}

// TestSchemaDocsMatchContract checks docs/events.md names every type, data
// field and reason, so the integrator guide cannot fall behind the decoder.
func TestSchemaDocsMatchContract(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Reasons {
		if !bytes.Contains(doc, []byte("| `"+string(r)+"` |")) {
			t.Errorf("docs/events.md has no reasons-table row for %s", r)
		}
	}
	for _, spec := range typeSpecs {
		if !bytes.Contains(doc, []byte("### `"+spec.name+"`")) {
			t.Errorf("docs/events.md has no section for %s", spec.name)
		}
	}
	for _, n := range dataNames {
		if !bytes.Contains(doc, []byte("`"+n+"`")) {
			t.Errorf("docs/events.md never mentions data field %s", n)
		}
	}
	if !bytes.Contains(doc, []byte(fmt.Sprint(event.DefaultMaxEventSz))) && !bytes.Contains(doc, []byte("64 KiB")) {
		t.Error("docs/events.md does not state the maximum event size")
	}
}

// dtBenchMessages returns n realistic events (~300 bytes) in a production-like
// mix: mostly task lifecycle, then time entries, then requests.
func dtBenchMessages(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		team := fmt.Sprintf("team-%02d", i%40)
		person := fmt.Sprintf("person%03d@acme-industries.example", i%300)
		id := fmt.Sprintf("0f8fad5b-d9cb-469f-a165-%012d", i)
		src := "https://jira.acme-industries.example/projects/CORE"
		var typ, data string
		switch i % 20 {
		case 0, 1, 2:
			typ = event.TaskCreated
			data = fmt.Sprintf(`{"team":"%s","task":"CORE-%d","person":"%s","due":"2024-06-%02dT17:00:00+02:00","estimate_hours":%d.5,"kind":"feature"}`, team, 1000+i, person, 1+i%28, i%8)
		case 3, 4, 5:
			typ = event.TaskStarted
			data = fmt.Sprintf(`{"team":"%s","task":"CORE-%d","person":"%s"}`, team, 1000+i, person)
		case 6, 7, 8:
			typ = event.TaskCompleted
			data = fmt.Sprintf(`{"team":"%s","task":"CORE-%d","person":"%s"}`, team, 1000+i, person)
		case 9:
			typ = event.TaskBlocked
			data = fmt.Sprintf(`{"team":"%s","task":"CORE-%d"}`, team, 1000+i)
		case 10:
			typ = event.TaskUnblocked
			data = fmt.Sprintf(`{"team":"%s","task":"CORE-%d"}`, team, 1000+i)
		case 11, 12, 13, 14, 15:
			typ = event.TimeLogged
			src = "https://api.track.toggl.example/workspaces/4242"
			data = fmt.Sprintf(`{"team":"%s","person":"%s","start":"2024-05-%02dT09:00:00Z","end":"2024-05-%02dT10:45:00Z","category":"%s","task":"CORE-%d"}`, team, person, 1+i%28, 1+i%28, event.Categories[i%len(event.Categories)], 1000+i)
		case 16, 17:
			typ = event.RequestOpened
			src = "https://github.com/acme-industries/core"
			data = fmt.Sprintf(`{"team":"%s","request":"PR-%d","kind":"review","person":"%s"}`, team, 500+i, person)
		default:
			typ = event.RequestResponded
			src = "https://github.com/acme-industries/core"
			data = fmt.Sprintf(`{"team":"%s","request":"PR-%d","person":"%s"}`, team, 500+i, person)
		}
		out[i] = fmt.Appendf(nil, `{"specversion":"1.0","id":"%s","source":"%s","type":"%s","time":"2024-05-%02dT%02d:%02d:17.123Z","datacontenttype":"application/json","data":%s}`,
			id, src, typ, 1+i%28, 8+i%10, i%60, data)
	}
	return out
}

// BenchmarkDecode decodes a realistic mix of ~300-byte events on one
// goroutine; BenchmarkDecodeParallel on GOMAXPROCS goroutines, as the
// consumer does. Run with -benchmem; ns/op is ns/event.
func BenchmarkDecode(b *testing.B) {
	msgs := dtBenchMessages(4096)
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	d := dtDecoder(b)
	var ev event.Event
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := d.Decode(msgs[i%len(msgs)], &ev); r != nil {
			b.Fatal(r)
		}
	}
}

func BenchmarkDecodeParallel(b *testing.B) {
	msgs := dtBenchMessages(4096)
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	d := dtDecoder(b)
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ev event.Event
		i := 0
		for pb.Next() {
			if r := d.Decode(msgs[i%len(msgs)], &ev); r != nil {
				b.Error(r)
				return
			}
			i++
		}
	})
}

func TestDecodeCalendarMatchesTimePackage(t *testing.T) {
	for day := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 10000; day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		if got, want := daysFromCivil(y, int(m), d), int64(calendar.DateOf(y, m, d)); got != want {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, d, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	d := dtDecoder(t)
	// Every year is plausible here: this checks the calendar, not the window.
	d.SetTimeWindow(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), 0, func() time.Time { return time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC) })
	for range 100_000 {
		// Any instant in years 0000-9999, any offset up to ±23:59.
		tm := time.Unix(rng.Int64N(253402300800+62167219200)-62167219200, rng.Int64N(1e9)).UTC()
		off := (rng.IntN(2*24*60-1) - (24*60 - 1)) * 60
		if rng.IntN(4) == 0 {
			off = 0
		}
		s := tm.In(time.FixedZone("", off)).Format(time.RFC3339Nano)
		got, ok := parseTimestamp([]byte(s))
		if !ok || !got.Equal(tm) || got.Location() != time.UTC {
			t.Fatalf("parseTimestamp(%s) = %v, %v; want %v", s, got, ok, tm)
		}
		want := calendar.DayOf(tm, time.UTC)
		var ev event.Event
		m := dtRetime(dtMsg(event.TaskBlocked, `{"team":"t","task":"x"}`), s)
		if r := d.Decode(m, &ev); r != nil {
			t.Fatalf("%s: %v", s, r)
		}
		if ev.Day != want {
			t.Fatalf("Day of %s = %d, want %d", s, ev.Day, want)
		}
	}
}
