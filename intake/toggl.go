package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// Toggl is the dialect of the Toggl Track Webhooks API v1
// (https://developers.track.toggl.com/docs/webhooks_start). Create the
// subscription in Toggl Track under Integrations → Webhooks (or with POST
// /webhooks/api/v1/subscriptions/{workspace_id}) with the URL
// /intake/toggl and the event filter {"entity": "time_entry", "action":
// "*"}; set its secret, or copy the one Toggl generates, into the sources
// file.
//
// Verify checks X-Webhook-Signature-256, "sha256=" followed by the hex
// HMAC-SHA256 of the raw body keyed with the subscription's secret.
//
// Toggl validates a new subscription with a PING event that carries a
// validation_code; Handshake recognizes it and answers
// {"validation_code": "<the code>"}, Toggl's synchronous validation. Toggl
// documents an alternative, asynchronous validation: a GET of the ping's
// validation_code_url (/webhooks/api/v1/validate/{workspace_id}/
// {subscription_id}/{validation_code}), which an operator may open by hand
// when the synchronous answer cannot reach Toggl; the intake never calls it.
// Pings (with or without a code) map to nothing.
//
// Map turns a time_entry created or updated event into work.time.logged
// from the entry's start and stop, correctable (docs/events.md, "Corrected
// and deleted time entries"): data.entry is the Toggl time entry id and
// data.revision the payload's "at" (Toggl's updated-at of the entry) in
// Unix milliseconds, or the webhook's timestamp when the payload has no
// "at"; the id is "toggl:te:<entry id>:<revision>", the same when Toggl
// retries the delivery and another for each edit, so that the edit
// replaces the entry. Toggl's "at" has whole seconds: two edits within one
// second have the same revision, and the contract's tie-break (the greater
// id) decides. A running entry (negative duration, or no stop) maps to
// nothing until it is stopped. A deleted entry (action "deleted", or a
// payload with server_deleted_at) maps to work.time.deleted of the same
// entry, its revision the later of server_deleted_at and "at" (else the
// webhook's timestamp) in Unix milliseconds, not before any edit's, and
// the id "toggl:te:<entry id>:<revision>:deleted"; it names no person (its
// user_id only attributes it to a team). Events of every other entity map
// to nothing.
//
// The category is the sources file's Categories by the entry's project id,
// then by each of its tag names, else DefaultCategory: the payload names
// the project by id only, so map projects by id. Who is the entry's user_id
// (Identity kind "toggl"); Toggl has no automation accounts. Scope is the
// workspace id alone, not "workspace/project": a time entry is attributed
// to the team its person belongs to on that day (the people file), so the
// scope only has to say which workspace the entry came from. Task is the
// entry's Toggl task id when it has one. Descriptions, tag names and
// project names never leave.
type Toggl struct{}

// NewToggl returns the Toggl dialect. It is a Handshaker as well.
func NewToggl() Source { return Toggl{} }

var (
	_ Source     = Toggl{}
	_ Handshaker = Toggl{}
)

// Name is "toggl".
func (Toggl) Name() string { return "toggl" }

// Verify checks the X-Webhook-Signature-256 header.
func (Toggl) Verify(d Delivery, secret []byte) error {
	sig := strings.TrimSpace(d.Header.Get("X-Webhook-Signature-256"))
	if sig != "" {
		hex, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return fmt.Errorf("%w: X-Webhook-Signature-256 does not start with sha256=", ErrBadSignature)
		}
		sig = hex
	}
	return dialectVerifyHex(sig, "X-Webhook-Signature-256", d.Body, secret)
}

// Handshake answers Toggl's validation ping: a body whose validation_code
// is set gets {"validation_code": "<the code>"} back.
func (Toggl) Handshake(d Delivery) ([]byte, bool) {
	var p struct {
		ValidationCode string `json:"validation_code"`
	}
	if err := json.Unmarshal(d.Body, &p); err != nil || p.ValidationCode == "" {
		return nil, false
	}
	answer, err := json.Marshal(map[string]string{"validation_code": p.ValidationCode})
	if err != nil {
		return nil, false
	}
	return answer, true
}

