package intake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// Linear is the dialect of Linear's data-change webhooks
// (https://linear.app/developers/webhooks). Set the webhook up under
// Settings → API → Webhooks with the URL /intake/linear, select the
// resource type "Issues" (nothing else is mapped), and copy the signing
// secret Linear generates into the sources file.
//
// Verify checks Linear-Signature, the hex HMAC-SHA256 of the raw body keyed
// with the signing secret, and that the body's webhookTimestamp (Unix
// milliseconds) is within MaxSkew of now, the replay window Linear's SDK
// enforces; a delivery outside it is refused as a bad signature.
//
// Map turns an Issue create or update into task events, from the issue's
// workflow state type:
//   - create → work.task.created at createdAt, with dueDate as the due date
//     and the kind from the sources file's Kinds by label name or id; an
//     issue created directly in a started, completed or canceled state
//     also gets that state's event;
//   - an update whose updatedFrom holds stateId (the state changed) →
//     started for the type "started", completed for "completed",
//     cancelled for "canceled", and nothing for "triage", "backlog" and
//     "unstarted"; a move between two states of the same type (In Progress
//     → In Review) maps to nothing, told by the startedAt, completedAt or
//     canceledAt stamp that did not change. When updatedFrom shows the issue
//     had a completedAt or canceledAt (it was done) and the new state is
//     not done, work.task.reopened comes first. The sources file's States,
//     keyed by workflow state name, override the type's event.
//
// Issue removals and every other resource type map to nothing. Linear
// estimates are points of the team's estimate scale (exponential,
// Fibonacci, linear or T-shirt), never hours, so no estimate is mapped.
//
// Who is the issue's creatorId for created and its assigneeId for state
// changes (the person whose task moved, also when an integration such as
// GitHub's moved it on a merge); only when the issue names nobody is it the
// actor, and an actor whose type is not "user" (an integration or OAuth
// application) marks the activity Bot. Scope is the Linear team key (the
// team id when the payload has no key); Task is the issue id (a UUID, stable
// when the issue moves between teams, unlike its identifier). Titles,
// descriptions, comments, label names, user names and URLs never leave.
//
// Activity ids are built from the issue id, the change and its updatedAt,
// never from the delivery, so a retried delivery (which carries a new
// webhookTimestamp) maps to the same ids.
type Linear struct {
	// Now is the clock the webhookTimestamp is checked against; nil means
	// time.Now.
	Now func() time.Time
	// MaxSkew is how far webhookTimestamp may be from Now. Default: 60s.
	MaxSkew time.Duration
}

// NewLinear returns the Linear dialect with the real clock and the 60 s
// replay window.
func NewLinear() Source { return &Linear{} }

var (
	_ Source = (*Linear)(nil)

	linearDefaultSkew = 60 * time.Second
)

// Name is "linear".
func (*Linear) Name() string { return "linear" }

