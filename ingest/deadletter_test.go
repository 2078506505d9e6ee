package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/broker/brokertest"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestDeadLetterFixtures: the dead-letter copy of every refused fixture is
// a small JSON object with the reason, and holds no raw person id.
func TestDeadLetterFixtures(t *testing.T) {
	d := dtDecoder(t)
	invalid := dtFixtures(t, "invalid")
	for _, name := range dtSortedKeys(invalid) {
		b := invalid[name]
		t.Run(name, func(t *testing.T) {
			var ev event.Event
			rej := d.Decode(b, &ev)
			if rej == nil {
				t.Fatal("Decode accepted an invalid fixture")
			}
			_, out := d.DeadLetter([]byte("team-orca"), b, rej)
			for _, raw := range []string{dtRawEmail, dtRawUserID, "alice", "12345"} {
				if bytes.Contains(bytes.ToLower(out), bytes.ToLower([]byte(raw))) {
					t.Errorf("dead-letter body contains %q:\n%s", raw, out)
				}
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("dead-letter body is not JSON: %v\n%s", err, out)
			}
			if m["shoal_reason"] != string(rej.Reason) {
				t.Errorf("shoal_reason = %v, want %s", m["shoal_reason"], rej.Reason)
			}
			if len(out) > MaxDeadLetterBytes {
				t.Errorf("dead-letter body is %d bytes, more than %d", len(out), MaxDeadLetterBytes)
			}
		})
	}
}

