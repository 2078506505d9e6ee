package intake

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// Jira is the Jira Cloud webhook dialect: X-Hub-Signature ("sha256=" and
// the hex HMAC-SHA256 of the body under the webhook's secret). It maps
//   - jira:issue_created → work.task.created (by the user; kind from the
//     issue type, due date, original estimate);
//   - jira:issue_updated changelog items: a status change → the sources
//     file's states for the new status name if it names one, else by the
//     new status's category: indeterminate → work.task.started, done →
//     work.task.completed (both by the user who moved it); a resolution
//     cleared → work.task.reopened; the Flagged field set → blocked,
//     cleared → unblocked.
//
// Identities are Atlassian accountIds; an "app" account is a bot. Scope is
// the project key; task ids are built from the issue's numeric id (an
// issue key changes when the issue moves).
type Jira struct{}

// Name is "jira".
func (Jira) Name() string { return "jira" }

// Verify checks X-Hub-Signature.
func (Jira) Verify(d Delivery, secret []byte) error {
	return verifyHMAC(d.Header.Get("X-Hub-Signature"), "sha256=", d.Body, secret)
}

type jiraUser struct {
	AccountID   string `json:"accountId"`
	AccountType string `json:"accountType"`
}

type jiraPayload struct {
	Timestamp    int64     `json:"timestamp"`
	WebhookEvent string    `json:"webhookEvent"`
	User         *jiraUser `json:"user"`
	Issue        *struct {
		ID     string `json:"id"`
		Fields struct {
			IssueType *struct {
				Name string `json:"name"`
			} `json:"issuetype"`
			Project *struct {
				Key string `json:"key"`
			} `json:"project"`
			Status *struct {
				ID             string `json:"id"`
				StatusCategory *struct {
					Key string `json:"key"`
				} `json:"statusCategory"`
			} `json:"status"`
			Created              string   `json:"created"`
			DueDate              *string  `json:"duedate"`
			TimeOriginalEstimate *float64 `json:"timeoriginalestimate"`
		} `json:"fields"`
	} `json:"issue"`
	Changelog *struct {
		ID    string `json:"id"`
		Items []struct {
			Field    string  `json:"field"`
			FieldID  string  `json:"fieldId"`
			To       *string `json:"to"`
			ToString *string `json:"toString"`
		} `json:"items"`
	} `json:"changelog"`
}

// jiraTime reads Jira's "2006-01-02T15:04:05.000-0700".
func jiraTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Map maps jira:issue_created and jira:issue_updated deliveries.
func (Jira) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	var p jiraPayload
	if err := decode(d.Body, &p, "the Jira payload"); err != nil {
		return nil, err
	}
	if p.WebhookEvent != "jira:issue_created" && p.WebhookEvent != "jira:issue_updated" {
		return nil, nil
	}
	is := p.Issue
	if is == nil || is.ID == "" || is.Fields.Project == nil || is.Fields.Project.Key == "" || p.Timestamp == 0 {
		return nil, fmt.Errorf("%w: the %s payload needs timestamp, issue.id and issue.fields.project.key", ErrMalformed, p.WebhookEvent)
	}
	var who Identity
	bot := false
	if p.User != nil && p.User.AccountID != "" {
		who, bot = Identity{Kind: "jira", Value: p.User.AccountID}, p.User.AccountType == "app"
	}
	when := time.UnixMilli(p.Timestamp).UTC()
	task := "jira-" + is.ID
	base := Activity{Scope: is.Fields.Project.Key, Task: task, Who: who, Bot: bot, Time: when}
	if p.WebhookEvent == "jira:issue_created" {
		a := base
		a.ID, a.Type = task+"-created", event.TaskCreated
		if t, ok := jiraTime(is.Fields.Created); ok {
			a.Time = t
		}
		if it := is.Fields.IssueType; it != nil {
			if k, ok := cfg.Kinds[normalize(it.Name)]; ok {
				a.Kind = k
			} else if n := normalize(it.Name); n == "bug" {
				a.Kind = "bug"
			} else if n == "story" || n == "feature" {
				a.Kind = "feature"
			}
		}
		if dd := is.Fields.DueDate; dd != nil {
			if _, err := time.Parse(time.DateOnly, *dd); err == nil {
				a.DueDate = *dd
			}
		}
		if est := is.Fields.TimeOriginalEstimate; est != nil && *est >= 0 {
			h := *est / 3600
			a.EstimateHours = &h
		}
		return []Activity{a}, nil
	}
	if p.Changelog == nil {
		return nil, nil
	}
	var out []Activity
	for i, it := range p.Changelog.Items {
		a := base
		a.ID = task + "-" + p.Changelog.ID + "-" + strconv.Itoa(i)
		to := ""
		if it.ToString != nil {
			to = *it.ToString
		}
		switch {
		case it.Field == "status" || it.FieldID == "status":
			if typ, ok := cfg.States[normalize(to)]; ok {
				a.Type = typ
			} else if st := is.Fields.Status; st != nil && st.StatusCategory != nil && (it.To == nil || st.ID == "" || *it.To == st.ID) {
				switch st.StatusCategory.Key {
				case "indeterminate":
					a.Type = event.TaskStarted
				case "done":
					a.Type = event.TaskCompleted
				}
			}
		case it.Field == "resolution" && to == "":
			a.Type = event.TaskReopened
		case strings.EqualFold(it.Field, "flagged"):
			a.Type = event.TaskBlocked
			if to == "" {
				a.Type = event.TaskUnblocked
			}
		}
		if a.Type != "" {
			out = append(out, a)
		}
	}
	return out, nil
}
