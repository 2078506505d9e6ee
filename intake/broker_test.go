package intake

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoal-analytics/shoal/broker/brokertest"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestServerAgainstBroker: a 2xx comes only once the events are readable
// from the topic, and a stopped broker gives 503 with Retry-After inside
// the write timeout.
func TestServerAgainstBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "shoal.events", "shoal.dlq"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	w := NewWriter([]string{addr})
	defer w.Close()
	p, _ := privacy.NewPseudonymizer(testKey)
	srv, err := NewServer(Config{SourcesFile: "testdata/sources.yaml", PeopleFile: "testdata/people.yaml", WriteTimeout: 2 * time.Second},
		Builtin(), p, w, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	send := func(source, file string) *http.Response {
		r := signed(t, source, file)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+r.URL.Path, r.Body)
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := send("github", "issues-opened.json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	msgs := brokertest.ReadTopic(t, addr, "shoal.events")
	if len(msgs) != 1 || string(msgs[0].Key) != "team-orca" {
		t.Fatalf("after the 2xx the topic holds %d messages: %v", len(msgs), msgs)
	}
	if got := decodeEvents(t, msgs, "shoal.events"); got[0].Data["person"] != p.Pseudonym("alice.smith@acme.example") {
		t.Errorf("event %+v", got[0])
	}

	// An unmapped person (the default refuses them): 2xx, no event, but
	// the activity without the person, marked for ingest to refuse as
	// unmapped_identity, and nothing on the dead-letter topic.
	ce := `{"specversion":"1.0","id":"x-1","source":"tool/acme","type":"work.task.started","time":"2024-05-07T10:00:00Z","data":{"team":"team-orca","task":"T-1","person":"zed@acme.example"}}`
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/intake/cloudevents", strings.NewReader(ce))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+string(secret(t, "cloudevents")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unmapped: %v %v", err, resp)
	}
	resp.Body.Close()
	on := brokertest.ReadTopic(t, addr, "shoal.events")
	if n := len(decodeEvents(t, on, "shoal.events")); n != 1 || len(on) != 2 {
		t.Fatalf("the event topic holds %d events and %d messages, want still 1 event and the refused one", n, len(on))
	}
	for _, m := range on {
		if strings.Contains(string(m.Value), "shoalunmapped") {
			checkUnmapped(t, p, m, event.TaskStarted, "team-orca", "zed@acme.example", "zed")
		}
	}
	if dl := brokertest.ReadTopic(t, addr, "shoal.dlq"); len(dl) != 0 {
		t.Errorf("the intake wrote dead letters: %v", dl)
	}

	c.Close()
	began := time.Now()
	resp = send("jira", "issue_created.json")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with the broker stopped: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the 503 took %s; GitHub gives up after 10 s", d)
	}
}