// TestDeadLetterIsDefaultDeny: the copy keeps the envelope values it can
// show harmless, the reason, the field and the field names, and no other
// value: not uid, not free text with a name, not ids that hold an
// identifier, not a body that is not a JSON object.
func TestDeadLetterIsDefaultDeny(t *testing.T) {
	d := dtDecoder(t)
	const env = `"specversion":"1.0","id":"evt-1","source":"jira/acme","type":"work.task.started","time":"2024-05-01T09:30:00Z"`
	const keptEnv = env
	unknown := &Rejection{Reason: ReasonUnknownField, Field: ""}
	tests := []struct {
		name, in string
		rej      *Rejection
		want     string
	}{
		{"uid and free text with a name",
			`{` + env + `,"uid":"dave.smith","data":{"team":"team-orca","task":"ORCA-1","person":"U12345","comment":"Dave Smith (dave@acme.example, +49 151 12345678) said no"}}`, unknown,
			`{` + keptEnv + `,"shoal_reason":"unknown_field","shoal_team":"team-orca","shoal_fields":["specversion","id","source","type","time","uid","data","data.team","data.task","data.person","data.comment"],"shoal_body_bytes":%d}`},
		{"identifier in a task id, field named",
			`{` + env + `,"data":{"team":"team-unlisted","task":"ORCA-dave@acme.example","person":"U12345"}}`, &Rejection{Reason: ReasonIdentifierInField, Field: "data.task"},
			`{` + keptEnv + `,"shoal_reason":"identifier_in_field","shoal_field":"data.task","shoal_fields":["specversion","id","source","type","time","data","data.team","data.task","data.person"],"shoal_body_bytes":%d}`},
		{"id and source with identifiers are dropped",
			`{"specversion":"1.0","id":"dave@acme.example-1","source":"https://dave@github.com/acme","type":"work.task.started","time":"2024-05-01T09:30:00Z","data":{}}`, &Rejection{Reason: ReasonIdentifierInField, Field: "id"},
			`{"specversion":"1.0","type":"work.task.started","time":"2024-05-01T09:30:00Z","shoal_reason":"identifier_in_field","shoal_field":"id","shoal_fields":["specversion","id","source","type","time","data"],"shoal_body_bytes":%d}`},
		{"free-text id, phone in source",
			`{"specversion":"1.0","id":"Dave Smith called","source":"tel:+14155550100","type":"work.task.started","time":"2024-05-01T09:30:00Z","data":{}}`, unknown,
			`{"specversion":"1.0","type":"work.task.started","time":"2024-05-01T09:30:00Z","shoal_reason":"unknown_field","shoal_fields":["specversion","id","source","type","time","data"],"shoal_body_bytes":%d}`},
		{"values that are not what they should be are dropped",
			`{"specversion":"0.3","id":7,"source":"","type":"dave.smith","time":"yesterday with dave","subject":"ORCA-1","data":"dave"}`, &Rejection{Reason: ReasonUnknownType},
			`{"shoal_reason":"unknown_type","shoal_fields":["specversion","id","source","type","time","subject","data"],"shoal_body_bytes":%d}`},
		{"a repeated attribute keeps no value",
			`{"specversion":"1.0","id":"evt-1","id":"dave@acme.example","source":"jira/acme","type":"work.task.started","time":"2024-05-01T09:30:00Z","data":{"team":"team-orca","team":"dave"}}`, &Rejection{Reason: ReasonMalformedJSON},
			`{"specversion":"1.0","source":"jira/acme","type":"work.task.started","time":"2024-05-01T09:30:00Z","shoal_reason":"malformed_json","shoal_fields":["specversion","id","id","source","type","time","data","data.team","data.team"],"shoal_body_bytes":%d}`},
		{"names that could be identifiers are not shown",
			`{"data":{"dave.smith@acme.example":1,"U12345":2,"ip":"203.0.113.7"}}`, &Rejection{Reason: ReasonSurveillanceField},
			`{"shoal_reason":"surveillance_field","shoal_fields":["data","data.(a key not shown)","data.(a key not shown)","data.ip"],"shoal_body_bytes":%d}`},
		{"an unlisted team is not kept",
			`{` + env + `,"data":{"team":"team-unlisted","task":"ORCA-1"}}`, &Rejection{Reason: ReasonUnknownTeam, Field: "data.team"},
			`{` + keptEnv + `,"shoal_reason":"unknown_team","shoal_field":"data.team","shoal_fields":["specversion","id","source","type","time","data","data.team","data.task"],"shoal_body_bytes":%d}`},
		{"not JSON", `Dave Smith <dave@acme.example> quit`, &Rejection{Reason: ReasonMalformedJSON},
			`{"shoal_reason":"malformed_json","shoal_body":"not a JSON object","shoal_body_bytes":%d}`},
		{"truncated JSON", `{` + env + `,"data":{"person":"dave@acme.example"`, &Rejection{Reason: ReasonMalformedJSON},
			`{"shoal_reason":"malformed_json","shoal_body":"not a JSON object","shoal_body_bytes":%d}`},
		{"a JSON array", `[{"person":"dave@acme.example"}]`, &Rejection{Reason: ReasonMalformedJSON},
			`{"shoal_reason":"malformed_json","shoal_body":"not a JSON object","shoal_body_bytes":%d}`},
		{"empty", ``, &Rejection{Reason: ReasonMalformedJSON},
			`{"shoal_reason":"malformed_json","shoal_body":"not a JSON object","shoal_body_bytes":%d}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, got := d.DeadLetter([]byte("dave@acme.example"), []byte(tt.in), tt.rej)
			if want := fmt.Sprintf(tt.want, len(tt.in)); string(got) != want {
				t.Errorf("DeadLetter(%s)\n got %s\nwant %s", tt.in, got, want)
			}
			if key != nil {
				t.Errorf("key %q kept: it is not the listed team", key)
			}
			if !json.Valid(got) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

// TestDeadLetterKey: the key is kept only when it is the listed team the
// body shows.
func TestDeadLetterKey(t *testing.T) {
	d := dtDecoder(t)
	msg := dtMsg(event.TaskStarted, `{"team":"team-orca","task":"ORCA-1","person":"U12345","note":"x"}`)
	if key, _ := d.DeadLetter([]byte("team-orca"), msg, &Rejection{Reason: ReasonUnknownField}); string(key) != "team-orca" {
		t.Errorf("key of a listed team = %q, want team-orca", key)
	}
	if key, _ := d.DeadLetter([]byte("U12345"), msg, &Rejection{Reason: ReasonUnknownField}); key != nil {
		t.Errorf("a key that is not the team was kept: %q", key)
	}
	// Without a teams check no team is shown, and no key kept.
	key, body := NewDecoder(dtPseudonymizer(t), nil, 0).DeadLetter([]byte("team-orca"), msg, &Rejection{Reason: ReasonUnknownField})
	if key != nil || bytes.Contains(body, []byte("shoal_team")) {
		t.Errorf("without SetTeams: key %q, body %s; want neither the key nor shoal_team", key, body)
	}
}

// TestDeadLetterBounds: however many fields or bytes a message has, the
// copy stays under MaxDeadLetterBytes.
func TestDeadLetterBounds(t *testing.T) {
	d := dtDecoder(t)
	var b strings.Builder
	b.WriteString(`{"specversion":"1.0","id":"` + strings.Repeat("i", event.MaxIdentifierLen) + `","source":"` + strings.Repeat("s", event.MaxIdentifierLen) + `","data":{`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"field_%s_%d":"%s"`, strings.Repeat("x", 50), i, strings.Repeat("v", 1000))
	}
	b.WriteString("}}")
	_, out := d.DeadLetter(nil, []byte(b.String()), &Rejection{Reason: ReasonTooLarge})
	if len(out) > MaxDeadLetterBytes || !json.Valid(out) {
		t.Fatalf("copy is %d bytes (valid JSON %v), want valid and at most %d", len(out), json.Valid(out), MaxDeadLetterBytes)
	}
	var m struct {
		Fields []string `json:"shoal_fields"`
		More   int      `json:"shoal_fields_more"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) != maxDeadLetterNames || m.More != 4+500-maxDeadLetterNames {
		t.Errorf("%d names and %d more, want %d and %d", len(m.Fields), m.More, maxDeadLetterNames, 4+500-maxDeadLetterNames)
	}
	if bytes.Contains(out, []byte("vvv")) {
		t.Error("a data value was kept")
	}
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	if _, out := d.DeadLetter(nil, []byte(deep), &Rejection{Reason: ReasonMalformedJSON}); !bytes.Contains(out, []byte("not a JSON object")) {
		t.Errorf("a message nested past maxNesting: %s", out)
	}
}

// TestDeadLetterTopicKeepsNoValues publishes refused events to a real
// broker, runs the consumer (with a teams file that lists team-orca) and
// reads the dead-letter topic back: a uid, free text with a name, ids
// holding identifiers, an unlisted team and a body that is not JSON never
// reach it; each dead letter says why, and which field.
func TestDeadLetterTopicKeepsNoValues(t *testing.T) {
	addr := startTestBroker(t)
	const env = `"specversion":"1.0","source":"https://jira.acme.example","time":"2026-11-20T10:00:00Z"`
	values := [][]byte{
		[]byte(`{` + env + `,"id":"d1","type":"work.task.started","uid":"u-778812","data":{"team":"team-orca","task":"T-1","person":"mallory@acme.example"}}`),
		[]byte(`{` + env + `,"id":"d2","type":"work.task.started","data":{"team":"team-orca","task":"T-2","person":"U31337","comment":"Mallory Jones says the deadline is unrealistic"}}`),
		[]byte(`{` + env + `,"id":"d3","type":"work.task.blocked","data":{"team":"team-orca","task":"T-mallory.jones@acme.example"}}`),
		[]byte(`{` + env + `,"id":"d4","type":"work.task.blocked","data":{"team":"mallory.jones@acme.example","task":"T-4"}}`),
		[]byte(`{` + env + `,"id":"d5","type":"work.task.blocked","data":{"team":"skunkworks-mallory","task":"T-5"}}`),
		[]byte(`{` + env + `,"id":"d6","type":"work.request.opened","data":{"team":"team-orca","request":"call +49 151 31337000","kind":"question"}}`),
		[]byte(`Mallory Jones <mallory@acme.example>, U31337: not JSON at all`),
	}
	wantReason := []string{"unknown_field", "unknown_field", "identifier_in_field", "identifier_in_field", "unknown_team", "identifier_in_field", "malformed_json"}
	wantField := []string{"", "", "data.task", "data.team", "data.team", "data.request", ""}
	w := broker.NewWriter([]string{addr}, "events")
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte("mallory-key"), Value: v} // one key, one partition: the offset is i
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	p, err := privacy.NewPseudonymizer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(p, nil, 0)
	dec.SetTeams(func(team string) bool { return team == "team-orca" })
	cfg := DefaultConfig()
	cfg.Brokers = StringList{addr}
	cfg.Topic, cfg.DLQTopic, cfg.Group = "events", "dlq", "test"
	cfg.BatchSize, cfg.BatchLatency = 100, 20*time.Millisecond
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	c, err := NewConsumer(cfg, dec, newRecordingSink(), mem, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	end, err := broker.EndOffsets(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) }) {
		t.Fatalf("consumer did not catch up: %+v", c.Stats())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)

	dead := brokertest.ReadTopic(t, addr, "dlq")
	if len(dead) != len(values) {
		t.Fatalf("dead-letter topic holds %d messages, want %d", len(dead), len(values))
	}
	var all []byte
	for _, m := range dead {
		all = append(append(all, m.Key...), m.Value...)
		hs := map[string]string{}
		for _, h := range m.Headers {
			all = append(all, h.Value...)
			hs[h.Key] = string(h.Value)
		}
		var body struct {
			Bytes int `json:"shoal_body_bytes"`
		}
		if err := json.Unmarshal(m.Value, &body); err != nil {
			t.Errorf("dead letter %s is not JSON: %v", m.Value, err)
		}
		i, _ := strconv.Atoi(hs["shoal-source-offset"])
		if i < 0 || i >= len(values) {
			t.Fatalf("dead letter from offset %d", i)
		}
		if hs["shoal-reason"] != wantReason[i] || hs["shoal-field"] != wantField[i] {
			t.Errorf("event %d: reason %q field %q, want %q %q", i, hs["shoal-reason"], hs["shoal-field"], wantReason[i], wantField[i])
		}
		if body.Bytes != len(values[i]) {
			t.Errorf("event %d: shoal_body_bytes %d, want %d", i, body.Bytes, len(values[i]))
		}
		if len(m.Key) != 0 {
			t.Errorf("event %d: the dead letter kept the key %q", i, m.Key)
		}
	}
	for _, leak := range []string{"u-778812", "mallory", "Mallory", "U31337", "Jones", "deadline", "unrealistic", "31337000", "skunkworks", "acme.example>", "not JSON at all"} {
		if bytes.Contains(all, []byte(leak)) {
			t.Errorf("the dead-letter topic holds %q", leak)
		}
	}
	if !bytes.Contains(all, []byte(`"shoal_fields":["specversion","source","time","id","type","uid","data","data.team","data.task","data.person"]`)) {
		t.Errorf("the uid event's dead letter does not list its field names:\n%s", all)
	}
}
