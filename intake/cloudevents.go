package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// CloudEventsName is the CloudEvents endpoint's name (/intake/cloudevents).
const CloudEventsName = "cloudevents"

// MaxBatchEvents bounds the events of one CloudEvents batch.
const MaxBatchEvents = 1000

// CloudEvents is the endpoint for producers that already speak Shoal's
// event contract (docs/events.md), over the CloudEvents HTTP binding:
// structured (Content-Type application/cloudevents+json), binary (ce-*
// headers, the data as an application/json body) and batch
// (application/cloudevents-batch+json). It authenticates with the sources
// file's secret as a bearer token (Authorization: Bearer <secret>).
//
// Events are read strictly, as ingest would: an attribute or data field
// the contract does not define (extensions included), a type outside the
// contract or a field of another type is refused (400), since the intake
// forwards only what it parsed. The person goes through the same people
// file and pseudonymization as the webhooks' (identity kind "person": a
// canonical id or an e-mail); the team is the event's data.team (the
// sources file's scopes may rename it); the source attribute is the
// producer's. A time entry's data.entry and data.revision (together or not
// at all) are read and forwarded, and work.time.deleted is a type like the
// others: it carries team, entry and revision, and a data.person on it is
// refused as a field it does not have.
type CloudEvents struct{}

// Name is "cloudevents".
func (CloudEvents) Name() string { return CloudEventsName }

// Verify checks Authorization: Bearer <secret>.
func (CloudEvents) Verify(d Delivery, secret []byte) error {
	tok, ok := strings.CutPrefix(d.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = ""
	}
	return verifyToken(strings.TrimSpace(tok), secret)
}

var ceEnvelope = []string{"specversion", "id", "source", "type", "time", "datacontenttype", "subject", "dataschema", "data"}

// Map reads the delivery's events in whichever mode it uses.
func (CloudEvents) Map(d Delivery, _ SourceConfig) ([]Activity, error) {
	ct, _, _ := mime.ParseMediaType(d.Header.Get("Content-Type"))
	switch ct {
	case "application/cloudevents+json":
		var env map[string]json.RawMessage
		if err := strictObject(d.Body, &env, "the structured event"); err != nil {
			return nil, err
		}
		a, err := ceActivity(env, "the event")
		if err != nil {
			return nil, err
		}
		return []Activity{a}, nil
	case "application/cloudevents-batch+json":
		var batch []json.RawMessage
		if err := json.Unmarshal(d.Body, &batch); err != nil {
			return nil, fmt.Errorf("%w: the batch is not a JSON array of events", ErrMalformed)
		}
		if len(batch) > MaxBatchEvents {
			return nil, fmt.Errorf("%w: the batch has %d events; send at most %d per request", ErrMalformed, len(batch), MaxBatchEvents)
		}
		out := make([]Activity, 0, len(batch))
		for i, raw := range batch {
			what := fmt.Sprintf("event %d of the batch", i)
			var env map[string]json.RawMessage
			if err := strictObject(raw, &env, what); err != nil {
				return nil, err
			}
			a, err := ceActivity(env, what)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	// Binary mode: the attributes are ce-* headers.
	if d.Header.Get("Ce-Specversion") == "" {
		return nil, fmt.Errorf("%w: not a CloudEvent: send Content-Type application/cloudevents+json (structured), application/cloudevents-batch+json (batch), or ce-specversion, ce-id, ce-source, ce-type and ce-time headers with the data as application/json (binary)", ErrMalformed)
	}
	if ct != "" && ct != "application/json" {
		return nil, fmt.Errorf("%w: a binary-mode event's data must be application/json", ErrMalformed)
	}
	env := map[string]json.RawMessage{"data": d.Body}
	for k := range d.Header {
		name, ok := strings.CutPrefix(strings.ToLower(k), "ce-")
		if !ok {
			continue
		}
		if !slices.Contains(ceEnvelope, name) || name == "data" {
			return nil, fmt.Errorf("%w: header ce-%s is not an attribute of Shoal's contract; remove it (allowed: ce-specversion, ce-id, ce-source, ce-type, ce-time, ce-subject, ce-dataschema)", ErrMalformed, safeKey(name))
		}
		v, _ := json.Marshal(d.Header.Get(k))
		env[name] = v
	}
	if _, ok := env["datacontenttype"]; !ok && ct != "" {
		env["datacontenttype"], _ = json.Marshal(ct)
	}
	a, err := ceActivity(env, "the event")
	if err != nil {
		return nil, err
	}
	return []Activity{a}, nil
}

// strictObject decodes exactly one JSON object (its keys are checked by
// the caller).
func strictObject(b []byte, v *map[string]json.RawMessage, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil || *v == nil {
		return fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, what)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s has bytes after the object", ErrMalformed, what)
	}
	return nil
}

// safeKey shows a key in a message only when it is a plain name.
func safeKey(k string) string {
	if len(k) > 40 || strings.ContainsFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}) {
		return "(a key not shown)"
	}
	return k
}

func ceString(env map[string]json.RawMessage, key, what string) (string, error) {
	raw, ok := env[key]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %s is not a string", ErrMalformed, what, key)
	}
	return s, nil
}