// TestDialectsAgainstBroker: signed Linear, ClickUp and Toggl deliveries
// through the server end as contract events on a real broker's topic,
// their people pseudonymized and no raw user id, name or e-mail on it; a
// bad signature is 401 and counted; Toggl's validation ping is answered
// (after its signature is checked: Toggl signs it like every event) and
// produces nothing; a retried delivery is a duplicate, or for Linear,
// whose retry carries a new webhookTimestamp, the same event ids.
func TestDialectsAgainstBroker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "shoal.events", "shoal.dlq"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	w := NewWriter([]string{addr})
	defer w.Close()
	p, _ := privacy.NewPseudonymizer(testKey)
	srv, err := NewServer(Config{SourcesFile: "testdata/sources.yaml", PeopleFile: "testdata/people.yaml", WriteTimeout: 2 * time.Second},
		Builtin(), p, w, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	post := func(r *http.Request) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, hs.URL+r.URL.Path, r.Body)
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	alice, bob, carol := p.Pseudonym("alice.smith@acme.example"), p.Pseudonym("bob@acme.example"), p.Pseudonym("carol@acme.example")
	// Raw values of the fixtures that must never be on the topic.
	raw := []string{
		"6f0cb0e6-4f8a-4e7b-9d0e-2b9f7c1d8a11", "b7c2e9d4-5a6f-4e3b-9c1d-8e7f6a5b4c30", "dana@acme.example", "Dana Example",
		"Checkout page times out", "john@company.com", "\"John\"", "9876543", "Refactor the payment retry queue", "Deep Work",
		"alice.smith@acme.example", "bob@acme.example", "carol@acme.example",
	}
	onTopic := func() []produced {
		t.Helper()
		msgs := brokertest.ReadTopic(t, addr, "shoal.events")
		for _, m := range msgs {
			for _, r := range raw {
				if strings.Contains(string(m.Value), r) || strings.Contains(string(m.Key), r) {
					t.Errorf("%q is on the topic: %s", r, m.Value)
				}
			}
		}
		return decodeEvents(t, msgs, "shoal.events")
	}
	type want struct{ typ, team, person, category string }
	// check compares the events that are new on the topic (by id and type)
	// with w.
	check := func(name string, got []produced, ids map[string]bool, w ...want) {
		t.Helper()
		var fresh []produced
		for _, g := range got {
			if !ids[g.ID+"|"+g.Type] {
				fresh = append(fresh, g)
				ids[g.ID+"|"+g.Type] = true
			}
		}
		if len(fresh) != len(w) {
			t.Fatalf("%s: %d new events on the topic, want %d: %+v", name, len(fresh), len(w), fresh)
		}
		for i, w := range w {
			g := fresh[i]
			person, _ := g.Data["person"].(string)
			if g.Type != w.typ || g.Data["team"] != w.team || person != w.person || !g.Pseudonymous || (w.category != "" && g.Data["category"] != w.category) {
				t.Errorf("%s: event %+v, want %+v", name, g, w)
			}
		}
	}
	ids := map[string]bool{}

	// Linear: the assignee Sam (Bob's Linear identity) started the issue.
	resp, body := post(signed(t, "linear", "issue_update_started.json"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("linear: status %d: %s", resp.StatusCode, body)
	}
	check("linear", onTopic(), ids, want{event.TaskStarted, "team-orca", bob, ""})
	// ClickUp: Carol's time entry, categorized by its list.
	if resp, body := post(signed(t, "clickup", "task_time_tracked.json")); resp.StatusCode != http.StatusOK {
		t.Fatalf("clickup: status %d: %s", resp.StatusCode, body)
	}
	check("clickup", onTopic(), ids, want{event.TimeLogged, "team-kelp", carol, "focus"})
	// Toggl: Alice's entry of 2024-05-01, when she was in team-orca.
	if resp, body := post(signed(t, "toggl", "time_entry_created.json")); resp.StatusCode != http.StatusOK {
		t.Fatalf("toggl: status %d: %s", resp.StatusCode, body)
	}
	check("toggl", onTopic(), ids, want{event.TimeLogged, "team-orca", alice, "focus"})

	// Retries. ClickUp and Toggl re-send the same body: a duplicate,
	// answered 2xx without producing. Linear's retry carries a new
	// webhookTimestamp: produced again, with the same event id, which the
	// pipeline's dedup by (source, id) drops.
	for _, c := range [][2]string{{"clickup", "task_time_tracked.json"}, {"toggl", "time_entry_created.json"}} {
		if resp, body := post(signed(t, c[0], c[1])); resp.StatusCode != http.StatusOK || !strings.Contains(body, "duplicate") {
			t.Errorf("%s retry: status %d: %s", c[0], resp.StatusCode, body)
		}
		if n := testutil.ToFloat64(srv.m.deliveries.WithLabelValues(c[0], OutcomeDuplicate)); n != 1 {
			t.Errorf("%s: duplicate counted %v times", c[0], n)
		}
	}
	before := len(brokertest.ReadTopic(t, addr, "shoal.events"))
	if before != 3 {
		t.Errorf("after two duplicate deliveries the topic holds %d events, want 3", before)
	}
	time.Sleep(2 * time.Millisecond) // a later webhookTimestamp than the first delivery's
	if resp, body := post(signed(t, "linear", "issue_update_started.json")); resp.StatusCode != http.StatusOK {
		t.Fatalf("linear retry: status %d: %s", resp.StatusCode, body)
	}
	all := onTopic()
	var linearIDs []string
	for _, e := range all {
		if e.Source == "intake/linear" {
			linearIDs = append(linearIDs, e.ID)
		}
	}
	if len(linearIDs) != 2 || linearIDs[0] != linearIDs[1] {
		t.Errorf("a retried Linear delivery: event ids %v, want the same id twice", linearIDs)
	}

	// Bad signatures: 401, counted, nothing produced.
	topicLen := len(all)
	for _, c := range []struct{ source, file, header string }{
		{"linear", "issue_create.json", "Linear-Signature"},
		{"clickup", "task_created.json", "X-Signature"},
		{"toggl", "time_entry_updated.json", "X-Webhook-Signature-256"},
	} {
		r := signed(t, c.source, c.file)
		r.Header.Set(c.header, strings.Replace(r.Header.Get(c.header), "a", "b", 1)+"00")
		if resp, _ := post(r); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s forged: status %d, want 401", c.source, resp.StatusCode)
		}
		r = signed(t, c.source, c.file)
		r.Header.Del(c.header)
		if resp, _ := post(r); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s unsigned: status %d, want 401", c.source, resp.StatusCode)
		}
		if n := testutil.ToFloat64(srv.m.deliveries.WithLabelValues(c.source, OutcomeBadSignature)); n != 2 {
			t.Errorf("%s: bad_signature counted %v times, want 2", c.source, n)
		}
	}

	// Toggl's validation ping: answered with its code, nothing produced;
	// unsigned, it is refused like any delivery.
	resp, body = post(signed(t, "toggl", "ping_validation.json"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("validation ping: status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var answer map[string]string
	if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer) != 1 || answer["validation_code"] != "c2b6e3b0f64c4d6f9a8e7d1b5c3a2f10" {
		t.Errorf("validation ping answered %q (%v), want exactly {\"validation_code\": the ping's code}", body, err)
	}
	unsigned := signed(t, "toggl", "ping_validation.json")
	unsigned.Header.Del("X-Webhook-Signature-256")
	if resp, body := post(unsigned); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "c2b6e3b0") {
		t.Errorf("unsigned validation ping: status %d: %s", resp.StatusCode, body)
	}
	if n := len(brokertest.ReadTopic(t, addr, "shoal.events")); n != topicLen {
		t.Errorf("bad signatures and the validation ping produced: the topic holds %d events, want %d", n, topicLen)
	}
}
