package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// The whole-binary intake test's organisation: one team, k = 3, four
// people with identities in GitHub, GitLab and Jira.
const (
	wbTeams = `min_group_size: 3
units:
  - id: orca
    teams:
      - id: team-orca
`
	wbPeople = `people:
  - id: alice@acme.example
    identities: {github: alice-s, gitlab: alice.gl, jira: 5b10a2844c20165700ede21g}
    teams: [{team: team-orca}]
  - id: bob@acme.example
    identities: {github: bob-k, gitlab: bob.gl}
  - id: carol@acme.example
    identities: {gitlab: carol.e, jira: "557058:c4f1e7a2-0d1b-4c55-9d2b-3f9a8c7e6b5a"}
  - id: dave@acme.example
    identities: {github: dave-d}
`
	wbSources = `sources:
  github:
    secret_file: github.secret
    scopes: {acme/orca-api: team-orca}
  gitlab:
    secret_file: gitlab.secret
    scopes: {acme/orca-web: team-orca}
  jira:
    secret_file: jira.secret
    scopes: {ORCA: team-orca}
`
)

var wbSecrets = map[string]string{"github": "wb-github-secret-0123456789abcdef", "gitlab": "wb-gitlab-token-0123456789abcdef", "jira": "wb-jira-secret-0123456789abcdefg"}

// delivery is one webhook as its source sends it.
type delivery struct {
	source string
	header map[string]string
	body   map[string]any
}

func ghUser(login string, id int) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{"login": login, "id": id, "type": typ, "html_url": "https://github.com/" + login}
}

var ghIDs = map[string]int{"alice-s": 583231, "bob-k": 1024025, "dave-d": 6650112, "stale[bot]": 41898282}

