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

// ClickUp is the dialect of ClickUp's API v2 webhooks
// (https://developer.clickup.com/docs/webhooks). Create the webhook with
// POST /api/v2/team/{team_id}/webhook, endpoint /intake/clickup, and the
// events taskCreated, taskStatusUpdated and taskTimeTrackedUpdated (the
// mapped ones; taskAssigneeUpdated and taskDueDateUpdated are accepted and
// map to nothing), optionally limited to a space, folder or list; put the
// webhook.secret of the response in the sources file.
//
// Verify checks X-Signature, the hex HMAC-SHA256 of the raw body keyed with
// that secret. ClickUp documents no timestamp to bound replays.
//
// Map reads the delivery's history_items:
//   - taskCreated → work.task.created at the item's date. The payload
//     carries no due date, estimate or tags, so none are mapped;
//   - taskStatusUpdated → the event of the status entered, by ClickUp's
//     status type: "custom" (any in-between status) → work.task.started,
//     "done" and "closed" → work.task.completed, "open" → nothing. Moving
//     between two statuses with the same event (in progress → review, done →
//     closed) maps to nothing; leaving a done or closed status for an open
//     or custom one is work.task.reopened first. The sources file's States,
//     keyed by status name, override the type's event (e.g. "blocked":
//     work.task.blocked, "won't do": work.task.cancelled), and leaving a
//     status mapped to blocked is work.task.unblocked;
//   - taskTimeTrackedUpdated with a created or edited time entry →
//     work.time.logged from the entry's start and end, correctable
//     (docs/events.md, "Corrected and deleted time entries"): data.entry is
//     the interval id and data.revision the history item's date (Unix
//     milliseconds), and the id is "clickup:te:<interval id>:<revision>",
//     the same when ClickUp retries the delivery and another for each edit,
//     so that the edit replaces the entry. A deleted entry (a history item
//     without after, or data.description saying "deleted") →
//     work.time.deleted of the same entry at the item's date, id
//     "clickup:te:<interval id>:<revision>:deleted", with no person (the
//     item's user only attributes it to a team). An entry without an end
//     (a running timer) maps to nothing until it is stopped. The category
//     is the sources file's Categories by list id, else DefaultCategory:
//     the payload names no tags;
//   - taskAssigneeUpdated, taskDueDateUpdated and every other event → none:
//     the contract has no assignment or due-date change.
//
// Who is the history item's user id (Identity kind "clickup"). ClickUp
// documents no automation flag; a user id that is not a positive number
// (ClickUp's automation user "ClickBot" appears with a negative id, which
// ClickUp does not document) marks the activity Bot, and the sources file's
// Bots lists any other automation account. Scope is the list id (the
// history item's parent_id); Task is the task id. Task names, descriptions,
// comments, tag names, user names and e-mail addresses never leave.
type ClickUp struct{}

// NewClickUp returns the ClickUp dialect.
func NewClickUp() Source { return ClickUp{} }

var _ Source = ClickUp{}

// Name is "clickup".
func (ClickUp) Name() string { return "clickup" }

// Verify checks the X-Signature header.
func (ClickUp) Verify(d Delivery, secret []byte) error {
	return dialectVerifyHex(d.Header.Get("X-Signature"), "X-Signature", d.Body, secret)
}

type clickupPayload struct {
	Event        string           `json:"event"`
	TaskID       clickupString    `json:"task_id"`
	HistoryItems []clickupHistory `json:"history_items"`
	Data         *struct {
		Description string        `json:"description"`
		IntervalID  clickupString `json:"interval_id"`
	} `json:"data"`
}

