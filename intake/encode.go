package intake

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// PseudonymizedAttr is the CloudEvents extension attribute the intake sets
// (to true) on every event whose data.person it has already replaced by
// the person's pseudonym: ingest keeps such a value as it is, when it has
// the shape of a pseudonym (docs/events.md, "Person fields and pseudonyms").
const PseudonymizedAttr = "shoalpseudonymized"

// UnmappedAttr is the CloudEvents extension attribute the intake sets (to
// true) on an activity whose person the people file does not list, with
// unmapped: refuse: the event goes to the topic without data.person, and
// ingest refuses it as unmapped_identity, so that the refusal is counted
// in data quality like every other (docs/events.md, "Reasons").
const UnmappedAttr = "shoalunmapped"

// fields a contract type may carry in data besides team (docs/events.md);
// an Activity's other fields are not encoded for that type (default deny).
var typeFields = map[string][]string{
	event.TaskCreated:      {"task", "person", "due", "estimate_hours", "kind"},
	event.TaskStarted:      {"task", "person"},
	event.TaskCompleted:    {"task", "person"},
	event.TaskBlocked:      {"task"},
	event.TaskUnblocked:    {"task"},
	event.TaskReopened:     {"task"},
	event.TaskCancelled:    {"task"},
	event.TimeLogged:       {"person", "start", "end", "category", "task", "entry", "revision"},
	event.RequestOpened:    {"request", "kind", "person"},
	event.RequestResponded: {"request", "person"},
	// No person, ever: the entry it deletes already named one.
	event.TimeDeleted: {"entry", "revision"},
}

// requiredFields are those a type cannot be sent without.
var requiredFields = map[string][]string{
	event.TaskCreated:      {"task"},
	event.TaskStarted:      {"task", "person"},
	event.TaskCompleted:    {"task", "person"},
	event.TaskBlocked:      {"task"},
	event.TaskUnblocked:    {"task"},
	event.TaskReopened:     {"task"},
	event.TaskCancelled:    {"task"},
	event.TimeLogged:       {"person", "start", "end", "category"},
	event.RequestOpened:    {"request", "kind"},
	event.RequestResponded: {"request", "person"},
	event.TimeDeleted:      {"entry", "revision"},
}

// envelope is a contract event in its order (docs/events.md).
type envelope struct {
	SpecVersion  string    `json:"specversion"`
	ID           string    `json:"id"`
	Source       string    `json:"source"`
	Type         string    `json:"type"`
	Time         string    `json:"time"`
	Pseudonymous bool      `json:"shoalpseudonymized,omitempty"`
	Unmapped     bool      `json:"shoalunmapped,omitempty"`
	Data         eventData `json:"data"`
}

type eventData struct {
	Team          string   `json:"team,omitempty"`
	Task          string   `json:"task,omitempty"`
	Request       string   `json:"request,omitempty"`
	Person        string   `json:"person,omitempty"`
	Due           string   `json:"due,omitempty"`
	EstimateHours *float64 `json:"estimate_hours,omitempty"`
	Kind          string   `json:"kind,omitempty"`
	Start         string   `json:"start,omitempty"`
	End           string   `json:"end,omitempty"`
	Category      string   `json:"category,omitempty"`
	Entry         string   `json:"entry,omitempty"`
	Revision      *int64   `json:"revision,omitempty"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// encode renders a as the contract's structured CloudEvents JSON with the
// given source attribute, team and person pseudonym ("" = no person). Only
// the fields a's type may carry are written; a type outside the contract
// or a missing required field is an error (the source's mapping is wrong).
func encode(a Activity, source, team, pseudonym string) ([]byte, error) {
	return encodeAs(a, source, team, pseudonym, false)
}

// encodeUnmapped renders a as encode does but without a person and marked
// UnmappedAttr: the event ingest refuses as unmapped_identity. Its fields
// are not required (ingest refuses it before it would look for them; the
// team is "" when the scope has none), but no field may identify a person.
func encodeUnmapped(a Activity, source, team string) ([]byte, error) {
	return encodeAs(a, source, team, "", true)
}

func encodeAs(a Activity, source, team, pseudonym string, unmapped bool) ([]byte, error) {
	allowed, ok := typeFields[a.Type]
	if !ok {
		return nil, fmt.Errorf("type %q is not one of the contract's types", a.Type)
	}
	has := func(f string) bool { return slices.Contains(allowed, f) }
	d := eventData{Team: team}
	if has("task") {
		d.Task = a.Task
	}
	if has("request") {
		d.Request = a.Request
	}
	if has("person") {
		d.Person = pseudonym
	}
	if has("due") {
		if !a.DueAt.IsZero() {
			d.Due = stamp(a.DueAt)
		} else {
			d.Due = a.DueDate
		}
	}
	if has("estimate_hours") && a.EstimateHours != nil && *a.EstimateHours >= 0 {
		d.EstimateHours = a.EstimateHours
	}
	if has("kind") {
		d.Kind = a.Kind
	}
	if has("start") && !a.Start.IsZero() {
		d.Start = stamp(a.Start)
	}
	if has("end") && !a.End.IsZero() {
		d.End = stamp(a.End)
	}
	if has("category") {
		d.Category = a.Category
	}
	if has("entry") {
		d.Entry = a.Entry
	}
	if has("revision") && a.HasRevision {
		r := a.Revision
		d.Revision = &r
	}
	if (d.Entry == "") != (d.Revision == nil) {
		return nil, fmt.Errorf("%s has data.entry or data.revision without the other; they go together", a.Type)
	}
	if d.Revision != nil && *d.Revision < 0 {
		return nil, fmt.Errorf("%s has a negative data.revision", a.Type)
	}
	required := requiredFields[a.Type]
	if unmapped {
		required = nil
	}
	for _, f := range required {
		missing := false
		switch f {
		case "task":
			missing = d.Task == ""
		case "request":
			missing = d.Request == ""
		case "person":
			missing = d.Person == ""
		case "kind":
			missing = d.Kind == ""
		case "start":
			missing = d.Start == ""
		case "end":
			missing = d.End == ""
		case "category":
			missing = d.Category == ""
		case "entry":
			missing = d.Entry == ""
		case "revision":
			missing = d.Revision == nil
		}
		if missing {
			return nil, fmt.Errorf("%s needs data.%s", a.Type, f)
		}
	}
	if a.ID == "" || a.Time.IsZero() {
		return nil, fmt.Errorf("%s has no id or time", a.Type)
	}
	// Only data.person may identify a person, and it is a pseudonym here:
	// no other field may carry one into the topic.
	for _, f := range []struct{ name, v string }{{"id", a.ID}, {"source", source}, {"data.team", team}, {"data.task", d.Task}, {"data.request", d.Request}, {"data.entry", d.Entry}} {
		if kind, found := privacy.PersonIdentifierIn(f.v); found {
			return nil, fmt.Errorf("%w: %s holds what looks like %s; only the person may identify a person", ErrMalformed, f.name, kind)
		}
	}
	return json.Marshal(envelope{
		SpecVersion:  event.SpecVersion,
		ID:           a.ID,
		Source:       source,
		Type:         a.Type,
		Time:         stamp(a.Time),
		Pseudonymous: d.Person != "",
		Unmapped:     unmapped,
		Data:         d,
	})
}
