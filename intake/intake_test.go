package intake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

var testKey = []byte("intake-test-pseudonym-key-0123456789abcdef")

// recorder is a MessageWriter that keeps what it was given, or fails.
type recorder struct {
	mu   sync.Mutex
	msgs []kafka.Message
	fail error
}

func (r *recorder) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) take() []kafka.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

type fixture struct {
	t      *testing.T
	srv    *Server
	w      *recorder
	reg    *prometheus.Registry
	pseudo *privacy.Pseudonymizer
}

func newFixture(t *testing.T, sourcesFile, peopleFile string) *fixture {
	t.Helper()
	p, err := privacy.NewPseudonymizer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, w: &recorder{}, reg: prometheus.NewRegistry(), pseudo: p}
	f.srv, err = NewServer(Config{SourcesFile: sourcesFile, PeopleFile: peopleFile, WriteTimeout: time.Second},
		Builtin(), p, f.w, f.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func defaultFixture(t *testing.T) *fixture {
	return newFixture(t, "testdata/sources.yaml", "testdata/people.yaml")
}

func secret(t *testing.T, source string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", source+".secret"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func hmacHex(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

var linearTimestamp = regexp.MustCompile(`"webhookTimestamp":\s*[0-9]+`)

// signed returns the request a source sends for the fixture file, signed
// with the fixture secret by the source's real algorithm.
func signed(t *testing.T, source, file string) *http.Request {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", source, file))
	if err != nil {
		t.Fatal(err)
	}
	if source == "linear" {
		// Linear stamps the send time; the intake refuses one outside 60 s.
		body = linearTimestamp.ReplaceAll(body, fmt.Appendf(nil, `"webhookTimestamp": %d`, time.Now().UnixMilli()))
	}
	r := httptest.NewRequest(http.MethodPost, "/intake/"+source, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	sec := secret(t, source)
	switch source {
	case "github":
		r.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex(sec, body))
		r.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		r.Header.Set("X-GitHub-Event", strings.SplitN(file, "-", 2)[0])
	case "gitlab":
		r.Header.Set("X-Gitlab-Token", string(sec))
		r.Header.Set("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e")
		if strings.HasPrefix(file, "mr-") {
			r.Header.Set("X-Gitlab-Event", "Merge Request Hook")
		} else {
			r.Header.Set("X-Gitlab-Event", "Issue Hook")
		}
	case "jira":
		r.Header.Set("X-Hub-Signature", "sha256="+hmacHex(sec, body))
		r.Header.Set("X-Atlassian-Webhook-Identifier", "1722391281218")
	case "linear":
		r.Header.Set("Linear-Signature", hmacHex(sec, body))
		r.Header.Set("Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72")
		r.Header.Set("Linear-Event", "Issue")
	case "clickup":
		r.Header.Set("X-Signature", hmacHex(sec, body))
	case "toggl":
		r.Header.Set("X-Webhook-Signature-256", "sha256="+hmacHex(sec, body))
	case "cloudevents":
		r.Header.Set("Authorization", "Bearer "+string(sec))
		r.Header.Set("Content-Type", "application/cloudevents+json")
		if strings.Contains(file, "batch") {
			r.Header.Set("Content-Type", "application/cloudevents-batch+json")
		}
	}
	return r
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, r)
	return rec
}

// produced is a produced message of the event topic, decoded.
type produced struct {
	SpecVersion  string         `json:"specversion"`
	ID           string         `json:"id"`
	Source       string         `json:"source"`
	Type         string         `json:"type"`
	Time         string         `json:"time"`
	Pseudonymous bool           `json:"shoalpseudonymized"`
	Unmapped     bool           `json:"shoalunmapped"`
	Data         map[string]any `json:"data"`
}

// decodeEvents decodes the contract events among msgs: those of topic,
// but not the refused unmapped identities (see unmappedOn).
func decodeEvents(t *testing.T, msgs []kafka.Message, topic string) []produced {
	t.Helper()
	var out []produced
	for _, p := range decodeAll(t, msgs, topic) {
		if !p.Unmapped {
			out = append(out, p)
		}
	}
	return out
}

// unmappedOn decodes the refused unmapped identities among msgs.
func unmappedOn(t *testing.T, msgs []kafka.Message, topic string) []produced {
	t.Helper()
	var out []produced
	for _, p := range decodeAll(t, msgs, topic) {
		if p.Unmapped {
			out = append(out, p)
		}
	}
	return out
}

func decodeAll(t *testing.T, msgs []kafka.Message, topic string) []produced {
	t.Helper()
	var out []produced
	for _, m := range msgs {
		if m.Topic != topic {
			continue
		}
		var p produced
		dec := json.NewDecoder(bytes.NewReader(m.Value))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("produced event %s: %v", m.Value, err)
		}
		if team, _ := p.Data["team"].(string); string(m.Key) != team {
			t.Errorf("key %q, want the team %q", m.Key, p.Data["team"])
		}
		out = append(out, p)
	}
	return out
}

