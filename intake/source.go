// Package intake takes the webhooks of the tools teams already use (GitHub,
// GitLab, Jira, Linear, ClickUp, Toggl, and anything that speaks the
// CloudEvents HTTP binding), verifies each source's own signature scheme,
// maps a delivery to the few facts Shoal's event contract needs (default
// deny: titles, bodies, comments, label text, descriptions and URLs never
// leave it), resolves who did it through the people file, attributes it to
// a team, pseudonymizes the person at the edge and produces contract events
// to Kafka, acknowledging the source only once the broker has.
//
// The split: a Source knows one tool's dialect (Verify, Map) and nothing of
// teams, people, keys or Kafka; the server (everything else in the package)
// does the rest the same way for every source.
package intake

import (
	"errors"
	"net/http"
	"time"
)

// ErrBadSignature is returned (wrapped) by Source.Verify when a delivery's
// signature or token is missing or does not match: the intake answers 401
// and counts it.
var ErrBadSignature = errors.New("intake: bad or missing signature")

// ErrMalformed is returned (wrapped) by Source.Map for a verified delivery
// whose payload does not have the shape the source documents: the intake
// answers 400 with the reason and counts it.
var ErrMalformed = errors.New("intake: malformed payload")

// Delivery is one webhook request as the source sent it.
type Delivery struct {
	Header http.Header
	Body   []byte
}

// Identity is who did something, as one source names them. Kind is the
// identity kind the people file keys on: "github", "gitlab", "jira",
// "linear", "clickup", "toggl" or "email"; Value is the source's stable
// user id (preferred) or login.
type Identity struct {
	Kind, Value string
}

// Activity is one contract event a delivery maps to, before identity
// resolution, team attribution and pseudonymization. It holds exactly what
// docs/events.md needs and nothing else.
type Activity struct {
	// ID is unique per activity and the same when the source retries the
	// delivery: built from the source's delivery id or its entity ids and
	// action, never from arrival time, so the pipeline's dedup by (source,
	// id) holds.
	ID string
	// Type is one of event.Types (the contract's event types).
	Type string
	// Source is the event's source attribute when the delivery itself
	// names one (the CloudEvents endpoint forwards the producer's); empty
	// for webhooks: the server sets "intake/<name>".
	Source string
	// Time is when it happened, from the payload (UTC).
	Time time.Time
	// Who did it; the zero Identity when the source names nobody.
	Who Identity
	// Bot marks an actor the source itself flags as automation (GitHub
	// "type": "Bot"); the server drops such activities, as it drops those of
	// the sources file's configured bot accounts.
	Bot bool
	// Scope is the source's container that the sources file maps to a team:
	// GitHub "owner/repo", GitLab project path, Jira project key, Linear team
	// key, ClickUp list id, Toggl workspace id (or "workspace/project").
	Scope string
	// Task and Request are the source's own ids (ingest keys them); Task for
	// work.task.* and time entries that name a task, Request for
	// work.request.*.
	Task, Request string
	// Due: DueAt when the source has a time of day, else DueDate
	// ("YYYY-MM-DD"); EstimateHours when the source has an estimate.
	DueAt         time.Time
	DueDate       string
	EstimateHours *float64
	// Kind is the task kind (event.TaskKinds) or request kind
	// (event.RequestKinds), from the source's issue type or the sources
	// file's label mapping; empty when unknown.
	Kind string
	// Start, End and Category are a time entry's (work.time.logged); the
	// category comes from SourceConfig.Categories, never from free text.
	Start, End time.Time
	Category   string
	// Entry and Revision make a time entry correctable (docs/events.md,
	// "Corrected and deleted time entries"): Entry is the tracker's id of
	// the time entry, the same in every revision of it; Revision orders the
	// revisions (a counter, or the tracker's updated-at in Unix
	// milliseconds; the greatest wins) and is set only when HasRevision is
	// (0 is a valid revision). They go together: a work.time.logged with
	// neither is an entry of its own that nothing can correct, and a
	// work.time.deleted needs both. A source that sets them builds ID per
	// revision (e.g. "toggl:te:<entry>:<revision>"), so that the pipeline's
	// dedup by (source, id) keeps a correction and drops only a retry.
	//
	// A work.time.deleted never carries a person: Who may still name who
	// deleted the entry, but only to attribute the event to a team; it is
	// not encoded.
	Entry       string
	Revision    int64
	HasRevision bool
}

// SourceConfig is one source's mapping settings from the sources file.
// Keys of the maps are matched lower-cased.
type SourceConfig struct {
	// Bots are account ids or logins of automation whose activity is not
	// people's work; their activities are dropped.
	Bots []string
	// States maps the source's status or state names to a task event type
	// (event.TaskStarted, TaskCompleted, TaskBlocked, TaskCancelled,
	// TaskReopened), overriding the source's defaults (status categories,
	// state types).
	States map[string]string
	// Kinds maps label, issue-type or tag names to a task kind.
	Kinds map[string]string
	// Categories maps a project, tag or list name or id to a time category
	// (event.Categories); an entry with no match gets DefaultCategory
	// ("other" when empty).
	Categories      map[string]string
	DefaultCategory string
}

// Source is one tool's webhook dialect: how it signs a delivery and how a
// delivery maps to activities. It knows nothing of teams, people, keys or
// Kafka.
type Source interface {
	// Name is the source's path segment (/intake/<name>) and the source
	// label of its metrics.
	Name() string
	// Verify checks the delivery with the source's own scheme and secret;
	// it returns an error wrapping ErrBadSignature when the signature or
	// token is missing or wrong, and compares in constant time.
	Verify(d Delivery, secret []byte) error
	// Map turns a verified delivery into activities. A delivery the
	// contract does not need (an event kind Shoal does not map, a ping)
	// maps to none, without error: it is acknowledged and produces nothing.
	Map(d Delivery, cfg SourceConfig) ([]Activity, error)
}

// Handshaker is implemented by a source whose webhook setup sends a
// validation request that must be answered with a body of its own (Toggl's
// validation_code). Handshake reports whether d is such a request and, if
// so, the answer's body; the server answers 200 with it without producing
// anything. The server asks only once Verify accepted the delivery: Toggl
// signs its validation ping like every event it delivers (its signature
// documentation uses a ping as the example), so an unsigned or forged one
// is a 401 and never gets a code echoed.
type Handshaker interface {
	Handshake(d Delivery) (answer []byte, ok bool)
}
