package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/event"
)

const togglTestSecret = "toggl-subscription-secret-7d1f"

func TestTogglVerify(t *testing.T) {
	t.Parallel()
	body := dialectFixture(t, "toggl", "time_entry_created.json")
	good := "sha256=" + dialectHMAC(togglTestSecret, body)
	cases := []struct {
		name, sig, secret string
		body              []byte
		ok                bool
	}{
		{"valid", good, togglTestSecret, body, true},
		{"missing", "", togglTestSecret, body, false},
		{"no sha256= prefix", dialectHMAC(togglTestSecret, body), togglTestSecret, body, false},
		{"other algorithm", "sha1=" + dialectHMAC(togglTestSecret, body), togglTestSecret, body, false},
		{"wrong secret", "sha256=" + dialectHMAC("guess", body), togglTestSecret, body, false},
		{"empty digest", "sha256=", togglTestSecret, body, false},
		{"tampered body", good, togglTestSecret, []byte(strings.Replace(string(body), `"duration": 5400`, `"duration": 54000`, 1)), false},
		{"no secret configured", "sha256=" + dialectHMAC("", body), "", body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if c.sig != "" {
				h.Set("X-Webhook-Signature-256", c.sig)
			}
			err := NewToggl().Verify(Delivery{Header: h, Body: c.body}, []byte(c.secret))
			if c.ok && err != nil {
				t.Fatalf("Verify: %v, want nil", err)
			}
			if !c.ok && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify: %v, want an error wrapping ErrBadSignature", err)
			}
		})
	}
}

func TestTogglHandshake(t *testing.T) {
	t.Parallel()
	hs, ok := NewToggl().(Handshaker)
	if !ok {
		t.Fatal("NewToggl() is not a Handshaker: the server could not answer Toggl's validation ping")
	}
	body := dialectFixture(t, "toggl", "ping_validation.json")
	h := http.Header{"X-Webhook-Signature-256": {"sha256=" + dialectHMAC(togglTestSecret, body)}}
	if err := NewToggl().Verify(Delivery{Header: h, Body: body}, []byte(togglTestSecret)); err != nil {
		t.Fatalf("the validation ping is signed like any event: Verify: %v", err)
	}
	answer, ok := hs.Handshake(Delivery{Header: h, Body: body})
	if !ok {
		t.Fatal("Handshake did not recognize the validation ping")
	}
	var got map[string]any
	if err := json.Unmarshal(answer, &got); err != nil {
		t.Fatalf("answer %s is not JSON: %v", answer, err)
	}
	if want := map[string]any{"validation_code": "c2b6e3b0f64c4d6f9a8e7d1b5c3a2f10"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("answer %v, want exactly %v", got, want)
	}
	if acts, err := NewToggl().Map(Delivery{Header: h, Body: body}, SourceConfig{}); err != nil || acts != nil {
		t.Fatalf("the validation ping mapped to %v, %v; want nothing", acts, err)
	}
	for _, name := range []string{"ping.json", "time_entry_created.json"} {
		if answer, ok := hs.Handshake(Delivery{Body: dialectFixture(t, "toggl", name)}); ok {
			t.Errorf("%s: Handshake answered %s; only a ping with a validation_code is a handshake", name, answer)
		}
	}
	if _, ok := hs.Handshake(Delivery{Body: []byte("not json")}); ok {
		t.Error("Handshake answered a body that is not JSON")
	}
}

