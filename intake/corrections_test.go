package intake

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// correctionSources are the dialects whose time entries are correctable,
// with their fixtures of one entry created, edited and deleted.
var correctionSources = []struct {
	source                   Source
	created, edited, deleted string
}{
	{NewToggl(), "time_entry_created.json", "time_entry_updated.json", "time_entry_deleted.json"},
	{NewClickUp(), "task_time_tracked.json", "task_time_tracked_edited.json", "task_time_tracked_deleted.json"},
}

func mapFixture(t *testing.T, s Source, name string) Activity {
	t.Helper()
	acts, err := s.Map(Delivery{Header: http.Header{}, Body: dialectFixture(t, s.Name(), name)}, SourceConfig{})
	if err != nil || len(acts) != 1 {
		t.Fatalf("%s %s: Map = %+v, %v; want one activity", s.Name(), name, acts, err)
	}
	return acts[0]
}

// encodedData encodes a as the server would and returns the event's data.
func encodedData(t *testing.T, a Activity, pseudonym string) map[string]any {
	t.Helper()
	b, err := encode(a, "intake/x", "team-orca", pseudonym)
	if err != nil {
		t.Fatalf("encode %+v: %v", a, err)
	}
	var ev struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != a.Type {
		t.Fatalf("encoded type %q, want %q", ev.Type, a.Type)
	}
	return ev.Data
}