// ghIssue is an issues delivery (GitHub's documented payload, the fields
// Shoal reads plus the free text it must drop).
func ghIssue(action string, issue int, author, sender string, at time.Time, extra map[string]any) delivery {
	is := map[string]any{"id": 1348100000 + issue, "number": issue, "title": "Secret title " + strconv.Itoa(issue),
		"body": "Free text about dana@acme.example", "html_url": fmt.Sprintf("https://github.com/acme/orca-api/issues/%d", issue),
		"user": ghUser(author, ghIDs[author]), "labels": []any{}, "created_at": at.Format(time.RFC3339), "updated_at": at.Format(time.RFC3339),
		"closed_at": nil, "state_reason": nil}
	body := map[string]any{"action": action, "issue": is, "repository": map[string]any{"full_name": "acme/orca-api", "html_url": "https://github.com/acme/orca-api"},
		"sender": ghUser(sender, ghIDs[sender])}
	for k, v := range extra {
		switch k {
		case "assignee":
			body["assignee"] = ghUser(v.(string), ghIDs[v.(string)])
		default:
			is[k] = v
		}
	}
	if action == "closed" {
		is["closed_at"] = at.Format(time.RFC3339)
	}
	return delivery{"github", map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": fmt.Sprintf("gh-%d-%s-%d", issue, action, at.Unix())}, body}
}

var glIDs = map[string]int{"alice.gl": 7001001, "bob.gl": 7001002, "carol.e": 7001003}

func glUser(name string) map[string]any {
	return map[string]any{"id": glIDs[name], "username": name, "name": "Name of " + name, "email": name + "@acme.example"}
}

// glIssue is a GitLab Issue Hook delivery.
func glIssue(action string, issue int, user string, at time.Time, assignee string) delivery {
	ts := at.Format("2006-01-02 15:04:05 UTC")
	oa := map[string]any{"id": 9000 + issue, "iid": issue, "title": "Secret GitLab title", "description": "See https://vpn.acme.example",
		"action": action, "created_at": ts, "updated_at": ts, "closed_at": nil, "url": "https://gitlab.acme.example/acme/orca-web/-/issues/" + strconv.Itoa(issue)}
	body := map[string]any{"object_kind": "issue", "event_type": "issue", "user": glUser(user), "object_attributes": oa, "labels": []any{},
		"project": map[string]any{"id": 14, "path_with_namespace": "acme/orca-web", "web_url": "https://gitlab.acme.example/acme/orca-web"}, "changes": map[string]any{}}
	if action == "close" {
		oa["closed_at"] = ts
	}
	if assignee != "" {
		body["changes"] = map[string]any{"assignees": map[string]any{"previous": []any{}, "current": []any{glUser(assignee)}}}
	}
	return delivery{"gitlab", map[string]string{"X-Gitlab-Event": "Issue Hook"}, body}
}

// jiraIssue is a Jira Cloud jira:issue_created or jira:issue_updated
// delivery; status is "" (created) or the new status's category key.
func jiraIssue(issue int, account string, at time.Time, status string, changelog int) delivery {
	fields := map[string]any{"summary": "Secret Jira summary", "description": "Ask Dana", "project": map[string]any{"key": "ORCA", "name": "Orca"},
		"issuetype": map[string]any{"name": "Task"}, "created": at.Format("2006-01-02T15:04:05.000-0700")}
	body := map[string]any{"timestamp": at.UnixMilli(), "webhookEvent": "jira:issue_created",
		"user":  map[string]any{"accountId": account, "accountType": "atlassian", "displayName": "Display Name"},
		"issue": map[string]any{"id": strconv.Itoa(10000 + issue), "key": fmt.Sprintf("ORCA-%d", issue), "fields": fields}}
	if status != "" {
		name := map[string]string{"indeterminate": "In Progress", "done": "Done"}[status]
		id := map[string]string{"indeterminate": "3", "done": "10002"}[status]
		body["webhookEvent"] = "jira:issue_updated"
		fields["status"] = map[string]any{"id": id, "name": name, "statusCategory": map[string]any{"key": status}}
		body["changelog"] = map[string]any{"id": strconv.Itoa(changelog), "items": []any{map[string]any{"field": "status", "fieldId": "status", "to": id, "toString": name}}}
	}
	return delivery{"jira", map[string]string{}, body}
}

func (d delivery) request(t *testing.T, base string) *http.Request {
	t.Helper()
	body, err := json.Marshal(d.body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/intake/"+d.source, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	m := hmac.New(sha256.New, []byte(wbSecrets[d.source]))
	m.Write(body)
	switch d.source {
	case "github":
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	case "gitlab":
		req.Header.Set("X-Gitlab-Token", wbSecrets["gitlab"])
	case "jira":
		req.Header.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	return req
}

// startBinary runs the shoal binary with args until the test ends.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, *apptest.SyncBuffer) {
	t.Helper()
	out := &apptest.SyncBuffer{}
	cmd := exec.Command(shoalBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	return cmd, out
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIntakeWeekToRelease: a week of one team's work arrives as webhooks
// from GitHub, GitLab and Jira at `shoal intake`, from four people with
// identities in several tools; `shoal run` then releases the week, whose
// throughput equals the hand count.
func TestIntakeWeekToRelease(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	keyPath, _ := apptest.TestKey(t, t.TempDir())
	for name, content := range map[string]string{"teams.yaml": wbTeams, "people.yaml": wbPeople, "sources.yaml": wbSources,
		"github.secret": wbSecrets["github"], "gitlab.secret": wbSecrets["gitlab"], "jira.secret": wbSecrets["jira"]} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kafka := apptest.StartKafka(t, "shoal.events", "shoal.dlq")

	// The last complete ISO week (UTC, the teams file's default zone).
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	mon := today.AddDate(0, 0, -(int(today.Weekday())+6)%7-7)
	at := func(day, hour int) time.Time { return mon.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour) }

	// The week, by hand. Completed tasks (throughput):
	//   GitHub #1 alice (opened, assigned, closed completed)        1
	//   GitHub #2 dave  (opened, assigned, closed completed)        2
	//   GitHub #3 bob   (opened, assigned, closed not_planned)      cancelled, not completed
	//   GitHub #4 alice (opened, assigned; stale[bot] closes it)    the bot's close is dropped
	//   GitLab #5 bob   (open, assigned, close)                     3
	//   Jira  #6 carol  (created, In Progress, Done)                4
	//   Jira  #7 alice through her Jira account (created, In Progress, Done)  5
	// Contributors to flow (started + completed ≥ 2): alice 4, dave 2,
	// bob 3, carol 2: four people, k = 3.
	const wantThroughput = 5
	carolJira, aliceJira := "557058:c4f1e7a2-0d1b-4c55-9d2b-3f9a8c7e6b5a", "5b10a2844c20165700ede21g"
	week := []delivery{
		ghIssue("opened", 1, "alice-s", "alice-s", at(0, 9), nil),
		ghIssue("assigned", 1, "alice-s", "alice-s", at(0, 10), map[string]any{"assignee": "alice-s"}),
		ghIssue("closed", 1, "alice-s", "alice-s", at(1, 15), map[string]any{"state_reason": "completed"}),
		ghIssue("opened", 2, "dave-d", "dave-d", at(0, 11), nil),
		ghIssue("assigned", 2, "dave-d", "dave-d", at(0, 12), map[string]any{"assignee": "dave-d"}),
		ghIssue("closed", 2, "dave-d", "dave-d", at(2, 16), map[string]any{"state_reason": "completed"}),
		ghIssue("opened", 3, "bob-k", "bob-k", at(1, 9), nil),
		ghIssue("assigned", 3, "bob-k", "bob-k", at(1, 10), map[string]any{"assignee": "bob-k"}),
		ghIssue("closed", 3, "bob-k", "bob-k", at(3, 9), map[string]any{"state_reason": "not_planned"}),
		ghIssue("opened", 4, "alice-s", "alice-s", at(1, 9), nil),
		ghIssue("assigned", 4, "alice-s", "alice-s", at(1, 11), map[string]any{"assignee": "alice-s"}),
		ghIssue("closed", 4, "alice-s", "stale[bot]", at(4, 9), map[string]any{"state_reason": "completed"}),
		glIssue("open", 5, "bob.gl", at(1, 13), ""),
		glIssue("update", 5, "bob.gl", at(1, 14), "bob.gl"),
		glIssue("close", 5, "bob.gl", at(3, 17), ""),
		jiraIssue(6, carolJira, at(0, 9), "", 0),
		jiraIssue(6, carolJira, at(1, 9), "indeterminate", 20001),
		jiraIssue(6, carolJira, at(4, 12), "done", 20002),
		jiraIssue(7, aliceJira, at(2, 9), "", 0),
		jiraIssue(7, aliceJira, at(2, 10), "indeterminate", 20003),
		jiraIssue(7, aliceJira, at(3, 15), "done", 20004),
	}

	intakeAddr, intakeHTTP := apptest.FreeAddr(t), apptest.FreeAddr(t)
	intake, intakeLog := startBinary(t, "intake", "--brokers", kafka, "--intake-addr", intakeAddr, "--http-addr", intakeHTTP,
		"--sources", filepath.Join(dir, "sources.yaml"), "--people", filepath.Join(dir, "people.yaml"), "--teams", filepath.Join(dir, "teams.yaml"),
		"--pseudonym-key-file", keyPath)
	apptest.Eventually(t, 30*time.Second, func() bool { c, _ := get("http://" + intakeAddr + "/healthz"); return c == http.StatusOK })
	for i, d := range week {
		resp, err := http.DefaultClient.Do(d.request(t, "http://"+intakeAddr))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d (%s): %d %s\n%s", i, d.source, resp.StatusCode, b, intakeLog.Bytes())
		}
	}
	// A retried delivery is answered without a second event.
	resp, err := http.DefaultClient.Do(week[0].request(t, "http://"+intakeAddr))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("retry: %v %v", err, resp)
	}
	resp.Body.Close()
	_, m := get("http://" + intakeHTTP + "/metrics")
	for _, want := range []string{`shoal_intake_deliveries_total{outcome="accepted",source="github"} 12`, `shoal_intake_deliveries_total{outcome="duplicate",source="github"} 1`,
		`shoal_intake_activities_dropped_total{reason="bot",source="github"} 1`, `shoal_intake_events_produced_total{source="jira"} 6`} {
		if !strings.Contains(m, want) {
			t.Errorf("intake /metrics lacks %s", want)
		}
	}
	intake.Process.Signal(os.Interrupt)
	if err := intake.Wait(); err != nil {
		t.Fatalf("shoal intake: %v\n%s", err, intakeLog.Bytes())
	}
	// Nothing the tools know people by is on the topic.
	for _, msg := range apptest.ReadTopic(t, kafka, "shoal.events") {
		apptest.AssertNoRawIDs(t, "the event topic", msg.Value, []string{"alice-s", "bob-k", "dave-d", "bob.gl", carolJira, aliceJira, "@acme.example", "Secret", "https://"})
	}

	httpAddr := apptest.FreeAddr(t)
	_, runLog := startBinary(t, "run", "--brokers", kafka, "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", httpAddr,
		"--teams", filepath.Join(dir, "teams.yaml"), "--pseudonym-key-file", keyPath, "--settle-delay", "0")
	line := `shoal_tasks_completed{team="team-orca",unit="orca"} `
	var got string
	deadline := time.Now().Add(2 * time.Minute)
	for got == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the week was not released with team-orca's throughput within 2 minutes\n%s", runLog.Bytes())
		}
		time.Sleep(200 * time.Millisecond)
		_, m := get("http://" + httpAddr + "/metrics")
		for _, l := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(l, line); ok {
				got = v
			}
		}
	}
	if got != strconv.Itoa(wantThroughput) {
		t.Errorf("released throughput of team-orca %s, want %d (by hand)", got, wantThroughput)
	}
	_, m = get("http://" + httpAddr + "/metrics")
	if !strings.Contains(m, "shoal_ingest_events_rejected_total{reason=\"bad_value\"} 0") {
		t.Errorf("ingest refused some of the intake's events:\n%s", grepLines(m, "shoal_ingest_events"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestIntakeRefusesBadConfig: shoal intake says what is missing, and a
// sources file naming a missing secret file stops it at startup with the
// file, the line and what to do.
func TestIntakeRefusesBadConfig(t *testing.T) {
	code, _, stderr := runCLI(t, "intake")
	for _, want := range []string{"intake-addr is required", "brokers is required", "pseudonym-key-file is required"} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	dir := t.TempDir()
	keyPath, _ := apptest.TestKey(t, t.TempDir())
	sources := filepath.Join(dir, "sources.yaml")
	os.WriteFile(sources, []byte("sources:\n  github:\n    secret_file: github.secret\n"), 0o600)
	code, _, stderr = runCLI(t, "intake", "--brokers", "127.0.0.1:1", "--intake-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--sources", sources, "--pseudonym-key-file", keyPath)
	if code == 0 || !strings.Contains(stderr, "sources.yaml:2: sources.github.secret_file: open "+filepath.Join(dir, "github.secret")) ||
		!strings.Contains(stderr, "head -c 32 /dev/urandom | base64 >") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}