func (f *fixture) pseudonym(id string) string { return f.pseudo.Pseudonym(id) }

func TestSourcesMapFixtures(t *testing.T) {
	f := defaultFixture(t)
	alice, bob, carol := f.pseudonym("alice.smith@acme.example"), f.pseudonym("bob@acme.example"), f.pseudonym("carol@acme.example")
	type want struct{ typ, team, person, extra string }
	cases := []struct {
		source, file string
		want         []want
	}{
		{"github", "issues-opened.json", []want{{event.TaskCreated, "team-orca", alice, "kind=bug"}}},
		{"github", "issues-assigned.json", []want{{event.TaskStarted, "team-orca", bob, ""}}},
		{"github", "issues-closed.json", []want{{event.TaskCompleted, "team-orca", bob, ""}}},
		{"github", "issues-closed-not-planned.json", []want{{event.TaskCancelled, "team-orca", "", ""}}},
		{"github", "issues-reopened.json", []want{{event.TaskReopened, "team-orca", "", ""}}},
		{"github", "issues-closed-by-bot.json", nil},
		{"github", "pull_request-review_requested.json", []want{{event.RequestOpened, "team-orca", alice, "kind=review"}}},
		{"github", "pull_request_review-submitted.json", []want{{event.RequestResponded, "team-orca", bob, ""}}},
		{"gitlab", "issue-open.json", []want{{event.TaskCreated, "team-kelp", carol, "kind=bug"}}},
		{"gitlab", "issue-update-assigned.json", []want{{event.TaskStarted, "team-kelp", bob, ""}}},
		{"gitlab", "issue-close.json", []want{{event.TaskCompleted, "team-kelp", bob, ""}}},
		{"gitlab", "mr-update-reviewers.json", []want{{event.RequestOpened, "team-kelp", carol, "kind=review"}}},
		{"gitlab", "mr-approved.json", []want{{event.RequestResponded, "team-kelp", bob, ""}}},
		// Alice was in team-orca until 2024-05-07 and is in team-kelp from
		// 2024-05-08: her membership on the day wins over the scope's team.
		{"jira", "issue_created.json", []want{{event.TaskCreated, "team-orca", alice, "kind=feature"}}},
		{"jira", "issue_updated-started.json", []want{{event.TaskStarted, "team-orca", alice, ""}}},
		{"jira", "issue_updated-flagged.json", []want{{event.TaskBlocked, "team-orca", "", ""}}},
		{"jira", "issue_updated-done.json", []want{{event.TaskCompleted, "team-kelp", alice, ""}}},
		{"linear", "issue_create.json", []want{{event.TaskCreated, "team-orca", alice, "kind=bug"}}},
		{"linear", "issue_update_started.json", []want{{event.TaskStarted, "team-orca", bob, ""}}},
		{"linear", "issue_update_reopened.json", []want{{event.TaskReopened, "team-orca", "", ""}, {event.TaskStarted, "team-orca", bob, ""}}},
		{"linear", "issue_create_bot.json", nil},
		{"linear", "comment_create.json", nil},
		{"clickup", "task_created.json", []want{{event.TaskCreated, "team-kelp", carol, ""}}},
		{"clickup", "task_status_started.json", []want{{event.TaskStarted, "team-kelp", carol, ""}}},
		{"clickup", "task_time_tracked.json", []want{{event.TimeLogged, "team-kelp", carol, "category=focus"}}},
		{"clickup", "task_status_closed_clickbot.json", nil},
		// Alice's membership on the entry's day wins over the workspace's team.
		{"toggl", "time_entry_created.json", []want{{event.TimeLogged, "team-orca", alice, "category=focus"}}},
		{"toggl", "time_entry_created_running.json", nil},
		{"toggl", "time_entry_updated.json", []want{{event.TimeLogged, "team-orca", alice, "entry=3456789012"}}},
		// A deletion names no person; the deleter's membership still
		// attributes it to a team.
		{"toggl", "time_entry_deleted.json", []want{{event.TimeDeleted, "team-orca", "", "entry=3456789012"}}},
		{"clickup", "task_time_tracked_edited.json", []want{{event.TimeLogged, "team-kelp", carol, "entry=2800809188061119507"}}},
		{"clickup", "task_time_tracked_deleted.json", []want{{event.TimeDeleted, "team-kelp", "", "entry=2800809188061119507"}}},
	}
	for _, c := range cases {
		t.Run(c.source+"/"+c.file, func(t *testing.T) {
			rec := f.do(signed(t, c.source, c.file))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := decodeEvents(t, f.w.take(), "shoal.events")
			if len(got) != len(c.want) {
				t.Fatalf("%d events, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Type != w.typ || g.Data["team"] != w.team || g.Source != "intake/"+c.source || g.SpecVersion != "1.0" {
					t.Errorf("event %d: %+v, want %+v", i, g, w)
				}
				person, _ := g.Data["person"].(string)
				if person != w.person {
					t.Errorf("event %d: person %q, want %q", i, person, w.person)
				}
				if g.Pseudonymous != (person != "") || (person != "" && !privacy.IsPseudonym(person)) {
					t.Errorf("event %d: person %q, shoalpseudonymized %v", i, person, g.Pseudonymous)
				}
				if k, v, ok := strings.Cut(w.extra, "="); ok && g.Data[k] != v {
					t.Errorf("event %d: data.%s = %v, want %s", i, k, g.Data[k], v)
				}
			}
		})
	}
}