// TestTimeEntryRevisions: a created entry, its edit and its deletion are
// three revisions of one entry, each under its own id with a greater
// revision; a retried delivery maps to the same ids; the encoded events
// carry entry and revision, and the deletion no person.
func TestTimeEntryRevisions(t *testing.T) {
	t.Parallel()
	const pseudonym = "p_0123456789abcdef0123456789abcdef"
	for _, c := range correctionSources {
		t.Run(c.source.Name(), func(t *testing.T) {
			t.Parallel()
			created := mapFixture(t, c.source, c.created)
			edited := mapFixture(t, c.source, c.edited)
			deleted := mapFixture(t, c.source, c.deleted)
			if created.Type != event.TimeLogged || edited.Type != event.TimeLogged || deleted.Type != event.TimeDeleted {
				t.Fatalf("types %s, %s, %s", created.Type, edited.Type, deleted.Type)
			}
			for _, a := range []Activity{edited, deleted} {
				if a.Entry != created.Entry || a.Entry == "" || !a.HasRevision {
					t.Errorf("%s: entry %q (revision set %v), want the created entry's %q", a.Type, a.Entry, a.HasRevision, created.Entry)
				}
			}
			if !(created.Revision < edited.Revision && edited.Revision < deleted.Revision) {
				t.Errorf("revisions %d, %d, %d: want increasing", created.Revision, edited.Revision, deleted.Revision)
			}
			if created.ID == edited.ID || edited.ID == deleted.ID || created.ID == deleted.ID {
				t.Errorf("ids %q, %q, %q: want one per revision", created.ID, edited.ID, deleted.ID)
			}
			for _, name := range []string{c.created, c.edited, c.deleted} {
				if a, b := mapFixture(t, c.source, name), mapFixture(t, c.source, name); a.ID != b.ID || a.Revision != b.Revision {
					t.Errorf("%s: a re-sent delivery maps to %q/%d, first to %q/%d", name, b.ID, b.Revision, a.ID, a.Revision)
				}
			}

			for _, a := range []Activity{created, edited} {
				d := encodedData(t, a, pseudonym)
				if d["entry"] != a.Entry || d["revision"] != json.Number(itoa(a.Revision)) || d["person"] != pseudonym {
					t.Errorf("encoded %s data %v: want entry %q, revision %d and the person", a.Type, d, a.Entry, a.Revision)
				}
			}
			// The server never passes a pseudonym for a deletion; encode
			// would not write one anyway.
			d := encodedData(t, deleted, pseudonym)
			want := map[string]any{"team": "team-orca", "entry": deleted.Entry, "revision": json.Number(itoa(deleted.Revision))}
			if len(d) != len(want) || d["team"] != want["team"] || d["entry"] != want["entry"] || d["revision"] != want["revision"] {
				t.Errorf("encoded deletion data %v, want exactly %v", d, want)
			}
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestEncodeEntryRevision: entry and revision go together, a deletion needs
// both, and the entry may not identify a person.
func TestEncodeEntryRevision(t *testing.T) {
	t.Parallel()
	at := dialectTime(t, "2024-05-01T10:30:00Z")
	logged := Activity{ID: "x:1", Type: event.TimeLogged, Time: at, Start: at.Add(-30 * time.Minute), End: at, Category: "focus"}
	withEntry := logged
	withEntry.Entry, withEntry.Revision, withEntry.HasRevision = "99812", 0, true
	if d := encodedData(t, withEntry, "p_0123456789abcdef0123456789abcdef"); d["revision"] != json.Number("0") || d["entry"] != "99812" {
		t.Errorf("revision 0 is a revision: data %v", d)
	}
	if d := encodedData(t, logged, "p_0123456789abcdef0123456789abcdef"); d["entry"] != nil || d["revision"] != nil {
		t.Errorf("an entry without entry/revision encoded them: %v", d)
	}
	onlyEntry := logged
	onlyEntry.Entry = "99812"
	onlyRevision := logged
	onlyRevision.HasRevision, onlyRevision.Revision = true, 5
	bareDeletion := Activity{ID: "x:2", Type: event.TimeDeleted, Time: at}
	negative := withEntry
	negative.Revision = -1
	for name, a := range map[string]Activity{"entry alone": onlyEntry, "revision alone": onlyRevision, "deletion without entry": bareDeletion, "negative": negative} {
		if _, err := encode(a, "intake/x", "team-orca", "p_0123456789abcdef0123456789abcdef"); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	email := withEntry
	email.Entry = "dave@acme.example"
	if _, err := encode(email, "intake/x", "team-orca", "p_0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "data.entry") {
		t.Errorf("an e-mail in data.entry: %v", err)
	}
}

// TestCloudEventsEntryRevision: the strict reader forwards entry, revision
// and work.time.deleted, and refuses what the contract refuses.
func TestCloudEventsEntryRevision(t *testing.T) {
	t.Parallel()
	h := http.Header{"Content-Type": {"application/cloudevents+json"}}
	read := func(body string) ([]Activity, error) {
		return CloudEvents{}.Map(Delivery{Header: h, Body: []byte(body)}, SourceConfig{})
	}
	acts, err := read(`{"specversion":"1.0","id":"toggl-99812-1714559460000","source":"toggl/acme","type":"work.time.logged","time":"2024-05-01T10:31:00Z",
		"data":{"team":"team-orca","person":"alice.smith@acme.example","start":"2024-05-01T09:00:00Z","end":"2024-05-01T10:30:00Z","category":"focus","entry":"99812","revision":1714559460000}}`)
	if err != nil || len(acts) != 1 || acts[0].Entry != "99812" || !acts[0].HasRevision || acts[0].Revision != 1714559460000 {
		t.Fatalf("logged with entry: %+v, %v", acts, err)
	}
	acts, err = read(`{"specversion":"1.0","id":"toggl-99812-deleted","source":"toggl/acme","type":"work.time.deleted","time":"2024-05-02T08:00:00Z","data":{"team":"team-orca","entry":"99812","revision":1714636800000}}`)
	if err != nil || len(acts) != 1 || acts[0].Type != event.TimeDeleted || acts[0].Entry != "99812" || acts[0].Revision != 1714636800000 || acts[0].Who.Value != "" {
		t.Fatalf("deleted: %+v, %v", acts, err)
	}
	if d := encodedData(t, acts[0], ""); d["person"] != nil || d["entry"] != "99812" {
		t.Errorf("deleted encoded as %v", d)
	}
	refused := map[string]string{
		"person on a deletion": `{"team":"t","entry":"1","revision":1,"person":"bob@acme.example"}`,
		"deletion bare":        `{"team":"t"}`,
		"entry alone":          `{"team":"t","entry":"1"}`,
		"revision alone":       `{"team":"t","revision":1}`,
		"revision a string":    `{"team":"t","entry":"1","revision":"1"}`,
		"revision negative":    `{"team":"t","entry":"1","revision":-1}`,
		"revision a fraction":  `{"team":"t","entry":"1","revision":1.5}`,
		"revision exponent":    `{"team":"t","entry":"1","revision":1e3}`,
		"revision too large":   `{"team":"t","entry":"1","revision":9223372036854775808}`,
	}
	for name, data := range refused {
		body := `{"specversion":"1.0","id":"1","source":"s","type":"work.time.deleted","time":"2024-05-07T10:00:00Z","data":` + data + `}`
		if _, err := read(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := read(`{"specversion":"1.0","id":"1","source":"s","type":"work.task.blocked","time":"2024-05-07T10:00:00Z","data":{"team":"t","task":"T-1","entry":"1","revision":1}}`); !errors.Is(err, ErrMalformed) {
		t.Errorf("entry on a task event: %v, want ErrMalformed", err)
	}
}