type togglEvent struct {
	Metadata struct {
		Action      string        `json:"action"`
		Model       string        `json:"model"`
		WorkspaceID clickupString `json:"workspace_id"`
	} `json:"metadata"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp string          `json:"timestamp"`
}

type togglTimeEntry struct {
	ID              *int64   `json:"id"`
	WorkspaceID     *int64   `json:"workspace_id"`
	ProjectID       *int64   `json:"project_id"`
	TaskID          *int64   `json:"task_id"`
	UserID          *int64   `json:"user_id"`
	Start           string   `json:"start"`
	Stop            *string  `json:"stop"`
	Duration        *int64   `json:"duration"`
	Tags            []string `json:"tags"`
	ServerDeletedAt *string  `json:"server_deleted_at"`
	At              string   `json:"at"`
}

// togglMillis parses an RFC 3339 timestamp as Unix milliseconds; ok is
// false when s is empty or not one.
func togglMillis(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UnixMilli() < 0 {
		return 0, false
	}
	return t.UnixMilli(), true
}

// Map turns a verified Toggl delivery into time entries.
func (Toggl) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	var ev togglEvent
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return nil, fmt.Errorf("%w: toggl: body is not a JSON webhook event: %w", ErrMalformed, err)
	}
	payload := bytes.TrimSpace(ev.Payload)
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: toggl: event has no payload", ErrMalformed)
	}
	if payload[0] == '"' {
		return nil, nil // "payload": "ping"
	}
	if ev.Metadata.Model != "time_entry" {
		return nil, nil // other entities
	}
	deleted := ev.Metadata.Action == "deleted"
	if !deleted && ev.Metadata.Action != "created" && ev.Metadata.Action != "updated" {
		return nil, nil
	}
	var te togglTimeEntry
	if err := json.Unmarshal(payload, &te); err != nil {
		return nil, fmt.Errorf("%w: toggl: time_entry payload is not a time entry: %w", ErrMalformed, err)
	}
	if te.ServerDeletedAt != nil && *te.ServerDeletedAt != "" {
		deleted = true
	}
	if deleted {
		return togglDeleted(ev, te)
	}
	var missing []string
	if te.ID == nil {
		missing = append(missing, "payload.id")
	}
	if te.UserID == nil {
		missing = append(missing, "payload.user_id")
	}
	workspace := string(ev.Metadata.WorkspaceID)
	if te.WorkspaceID != nil {
		workspace = strconv.FormatInt(*te.WorkspaceID, 10)
	}
	if workspace == "" {
		missing = append(missing, "payload.workspace_id")
	}
	start, err := time.Parse(time.RFC3339Nano, te.Start)
	if err != nil {
		missing = append(missing, "payload.start (RFC 3339)")
	}
	if te.Duration == nil {
		missing = append(missing, "payload.duration")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: toggl: time_entry %s lacks %s", ErrMalformed, ev.Metadata.Action, strings.Join(missing, ", "))
	}
	if *te.Duration < 0 || te.Stop == nil || *te.Stop == "" {
		return nil, nil // running
	}
	stop, err := time.Parse(time.RFC3339Nano, *te.Stop)
	if err != nil {
		return nil, fmt.Errorf("%w: toggl: time_entry %s has a stop that is not RFC 3339", ErrMalformed, ev.Metadata.Action)
	}
	revision, ok := togglMillis(te.At)
	if !ok {
		revision, ok = togglMillis(ev.Timestamp)
	}
	if !ok {
		return nil, fmt.Errorf("%w: toggl: time_entry %s lacks payload.at (RFC 3339; the entry's revision)", ErrMalformed, ev.Metadata.Action)
	}
	a := Activity{
		ID:          togglEntryID(*te.ID, revision),
		Type:        event.TimeLogged,
		Time:        stop.UTC(),
		Who:         Identity{Kind: "toggl", Value: strconv.FormatInt(*te.UserID, 10)},
		Scope:       workspace,
		Start:       start.UTC(),
		End:         stop.UTC(),
		Entry:       strconv.FormatInt(*te.ID, 10),
		Revision:    revision,
		HasRevision: true,
	}
	if te.TaskID != nil {
		a.Task = strconv.FormatInt(*te.TaskID, 10)
	}
	keys := make([]string, 0, 1+len(te.Tags))
	if te.ProjectID != nil {
		keys = append(keys, strconv.FormatInt(*te.ProjectID, 10))
	}
	keys = append(keys, te.Tags...)
	a.Category = dialectCategory(cfg, keys...)
	return []Activity{a}, nil
}

// togglEntryID is the activity id of one revision of a time entry.
func togglEntryID(entry, revision int64) string {
	return "toggl:te:" + strconv.FormatInt(entry, 10) + ":" + strconv.FormatInt(revision, 10)
}

// togglDeleted maps a deleted time entry to work.time.deleted: the entry,
// a revision from the deletion's time, the workspace; no person.
func togglDeleted(ev togglEvent, te togglTimeEntry) ([]Activity, error) {
	var missing []string
	if te.ID == nil {
		missing = append(missing, "payload.id")
	}
	workspace := string(ev.Metadata.WorkspaceID)
	if te.WorkspaceID != nil {
		workspace = strconv.FormatInt(*te.WorkspaceID, 10)
	}
	if workspace == "" {
		missing = append(missing, "payload.workspace_id")
	}
	// The revision: the deletion's time, never before the entry's last
	// edit ("at"), so that it is greater than (or, at the same
	// millisecond, wins over) every revision the entry had.
	revision, ok := int64(0), false
	for _, s := range []string{deref(te.ServerDeletedAt), te.At} {
		if ms, valid := togglMillis(s); valid && (!ok || ms > revision) {
			revision, ok = ms, true
		}
	}
	if !ok {
		revision, ok = togglMillis(ev.Timestamp)
	}
	if !ok {
		missing = append(missing, "payload.server_deleted_at or payload.at (RFC 3339; the deletion's time)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: toggl: deleted time_entry lacks %s", ErrMalformed, strings.Join(missing, ", "))
	}
	a := Activity{
		ID:          togglEntryID(*te.ID, revision) + ":deleted",
		Type:        event.TimeDeleted,
		Time:        time.UnixMilli(revision).UTC(),
		Scope:       workspace,
		Entry:       strconv.FormatInt(*te.ID, 10),
		Revision:    revision,
		HasRevision: true,
	}
	if te.UserID != nil {
		a.Who = Identity{Kind: "toggl", Value: strconv.FormatInt(*te.UserID, 10)}
	}
	return []Activity{a}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
