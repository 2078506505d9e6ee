package ingest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
)

// dtEmail is what the fuzz invariant calls an email address.
var dtEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// FuzzDecode checks, for any input: Decode and DeadLetter do not panic; an
// accepted event satisfies the contract's invariants and the JSON Schema,
// and its identifier fields hold no person identifier; a refused one
// leaves nothing in *ev and has a known reason and a Detail without an
// address; the dead-letter copy is small JSON holding no email of the
// input.
//
//	go test ./ingest -run XXX -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		fx := dtFixtures(f, dir)
		for _, name := range dtSortedKeys(fx) {
			f.Add(fx[name])
		}
	}
	for _, m := range dtBenchMessages(20) {
		f.Add(m)
	}
	f.Add([]byte(`{'person':'alice.smith@acme.example','user':"U12345"}`))
	f.Add([]byte(`{"a":"x\u0040y.example","b":[1,-0.5e+3,true,null,{}]}`))

	zones := map[string]*time.Location{"team-orca": time.FixedZone("X", 13*3600)}
	d := NewDecoder(dtPseudonymizer(f), func(team string) *time.Location { return zones[team] }, 4096)
	d.SetTeams(func(team string) bool { return team != dtUnlistedTeam })
	sch := dtCompileSchema(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		ev := event.Event{Partition: 7, Offset: 9}
		rej := d.Decode(msg, &ev)
		if rej == nil {
			dtCheckAccepted(t, &ev)
			loc, day := zones[ev.Team], ev.Time
			if loc == nil {
				loc = time.UTC
			}
			if ev.Type == event.TimeLogged {
				day = ev.Start
			}
			if want := calendar.DayOf(day, loc); ev.Day != want {
				t.Errorf("Day = %d, want event.DayOf = %d", ev.Day, want)
			}
			if err := dtValidate(sch, msg); err != nil {
				t.Errorf("Decode accepted an event the schema refuses: %v\n%q", err, msg)
			}
		} else {
			if !slices.Contains(Reasons, rej.Reason) {
				t.Errorf("unknown reason %q", rej.Reason)
			}
			if rej.Detail == "" || strings.Contains(rej.Detail, "@") {
				t.Errorf("Detail is empty or holds an address: %q", rej.Detail)
			}
			if ev != (event.Event{Partition: 7, Offset: 9}) {
				t.Errorf("refused event left data in *ev: %+v", ev)
			}
		}
		if rej == nil {
			return
		}
		key, out := d.DeadLetter(msg, msg, rej)
		for _, e := range dtEmail.FindAll(msg, -1) {
			if bytes.Contains(out, e) || bytes.Contains(key, e) {
				t.Errorf("dead-letter copy contains input email %q:\nin:  %q\nout: %q", e, msg, out)
			}
		}
		if len(out) > MaxDeadLetterBytes || !json.Valid(out) {
			t.Errorf("dead-letter body is %d bytes, valid JSON %v", len(out), json.Valid(out))
		}
	})
}

func dtCheckAccepted(t *testing.T, ev *event.Event) {
	t.Helper()
	if ev.Team == "" || ev.ID == "" || ev.Source == "" {
		t.Errorf("accepted event without team, id or source: %+v", ev)
	}
	for _, v := range []string{ev.Team, ev.ID, ev.Source} {
		if kind, found := privacy.PersonIdentifierIn(v); found {
			t.Errorf("accepted event with %s in %q", kind, v)
		}
	}
	if ev.Task != "" && !privacy.IsKeyedID(ev.Task, privacy.TaskIDPrefix) || ev.Request != "" && !privacy.IsKeyedID(ev.Request, privacy.RequestIDPrefix) {
		t.Errorf("accepted event with a raw task or request id: %q, %q", ev.Task, ev.Request)
	}
	if ev.Entry != "" && !privacy.IsKeyedID(ev.Entry, privacy.EntryIDPrefix) {
		t.Errorf("accepted event with a raw time entry id: %q", ev.Entry)
	}
	if (ev.Type == event.TimeDeleted && ev.Entry == "") || (ev.Entry == "" && ev.Revision != 0) || ev.Revision < 0 ||
		(ev.Entry != "" && ev.Type != event.TimeLogged && ev.Type != event.TimeDeleted) {
		t.Errorf("accepted %s with entry %q and revision %d", ev.Type, ev.Entry, ev.Revision)
	}
	if ev.Person != "" && !privacy.IsPseudonym(ev.Person) {
		t.Errorf("accepted event with person %q that is not a pseudonym", ev.Person)
	}
	if !slices.Contains(event.Types, ev.Type) {
		t.Errorf("accepted event of type %q", ev.Type)
	}
	if ev.Time.Location() != time.UTC {
		t.Errorf("event time %v is not UTC", ev.Time)
	}
	if ev.Type == event.TimeLogged {
		if !ev.End.After(ev.Start) || ev.End.Sub(ev.Start) > maxTimeEntry {
			t.Errorf("accepted time entry %v .. %v", ev.Start, ev.End)
		}
	} else if !ev.Start.IsZero() || !ev.End.IsZero() || ev.Category != "" {
		t.Errorf("%s carries time-entry fields", ev.Type)
	}
	if ev.Partition != 7 || ev.Offset != 9 {
		t.Errorf("Decode changed Partition/Offset: %d/%d", ev.Partition, ev.Offset)
	}
	if ev.EstimateHours < 0 {
		t.Errorf("negative estimate %v", ev.EstimateHours)
	}
}