// TestDefaultDeny: no string of a fixture (titles, bodies, descriptions,
// URLs, label text, names, logins, e-mails, account ids) is in what the
// intake produces, except timestamps, which the contract carries.
func TestDefaultDeny(t *testing.T) {
	f := newFixture(t, "testdata/sources.yaml", writeFile(t, "people.yaml", "unmapped: own_person\npeople: []\n"))
	for _, source := range []string{"github", "gitlab", "jira"} {
		files, _ := filepath.Glob(filepath.Join("testdata", source, "*.json"))
		for _, path := range files {
			file := filepath.Base(path)
			rec := f.do(signed(t, source, file))
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d", file, rec.Code)
			}
			var out []byte
			for _, m := range f.w.take() {
				out = append(append(out, m.Value...), m.Key...)
			}
			body, _ := os.ReadFile(path)
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			for _, n := range userIDs(v) {
				if bytes.Contains(out, []byte(n)) {
					t.Errorf("%s/%s: user id %s is in the produced events: %s", source, file, n, out)
				}
			}
			for _, s := range stringsIn(v) {
				// Timestamps, dates, numeric ids and lower-case enum words
				// (actions, states) may be in ids and types.
				if _, err := time.Parse(time.RFC3339, s); err == nil || len(s) < 5 || enumLike.MatchString(s) {
					continue
				}
				if _, ok := jiraTime(s); ok {
					continue
				}
				if bytes.Contains(bytes.ToLower(out), bytes.ToLower([]byte(s))) {
					t.Errorf("%s/%s: %q of the payload is in the produced events: %s", source, file, s, out)
				}
			}
		}
	}
}