func TestTogglMap(t *testing.T) {
	t.Parallel()
	at := func(s string) Activity { return Activity{Time: dialectTime(t, s)} }
	rev := map[string]int64{ // the entries' "at" in each fixture
		"3456789012": at("2024-05-01T10:30:05Z").Time.UnixMilli(),
		"3456789020": at("2024-05-01T13:45:00Z").Time.UnixMilli(),
	}
	entry := func(id, start, end, category string) Activity {
		r := rev[id]
		if end == "2024-05-01T10:45:00Z" { // the edit
			r = at("2024-05-02T08:00:00Z").Time.UnixMilli()
		}
		return Activity{
			ID: fmt.Sprintf("toggl:te:%s:%d", id, r), Type: event.TimeLogged, Time: at(end).Time, Who: Identity{"toggl", "9876543"},
			Scope: "4567890", Start: at(start).Time, End: at(end).Time, Category: category,
			Entry: id, Revision: r, HasRevision: true,
		}
	}
	deletedAt := at("2024-05-03T09:00:00Z").Time
	byProject := SourceConfig{DefaultCategory: "focus", Categories: map[string]string{"193838384": "meeting"}}
	byTag := SourceConfig{Categories: map[string]string{"deep work": "focus", "meeting": "meeting"}}
	cases := []struct {
		name, fixture string
		cfg           SourceConfig
		want          []Activity
	}{
		{"created, default other", "time_entry_created.json", SourceConfig{}, []Activity{entry("3456789012", "2024-05-01T09:00:00Z", "2024-05-01T10:30:00Z", "other")}},
		{"created, DefaultCategory", "time_entry_created.json", byProject, []Activity{entry("3456789012", "2024-05-01T09:00:00Z", "2024-05-01T10:30:00Z", "focus")}},
		{"created, by tag", "time_entry_created.json", byTag, []Activity{entry("3456789012", "2024-05-01T09:00:00Z", "2024-05-01T10:30:00Z", "focus")}},
		// An edit is a new revision of the same entry, under another id.
		{"updated", "time_entry_updated.json", byTag, []Activity{entry("3456789012", "2024-05-01T09:00:00Z", "2024-05-01T10:45:00Z", "focus")}},
		{"running", "time_entry_created_running.json", byProject, nil},
		{"stopped, by project", "time_entry_updated_stopped.json", byProject, []Activity{entry("3456789020", "2024-05-01T13:00:00Z", "2024-05-01T13:45:00Z", "meeting")}},
		{"deleted", "time_entry_deleted.json", byProject, []Activity{{
			ID: fmt.Sprintf("toggl:te:3456789012:%d:deleted", deletedAt.UnixMilli()), Type: event.TimeDeleted, Time: deletedAt,
			Who: Identity{"toggl", "9876543"}, Scope: "4567890", Entry: "3456789012", Revision: deletedAt.UnixMilli(), HasRevision: true,
		}}},
		{"ping", "ping.json", byProject, nil},
		{"validation ping", "ping_validation.json", byProject, nil},
		{"other entity", "project_created.json", byProject, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			body := dialectFixture(t, "toggl", c.fixture)
			h := http.Header{"X-Webhook-Signature-256": {"sha256=" + dialectHMAC(togglTestSecret, body)}}
			got, err := NewToggl().Map(Delivery{Header: h, Body: body}, c.cfg)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			dialectCheckActivities(t, got, body)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Map:\n got %+v\nwant %+v", got, c.want)
			}
			again, err := NewToggl().Map(Delivery{Header: h, Body: slices.Clone(body)}, c.cfg)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("retried delivery mapped to %+v, %v; first to %+v", again, err, got)
			}
		})
	}
}

func TestTogglMalformed(t *testing.T) {
	t.Parallel()
	edit := func(f func(te map[string]any)) string {
		var p map[string]any
		if err := json.Unmarshal(dialectFixture(t, "toggl", "time_entry_created.json"), &p); err != nil {
			t.Fatal(err)
		}
		f(p["payload"].(map[string]any))
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct{ name, body, want string }{
		{"not JSON", "<xml/>", "not a JSON webhook event"},
		{"no payload", `{"event_id":1,"metadata":{"model":"time_entry","action":"created"}}`, "no payload"},
		{"payload not an entry", `{"metadata":{"model":"time_entry","action":"created"},"payload":[1,2]}`, "not a time entry"},
		{"no id", edit(func(te map[string]any) { delete(te, "id") }), "payload.id"},
		{"no user", edit(func(te map[string]any) { delete(te, "user_id") }), "payload.user_id"},
		{"bad start", edit(func(te map[string]any) { te["start"] = "2024-05-01 09:00" }), "payload.start (RFC 3339)"},
		{"no duration", edit(func(te map[string]any) { delete(te, "duration") }), "payload.duration"},
		{"bad stop", edit(func(te map[string]any) { te["stop"] = "later" }), "stop that is not RFC 3339"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewToggl().Map(Delivery{Header: http.Header{}, Body: []byte(c.body)}, SourceConfig{})
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Map: %v, want ErrMalformed saying %q", err, c.want)
			}
		})
	}
}

// FuzzDialectsMap feeds the Linear, ClickUp and Toggl decoders arbitrary
// bodies (seeded with every fixture): Map never panics, its errors wrap
// ErrMalformed, and what it maps holds only contract types.
func FuzzDialectsMap(f *testing.F) {
	for _, source := range []string{"linear", "clickup", "toggl"} {
		names, err := filepath.Glob(filepath.Join("testdata", source, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	cfg := SourceConfig{
		States:     map[string]string{"blocked": event.TaskBlocked},
		Kinds:      map[string]string{"bug": "bug"},
		Categories: map[string]string{"deep work": "focus"},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range []Source{NewLinear(), NewClickUp(), NewToggl()} {
			acts, err := s.Map(Delivery{Header: http.Header{}, Body: body}, cfg)
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: Map error %v does not wrap ErrMalformed", s.Name(), err)
			}
			for _, a := range acts {
				if !slices.Contains(event.Types, a.Type) || a.ID == "" {
					t.Fatalf("%s: mapped %+v", s.Name(), a)
				}
			}
			if hs, ok := s.(Handshaker); ok {
				hs.Handshake(Delivery{Body: body})
			}
		}
	})
}
