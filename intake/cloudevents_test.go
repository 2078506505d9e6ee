package intake

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shoal-analytics/shoal/event"
)

func TestCloudEventsModes(t *testing.T) {
	f := defaultFixture(t)
	alice, bob := f.pseudonym("alice.smith@acme.example"), f.pseudonym("bob@acme.example")

	// Structured: the person is a canonical id; the day's membership does
	// not move a CloudEvent's team (the producer named it).
	if rec := f.do(signed(t, "cloudevents", "structured.json")); rec.Code != http.StatusOK {
		t.Fatalf("structured: %d %s", rec.Code, rec.Body)
	}
	got := decodeEvents(t, f.w.take(), "shoal.events")
	if len(got) != 1 || got[0].Type != event.TimeLogged || got[0].Source != "toggl/acme" || got[0].ID != "toggl-99812" ||
		got[0].Data["person"] != alice || got[0].Data["team"] != "team-orca" || got[0].Data["category"] != "focus" ||
		got[0].Data["start"] != "2024-05-08T09:00:00Z" {
		t.Errorf("structured: %+v", got)
	}

	// Batch: an e-mail identity resolves to its person.
	if rec := f.do(signed(t, "cloudevents", "batch.json")); rec.Code != http.StatusOK {
		t.Fatalf("batch: %d %s", rec.Code, rec.Body)
	}
	got = decodeEvents(t, f.w.take(), "shoal.events")
	if len(got) != 2 || got[0].Data["person"] != bob || got[0].Data["due"] != "2024-05-31" || got[0].Data["estimate_hours"] != 3.5 ||
		got[1].Type != event.TaskBlocked || got[1].Pseudonymous {
		t.Errorf("batch: %+v", got)
	}

	// Binary: attributes in ce-* headers.
	r := httptest.NewRequest(http.MethodPost, "/intake/cloudevents", bytes.NewReader([]byte(`{"team":"team-orca","request":"PR-77","person":"bob@acme.example"}`)))
	r.Header.Set("Authorization", "Bearer "+string(secret(t, "cloudevents")))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "gh-pr-77-review-1", "ce-source": "https://github.com/acme/orca",
		"ce-type": event.RequestResponded, "ce-time": "2024-05-07T15:20:00Z"} {
		r.Header.Set(k, v)
	}
	if rec := f.do(r); rec.Code != http.StatusOK {
		t.Fatalf("binary: %d %s", rec.Code, rec.Body)
	}
	got = decodeEvents(t, f.w.take(), "shoal.events")
	if len(got) != 1 || got[0].Data["person"] != bob || got[0].Data["request"] != "PR-77" {
		t.Errorf("binary: %+v", got)
	}
}

func TestCloudEventsRefusesWhatItWouldNotForward(t *testing.T) {
	f := defaultFixture(t)
	cases := map[string]string{
		"unknown attribute":   `{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","traceparent":"00-x","data":{"team":"t","task":"T-1"}}`,
		"unknown data field":  `{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","data":{"team":"t","task":"T-1","title":"secret"}}`,
		"field of other type": `{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","data":{"team":"t","task":"T-1","person":"bob@acme.example"}}`,
		"already marked":      `{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","shoalpseudonymized":true,"data":{"team":"t","task":"T-1"}}`,
		"e-mail in task":      `{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","data":{"team":"t","task":"dana@acme.example"}}`,
		"unknown type":        `{"specversion":"1.0","id":"1","source":"s","type":"work.screen.captured","time":"2024-05-07T10:00:00Z","data":{"team":"t"}}`,
		"not json":            `{"specversion":`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/intake/cloudevents", bytes.NewReader([]byte(body)))
			r.Header.Set("Authorization", "Bearer "+string(secret(t, "cloudevents")))
			r.Header.Set("Content-Type", "application/cloudevents+json")
			rec := f.do(r)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if bytes.Contains(rec.Body.Bytes(), []byte("dana@")) || bytes.Contains(rec.Body.Bytes(), []byte("secret")) {
				t.Errorf("the answer quotes a value: %s", rec.Body)
			}
			if got := f.w.take(); len(got) != 0 {
				t.Errorf("produced %d messages", len(got))
			}
		})
	}
}