// userIDs are the numeric ids of the user objects (those with a login or
// username) in v.
func userIDs(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, userIDs(e)...)
		}
	case map[string]any:
		if _, ok := x["login"]; ok {
			out = append(out, fmt.Sprint(x["id"]))
		} else if _, ok := x["username"]; ok {
			out = append(out, fmt.Sprint(x["id"]))
		}
		for _, e := range x {
			out = append(out, userIDs(e)...)
		}
	}
	return out
}

var enumLike = regexp.MustCompile(`^([0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}|[a-z]{1,10})$`)

func stringsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadSignature(t *testing.T) {
	f := defaultFixture(t)
	cases := map[string]struct {
		file   string
		header string
		forged func(r *http.Request)
	}{
		"github": {"issues-opened.json", "X-Hub-Signature-256", func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", "sha256="+hmacHex([]byte("not-the-secret-0123456789"), []byte("{}")))
		}},
		"gitlab": {"issue-open.json", "X-Gitlab-Token", func(r *http.Request) { r.Header.Set("X-Gitlab-Token", "gitlab-fixture-token-0123456788") }},
		"jira": {"issue_created.json", "X-Hub-Signature", func(r *http.Request) {
			r.Header.Set("X-Hub-Signature", strings.Replace(r.Header.Get("X-Hub-Signature"), "sha256=", "sha1=", 1))
		}},
		"cloudevents": {"structured.json", "Authorization", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }},
		"linear": {"issue_update_started.json", "Linear-Signature", func(r *http.Request) {
			r.Header.Set("Linear-Signature", hmacHex([]byte("not-the-signing-secret"), []byte("{}")))
		}},
		"clickup": {"task_time_tracked.json", "X-Signature", func(r *http.Request) {
			r.Header.Set("X-Signature", hmacHex([]byte("not-the-webhook-secret"), []byte("{}")))
		}},
		"toggl": {"time_entry_created.json", "X-Webhook-Signature-256", func(r *http.Request) {
			r.Header.Set("X-Webhook-Signature-256", "sha256="+hmacHex([]byte("not-the-subscription-secret"), []byte("{}")))
		}},
	}
	for source, c := range cases {
		t.Run(source, func(t *testing.T) {
			r := signed(t, source, c.file)
			c.forged(r)
			if rec := f.do(r); rec.Code != http.StatusUnauthorized {
				t.Errorf("forged: status %d, want 401", rec.Code)
			}
			r = signed(t, source, c.file)
			r.Header.Del(c.header)
			if rec := f.do(r); rec.Code != http.StatusUnauthorized {
				t.Errorf("missing: status %d, want 401", rec.Code)
			}
			// A body changed after signing fails too (HMAC sources).
			if source != "gitlab" && source != "cloudevents" {
				r = signed(t, source, c.file)
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(append(b, ' ')))
				if rec := f.do(r); rec.Code != http.StatusUnauthorized {
					t.Errorf("tampered: status %d, want 401", rec.Code)
				}
			}
			if n := testutil.ToFloat64(f.srv.m.deliveries.WithLabelValues(source, OutcomeBadSignature)); n < 2 {
				t.Errorf("bad_signature counted %v times", n)
			}
			if got := f.w.take(); len(got) != 0 {
				t.Errorf("produced %d messages for a bad signature", len(got))
			}
		})
	}
}

