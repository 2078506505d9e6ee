package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/synth"
)

// TestIdentifiersAtTheDoor replays issue 21's identifier attacks against a
// running Shoal with a teams file: a team named like a person, an e-mail
// inside a task id and a team the file does not list are refused to the
// dead-letter topic (by default) and reach neither the store, /metrics,
// the log nor the dead-letter topic; with --unlisted-teams accept the
// unlisted team is counted under the unassigned unit as before.
func TestIdentifiersAtTheDoor(t *testing.T) {
	const email = "dave.smith@acme.example"
	teams := "min_group_size: 5\nunits:\n  - id: alpha\n    teams:\n      - id: team-orca\n"
	monday := apptest.OrgNow.AddDate(0, 0, -7)
	var msgs []synth.Message
	add := func(team string, data map[string]any) {
		data["team"] = team
		b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": fmt.Sprintf("id-%d", len(msgs)), "source": "https://jira.acme.example",
			"type": event.TaskCompleted, "time": monday.Add(time.Duration(len(msgs)) * time.Hour).Format(time.RFC3339), "data": data})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, synth.Message{Key: []byte(team), Value: b})
	}
	for i := range 6 {
		add("team-orca", map[string]any{"task": fmt.Sprintf("ORCA-%d", i), "person": fmt.Sprintf("p%d@acme.example", i)})
	}
	add(email, map[string]any{"task": "ORCA-7", "person": "p1@acme.example"})
	add("team-orca", map[string]any{"task": "ORCA-" + email, "person": "p1@acme.example"})
	add("ghosts", map[string]any{"task": "GHOST-1", "person": "p1@acme.example"})

	for _, tc := range []struct {
		unlisted string
		rejected map[string]int64
		stored   []string
	}{
		{ingest.UnlistedRefuse, map[string]int64{"identifier_in_field": 2, "unknown_team": 1}, []string{"team-orca"}},
		{ingest.UnlistedAccept, map[string]int64{"identifier_in_field": 2}, []string{"ghosts", "team-orca"}},
	} {
		t.Run(tc.unlisted, func(t *testing.T) {
			addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
			apptest.Publish(t, addr, "shoal.events", msgs)
			dir := t.TempDir()
			path := filepath.Join(dir, "teams.yaml")
			if err := os.WriteFile(path, []byte(teams), 0o640); err != nil {
				t.Fatal(err)
			}
			logs := &apptest.SyncBuffer{}
			p, stop := testPipeline(t, addr, t.TempDir(), &synth.Org{}, logs, func(c *Config) {
				c.Teams, c.UnlistedTeams = path, tc.unlisted
			})
			waitCaughtUp(t, p)
			if got := p.consumer.Stats().RejectedBy; len(got) != len(tc.rejected) || got["identifier_in_field"] != tc.rejected["identifier_in_field"] || got["unknown_team"] != tc.rejected["unknown_team"] {
				t.Errorf("rejected %v, want %v", got, tc.rejected)
			}
			stored, err := p.store.Teams(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(stored)
			if !slices.Equal(stored, tc.stored) {
				t.Errorf("stored teams %v, want %v", stored, tc.stored)
			}
			release(t, p)
			metrics := apptest.HTTPGet(t, p.URL()+"/metrics")
			var dlq []byte
			for _, m := range apptest.ReadTopic(t, addr, "shoal.dlq") {
				dlq = append(append(dlq, m.Key...), m.Value...)
				for _, h := range m.Headers {
					dlq = append(dlq, h.Value...)
				}
			}
			stop()
			for what, b := range map[string]string{"/metrics": metrics, "the log": string(logs.Bytes()), "the dead-letter topic": string(dlq)} {
				if strings.Contains(b, "dave") || strings.Contains(b, "@acme.example") {
					t.Errorf("%s holds the identifier:\n%s", what, grepLines(b, "dave"))
				}
			}
			if tc.unlisted == ingest.UnlistedRefuse && strings.Contains(string(dlq)+string(logs.Bytes()), "ghosts") {
				t.Error("the refused unlisted team's id reached the log or the dead-letter topic")
			}
		})
	}
}