// Verify checks the Linear-Signature header and the webhookTimestamp.
func (l *Linear) Verify(d Delivery, secret []byte) error {
	if err := dialectVerifyHex(d.Header.Get("Linear-Signature"), "Linear-Signature", d.Body, secret); err != nil {
		return err
	}
	var ts struct {
		WebhookTimestamp *json.Number `json:"webhookTimestamp"`
	}
	if err := json.Unmarshal(d.Body, &ts); err != nil || ts.WebhookTimestamp == nil {
		// A signed body that is not JSON or has no timestamp is Map's to
		// refuse as malformed; Linear's SDK checks the window only when
		// the field is there.
		return nil
	}
	ms, err := ts.WebhookTimestamp.Int64()
	if err != nil {
		return fmt.Errorf("%w: webhookTimestamp %q is not Unix milliseconds", ErrBadSignature, ts.WebhookTimestamp.String())
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	skew := l.MaxSkew
	if skew <= 0 {
		skew = linearDefaultSkew
	}
	if diff := now().Sub(time.UnixMilli(ms)).Abs(); diff > skew {
		return fmt.Errorf("%w: webhookTimestamp is %s from now, outside the %s replay window (check the intake host's clock)", ErrBadSignature, diff.Round(time.Second), skew)
	}
	return nil
}

type linearPayload struct {
	Action      string                     `json:"action"`
	Type        string                     `json:"type"`
	Actor       *linearActor               `json:"actor"`
	Data        json.RawMessage            `json:"data"`
	UpdatedFrom map[string]json.RawMessage `json:"updatedFrom"`
}

type linearActor struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type linearIssue struct {
	ID        string  `json:"id"`
	CreatedAt string  `json:"createdAt"`
	UpdatedAt string  `json:"updatedAt"`
	StartedAt *string `json:"startedAt"`
	// CompletedAt and CanceledAt are read raw to tell null from absent.
	CompletedAt json.RawMessage `json:"completedAt"`
	CanceledAt  json.RawMessage `json:"canceledAt"`
	DueDate     *string         `json:"dueDate"`
	AssigneeID  *string         `json:"assigneeId"`
	CreatorID   *string         `json:"creatorId"`
	State       *struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"state"`
	TeamID string `json:"teamId"`
	Team   *struct {
		Key string `json:"key"`
	} `json:"team"`
	Labels []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"labels"`
}

// Map turns a verified Linear delivery into task activities.
func (l *Linear) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	var p linearPayload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return nil, fmt.Errorf("%w: linear: body is not a JSON webhook payload: %w", ErrMalformed, err)
	}
	if p.Type == "" || p.Action == "" {
		return nil, fmt.Errorf("%w: linear: payload has no type or action", ErrMalformed)
	}
	if p.Type != "Issue" || (p.Action != "create" && p.Action != "update") {
		return nil, nil
	}
	var is linearIssue
	if len(p.Data) == 0 || bytes.Equal(p.Data, []byte("null")) {
		return nil, fmt.Errorf("%w: linear: Issue %s has no data", ErrMalformed, p.Action)
	}
	if err := json.Unmarshal(p.Data, &is); err != nil {
		return nil, fmt.Errorf("%w: linear: Issue data is not an issue: %w", ErrMalformed, err)
	}
	var missing []string
	if is.ID == "" {
		missing = append(missing, "data.id")
	}
	if is.State == nil || is.State.Type == "" {
		missing = append(missing, "data.state.type")
	}
	scope := is.TeamID
	if is.Team != nil && is.Team.Key != "" {
		scope = is.Team.Key
	}
	if scope == "" {
		missing = append(missing, "data.team.key or data.teamId")
	}
	stamp := is.UpdatedAt
	if p.Action == "create" {
		stamp = is.CreatedAt
	}
	at, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		if p.Action == "create" {
			missing = append(missing, "data.createdAt (RFC 3339)")
		} else {
			missing = append(missing, "data.updatedAt (RFC 3339)")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: linear: Issue %s lacks %s", ErrMalformed, p.Action, strings.Join(missing, ", "))
	}
	at = at.UTC()

	base := Activity{Scope: scope, Task: is.ID}
	transition := func(typ string, person *string) Activity {
		a := base
		a.Type = typ
		a.Time = at
		a.ID = "linear:" + is.ID + ":" + linearVerb(typ) + ":" + strconv.FormatInt(at.UnixMilli(), 10)
		a.Who, a.Bot = linearWho(person, p.Actor)
		return a
	}

	var out []Activity
	if p.Action == "create" {
		c := base
		c.Type = event.TaskCreated
		c.Time = at
		c.ID = "linear:" + is.ID + ":created"
		c.Who, c.Bot = linearWho(is.CreatorID, p.Actor)
		if is.DueDate != nil && *is.DueDate != "" {
			if _, err := time.Parse(time.DateOnly, *is.DueDate); err != nil {
				return nil, fmt.Errorf("%w: linear: Issue create has a dueDate that is not YYYY-MM-DD", ErrMalformed)
			}
			c.DueDate = *is.DueDate
		}
		for _, lb := range is.Labels {
			if k := dialectLookup(cfg.Kinds, lb.Name, lb.ID); k != "" {
				c.Kind = k
				break
			}
		}
		out = append(out, c)
		if typ := linearStateEvent(cfg, is.State.Name, is.State.Type); typ != "" {
			out = append(out, transition(typ, is.AssigneeID))
		}
		return out, nil
	}

	if _, changed := p.UpdatedFrom["stateId"]; !changed {
		return nil, nil
	}
	typ := linearStateEvent(cfg, is.State.Name, is.State.Type)
	wasDone := linearSet(p.UpdatedFrom["completedAt"]) || linearSet(p.UpdatedFrom["canceledAt"])
	if wasDone && typ != event.TaskCompleted && typ != event.TaskCancelled && typ != event.TaskReopened {
		out = append(out, transition(event.TaskReopened, is.AssigneeID))
	}
	if typ != "" && !linearAlreadyIn(typ, cfg, is, p.UpdatedFrom, wasDone) {
		out = append(out, transition(typ, is.AssigneeID))
	}
	return out, nil
}

