package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

// testPipeline starts an in-process pipeline against the broker at addr,
// its clock pinned to apptest.OrgNow; opts adjust its configuration.
func testPipeline(t *testing.T, addr, dataDir string, org *synth.Org, logs *apptest.SyncBuffer, opts ...func(*Config)) (*App, func()) {
	t.Helper()
	return testPipelineAt(t, addr, dataDir, org, logs, apptest.OrgNow, opts...)
}

// testPipelineAt is testPipeline with its clock pinned to now.
func testPipelineAt(t *testing.T, addr, dataDir string, org *synth.Org, logs *apptest.SyncBuffer, now time.Time, opts ...func(*Config)) (*App, func()) {
	t.Helper()
	cfg := DefaultConfig(dataDir)
	cfg.Brokers = []string{addr}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.BatchSize = 2000
	cfg.BatchLatency = 50 * time.Millisecond
	_, key := apptest.TestKey(t, t.TempDir())
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	cfg.Teams = filepath.Join(dataDir, "teams.yaml")
	if err := os.WriteFile(cfg.Teams, org.TeamsYAML(), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return now }
	cfg.SettleDelay = 0 // the week before now is due
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(ctx, cfg, key, logger)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline run: %v", err)
		}
	}
	t.Cleanup(stop)
	return p, stop
}

func waitCaughtUp(t *testing.T, p *App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.WaitCaughtUp(ctx, nil); err != nil {
		t.Fatalf("pipeline did not catch up: %v (stats %+v)", err, p.consumer.Stats())
	}
}

