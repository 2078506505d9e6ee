package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

var shoalBin string // built once by TestMain for whole-binary tests

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "shoal-bin")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			shoalBin = filepath.Join(dir, "shoal")
			out, err := exec.Command("go", "build", "-o", shoalBin, ".").CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "building shoal for whole-binary tests: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if shoalBin == "" {
		t.Skip("whole-binary test skipped in -short mode")
	}
}

// startKafka runs an in-process Kafka-protocol broker (kfake) on a free
// loopback port; clients talk to it over real TCP.
func startKafka(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func publish(t *testing.T, addr, topic string, msgs []synth.Message) {
	t.Helper()
	if err := publishAll(context.Background(), []string{addr}, topic, msgs, nil); err != nil {
		t.Fatal(err)
	}
}

// readTopic returns every message currently in topic.
func readTopic(t *testing.T, addr, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end, err := ingest.EndOffsets(ctx, []string{addr}, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p, last := range end {
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: int(p), MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= last {
				break
			}
		}
		r.Close()
	}
	return out
}

func testKey(t *testing.T, dir string) (string, []byte) {
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

// smallOrg is a quick organisation for tests: every fault and edge the
// generator makes, at a size that ingests in seconds.
// orgNow is the end of smallOrg's events: the in-process pipelines' clock,
// so "current week" and "previous week" hold data whatever today is.
var orgNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func smallOrg() (*synth.Org, []synth.Message) {
	return synth.Generate(synth.Options{Seed: 42, Teams: 8, Units: 3, People: 60, Weeks: 3,
		End: orgNow, BadRate: 0.03, DuplicateRate: 0.01, LateRate: 0.05})
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// compareTeamDays fails with the first differing cells.
func compareTeamDays(t *testing.T, got []transform.TeamDay, want []synth.TeamDay) {
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

func countBad(msgs []synth.Message) (map[string]int64, int64) {
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

// assertNoRawIDs fails if any raw person identifier appears in data.
func assertNoRawIDs(t *testing.T, where string, data []byte, raw []string) {
	t.Helper()
	lower := bytes.ToLower(data)
	for _, r := range raw {
		if bytes.Contains(lower, []byte(strings.ToLower(r))) {
			t.Errorf("raw person id %q found in %s", r, where)
		}
	}
}

func httpGet(t *testing.T, url string) string {
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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openStoreMatchingOracle opens the DuckDB file a stopped `shoal run` left
// in dataDir (no --teams: every team in UTC) and checks its rollups against
// the oracle. The caller closes the store.
func openStoreMatchingOracle(t *testing.T, dataDir string, msgs []synth.Message) *transform.Store {
	t.Helper()
	store, err := transform.Open(context.Background(), transform.Config{Path: filepath.Join(dataDir, "shoal.duckdb")}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.TeamDays(context.Background())
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	compareTeamDays(t, got, synth.Expect(msgs, func(string) *time.Location { return time.UTC }))
	return store
}
