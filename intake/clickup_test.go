package intake

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

const clickupTestSecret = "O7DPL1BMZH1XKZ6WQ8HZ3D2T9R4C5A0E"

func TestClickUpVerify(t *testing.T) {
	t.Parallel()
	body := dialectFixture(t, "clickup", "task_status_started.json")
	cases := []struct {
		name, sig, secret string
		body              []byte
		ok                bool
	}{
		{"valid", dialectHMAC(clickupTestSecret, body), clickupTestSecret, body, true},
		{"missing", "", clickupTestSecret, body, false},
		{"wrong secret", dialectHMAC("not-the-secret", body), clickupTestSecret, body, false},
		{"truncated", dialectHMAC(clickupTestSecret, body)[:40], clickupTestSecret, body, false},
		{"not hex", "f7bc83f430538424b13298e6aa6zz", clickupTestSecret, body, false},
		{"tampered body", dialectHMAC(clickupTestSecret, body), clickupTestSecret, []byte(strings.Replace(string(body), "1vj38vv", "1vj38vw", 1)), false},
		{"no secret configured", dialectHMAC("", body), "", body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if c.sig != "" {
				h.Set("X-Signature", c.sig)
			}
			err := NewClickUp().Verify(Delivery{Header: h, Body: c.body}, []byte(c.secret))
			if c.ok && err != nil {
				t.Fatalf("Verify: %v, want nil", err)
			}
			if !c.ok && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify: %v, want an error wrapping ErrBadSignature", err)
			}
		})
	}
}

func TestClickUpMap(t *testing.T) {
	t.Parallel()
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	john := Identity{"clickup", "183"}
	status := func(hist, verb, typ string, at int64) Activity {
		return Activity{ID: "clickup:1vj38vv:" + hist + ":" + verb, Type: typ, Time: ms(at), Who: john, Scope: "162641062", Task: "1vj38vv"}
	}
	timeEntry := func(end int64, category string) Activity {
		rev := int64(1642737376354) // the history item's date
		if end == 1642738276215 {   // the edit
			rev = 1642740976354
		}
		return Activity{
			ID: "clickup:te:2800809188061119507:" + strconv.FormatInt(rev, 10), Type: event.TimeLogged, Time: ms(end), Who: john,
			Scope: "162641285", Task: "1vj38vv", Start: ms(1642736476215), End: ms(end), Category: category,
			Entry: "2800809188061119507", Revision: rev, HasRevision: true,
		}
	}
	blockedCfg := SourceConfig{States: map[string]string{"blocked": event.TaskBlocked}}
	cases := []struct {
		fixture string
		cfg     SourceConfig
		want    []Activity
	}{
		{"task_created.json", SourceConfig{}, []Activity{{
			ID: "clickup:1vj37mc:created", Type: event.TaskCreated, Time: ms(1642734631523), Who: john,
			Scope: "162641062", Task: "1vj37mc",
		}}},
		{"task_status_started.json", SourceConfig{}, []Activity{status("2800787326392370170", "started", event.TaskStarted, 1642736073330)}},
		// in progress → review: both in-between statuses, still started.
		{"task_status_review.json", SourceConfig{}, nil},
		{"task_status_blocked.json", SourceConfig{}, nil},
		{"task_status_blocked.json", blockedCfg, []Activity{status("2800788326392370172", "blocked", event.TaskBlocked, 1642738073330)}},
		// Back from blocked to in progress: unblocked, not a second start.
		{"task_status_unblocked.json", blockedCfg, []Activity{status("2800789326392370173", "unblocked", event.TaskUnblocked, 1642739073330)}},
		{"task_status_closed.json", SourceConfig{}, []Activity{status("2800790326392370174", "completed", event.TaskCompleted, 1642740073330)}},
		{"task_status_closed.json", SourceConfig{States: map[string]string{"Complete": event.TaskCancelled}}, []Activity{status("2800790326392370174", "cancelled", event.TaskCancelled, 1642740073330)}},
		{"task_status_reopened.json", SourceConfig{}, []Activity{
			status("2800791326392370175", "reopened", event.TaskReopened, 1642743673330),
			status("2800791326392370175", "started", event.TaskStarted, 1642743673330),
		}},
		{"task_status_closed_clickbot.json", SourceConfig{}, []Activity{{
			ID: "clickup:1vj38xx:2800792326392370176:completed", Type: event.TaskCompleted, Time: ms(1642745673330),
			Who: Identity{"clickup", "-1"}, Bot: true, Scope: "162641062", Task: "1vj38xx",
		}}},
		{"task_time_tracked.json", SourceConfig{}, []Activity{timeEntry(1642737376215, "other")}},
		{"task_time_tracked.json", SourceConfig{DefaultCategory: "focus"}, []Activity{timeEntry(1642737376215, "focus")}},
		{"task_time_tracked.json", SourceConfig{DefaultCategory: "focus", Categories: map[string]string{"162641285": "support"}}, []Activity{timeEntry(1642737376215, "support")}},
		// An edit is a new revision of the same entry, under another id.
		{"task_time_tracked_edited.json", SourceConfig{}, []Activity{timeEntry(1642738276215, "other")}},
		{"task_time_tracked_deleted.json", SourceConfig{}, []Activity{{
			ID: "clickup:te:2800809188061119507:1642744576354:deleted", Type: event.TimeDeleted, Time: ms(1642744576354), Who: john,
			Scope: "162641285", Entry: "2800809188061119507", Revision: 1642744576354, HasRevision: true,
		}}},
		{"task_time_tracked_running.json", SourceConfig{}, nil},
		{"task_assignee_updated.json", SourceConfig{}, nil},
		{"task_due_date_updated.json", SourceConfig{}, nil},
		{"task_comment_posted.json", SourceConfig{}, nil},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			t.Parallel()
			body := dialectFixture(t, "clickup", c.fixture)
			h := http.Header{"X-Signature": {dialectHMAC(clickupTestSecret, body)}}
			got, err := NewClickUp().Map(Delivery{Header: h, Body: body}, c.cfg)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			dialectCheckActivities(t, got, body)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Map:\n got %+v\nwant %+v", got, c.want)
			}
			again, err := NewClickUp().Map(Delivery{Header: h, Body: slices.Clone(body)}, c.cfg)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("retried delivery mapped to %+v, %v; first to %+v", again, err, got)
			}
		})
	}
}

