// Package apptest holds what the tests of a whole running Shoal share
// (the app package's in-process tests and cmd/shoal's whole-binary tests):
// a broker, a small synthetic organisation, a pseudonym key, the oracle
// comparison of the rollups and the raw-identifier check. Tests only.
package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/broker/brokertest"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

// StartKafka runs an in-process Kafka-protocol broker with three
// partitions per topic (brokertest.Start).
func StartKafka(t *testing.T, topics ...string) string {
	t.Helper()
	return brokertest.Start(t, 3, topics...)
}

// Publish sends msgs to topic on the broker at addr.
func Publish(t *testing.T, addr, topic string, msgs []synth.Message) {
	t.Helper()
	if err := broker.Publish(context.Background(), []string{addr}, topic, msgs, synth.Message.KeyValue, nil); err != nil {
		t.Fatal(err)
	}
}

// ReadTopic returns every message currently in topic.
func ReadTopic(t *testing.T, addr, topic string) []kafka.Message {
	t.Helper()
	return brokertest.ReadTopic(t, addr, topic)
}

// TestKey writes a random pseudonym key into dir and returns its path and bytes.
func TestKey(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "test.key")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// OrgNow is the end of SmallOrg's events: the in-process pipelines' clock,
// so "current week" and "previous week" hold data whatever today is.
var OrgNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// SmallOrg is a quick organisation for tests: every fault and edge the
// generator makes, at a size that ingests in seconds, ending at OrgNow.
func SmallOrg() (*synth.Org, []synth.Message) {
	return synth.Generate(synth.Options{Seed: 42, Teams: 8, Units: 3, People: 60, Weeks: 3,
		End: OrgNow, BadRate: 0.03, DuplicateRate: 0.01, LateRate: 0.05})
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Bytes is a copy of what was written.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// CompareTeamDays fails with the first differing cells.
func CompareTeamDays(t *testing.T, got []transform.TeamDay, want []synth.TeamDay) {
	t.Helper()
	conv := make([]synth.TeamDay, len(got))
	for i, g := range got {
		conv[i] = synth.TeamDay{
			Team: g.Team, Day: g.Day, Events: g.Events, TasksCreated: g.TasksCreated, TasksStarted: g.TasksStarted,
			TasksCompleted: g.TasksCompleted, LeadTimeN: g.LeadTimeN, CycleTimeN: g.CycleTimeN,
			CompletedWithDue: g.CompletedWithDue, CompletedOnTime: g.CompletedOnTime, TasksReopened: g.TasksReopened,
			TasksBlocked: g.TasksBlocked, RequestsOpened: g.RequestsOpened, RequestsResponded: g.RequestsResponded,
			ResponseTimeN: g.ResponseTimeN, Contributors: g.Contributors, LeadTimeSSum: g.LeadTimeSSum,
			CycleTimeSSum: g.CycleTimeSSum, FocusS: g.FocusS, MeetingS: g.MeetingS, CollaborationS: g.CollaborationS,
			SupportS: g.SupportS, AdminS: g.AdminS, LearningS: g.LearningS, OtherS: g.OtherS, ResponseTimeSSum: g.ResponseTimeSSum,
		}
	}
	if len(conv) != len(want) {
		t.Errorf("rollups have %d team-day cells, oracle has %d", len(conv), len(want))
	}
	wantBy := map[string]synth.TeamDay{}
	for _, w := range want {
		wantBy[fmt.Sprintf("%s/%d", w.Team, w.Day)] = w
	}
	bad := 0
	for _, g := range conv {
		k := fmt.Sprintf("%s/%d", g.Team, g.Day)
		w, ok := wantBy[k]
		delete(wantBy, k)
		if !ok {
			t.Errorf("cell %s in rollups but not in oracle: %+v", k, g)
		} else if !approxEqual(g, w) {
			t.Errorf("cell %s differs:\n got  %+v\n want %+v", k, g, w)
		} else {
			continue
		}
		if bad++; bad > 5 {
			t.Fatal("more than 5 differing cells")
		}
	}
	for k, w := range wantBy {
		t.Errorf("cell %s in oracle but not in rollups: %+v", k, w)
	}
}

func approxEqual(a, b synth.TeamDay) bool {
	close := func(x, y float64) bool { d := x - y; return d < 1e-6 && d > -1e-6 }
	fa := []*float64{&a.LeadTimeSSum, &a.CycleTimeSSum, &a.FocusS, &a.MeetingS, &a.CollaborationS, &a.SupportS, &a.AdminS, &a.LearningS, &a.OtherS, &a.ResponseTimeSSum}
	fb := []*float64{&b.LeadTimeSSum, &b.CycleTimeSSum, &b.FocusS, &b.MeetingS, &b.CollaborationS, &b.SupportS, &b.AdminS, &b.LearningS, &b.OtherS, &b.ResponseTimeSSum}
	for i := range fa {
		if !close(*fa[i], *fb[i]) {
			return false
		}
		*fa[i], *fb[i] = 0, 0
	}
	return a == b
}

// CountBad counts the messages the generator made bad, by reason, and in all.
func CountBad(msgs []synth.Message) (map[string]int64, int64) {
	by := map[string]int64{}
	var n int64
	for _, m := range msgs {
		if m.Bad != "" {
			by[m.Bad]++
			n++
		}
	}
	return by, n
}

// AssertNoRawIDs fails if any raw person identifier appears in data.
func AssertNoRawIDs(t *testing.T, where string, data []byte, raw []string) {
	t.Helper()
	lower := bytes.ToLower(data)
	for _, r := range raw {
		if bytes.Contains(lower, []byte(strings.ToLower(r))) {
			t.Errorf("raw person id %q found in %s", r, where)
		}
	}
}

// HTTPGet GETs url and fails the test unless it answers 200.
func HTTPGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// HTTPPost POSTs body as contentType to url and returns the status code
// and the answer.
func HTTPPost(t *testing.T, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// DiscardLogger is a logger that writes nothing.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// OpenStoreMatchingOracle opens the DuckDB file a stopped `shoal run` left
// in dataDir (no --teams: every team in UTC) and checks its rollups against
// the oracle. The caller closes the store.
func OpenStoreMatchingOracle(t *testing.T, dataDir string, msgs []synth.Message) *transform.Store {
	t.Helper()
	store, err := transform.Open(context.Background(), transform.Config{Path: filepath.Join(dataDir, "shoal.duckdb")}, DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.TeamDays(context.Background())
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	CompareTeamDays(t, got, synth.Expect(msgs, func(string) *time.Location { return time.UTC }))
	return store
}

// FreeAddr is a loopback address with a port that was free a moment ago.
func FreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Eventually polls cond until it holds, failing t if it does not within
// timeout.
func Eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