// TestRetriedDelivery: a source's retry is answered without producing
// again, and a retry the intake no longer remembers (a restart) produces
// the same event ids.
func TestRetriedDelivery(t *testing.T) {
	for _, c := range [][2]string{{"github", "issues-assigned.json"}, {"gitlab", "mr-update-reviewers.json"}, {"jira", "issue_updated-done.json"}, {"cloudevents", "batch.json"}, {"clickup", "task_time_tracked.json"}, {"toggl", "time_entry_created.json"}} {
		t.Run(c[0], func(t *testing.T) {
			f := defaultFixture(t)
			f.do(signed(t, c[0], c[1]))
			first := f.w.take()
			if len(first) == 0 {
				t.Fatal("nothing produced")
			}
			if rec := f.do(signed(t, c[0], c[1])); rec.Code != http.StatusOK {
				t.Fatalf("retry: status %d", rec.Code)
			}
			if again := f.w.take(); len(again) != 0 {
				t.Errorf("a retry produced %d messages again", len(again))
			}
			if n := testutil.ToFloat64(f.srv.m.deliveries.WithLabelValues(c[0], OutcomeDuplicate)); n != 1 {
				t.Errorf("duplicate counted %v times", n)
			}
			restarted := defaultFixture(t)
			restarted.do(signed(t, c[0], c[1]))
			second := restarted.w.take()
			if len(second) != len(first) {
				t.Fatalf("%d then %d messages", len(first), len(second))
			}
			for i := range first {
				if !bytes.Equal(first[i].Value, second[i].Value) {
					t.Errorf("message %d differs: %s vs %s", i, first[i].Value, second[i].Value)
				}
			}
		})
	}
}

func TestBotsExcluded(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []string{"github", "gitlab", "jira", "cloudevents"} {
		b, _ := os.ReadFile(filepath.Join("testdata", s+".secret"))
		os.WriteFile(filepath.Join(dir, s+".secret"), b, 0o600)
	}
	src := filepath.Join(dir, "sources.yaml")
	os.WriteFile(src, []byte(`sources:
  github:
    secret_file: github.secret
    scopes: {acme/orca-api: team-orca}
    bots: [Bob-K]
  jira:
    secret_file: jira.secret
    scopes: {ORCA: team-orca}
`), 0o600)
	f := newFixture(t, src, "testdata/people.yaml")
	// stale[bot] is "type": "Bot"; bob-k is a configured bot account.
	for _, file := range []string{"issues-closed-by-bot.json", "issues-assigned.json", "pull_request_review-submitted.json"} {
		if rec := f.do(signed(t, "github", file)); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", file, rec.Code)
		}
	}
	if got := f.w.take(); len(got) != 0 {
		t.Errorf("bots' activities produced %d events", len(got))
	}
	if n := testutil.ToFloat64(f.srv.m.dropped.WithLabelValues("github", "bot")); n != 3 {
		t.Errorf("bot activities counted %v, want 3", n)
	}
	// An app account in Jira is a bot.
	body, _ := os.ReadFile("testdata/jira/issue_created.json")
	body = bytes.ReplaceAll(body, []byte(`"accountType": "atlassian"`), []byte(`"accountType": "app"`))
	r := signed(t, "jira", "issue_created.json")
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.Header.Set("X-Hub-Signature", "sha256="+hmacHex(secret(t, "jira"), body))
	if rec := f.do(r); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if got := f.w.take(); len(got) != 0 {
		t.Errorf("an app account's activity produced %d events", len(got))
	}
}

func TestBrokerDownIs503(t *testing.T) {
	f := defaultFixture(t)
	f.w.fail = errors.New("dial tcp: connection refused")
	rec := f.do(signed(t, "github", "issues-opened.json"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Not remembered as accepted: the source's retry produces.
	f.w.fail = nil
	if rec := f.do(signed(t, "github", "issues-opened.json")); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if got := f.w.take(); len(got) != 1 {
		t.Errorf("the retry produced %d events, want 1", len(got))
	}
	if n := testutil.ToFloat64(f.srv.m.deliveries.WithLabelValues("github", OutcomeUnavailable)); n != 1 {
		t.Errorf("unavailable counted %v", n)
	}
}