func TestClickUpMalformed(t *testing.T) {
	t.Parallel()
	edit := func(name string, f func(p map[string]any)) string {
		var p map[string]any
		if err := json.Unmarshal(dialectFixture(t, "clickup", name), &p); err != nil {
			t.Fatal(err)
		}
		f(p)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	item := func(p map[string]any) map[string]any { return p["history_items"].([]any)[0].(map[string]any) }
	cases := []struct{ name, body, want string }{
		{"not JSON", "event=taskCreated", "not a JSON webhook payload"},
		{"no event", `{"task_id":"1vj38vv"}`, "no event"},
		{"no task_id", edit("task_created.json", func(p map[string]any) { delete(p, "task_id") }), "no task_id"},
		{"no history", edit("task_status_started.json", func(p map[string]any) { p["history_items"] = []any{} }), "no history_items"},
		{"no list", edit("task_status_started.json", func(p map[string]any) { delete(item(p), "parent_id") }), "parent_id (the list id)"},
		{"bad date", edit("task_created.json", func(p map[string]any) {
			for _, it := range p["history_items"].([]any) {
				it.(map[string]any)["date"] = "Jan 21"
			}
		}), "date (Unix milliseconds)"},
		{"no status type", edit("task_status_started.json", func(p map[string]any) { delete(item(p)["after"].(map[string]any), "type") }), "after.type"},
		{"time entry without user", edit("task_time_tracked.json", func(p map[string]any) { delete(item(p), "user") }), "no user.id"},
		{"time entry without start", edit("task_time_tracked.json", func(p map[string]any) { delete(item(p)["after"].(map[string]any), "start") }), "lacks start or end"},
		{"time without time_spent item", edit("task_time_tracked.json", func(p map[string]any) { item(p)["field"] = "status" }), "no time_spent history item"},
		{"user id an object", edit("task_created.json", func(p map[string]any) { item(p)["user"] = map[string]any{"id": map[string]any{}} }), "not a JSON webhook payload"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClickUp().Map(Delivery{Header: http.Header{}, Body: []byte(c.body)}, SourceConfig{})
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Map: %v, want ErrMalformed saying %q", err, c.want)
			}
		})
	}
}
