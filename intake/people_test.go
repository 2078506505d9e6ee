package intake

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestOnePersonAcrossTools: a person's GitHub login, Jira accountId and
// e-mail (through the CloudEvents endpoint) are one person, with the
// pseudonym ingest gives their canonical id sent raw.
func TestOnePersonAcrossTools(t *testing.T) {
	f := defaultFixture(t)
	var persons []string
	for _, c := range [][2]string{{"github", "issues-opened.json"}, {"jira", "issue_updated-started.json"}, {"cloudevents", "structured.json"}} {
		if rec := f.do(signed(t, c[0], c[1])); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", c[1], rec.Code)
		}
		for _, e := range decodeEvents(t, f.w.take(), "shoal.events") {
			persons = append(persons, e.Data["person"].(string))
		}
	}
	want := f.pseudonym("alice.smith@acme.example")
	if len(persons) != 3 || persons[0] != want || persons[1] != want || persons[2] != want {
		t.Errorf("persons %v, want three times %s", persons, want)
	}
}

func TestMembershipByDay(t *testing.T) {
	p, err := ParsePeople("people.yaml", []byte(`people:
  - id: a@x.example
    identities: {github: a}
    teams:
      - {team: one, to: 2024-05-07}
      - {team: two, from: 2024-05-08, to: 2024-05-31}
`))
	if err != nil {
		t.Fatal(err)
	}
	x, ok := p.Lookup(Identity{"github", "A "})
	if !ok {
		t.Fatal("identity not found (lookups are case- and space-insensitive)")
	}
	for day, want := range map[string]string{"2023-01-01T00:00:00Z": "one", "2024-05-07T23:59:59Z": "one", "2024-05-08T00:00:00Z": "two",
		"2024-05-31T12:00:00Z": "two", "2024-06-01T00:00:00Z": ""} {
		tm, _ := time.Parse(time.RFC3339, day)
		if got := x.TeamOn(tm, nil); got != want {
			t.Errorf("%s: team %q, want %q", day, got, want)
		}
	}
	// Each membership's days are its team's: in Los Angeles 03:00 UTC on
	// the 8th is still the 7th, in Tokyo 20:00 UTC on the 7th already the 8th.
	la, _ := time.LoadLocation("America/Los_Angeles")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, c := range []struct {
		at       string
		one, two *time.Location
		want     string
	}{
		{"2024-05-08T03:00:00Z", la, la, "one"},
		{"2024-05-08T03:00:00Z", nil, nil, "two"},
		{"2024-05-07T20:00:00Z", tokyo, tokyo, "two"},
		{"2024-05-07T20:00:00Z", la, la, "one"},
		{"2024-06-01T05:00:00Z", la, la, "two"},
		// A gap between two zones' days: neither team's day.
		{"2024-05-08T03:00:00Z", time.UTC, la, ""},
	} {
		tm, _ := time.Parse(time.RFC3339, c.at)
		zones := map[string]*time.Location{"one": c.one, "two": c.two}
		if got := x.TeamOn(tm, func(team string) *time.Location { return zones[team] }); got != c.want {
			t.Errorf("%s with zones %v: team %q, want %q", c.at, zones, got, c.want)
		}
	}
}

func TestUnmappedIdentity(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		f := newFixture(t, "testdata/sources.yaml", writeFile(t, "people.yaml", "people:\n  - id: someone@acme.example\n"))
		rec := f.do(signed(t, "github", "issues-assigned.json"))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: the source must not retry an unmapped identity forever", rec.Code)
		}
		msgs := f.w.take()
		if len(decodeEvents(t, msgs, "shoal.events")) != 0 || len(msgs) != 1 {
			t.Fatalf("want one refused unmapped identity and no event, got %+v", msgs)
		}
		checkUnmapped(t, f.pseudo, msgs[0], event.TaskStarted, "team-orca", "bob-k", "1024025")
		if n := testutil.ToFloat64(f.srv.m.deliveries.WithLabelValues("github", OutcomeUnmapped)); n != 1 {
			t.Errorf("unmapped counted %v", n)
		}
		// Not remembered: once the people file lists them, the retry produces.
		if f.do(signed(t, "github", "issues-assigned.json")); testutil.ToFloat64(f.srv.m.deliveries.WithLabelValues("github", OutcomeDuplicate)) != 0 {
			t.Error("a refused delivery was remembered as accepted")
		}
	})
	t.Run("own_person", func(t *testing.T) {
		f := newFixture(t, "testdata/sources.yaml", writeFile(t, "people.yaml", "unmapped: own_person\npeople: []\n"))
		f.do(signed(t, "github", "issues-assigned.json"))
		got := decodeEvents(t, f.w.take(), "shoal.events")
		if len(got) != 1 || got[0].Data["person"] != f.pseudonym("github:bob-k") {
			t.Errorf("got %+v, want bob-k as the person github:bob-k", got)
		}
		if n := testutil.ToFloat64(f.srv.m.unmapped.WithLabelValues("github", UnmappedOwnPerson)); n != 1 {
			t.Errorf("own_person counted %v", n)
		}
	})
}

