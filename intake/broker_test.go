package intake

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoal-analytics/shoal/broker/brokertest"
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

	// An unmapped person (the default refuses them): 2xx, no event, a
	// dead letter without the person on the dead-letter topic.
	ce := `{"specversion":"1.0","id":"x-1","source":"tool/acme","type":"work.task.started","time":"2024-05-07T10:00:00Z","data":{"team":"team-orca","task":"T-1","person":"zed@acme.example"}}`
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/intake/cloudevents", strings.NewReader(ce))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+string(secret(t, "cloudevents")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unmapped: %v %v", err, resp)
	}
	resp.Body.Close()
	if n := len(brokertest.ReadTopic(t, addr, "shoal.events")); n != 1 {
		t.Errorf("the event topic holds %d events, want still 1", n)
	}
	dl := brokertest.ReadTopic(t, addr, "shoal.dlq")
	if len(dl) != 1 || header(dl[0], "shoal-reason") != ReasonUnmappedIdentity || strings.Contains(string(dl[0].Value), "zed") {
		t.Errorf("dead letters %v", dl)
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
