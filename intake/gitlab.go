package intake

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// GitLab is the GitLab webhook dialect: X-Gitlab-Token (the secret token,
// compared in constant time), X-Gitlab-Event. It maps
//   - Issue Hook (and Confidential Issue Hook) open → work.task.created
//     (by the user), close → work.task.completed, reopen →
//     work.task.reopened, update adding assignees → work.task.started by
//     each new assignee;
//   - Merge Request Hook with reviewers added (changes.reviewers, or the
//     reviewers of a merge request opened with them) →
//     work.request.opened by the user who asked (the request is the merge
//     request's review); approved / approval → work.request.responded by
//     the approver.
//
// Identities are usernames; a project or group access token's bot user
// (project_<id>_bot…) is a bot. Scope is the project's
// path_with_namespace; ids are built from the or merge request's
// numeric id, never a user's.
type GitLab struct{}

// Name is "gitlab".
func (GitLab) Name() string { return "gitlab" }

// Verify checks X-Gitlab-Token.
func (GitLab) Verify(d Delivery, secret []byte) error {
	return verifyToken(d.Header.Get("X-Gitlab-Token"), secret)
}

// glTime reads GitLab's two timestamp spellings: RFC 3339 and
// "2006-01-02 15:04:05 UTC".
type glTime struct{ time.Time }

func (t *glTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("not a string")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("not a timestamp")
}

type glUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

var glBotName = regexp.MustCompile(`^(project|group)_\d+_bot`)

func (u *glUser) who() Identity {
	if u == nil || u.Username == "" {
		return Identity{}
	}
	return Identity{Kind: "gitlab", Value: u.Username}
}

func (u *glUser) bot() bool { return u != nil && glBotName.MatchString(u.Username) }

type glUserChange struct {
	Previous []glUser `json:"previous"`
	Current  []glUser `json:"current"`
}

// added are the users in Current and not in Previous.
func (c *glUserChange) added() []glUser {
	if c == nil {
		return nil
	}
	var out []glUser
	for _, u := range c.Current {
		if !slices.ContainsFunc(c.Previous, func(p glUser) bool { return p.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out
}

type glPayload struct {
	ObjectKind string  `json:"object_kind"`
	User       *glUser `json:"user"`
	Project    *struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
	ObjectAttributes *struct {
		ID        int64  `json:"id"`
		Action    string `json:"action"`
		CreatedAt glTime `json:"created_at"`
		UpdatedAt glTime `json:"updated_at"`
		ClosedAt  glTime `json:"closed_at"`
	} `json:"object_attributes"`
	Labels []struct {
		Title string `json:"title"`
	} `json:"labels"`
	Reviewers []glUser `json:"reviewers"`
	Changes   struct {
		Assignees *glUserChange `json:"assignees"`
		Reviewers *glUserChange `json:"reviewers"`
	} `json:"changes"`
}

// Map maps Issue Hook and Merge Request Hook deliveries.
func (GitLab) Map(d Delivery, cfg SourceConfig) ([]Activity, error) {
	hook := d.Header.Get("X-Gitlab-Event")
	if hook != "Issue Hook" && hook != "Confidential Issue Hook" && hook != "Merge Request Hook" {
		return nil, nil
	}
	var p glPayload
	if err := decode(d.Body, &p, "the "+hook+" payload"); err != nil {
		return nil, err
	}
	if p.Project == nil || p.Project.PathWithNamespace == "" || p.ObjectAttributes == nil || p.ObjectAttributes.ID == 0 {
		return nil, fmt.Errorf("%w: the %s payload needs project.path_with_namespace and object_attributes.id", ErrMalformed, hook)
	}
	oa := p.ObjectAttributes
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	at := func(t glTime) string { return strconv.FormatInt(t.Unix(), 10) }
	scope := p.Project.PathWithNamespace
	if hook == "Merge Request Hook" {
		mr := "gl-mr-" + id(oa.ID)
		var out []Activity
		added := p.Changes.Reviewers.added()
		if p.Changes.Reviewers == nil && oa.Action == "open" {
			added = p.Reviewers
		}
		for i, r := range added {
			req := mr
			out = append(out, Activity{ID: req + "-requested-" + at(oa.UpdatedAt) + "-" + strconv.Itoa(i), Type: event.RequestOpened, Time: oa.UpdatedAt.Time,
				Who: p.User.who(), Bot: p.User.bot() || r.bot(), Scope: scope, Request: req, Kind: "review"})
		}
		if (oa.Action == "approved" || oa.Action == "approval") && p.User != nil {
			req := mr
			out = append(out, Activity{ID: req + "-approved-" + at(oa.UpdatedAt), Type: event.RequestResponded, Time: oa.UpdatedAt.Time,
				Who: p.User.who(), Bot: p.User.bot(), Scope: scope, Request: req})
		}
		return out, nil
	}
	task := "gl-issue-" + id(oa.ID)
	base := Activity{Scope: scope, Task: task, Who: p.User.who(), Bot: p.User.bot()}
	switch oa.Action {
	case "open":
		a := base
		a.ID, a.Type, a.Time = task+"-open", event.TaskCreated, oa.CreatedAt.Time
		for _, l := range p.Labels {
			if k, ok := cfg.Kinds[normalize(l.Title)]; ok {
				a.Kind = k
				break
			}
		}
		return []Activity{a}, nil
	case "close":
		a := base
		a.Time = oa.ClosedAt.Time
		if a.Time.IsZero() {
			a.Time = oa.UpdatedAt.Time
		}
		a.ID, a.Type = task+"-close-"+strconv.FormatInt(a.Time.Unix(), 10), event.TaskCompleted
		return []Activity{a}, nil
	case "reopen":
		a := base
		a.ID, a.Type, a.Time = task+"-reopen-"+at(oa.UpdatedAt), event.TaskReopened, oa.UpdatedAt.Time
		return []Activity{a}, nil
	case "update":
		var out []Activity
		for i, u := range p.Changes.Assignees.added() {
			a := base
			a.ID = task + "-assigned-" + at(oa.UpdatedAt) + "-" + strconv.Itoa(i)
			a.Type, a.Time, a.Who, a.Bot = event.TaskStarted, oa.UpdatedAt.Time, u.who(), u.bot()
			out = append(out, a)
		}
		return out, nil
	}
	return nil, nil
}