type clickupHistory struct {
	ID       clickupString `json:"id"`
	Date     clickupString `json:"date"`
	Field    string        `json:"field"`
	ParentID clickupString `json:"parent_id"`
	User     *struct {
		ID clickupString `json:"id"`
	} `json:"user"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

type clickupStatus struct {
	Status string `json:"status"`
	Type   string `json:"type"`
}

type clickupInterval struct {
	ID    clickupString `json:"id"`
	Start clickupString `json:"start"`
	End   clickupString `json:"end"`
	Time  clickupString `json:"time"`
}

// Map turns a verified ClickUp delivery into activities.
func (ClickUp) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	var p clickupPayload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return nil, fmt.Errorf("%w: clickup: body is not a JSON webhook payload: %w", ErrMalformed, err)
	}
	if p.Event == "" {
		return nil, fmt.Errorf("%w: clickup: payload has no event", ErrMalformed)
	}
	switch p.Event {
	case "taskCreated", "taskStatusUpdated", "taskTimeTrackedUpdated", "taskAssigneeUpdated", "taskDueDateUpdated":
	default:
		return nil, nil
	}
	if p.TaskID == "" {
		return nil, fmt.Errorf("%w: clickup: %s has no task_id", ErrMalformed, p.Event)
	}
	if len(p.HistoryItems) == 0 {
		return nil, fmt.Errorf("%w: clickup: %s has no history_items", ErrMalformed, p.Event)
	}
	task := string(p.TaskID)

	switch p.Event {
	case "taskCreated":
		h := p.HistoryItems[0]
		for _, it := range p.HistoryItems {
			if it.Field == "task_creation" {
				h = it
			}
		}
		a, err := clickupBase(p.Event, h, task)
		if err != nil {
			return nil, err
		}
		a.ID = "clickup:" + task + ":created"
		a.Type = event.TaskCreated
		return []Activity{a}, nil

	case "taskStatusUpdated":
		var out []Activity
		for _, h := range p.HistoryItems {
			if h.Field != "status" {
				continue
			}
			var before, after clickupStatus
			if err := json.Unmarshal(h.After, &after); err != nil || after.Type == "" {
				return nil, fmt.Errorf("%w: clickup: taskStatusUpdated history item has no after.type (the status type)", ErrMalformed)
			}
			if clickupSet(h.Before) {
				if err := json.Unmarshal(h.Before, &before); err != nil {
					return nil, fmt.Errorf("%w: clickup: taskStatusUpdated history item's before is not a status", ErrMalformed)
				}
			}
			base, err := clickupBase(p.Event, h, task)
			if err != nil {
				return nil, err
			}
			for _, typ := range clickupTransition(cfg, before, after) {
				a := base
				a.Type = typ
				a.ID = "clickup:" + task + ":" + string(h.ID) + ":" + strings.TrimPrefix(typ, "work.task.")
				out = append(out, a)
			}
		}
		return out, nil

	case "taskTimeTrackedUpdated":
		deleted := p.Data != nil && strings.Contains(strings.ToLower(p.Data.Description), "deleted")
		for _, h := range p.HistoryItems {
			if h.Field != "time_spent" {
				continue
			}
			a, err := clickupBase(p.Event, h, task)
			if err != nil {
				return nil, err
			}
			revision, _ := strconv.ParseInt(string(h.Date), 10, 64) // clickupBase checked it
			a.Revision, a.HasRevision = revision, true
			if deleted || !clickupSet(h.After) {
				var before clickupInterval
				if clickupSet(h.Before) {
					if err := json.Unmarshal(h.Before, &before); err != nil {
						return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated history item's before is not a time entry", ErrMalformed)
					}
				}
				id := before.ID
				if p.Data != nil && p.Data.IntervalID != "" {
					id = p.Data.IntervalID
				}
				if id == "" {
					return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated deleted time entry has no id (before.id or data.interval_id)", ErrMalformed)
				}
				a.Entry = string(id)
				a.ID = "clickup:te:" + string(id) + ":" + strconv.FormatInt(revision, 10) + ":deleted"
				a.Type = event.TimeDeleted
				a.Task = ""
				return []Activity{a}, nil
			}
			var iv clickupInterval
			if err := json.Unmarshal(h.After, &iv); err != nil {
				return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated history item's after is not a time entry", ErrMalformed)
			}
			if iv.End == "" {
				return nil, nil // a running timer
			}
			if a.Who.Value == "" {
				return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated history item has no user.id (whose time it is)", ErrMalformed)
			}
			start, err1 := clickupMillis(iv.Start)
			end, err2 := clickupMillis(iv.End)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated time entry lacks start or end (Unix milliseconds)", ErrMalformed)
			}
			id := iv.ID
			if id == "" && p.Data != nil {
				id = p.Data.IntervalID
			}
			if id == "" {
				return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated time entry has no id", ErrMalformed)
			}
			a.ID = "clickup:te:" + string(id) + ":" + strconv.FormatInt(revision, 10)
			a.Entry = string(id)
			a.Type = event.TimeLogged
			a.Start, a.End = start, end
			a.Time = end
			a.Category = dialectCategory(cfg, a.Scope)
			return []Activity{a}, nil
		}
		return nil, fmt.Errorf("%w: clickup: taskTimeTrackedUpdated has no time_spent history item", ErrMalformed)
	}
	// taskAssigneeUpdated, taskDueDateUpdated: well-formed, nothing to map.
	return nil, nil
}

// clickupBase is the activity part every history item gives: time, person,
// list and task.
func clickupBase(ev string, h clickupHistory, task string) (Activity, error) {
	var missing []string
	at, err := clickupMillis(h.Date)
	if err != nil {
		missing = append(missing, "date (Unix milliseconds)")
	}
	if h.ParentID == "" {
		missing = append(missing, "parent_id (the list id)")
	}
	if h.ID == "" {
		missing = append(missing, "id")
	}
	if len(missing) > 0 {
		return Activity{}, fmt.Errorf("%w: clickup: %s history item lacks %s", ErrMalformed, ev, strings.Join(missing, ", "))
	}
	a := Activity{Time: at, Scope: string(h.ParentID), Task: task}
	if h.User != nil && h.User.ID != "" {
		a.Who = Identity{Kind: "clickup", Value: string(h.User.ID)}
		n, err := strconv.ParseInt(string(h.User.ID), 10, 64)
		a.Bot = err == nil && n <= 0
	}
	return a, nil
}

// clickupTransition is the task events of moving from status before to
// status after.
func clickupTransition(cfg SourceConfig, before, after clickupStatus) []string {
	from, to := clickupStateEvent(cfg, before), clickupStateEvent(cfg, after)
	if from == to {
		return nil
	}
	var out []string
	if from == event.TaskBlocked {
		out = append(out, event.TaskUnblocked)
	}
	done := func(t string) bool { return t == event.TaskCompleted || t == event.TaskCancelled }
	if done(from) && !done(to) && to != event.TaskReopened {
		out = append(out, event.TaskReopened)
	}
	if to != "" && !(from == event.TaskBlocked && to == event.TaskStarted) {
		out = append(out, to)
	}
	return out
}

// clickupStateEvent is the task event of being in a status: the sources
// file's States by status name, else the status type's default.
func clickupStateEvent(cfg SourceConfig, s clickupStatus) string {
	if t := dialectLookup(cfg.States, s.Status); t != "" {
		return t
	}
	switch s.Type {
	case "custom":
		return event.TaskStarted
	case "done", "closed":
		return event.TaskCompleted
	}
	return "" // open, or "removed" before a task existed
}

// clickupString is an id or a number ClickUp sends either as a JSON string
// or as a JSON number ("date": "1642734631523", "user": {"id": 183}).
type clickupString string

// UnmarshalJSON accepts a string, a number or null.
func (s *clickupString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = clickupString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number: %w", err)
	}
	*s = clickupString(n.String())
	return nil
}

// clickupMillis parses Unix milliseconds.
func clickupMillis(s clickupString) (time.Time, error) {
	ms, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%q is not Unix milliseconds", string(s))
	}
	return time.UnixMilli(ms).UTC(), nil
}

// clickupSet reports whether a raw value is present and not null.
func clickupSet(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && !bytes.Equal(v, []byte("null"))
}