// checkUnmapped: m is the refused unmapped identity of an activity of
// type typ: on the event topic, keyed by team, marked shoalunmapped, with
// no person and none of the raw values, and ingest refuses it as
// unmapped_identity on data.person, so that the store counts it in data
// quality.
func checkUnmapped(t *testing.T, p *privacy.Pseudonymizer, m kafka.Message, typ, team string, raw ...string) {
	t.Helper()
	got := unmappedOn(t, []kafka.Message{m}, "shoal.events")
	if len(got) != 1 || got[0].Type != typ || got[0].Data["team"] != team || got[0].Pseudonymous || got[0].Data["person"] != nil {
		t.Fatalf("refused unmapped identity %s on %s, want a %s of %s without a person on shoal.events", m.Value, m.Topic, typ, team)
	}
	for _, r := range raw {
		if strings.Contains(strings.ToLower(string(m.Value)+string(m.Key)), strings.ToLower(r)) {
			t.Errorf("the identity %q is in %s", r, m.Value)
		}
	}
	var ev event.Event
	rej := ingest.NewDecoder(p, nil, 0).Decode(m.Value, &ev)
	if rej == nil || rej.Reason != ingest.ReasonUnmappedIdentity || rej.Field != "data.person" {
		t.Errorf("ingest's decoder: %v, want %s on data.person", rej, ingest.ReasonUnmappedIdentity)
	}
}

func TestBadPeopleFiles(t *testing.T) {
	cases := map[string]struct{ file, want string }{
		"unknown key":    {"people:\n  - id: a\n    team: x\n", "people.yaml: line 3: field team not found"},
		"unknown kind":   {"people:\n  - id: a\n    identities: {slack: U1}\n", `people.yaml:2: people[0].identities: "slack" is not an identity kind`},
		"shared":         {"people:\n  - id: a\n    identities: {github: x}\n  - id: b\n    identities: {github: X}\n", "people.yaml:4: people[1].identities.github: the same github identity is also another person's"},
		"duplicate id":   {"people:\n  - id: a@x\n  - id: A@x\n", "people.yaml:3: people[1] has the id of people[0]"},
		"no id":          {"people:\n  - identities: {github: x}\n", "people.yaml:2: people[0] has no id"},
		"bad date":       {"people:\n  - id: a\n    teams: [{team: t, from: 05/01/2024}]\n", `people[0].teams[0].from: "05/01/2024" is not a date`},
		"overlap":        {"people:\n  - id: a\n    teams: [{team: t, from: 2024-01-01}, {team: u, from: 2024-03-01}]\n", "people[0].teams[1] overlaps the membership in t"},
		"backwards":      {"people:\n  - id: a\n    teams: [{team: t, from: 2024-03-01, to: 2024-01-01}]\n", "to (2024-01-01) is before from (2024-03-01)"},
		"unmapped value": {"unmapped: ignore\npeople: []\n", `unmapped: "ignore" is not a setting`},
		"empty":          {"", "the file is empty"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePeople("people.yaml", []byte(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
			if err != nil && strings.Contains(c.file, "id: a@x") && strings.Contains(err.Error(), "a@x") {
				t.Errorf("the error shows a person's id: %v", err)
			}
		})
	}
}

func TestBadSourcesFiles(t *testing.T) {
	known := []string{"github", "gitlab", "jira", "cloudevents"}
	cases := map[string]struct{ file, want string }{
		"missing secret file": {"sources:\n  github:\n    secret_file: nope.secret\n", "sources.yaml:2: sources.github.secret_file: open testdata/nope.secret: no such file or directory; create it"},
		"no secret file":      {"sources:\n  github:\n    scopes: {a/b: t}\n", "sources.github.secret_file is missing"},
		"unknown source":      {"sources:\n  bitbucket:\n    secret_file: github.secret\n", "sources.yaml:2: sources.bitbucket: not a source the intake knows; use github, gitlab, jira, cloudevents"},
		"bad state":           {"sources:\n  jira:\n    secret_file: jira.secret\n    states: {Review: waiting}\n", `sources.jira.states.Review: "waiting" is not a task event`},
		"bad kind":            {"sources:\n  github:\n    secret_file: github.secret\n    kinds: {bug: defect}\n", `"defect" is not a task kind`},
		"unknown key":         {"sources:\n  github:\n    secret: x\n", "line 3: field secret not found"},
		"none":                {"sources: {}\n", "no sources configured"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSources("sources.yaml", []byte(c.file), "testdata", known)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestMembershipInTeamZone: through the server, a time entry is attributed
// to the team the person belonged to on the entry's day in that team's
// zone (Config.Location): Alice left team-orca on 2024-05-07, and her
// entry of 20:00 that day in Los Angeles (03:00 UTC on the 8th) is
// team-orca's when the teams are in Los Angeles, team-kelp's in UTC.
func TestMembershipInTeamZone(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer(`"start": "2024-05-01T09:00:00+00:00"`, `"start": "2024-05-08T03:00:00+00:00"`,
		`"stop": "2024-05-01T10:30:00+00:00"`, `"stop": "2024-05-08T04:00:00+00:00"`).Replace(string(dialectFixture(t, "toggl", "time_entry_created.json")))
	if !strings.Contains(body, "2024-05-08T03:00:00") {
		t.Fatal("the fixture's start and stop were not replaced")
	}
	for _, c := range []struct {
		name string
		loc  func(string) *time.Location
		want string
	}{
		{"teams in Los Angeles", func(string) *time.Location { return la }, "team-orca"},
		{"no zones (UTC)", nil, "team-kelp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _ := privacy.NewPseudonymizer(testKey)
			w := &recorder{}
			srv, err := NewServer(Config{SourcesFile: "testdata/sources.yaml", PeopleFile: "testdata/people.yaml", Location: c.loc},
				Builtin(), p, w, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/intake/toggl", strings.NewReader(body))
			r.Header.Set("X-Webhook-Signature-256", "sha256="+hmacHex(secret(t, "toggl"), []byte(body)))
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			got := decodeEvents(t, w.take(), "shoal.events")
			if rec.Code != http.StatusOK || len(got) != 1 || got[0].Data["team"] != c.want || got[0].Data["person"] != p.Pseudonym("alice.smith@acme.example") {
				t.Fatalf("status %d, events %+v; want Alice's entry in %s", rec.Code, got, c.want)
			}
		})
	}
}
