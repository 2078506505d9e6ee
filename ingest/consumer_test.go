package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoal-analytics/shoal/privacy"
)

// recordingSink keeps what it is given in memory: the ids of committed
// events, the offsets and the rejected counts. It can be told to fail.
type recordingSink struct {
	mu       sync.Mutex
	ids      map[string]int // id -> times committed
	offsets  map[int32]int64
	rejected map[string]int64
	failNext int
	commits  int
}

func newRecordingSink() *recordingSink {
	return &recordingSink{ids: map[string]int{}, offsets: map[int32]int64{}, rejected: map[string]int64{}}
}

func (s *recordingSink) Commit(_ context.Context, b *Batch) (CommitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return CommitResult{}, fmt.Errorf("injected failure")
	}
	var res CommitResult
	ids := b.Record.Column(1).(*array.String)
	for i := 0; i < ids.Len(); i++ {
		id := ids.Value(i)
		if s.ids[id] > 0 {
			res.Duplicates++
		} else {
			res.Inserted++
		}
		s.ids[id]++
	}
	for p, off := range b.Offsets {
		s.offsets[p] = max(s.offsets[p], off)
	}
	for _, r := range b.Rejected {
		s.rejected[r.Reason] += r.Count
	}
	s.commits++
	return res, nil
}

func (s *recordingSink) Offsets(context.Context, string) (map[int32]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.offsets), nil
}

func startTestBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func validEvent(i int) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":"ev-%d","source":"https://jira.acme.example","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"team":"team-%d","task":"T-%d","person":"person%d@acme.example"}}`, i, i%4, i, i%9)
}

func produce(t *testing.T, addr string, values ...[]byte) {
	t.Helper()
	w := NewWriter([]string{addr}, "events")
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%5), Value: v}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// runConsumer runs a consumer until it has caught up with the topic, then
// stops it and checks that no Arrow memory leaked.
func runConsumer(t *testing.T, addr string, sink Sink) *Consumer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	key := make([]byte, 32)
	p, err := privacy.NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Brokers = StringList{addr}
	cfg.Topic, cfg.DLQTopic, cfg.Group = "events", "dlq", "test"
	cfg.BatchSize, cfg.BatchLatency = 100, 20*time.Millisecond
	c, err := NewConsumer(cfg, NewDecoder(p, nil, 0), sink, mem, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	end, err := EndOffsets(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !c.CaughtUp(end) {
		if time.Now().After(deadline) {
			t.Fatalf("consumer did not catch up with %v: %+v", end, c.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	return c
}

// TestConsumerResumesFromSinkOffsets: a second consumer (same group) starts
// where the sink's offsets say, so nothing is committed twice; refused events
// reach the DLQ; Arrow memory is fully released.
func TestConsumerResumesFromSinkOffsets(t *testing.T) {
	addr := startTestBroker(t)
	var first [][]byte
	for i := range 500 {
		first = append(first, validEvent(i))
	}
	first = append(first, []byte(`{"specversion":"1.0","id":"bad-1"`), []byte(`{"specversion":"1.0","id":"k1","source":"s","type":"work.activity.keystrokes","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"bob@acme.example"}}`))
	produce(t, addr, first...)
	sink := newRecordingSink()
	sink.failNext = 2 // the first commits fail and are retried, not lost
	c := runConsumer(t, addr, sink)
	if st := c.Stats(); st.Accepted != 500 || st.Rejected != 2 {
		t.Fatalf("first run stats %+v", st)
	}
	if len(sink.ids) != 500 {
		t.Fatalf("sink has %d distinct ids, want 500", len(sink.ids))
	}

	var second [][]byte
	for i := 500; i < 800; i++ {
		second = append(second, validEvent(i))
	}
	produce(t, addr, second...)
	c2 := runConsumer(t, addr, sink)
	if st := c2.Stats(); st.Consumed != 300 || st.Accepted != 300 {
		t.Errorf("second run re-read old messages: %+v", st)
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Errorf("event %s committed %d times", id, n)
		}
	}
	if sink.rejected["malformed_json"] != 1 || sink.rejected["surveillance_type"] != 1 {
		t.Errorf("rejected counts %v", sink.rejected)
	}
}

// TestTenThousandBadEvents: a flood of mixed bad events neither stops the
// pipeline nor loses anything: every one is counted and dead-lettered, and
// the good events among them are all committed.
func TestTenThousandBadEvents(t *testing.T) {
	addr := startTestBroker(t)
	bad := []string{
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"team":"a","task":"t","person":"eve%d@acme.example"`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.mouse.moved","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"eve%d@acme.example"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.time.logged","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"eve%d@acme.example","start":"2026-11-20T09:00:00Z","end":"2026-11-20T10:00:00Z","category":"focus","window_title":"secret.doc"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.task.estimated","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"eve%d@acme.example"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"team":"a","task":"t","person":"eve%d@acme.example","mood":"tired"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"task":"t","person":"eve%d@acme.example"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.task.started","time":"yesterday","data":{"team":"a","task":"t","person":"eve%d@acme.example"}}`,
		`{"specversion":"1.0","id":"b%d","source":"s","type":"work.time.logged","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"eve%d@acme.example","start":"2026-11-20T11:00:00Z","end":"2026-11-20T10:00:00Z","category":"focus"}}`,
	}
	var values [][]byte
	good := 0
	for i := range 10_000 {
		values = append(values, fmt.Appendf(nil, bad[i%len(bad)], i, i))
		if i%100 == 0 {
			values = append(values, validEvent(100_000+i))
			good++
		}
	}
	produce(t, addr, values...)
	sink := newRecordingSink()
	c := runConsumer(t, addr, sink)
	st := c.Stats()
	if st.Rejected != 10_000 || st.Accepted != int64(good) {
		t.Fatalf("stats %+v, want 10000 rejected and %d accepted", st, good)
	}
	var total int64
	for _, n := range sink.rejected {
		total += n
	}
	if total != 10_000 {
		t.Errorf("sink counted %d rejections, want 10000 (%v)", total, sink.rejected)
	}
	dlqEnd, err := EndOffsets(context.Background(), []string{addr}, "dlq")
	if err != nil {
		t.Fatal(err)
	}
	var dead int64
	for _, n := range dlqEnd {
		dead += n
	}
	if dead != 10_000 {
		t.Errorf("dead-letter topic holds %d messages, want 10000", dead)
	}
	if len(sink.rejected) != len(bad) {
		t.Errorf("want %d distinct reasons, got %v", len(bad), sink.rejected)
	}
}
