package intake

import (
	"fmt"
	"strconv"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// GitHub is the GitHub webhook dialect: X-Hub-Signature-256 (HMAC-SHA256
// of the body, "sha256=<hex>"), X-GitHub-Event. It maps
//   - issues opened → work.task.created (by the issue's author),
//     assigned → work.task.started (by the assignee), closed as completed
//     (or without a reason) → work.task.completed (by who closed it),
//     closed as not_planned → work.task.cancelled, reopened →
//     work.task.reopened;
//   - pull_request review_requested (a user) → work.request.opened by who
//     asked; the request is the pull request's review, so it is answered
//     by its first review;
//   - pull_request_review submitted → work.request.responded.
//
// Everything else (pushes, comments, team review requests, ping) maps to
// nothing. Identities are logins; a "type": "Bot" actor is a bot. Scope is
// the repository's "owner/name"; task and request ids are built from
// GitHub's numeric ids (never the repository path, which can hold a
// user's login) and never from a user's id: an id must not identify a
// person.
type GitHub struct{}

// Name is "github".
func (GitHub) Name() string { return "github" }

// Verify checks X-Hub-Signature-256.
func (GitHub) Verify(d Delivery, secret []byte) error {
	return verifyHMAC(d.Header.Get("X-Hub-Signature-256"), "sha256=", d.Body, secret)
}

type ghUser struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

func (u *ghUser) who() Identity {
	if u == nil || u.Login == "" {
		return Identity{}
	}
	return Identity{Kind: "github", Value: u.Login}
}

func (u *ghUser) bot() bool { return u != nil && u.Type == "Bot" }

type ghPayload struct {
	Action string `json:"action"`
	Issue  *struct {
		ID          int64      `json:"id"`
		User        *ghUser    `json:"user"`
		Labels      []ghLabel  `json:"labels"`
		Type        *ghLabel   `json:"type"`
		CreatedAt   time.Time  `json:"created_at"`
		UpdatedAt   time.Time  `json:"updated_at"`
		ClosedAt    *time.Time `json:"closed_at"`
		StateReason *string    `json:"state_reason"`
	} `json:"issue"`
	PullRequest *struct {
		ID        int64     `json:"id"`
		UpdatedAt time.Time `json:"updated_at"`
	} `json:"pull_request"`
	Review *struct {
		ID          int64     `json:"id"`
		User        *ghUser   `json:"user"`
		SubmittedAt time.Time `json:"submitted_at"`
	} `json:"review"`
	Assignee          *ghUser `json:"assignee"`
	RequestedReviewer *ghUser `json:"requested_reviewer"`
	Repository        *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender *ghUser `json:"sender"`
}

type ghLabel struct {
	Name string `json:"name"`
}

// Map maps issues, pull_request and pull_request_review deliveries.
func (GitHub) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	ev := d.Header.Get("X-GitHub-Event")
	if ev != "issues" && ev != "pull_request" && ev != "pull_request_review" {
		return nil, nil
	}
	var p ghPayload
	if err := decode(d.Body, &p, "the "+ev+" payload"); err != nil {
		return nil, err
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return nil, fmt.Errorf("%w: the %s payload has no repository.full_name", ErrMalformed, ev)
	}
	scope := p.Repository.FullName
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	at := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	switch ev {
	case "issues":
		is := p.Issue
		if is == nil || is.ID == 0 {
			return nil, fmt.Errorf("%w: the issues payload has no issue.id", ErrMalformed)
		}
		task := "gh-issue-" + id(is.ID)
		base := Activity{Scope: scope, Task: task}
		switch p.Action {
		case "opened":
			a := base
			a.ID, a.Type, a.Time, a.Who, a.Bot = task+"-opened", event.TaskCreated, is.CreatedAt, is.User.who(), is.User.bot()
			a.Kind = ghKind(is.Type, is.Labels, cfg)
			return []Activity{a}, nil
		case "assigned":
			if p.Assignee == nil {
				return nil, fmt.Errorf("%w: an issues assigned payload has no assignee", ErrMalformed)
			}
			a := base
			a.ID = task + "-assigned-" + at(is.UpdatedAt)
			a.Type, a.Time, a.Who, a.Bot = event.TaskStarted, is.UpdatedAt, p.Assignee.who(), p.Assignee.bot()
			return []Activity{a}, nil
		case "closed":
			a := base
			a.Time = is.UpdatedAt
			if is.ClosedAt != nil {
				a.Time = *is.ClosedAt
			}
			a.ID, a.Type, a.Who, a.Bot = task+"-closed-"+at(a.Time), event.TaskCompleted, p.Sender.who(), p.Sender.bot()
			if is.StateReason != nil && *is.StateReason == "not_planned" {
				a.Type = event.TaskCancelled
			}
			return []Activity{a}, nil
		case "reopened":
			a := base
			a.ID, a.Type, a.Time, a.Who, a.Bot = task+"-reopened-"+at(is.UpdatedAt), event.TaskReopened, is.UpdatedAt, p.Sender.who(), p.Sender.bot()
			return []Activity{a}, nil
		}
	case "pull_request":
		if p.Action != "review_requested" || p.RequestedReviewer == nil {
			return nil, nil // opened, closed, synchronize...; team review requests name no person
		}
		pr := p.PullRequest
		if pr == nil || pr.ID == 0 {
			return nil, fmt.Errorf("%w: the pull_request payload has no pull_request.id", ErrMalformed)
		}
		rv := p.RequestedReviewer
		req := "gh-pr-" + id(pr.ID)
		return []Activity{{
			ID: req + "-requested-" + at(pr.UpdatedAt), Type: event.RequestOpened, Time: pr.UpdatedAt,
			Who: p.Sender.who(), Bot: p.Sender.bot() || rv.bot(), Scope: scope, Request: req, Kind: "review",
		}}, nil
	case "pull_request_review":
		if p.Action != "submitted" {
			return nil, nil
		}
		pr, rv := p.PullRequest, p.Review
		if pr == nil || pr.ID == 0 || rv == nil || rv.ID == 0 || rv.User == nil {
			return nil, fmt.Errorf("%w: the pull_request_review payload needs pull_request.id, review.id and review.user", ErrMalformed)
		}
		req := "gh-pr-" + id(pr.ID)
		return []Activity{{
			ID: "gh-review-" + id(rv.ID), Type: event.RequestResponded, Time: rv.SubmittedAt,
			Who: rv.User.who(), Bot: rv.User.bot(), Scope: scope, Request: req,
		}}, nil
	}
	return nil, nil
}

// ghKind is the task kind of an issue: its issue type, else its first
// label, that the sources file's kinds map (or "bug"/"feature" issue
// types); "" when none does. Label text itself never leaves.
func ghKind(typ *ghLabel, labels []ghLabel, cfg SourceConfig) string {
	if typ != nil {
		if k, ok := cfg.Kinds[normalize(typ.Name)]; ok {
			return k
		}
		switch normalize(typ.Name) {
		case "bug":
			return "bug"
		case "feature":
			return "feature"
		}
	}
	for _, l := range labels {
		if k, ok := cfg.Kinds[normalize(l.Name)]; ok {
			return k
		}
	}
	return ""
}