// linearAlreadyIn reports whether a state change only moved the issue
// between two states of the same type (In Progress → In Review): Linear
// stamps startedAt, completedAt and canceledAt when an issue enters a state
// of that type, so when the stamp is set and did not change (updatedFrom
// has no value for it) the issue was already there. A state the sources
// file's States names always counts.
func linearAlreadyIn(typ string, cfg SourceConfig, is linearIssue, from map[string]json.RawMessage, wasDone bool) bool {
	if dialectLookup(cfg.States, is.State.Name) != "" {
		return false
	}
	var stamp json.RawMessage
	var key string
	switch typ {
	case event.TaskStarted:
		if wasDone || is.StartedAt == nil || *is.StartedAt == "" {
			return false
		}
		stamp, key = json.RawMessage(`"`+*is.StartedAt+`"`), "startedAt"
	case event.TaskCompleted:
		stamp, key = is.CompletedAt, "completedAt"
	case event.TaskCancelled:
		stamp, key = is.CanceledAt, "canceledAt"
	default:
		return false
	}
	_, changed := from[key]
	return linearSet(stamp) && !changed
}

// linearStateEvent is the task event of entering a workflow state: the
// sources file's States by state name, else the state type's default.
func linearStateEvent(cfg SourceConfig, name, typ string) string {
	if t := dialectLookup(cfg.States, name); t != "" {
		return t
	}
	switch typ {
	case "started":
		return event.TaskStarted
	case "completed":
		return event.TaskCompleted
	case "canceled":
		return event.TaskCancelled
	}
	return "" // triage, backlog, unstarted
}

// linearWho names the person: the issue's own user id when it has one, else
// the actor, which is a bot unless Linear says it is a user.
func linearWho(person *string, actor *linearActor) (Identity, bool) {
	if person != nil && *person != "" {
		return Identity{Kind: "linear", Value: *person}, false
	}
	if actor == nil || actor.ID == "" {
		return Identity{}, false
	}
	return Identity{Kind: "linear", Value: actor.ID}, actor.Type != "" && actor.Type != "user"
}

// linearSet reports whether an updatedFrom value was set (not absent, not
// null).
func linearSet(v json.RawMessage) bool {
	return len(v) > 0 && !bytes.Equal(v, []byte("null"))
}

// linearVerb is the short form of a task event type used in activity ids.
func linearVerb(typ string) string {
	return strings.TrimPrefix(typ, "work.task.")
}

// dialectVerifyHex checks a hex HMAC-SHA256 of body keyed with secret, as
// Linear, ClickUp and Toggl (after its "sha256=" prefix) send it, in
// constant time.
func dialectVerifyHex(sig, header string, body, secret []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret is configured for this source", ErrBadSignature)
	}
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return fmt.Errorf("%w: no %s header", ErrBadSignature, header)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrBadSignature, header)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body and the configured secret", ErrBadSignature, header)
	}
	return nil
}

// dialectLookup returns the value of the first key found in m, matching
// keys case-insensitively (the sources file's maps are matched lower-cased).
func dialectLookup(m map[string]string, keys ...string) string {
	if len(m) == 0 {
		return ""
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if v, ok := m[strings.ToLower(k)]; ok {
			return v
		}
		for mk, v := range m {
			if strings.EqualFold(mk, k) {
				return v
			}
		}
	}
	return ""
}

// dialectCategory is a time entry's category: the sources file's
// Categories by the first matching key, else DefaultCategory, else "other".
func dialectCategory(cfg SourceConfig, keys ...string) string {
	if c := dialectLookup(cfg.Categories, keys...); c != "" {
		return c
	}
	if cfg.DefaultCategory != "" {
		return cfg.DefaultCategory
	}
	return "other"
}