// TestPipelineMatchesOracle publishes a synthetic organisation to a broker
// over TCP, runs the pipeline, and checks the rollups against the
// independent oracle; then redelivers every event and checks nothing
// changed; then checks that no raw person id reached the DuckDB file, the
// logs or the dead-letter topic.
func TestPipelineMatchesOracle(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dataDir := t.TempDir()
	logs := &apptest.SyncBuffer{}
	p, stop := testPipeline(t, addr, dataDir, org, logs)
	waitCaughtUp(t, p)

	ctx := context.Background()
	want := synth.Expect(msgs, org.Location)
	got, err := p.store.TeamDays(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apptest.CompareTeamDays(t, got, want)
	t.Logf("%d messages, %d team-day cells match the oracle", len(msgs), len(want))

	badBy, bad := apptest.CountBad(msgs)
	st := p.consumer.Stats()
	if st.Consumed != int64(len(msgs)) || st.Rejected != bad {
		t.Errorf("consumed %d rejected %d, want %d and %d", st.Consumed, st.Rejected, len(msgs), bad)
	}
	for r, n := range badBy {
		if st.RejectedBy[r] != n {
			t.Errorf("rejected %s: %d, want %d", r, st.RejectedBy[r], n)
		}
	}
	stored, err := p.store.Rejections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for r, n := range badBy {
		if stored[r] != n {
			t.Errorf("stored rejections %s: %d, want %d", r, stored[r], n)
		}
	}
	dlq := apptest.ReadTopic(t, addr, "shoal.dlq")
	if int64(len(dlq)) != bad {
		t.Errorf("dead-letter topic has %d messages, want %d", len(dlq), bad)
	}
	var dlqBytes []byte
	dlqBy := map[string]int64{}
	for _, m := range dlq {
		dlqBytes = append(dlqBytes, m.Key...)
		dlqBytes = append(dlqBytes, m.Value...)
		for _, h := range m.Headers {
			dlqBytes = append(dlqBytes, h.Value...)
			if h.Key == "shoal-reason" {
				dlqBy[string(h.Value)]++
			}
		}
	}
	for r, n := range badBy {
		if dlqBy[r] != n {
			t.Errorf("dead letters with reason %s: %d, want %d", r, dlqBy[r], n)
		}
	}

	metrics := apptest.HTTPGet(t, p.URL()+"/metrics")
	for _, name := range []string{"shoal_ingest_messages_consumed_total", "shoal_ingest_events_accepted_total",
		`shoal_ingest_events_rejected_total{reason="surveillance_field"}`, "shoal_ingest_batches_committed_total",
		"shoal_ingest_batch_duration_seconds_bucket", `shoal_ingest_consumer_lag_messages{partition="0"}`,
		"shoal_ingest_last_commit_timestamp_seconds"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Outcome metrics: exported per team, unit and org after the policy;
	// nothing for a team under k; labels are only team and unit.
	release(t, p)
	metrics = apptest.HTTPGet(t, p.URL()+"/metrics")
	if !strings.Contains(metrics, `shoal_tasks_completed{team="",unit=""}`) {
		t.Errorf("/metrics lacks the org throughput for the previous week:\n%s", grepLines(metrics, "shoal_tasks_completed"))
	}
	shownTeam := false
	for _, tm := range org.Teams {
		has := strings.Contains(metrics, `team="`+tm.ID+`"`)
		if tm.Size < 5 && has {
			t.Errorf("team %s has %d people (< k) but has series:\n%s", tm.ID, tm.Size, grepLines(metrics, tm.ID))
		}
		shownTeam = shownTeam || has
	}
	if !shownTeam {
		t.Error("no team-level outcome series at all")
	}
	if !strings.Contains(metrics, `shoal_suppressed_cells{level="team",metric="tasks_completed",reason="below_k"}`) {
		t.Error("/metrics lacks shoal_suppressed_cells")
	}
	for _, line := range strings.Split(metrics, "\n") {
		if pseudonymRe.MatchString(line) || strings.Contains(line, "@") {
			t.Errorf("metric line looks like it carries a pseudonym or raw id: %s", line)
		}
	}
	if got := apptest.HTTPGet(t, p.URL()+"/readyz"); !strings.Contains(got, "ready") {
		t.Errorf("/readyz = %q", got)
	}

	// Redeliver everything: nothing may change.
	before := p.consumer.Stats()
	apptest.Publish(t, addr, "shoal.events", msgs)
	waitCaughtUp(t, p)
	got2, err := p.store.TeamDays(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apptest.CompareTeamDays(t, got2, want)
	after := p.consumer.Stats()
	if after.Accepted != before.Accepted {
		t.Errorf("redelivery inserted %d events, want 0", after.Accepted-before.Accepted)
	}
	if dup := after.Duplicates - before.Duplicates; dup != int64(len(msgs))-bad {
		t.Errorf("redelivery counted %d duplicates, want %d", dup, int64(len(msgs))-bad)
	}

	stop()
	raw := org.RawPeople()
	if len(raw) < 50 {
		t.Fatalf("org has only %d raw people ids", len(raw))
	}
	apptest.AssertNoRawIDs(t, "dead-letter topic", dlqBytes, raw)
	apptest.AssertNoRawIDs(t, "logs", logs.Bytes(), raw)
	files := 0
	filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		apptest.AssertNoRawIDs(t, path, b, raw)
		return nil
	})
	if files == 0 {
		t.Fatal("no files in the data dir")
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

// release publishes the weeks due at the pipeline's clock (as the
// release loop does) and fails the test on an error.
func release(t *testing.T, p *App) []int32 {
	t.Helper()
	weeks, err := p.PublishReleases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return weeks
}

var pseudonymRe = regexp.MustCompile(`p_[0-9a-f]{24}`)

// TestRefreshLoopBacksOff: a recomputation that takes d is not started
// again before 4·d has passed after it, whatever the interval, so
// off-path refreshes of a large organisation cannot occupy a core.
func TestRefreshLoopBacksOff(t *testing.T) {
	const took = 20 * time.Millisecond
	var starts []time.Time
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		refreshLoop(ctx, time.Millisecond, func(context.Context) {
			starts = append(starts, time.Now())
			if len(starts) == 3 {
				cancel()
			}
			time.Sleep(took)
		})
		close(done)
	}()
	<-done
	if len(starts) != 3 {
		t.Fatalf("%d refreshes, want 3", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 5*took {
			t.Errorf("refresh %d started %v after the previous one, which took %v: want at least %v", i, gap, took, 5*took)
		}
	}
}

// TestIdleCheckpoint: once the stream pauses after a commit, the pipeline
// checkpoints DuckDB's write-ahead log into the file, well before DuckDB's
// own 1GB threshold, so a restart has nothing to replay.
func TestIdleCheckpoint(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	dir := t.TempDir()
	logs := &apptest.SyncBuffer{}
	p, _ := testPipeline(t, addr, dir, org, logs, func(c *Config) { c.IdleCheckpoint = 200 * time.Millisecond })
	waitCaughtUp(t, p)
	wal := p.cfg.StoreConfig().Path + ".wal"
	var fi os.FileInfo
	var err error
	if !wait.Until(15*time.Second, func() bool {
		fi, err = os.Stat(wal)
		return (err != nil || fi.Size() == 0) && bytes.Contains(logs.Bytes(), []byte("write-ahead log checkpointed"))
	}) {
		t.Fatalf("the write-ahead log was not checkpointed within 15 s of catching up (stat: %v, %v)", fi, err)
	}

	// The pause also returns the Go heap's free pages: 64 MiB written and
	// dropped just before are no longer resident after it.
	garbage := make([]byte, 64<<20)
	for i := range garbage {
		garbage[i] = 1
	}
	runtime.KeepAlive(garbage)
	var released int64
	wait.Until(15*time.Second, func() bool {
		_, released, err = p.IdleCheckpoint(context.Background())
		return !errors.Is(err, transform.ErrCheckpointBusy)
	})
	if err != nil {
		t.Fatal(err)
	}
	if released < 48<<20 {
		t.Errorf("the idle checkpoint returned %d MiB of the Go heap to the system, want the 64 MiB dropped before it", released>>20)
	}
}

// TestParseSize: sizes read as DuckDB reads them (KB/MB/GB decimal,
// KiB/MiB/GiB binary); a size without a unit or below 1 MiB is refused.
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"320MiB": 320 << 20, "512MB": 512e6, "1.5GiB": 3 << 29, " 2 gb ": 2e9, "1048576b": 1 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "300", "lots", "-1GB", "12 parsecs", "1KB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestGoMemoryLimit: --go-memory-limit becomes the Go runtime's soft
// memory limit when the pipeline starts.
func TestGoMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs[:100])
	testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{}, func(c *Config) { c.GoMemoryLimit = "300MiB" })
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("Go memory limit %d after start, want %d", got, 300<<20)
	}
}

// TestSecondRunOnTheSameDataDir: a second Shoal on a data directory in use
// is refused by the store's lock before it starts an embedded broker on
// the shared log.
func TestSecondRunOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.EmbeddedAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	_, key := apptest.TestKey(t, t.TempDir())
	first, err := New(context.Background(), cfg, key, apptest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer first.close()
	logs := &apptest.SyncBuffer{}
	_, err = New(context.Background(), cfg, key, slog.New(slog.NewTextHandler(logs, nil)))
	if !errors.Is(err, transform.ErrLocked) {
		t.Fatalf("second New on the same data dir: %v, want transform.ErrLocked", err)
	}
	if strings.Contains(string(logs.Bytes()), "embedded Kafka-protocol broker started") {
		t.Errorf("the second Shoal started its broker on the shared log before the lock refused it:\n%s", logs.Bytes())
	}
}
