package app

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// TestRunWithIntake: shoal run with --intake-addr takes a signed GitHub
// delivery, answers 2xx, and ingest accepts the event with the person
// pseudonymized at the edge; no raw login reaches the topic; a forged
// signature is 401.
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
	for _, msg := range apptest.ReadTopic(t, addr, "shoal.events") {
		apptest.AssertNoRawIDs(t, "the event topic", msg.Value, []string{"alice-s", "alice.smith@acme.example", "583231"})
	}
}
