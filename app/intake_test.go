package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// TestRunWithIntake: shoal run with --intake-addr takes a signed GitHub
// delivery, answers 2xx, and ingest accepts the event with the person
// pseudonymized at the edge; no raw login reaches the topic; a forged
// signature is 401. An activity of a person the people file does not list
// is refused by ingest as unmapped_identity and counted in the store's
// data quality, without the identity on the topic or the dead-letter topic.
func TestRunWithIntake(t *testing.T) {
	org, _ := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	dir := t.TempDir()
	secret := "github-app-test-secret-0123456789"
	os.WriteFile(filepath.Join(dir, "github.secret"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  github:\n    secret_file: github.secret\n    scopes: {acme/orca-api: "+org.Teams[0].ID+"}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "people.yaml"), []byte("people:\n  - id: alice.smith@acme.example\n    identities: {github: alice-s}\n"), 0o600)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{}, func(c *Config) {
		c.Intake = IntakeConfig{IntakeAddr: "127.0.0.1:0", Sources: filepath.Join(dir, "sources.yaml"), People: filepath.Join(dir, "people.yaml")}
	})
	body, err := os.ReadFile("../intake/testdata/github/issues-opened.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(sig string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, p.IntakeURL()+"/intake/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "issues")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("sha256=" + strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Errorf("forged signature: %d", code)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if code := post("sha256=" + hex.EncodeToString(m.Sum(nil))); code != http.StatusOK {
		t.Fatalf("signed delivery: %d", code)
	}
	waitCaughtUp(t, p)
	if st := p.Stats(); st.Accepted != 1 || st.Rejected != 0 {
		t.Errorf("ingest: %+v, want the intake's event accepted", st)
	}

	// Bob (bob-k, id 1024025) is in no people file.
	if body, err = os.ReadFile("../intake/testdata/github/issues-assigned.json"); err != nil {
		t.Fatal(err)
	}
	m = hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if code := post("sha256=" + hex.EncodeToString(m.Sum(nil))); code != http.StatusOK {
		t.Fatalf("unmapped delivery: %d, want 2xx (the source must not retry it)", code)
	}
	waitCaughtUp(t, p)
	if st := p.Stats(); st.Accepted != 1 || st.Rejected != 1 || st.RejectedBy["unmapped_identity"] != 1 {
		t.Errorf("ingest: %+v, want the unmapped identity refused as unmapped_identity", st)
	}
	quality, err := p.store.Quality(context.Background(), 0, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, q := range quality {
		counted += q.Rejected["unmapped_identity"]
	}
	if counted != 1 {
		t.Errorf("data quality %+v counts %d unmapped_identity, want 1", quality, counted)
	}
	raw := []string{"alice-s", "alice.smith@acme.example", "583231", "bob-k", "1024025"}
	for _, msg := range apptest.ReadTopic(t, addr, "shoal.events") {
		apptest.AssertNoRawIDs(t, "the event topic", msg.Value, raw)
	}
	dead := apptest.ReadTopic(t, addr, "shoal.dlq")
	if len(dead) != 1 {
		t.Errorf("the dead-letter topic holds %d messages, want the unmapped identity's", len(dead))
	}
	for _, msg := range dead {
		apptest.AssertNoRawIDs(t, "the dead-letter topic", msg.Value, raw)
	}
}

// TestRunIntakeMembershipInTeamZone: in shoal run the intake matches the
// people file's memberships on the team's own calendar day, from the teams
// file in force: an issue opened half an hour from midnight in the team's
// zone, on a day the UTC date does not agree with, is attributed to the
// team the person belonged to on the team's day.
func TestRunIntakeMembershipInTeamZone(t *testing.T) {
	org, _ := apptest.SmallOrg()
	var team, other string
	var loc *time.Location
	for _, tm := range org.Teams {
		l := org.Location(tm.ID)
		if _, off := time.Date(2024, 5, 6, 12, 0, 0, 0, l).Zone(); off != 0 && team == "" {
			team, loc = tm.ID, l
		} else if other == "" {
			other = tm.ID
		}
	}
	if team == "" || other == "" {
		t.Fatal("the small org has no team outside UTC and one more")
	}
	// Offset east of UTC: 00:30 on the team's day L is day L-1 in UTC, and
	// the team's membership starts on L. West: 23:30 on L is L+1 in UTC,
	// and the membership ends on L.
	at := time.Date(2024, 5, 6, 0, 30, 0, 0, loc)
	memberships := "      - {team: " + team + ", from: 2024-05-06}\n      - {team: " + other + ", to: 2024-05-05}\n"
	if _, off := at.Zone(); off < 0 {
		at = time.Date(2024, 5, 6, 23, 30, 0, 0, loc)
		memberships = "      - {team: " + team + ", to: 2024-05-06}\n      - {team: " + other + ", from: 2024-05-07}\n"
	}
	if at.UTC().Day() == 6 {
		t.Fatalf("%s: %s is the 6th in UTC too", loc, at)
	}
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	dir := t.TempDir()
	secret := "github-app-test-secret-0123456789"
	os.WriteFile(filepath.Join(dir, "github.secret"), []byte(secret), 0o600)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  github:\n    secret_file: github.secret\n    scopes: {acme/orca-api: "+other+"}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "people.yaml"), []byte("people:\n  - id: alice.smith@acme.example\n    identities: {github: alice-s}\n    teams:\n"+memberships), 0o600)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{}, func(c *Config) {
		c.Intake = IntakeConfig{IntakeAddr: "127.0.0.1:0", Sources: filepath.Join(dir, "sources.yaml"), People: filepath.Join(dir, "people.yaml")}
	})
	body, err := os.ReadFile("../intake/testdata/github/issues-opened.json")
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.ReplaceAll(body, []byte("2024-05-06T09:15:00Z"), []byte(at.UTC().Format(time.RFC3339)))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, p.IntakeURL()+"/intake/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed delivery: %d", resp.StatusCode)
	}
	msgs := apptest.ReadTopic(t, addr, "shoal.events")
	if len(msgs) != 1 {
		t.Fatalf("the topic holds %d events, want 1", len(msgs))
	}
	var ev struct {
		Data struct{ Team string } `json:"data"`
	}
	if err := json.Unmarshal(msgs[0].Value, &ev); err != nil || ev.Data.Team != team {
		t.Errorf("event %s (%v): want team %s, whose day in %s it was (UTC says %s)", msgs[0].Value, err, team, loc, other)
	}
}