func ceTime(s, key, what string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %s is not an RFC 3339 timestamp", ErrMalformed, what, key)
	}
	return t.UTC(), nil
}

// ceActivity reads one event's attributes and data strictly.
func ceActivity(env map[string]json.RawMessage, what string) (Activity, error) {
	var a Activity
	for k := range env {
		if !slices.Contains(ceEnvelope, k) {
			return a, fmt.Errorf("%w: %s: attribute %s is not part of Shoal's contract; remove it (docs/events.md)", ErrMalformed, what, safeKey(k))
		}
	}
	str := map[string]string{}
	for _, k := range []string{"specversion", "id", "source", "type", "time", "datacontenttype"} {
		s, err := ceString(env, k, what)
		if err != nil {
			return a, err
		}
		str[k] = s
	}
	if str["specversion"] != event.SpecVersion {
		return a, fmt.Errorf("%w: %s: specversion must be \"1.0\"", ErrMalformed, what)
	}
	if ct := str["datacontenttype"]; ct != "" && ct != "application/json" {
		return a, fmt.Errorf("%w: %s: datacontenttype must be application/json", ErrMalformed, what)
	}
	allowed, ok := typeFields[str["type"]]
	if !ok {
		return a, fmt.Errorf("%w: %s: type is not one of Shoal's event types (%s)", ErrMalformed, what, strings.Join(event.Types, ", "))
	}
	if str["id"] == "" || str["source"] == "" || str["time"] == "" {
		return a, fmt.Errorf("%w: %s needs id, source and time", ErrMalformed, what)
	}
	var err error
	if a.Time, err = ceTime(str["time"], "time", what); err != nil {
		return a, err
	}
	a.ID, a.Source, a.Type = str["id"], str["source"], str["type"]
	var data map[string]json.RawMessage
	if err := strictObject(env["data"], &data, what+"'s data"); err != nil {
		return a, err
	}
	ds := map[string]string{}
	for k, raw := range data {
		if k != "team" && !slices.Contains(allowed, k) {
			return a, fmt.Errorf("%w: %s: data.%s is not a field of %s; remove it (allowed: team, %s)", ErrMalformed, what, safeKey(k), a.Type, strings.Join(allowed, ", "))
		}
		if k == "estimate_hours" {
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil || f < 0 {
				return a, fmt.Errorf("%w: %s: data.estimate_hours is not a number of hours", ErrMalformed, what)
			}
			a.EstimateHours = &f
			continue
		}
		if k == "revision" {
			// Plain digits, 0 to 2^63-1 (docs/events.md): no sign,
			// fraction or exponent.
			r, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || r < 0 || !isDigits(raw) {
				return a, fmt.Errorf("%w: %s: data.revision is not a whole number from 0 to 2^63-1", ErrMalformed, what)
			}
			a.Revision, a.HasRevision = r, true
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return a, fmt.Errorf("%w: %s: data.%s is not a string", ErrMalformed, what, k)
		}
		ds[k] = s
	}
	if ds["team"] == "" {
		return a, fmt.Errorf("%w: %s needs data.team", ErrMalformed, what)
	}
	a.Scope, a.Task, a.Request, a.Kind, a.Category, a.Entry = ds["team"], ds["task"], ds["request"], ds["kind"], ds["category"], ds["entry"]
	if (a.Entry == "") != !a.HasRevision {
		return a, fmt.Errorf("%w: %s: data.entry and data.revision go together; send both or neither", ErrMalformed, what)
	}
	if a.Type == event.TimeDeleted && a.Entry == "" {
		return a, fmt.Errorf("%w: %s: %s needs data.entry and data.revision", ErrMalformed, what, a.Type)
	}
	if p := ds["person"]; p != "" {
		a.Who = Identity{Kind: personKind, Value: p}
	}
	if due := ds["due"]; due != "" {
		if _, err := time.Parse(time.DateOnly, due); err == nil {
			a.DueDate = due
		} else if a.DueAt, err = ceTime(due, "data.due", what); err != nil {
			return a, err
		}
	}
	for _, f := range []struct {
		key string
		t   *time.Time
	}{{"start", &a.Start}, {"end", &a.End}} {
		if v := ds[f.key]; v != "" {
			if *f.t, err = ceTime(v, "data."+f.key, what); err != nil {
				return a, err
			}
		}
	}
	if a.Kind != "" && !slices.Contains(event.TaskKinds, a.Kind) && !slices.Contains(event.RequestKinds, a.Kind) {
		return a, fmt.Errorf("%w: %s: data.kind is not a kind of the contract", ErrMalformed, what)
	}
	if a.Category != "" && !slices.Contains(event.Categories, a.Category) {
		return a, fmt.Errorf("%w: %s: data.category is not a category of the contract", ErrMalformed, what)
	}
	return a, nil
}

// isDigits reports whether b is one or more ASCII digits.
func isDigits(b []byte) bool {
	return len(b) > 0 && !bytes.ContainsFunc(b, func(r rune) bool { return r < '0' || r > '9' })
}

// Builtin lists the sources this package implements, for the server.
func Builtin() []Source {
	return []Source{GitHub{}, GitLab{}, Jira{}, NewLinear(), NewClickUp(), NewToggl(), CloudEvents{}}
}

var _ http.Handler = (*Server)(nil)
