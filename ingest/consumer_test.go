package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/broker/brokertest"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/internal/wait"
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
	sizes    []int64 // messages per committed batch (accepted and refused)
}

func newRecordingSink() *recordingSink {
	return &recordingSink{ids: map[string]int{}, offsets: map[int32]int64{}, rejected: map[string]int64{}}
}

func (s *recordingSink) Commit(_ context.Context, b *event.Batch) (event.CommitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return event.CommitResult{}, fmt.Errorf("injected failure")
	}
	var res event.CommitResult
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
	size := b.Record.NumRows()
	for _, r := range b.Rejected {
		s.rejected[r.Reason] += r.Count
		size += r.Count
	}
	s.sizes = append(s.sizes, size)
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
	return brokertest.Start(t, 3, "events", "dlq")
}

func validEvent(i int) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":"ev-%d","source":"https://jira.acme.example","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"team":"team-%d","task":"T-%d","person":"person%d@acme.example"}}`, i, i%4, i, i%9)
}

// validEvents returns validEvent(i) for i in [from, to).
func validEvents(from, to int) [][]byte {
	out := make([][]byte, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, validEvent(i))
	}
	return out
}

func produce(t *testing.T, addr string, values ...[]byte) {
	t.Helper()
	w := broker.NewWriter([]string{addr}, "events")
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i%5), Value: v}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// startConsumer runs a consumer of the test topic into sink and returns
// it with the topic's end offsets and a stop that cancels it, waits for Run
// and checks that no Arrow memory leaked.
func startConsumer(t *testing.T, addr string, sink Sink) (*Consumer, map[int32]int64, func()) {
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
	stop := func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
	}
	end, err := broker.EndOffsets(ctx, cfg.Brokers, cfg.Topic)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return c, end, stop
}

// runConsumer runs a consumer until it has caught up with the topic, then
// stops it and checks that no Arrow memory leaked.
func runConsumer(t *testing.T, addr string, sink Sink) *Consumer {
	t.Helper()
	c, end, stop := startConsumer(t, addr, sink)
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) }) {
		t.Fatalf("consumer did not catch up with %v: %+v", end, c.Stats())
	}
	stop()
	return c
}

// TestConsumerResumesFromSinkOffsets: a second consumer (same group) starts
// where the sink's offsets say, so nothing is committed twice; refused events
// reach the DLQ; Arrow memory is fully released.
func TestConsumerResumesFromSinkOffsets(t *testing.T) {
	addr := startTestBroker(t)
	first := append(validEvents(0, 500), []byte(`{"specversion":"1.0","id":"bad-1"`), []byte(`{"specversion":"1.0","id":"k1","source":"s","type":"work.activity.keystrokes","time":"2026-11-20T10:00:00Z","data":{"team":"a","person":"bob@acme.example"}}`))
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

	produce(t, addr, validEvents(500, 800)...)
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

// TestConsumerIgnoresGroupOffsetsTheSinkLacks: the sink's offsets are the
// truth, also when it has none for a partition. After a write-ahead log is
// set aside, DuckDB can hold fewer batches than the group committed to
// Kafka; a partition the sink has no offset for is read from its start, not
// from the group's offset, or the batches the log held would be lost.
func TestConsumerIgnoresGroupOffsetsTheSinkLacks(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 500)...)
	first := newRecordingSink()
	runConsumer(t, addr, first) // the group "test" has committed every offset
	if len(first.ids) != 500 || len(first.offsets) < 2 {
		t.Fatalf("first run: %d ids over offsets %v, want 500 over at least 2 partitions", len(first.ids), first.offsets)
	}

	// A sink that lost everything, and one that kept one partition only.
	lost := newRecordingSink()
	runConsumer(t, addr, lost)
	if len(lost.ids) != 500 {
		t.Errorf("a sink with no offsets got %d of the 500 events; the group's offsets were used", len(lost.ids))
	}
	partial := newRecordingSink()
	var kept int32
	for p := range first.offsets {
		kept = p
		break
	}
	partial.offsets[kept] = first.offsets[kept]
	c := runConsumer(t, addr, partial)
	want := 500 - int(first.offsets[kept])
	if got := int(c.Stats().Consumed); got != want {
		t.Errorf("a sink with the offset of partition %d only: consumed %d, want the %d of the other partitions", kept, got, want)
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
	dlqEnd, err := broker.EndOffsets(context.Background(), []string{addr}, "dlq")
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

// gatedSink blocks its first commit until the Arrow memory in use is half
// as much again as that batch's record, that is until the next batch is
// built:
// it fails the test if the consumer does not prepare a batch while the
// previous one commits. It records the offsets of each commit in order.
type gatedSink struct {
	*recordingSink
	t       *testing.T
	mem     *memory.CheckedAllocator
	order   [][2]int64 // per commit: lowest and highest offset+1 of partition 0
	overlap bool
}

func (s *gatedSink) Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	if len(s.order) == 0 {
		// The next batch's record is about as big as this one's.
		next := recordBytes(b.Record) * 3 / 2
		deadline := time.Now().Add(10 * time.Second)
		for s.mem.CurrentAlloc() < next && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		s.overlap = s.mem.CurrentAlloc() >= next
	}
	offs := b.Record.Column(b.Record.Schema().FieldIndices("kafka_offset")[0]).(*array.Int64)
	s.order = append(s.order, [2]int64{offs.Value(0), b.Offsets[0]})
	return s.recordingSink.Commit(ctx, b)
}

// TestProcessPipelinesBatches: Process prepares the next batch while one
// commits, commits them in offset order, leaks no Arrow memory, and stops
// at a failed commit without committing what comes after it.
func TestProcessPipelinesBatches(t *testing.T) {
	key := make([]byte, 32)
	p, err := privacy.NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "events", Partition: 0, Offset: int64(i), Value: validEvent(i), Time: time.Now()}
	}
	newConsumer := func(sink Sink, mem memory.Allocator) *Consumer {
		cfg := DefaultConfig()
		cfg.Brokers = StringList{"127.0.0.1:1"} // never dialled: no event is refused
		cfg.Topic, cfg.DLQTopic, cfg.Group = "events", "dlq", "test"
		cfg.BatchSize = 100
		c, err := NewConsumer(cfg, NewDecoder(p, nil, 0), sink, mem, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	sink := &gatedSink{recordingSink: newRecordingSink(), t: t, mem: mem}
	if err := newConsumer(sink, mem).Process(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	if !sink.overlap {
		t.Error("the second batch was not prepared while the first one committed")
	}
	if len(sink.order) != 10 {
		t.Fatalf("%d commits, want 10", len(sink.order))
	}
	for i, o := range sink.order {
		if o != [2]int64{int64(100 * i), int64(100*i + 100)} {
			t.Errorf("commit %d had offsets %v, want [%d %d]", i, o, 100*i, 100*i+100)
		}
	}

	// A failed commit is retried before the next batch commits.
	failing := newRecordingSink()
	mem2 := memory.NewCheckedAllocator(memory.NewGoAllocator())
	fs := &failAfter{recordingSink: failing, ok: 1}
	if err := newConsumer(fs, mem2).Process(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	mem2.AssertSize(t, 0)
	if failing.commits != 10 || fs.calls != 11 || len(failing.ids) != 1000 {
		t.Errorf("with one failed commit: %d committed in %d attempts, %d distinct events; want 10, 11, 1000", failing.commits, fs.calls, len(failing.ids))
	}
	for i, o := range fs.order {
		if o != int64(100*i+100) {
			t.Errorf("commit %d ended at offset %d, want %d", i, o, 100*i+100)
		}
	}
}

// failAfter commits ok batches, fails the next commit once, then commits
// again; it records each committed batch's end offset of partition 0.
type failAfter struct {
	*recordingSink
	ok, calls int
	order     []int64
}

func (s *failAfter) Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	s.calls++
	if s.calls == s.ok+1 {
		return event.CommitResult{}, fmt.Errorf("injected failure")
	}
	s.order = append(s.order, b.Offsets[0])
	return s.recordingSink.Commit(ctx, b)
}

// recordBytes is the memory of rec's buffers.
func recordBytes(rec arrow.Record) int {
	n := 0
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += b.Cap()
			}
		}
		for _, c := range d.Children() {
			add(c)
		}
	}
	for _, col := range rec.Columns() {
		add(col.Data())
	}
	return n
}

// TestStatsCountACommittedBatch: once CaughtUp sees a batch's offsets,
// Stats counts that batch (the counters once moved only after the group
// offset commit's round trip to the broker, so a caller that checked
// CaughtUp and then read Stats could see 0 consumed).
func TestStatsCountACommittedBatch(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 50)...)
	c, end, stop := startConsumer(t, addr, newRecordingSink())
	defer stop()
	deadline := time.Now().Add(60 * time.Second)
	for !c.CaughtUp(end) { // polled without pause, to land in any gap
		if time.Now().After(deadline) {
			t.Fatalf("consumer did not catch up with %v: %+v", end, c.Stats())
		}
	}
	if st := c.Stats(); st.Consumed != 50 || st.Batches != 1 {
		t.Errorf("caught up, but Stats says %+v; want 50 consumed in 1 batch", st)
	}
}

// gatedFailSink fails every commit while failing is set, with err; it
// records the commits that went through.
type gatedFailSink struct {
	*recordingSink
	failing atomic.Bool
	err     error
	tried   atomic.Int64
}

func (s *gatedFailSink) Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	s.tried.Add(1)
	if s.failing.Load() {
		return event.CommitResult{}, s.err
	}
	return s.recordingSink.Commit(ctx, b)
}

// TestFailingCommitIsNotReady: while commits fail the consumer is not
// ready (and says so in shoal_ingest_commit_failures_consecutive); once
// they succeed it is ready again and nothing was lost.
func TestFailingCommitIsNotReady(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 300)...)
	sink := &gatedFailSink{recordingSink: newRecordingSink(), err: errors.New("injected: the disk is busy")}
	sink.failing.Store(true)
	c, end, stop := startConsumer(t, addr, sink)
	defer stop()
	if !wait.Until(30*time.Second, func() bool { return sink.tried.Load() >= 3 }) {
		t.Fatal("no commit was tried")
	}
	if c.Ready() {
		t.Error("ready while every commit fails")
	}
	sink.failing.Store(false)
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) }) {
		t.Fatalf("did not catch up once commits succeeded: %+v", c.Stats())
	}
	if !c.Ready() {
		t.Error("not ready after commits succeed again")
	}
	if len(sink.ids) != 300 {
		t.Errorf("%d events committed, want 300", len(sink.ids))
	}
}

// TestFailedSinkStopsTheConsumer: a commit the sink refuses for good
// (event.ErrSinkFailed) is not retried: Run returns it at once, never
// silently, and the consumer is not ready.
func TestFailedSinkStopsTheConsumer(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 50)...)
	sink := &gatedFailSink{recordingSink: newRecordingSink(), err: fmt.Errorf("%w: the disk is full", event.ErrSinkFailed)}
	sink.failing.Store(true)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg := testConfig(addr, "test-failed")
	c := newTestConsumer(t, cfg, sink, mem)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, event.ErrSinkFailed) {
			t.Fatalf("Run returned %v, want event.ErrSinkFailed", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run kept going after the sink failed for good")
	}
	if n := sink.tried.Load(); n != 1 {
		t.Errorf("the failed commit was tried %d times, want once", n)
	}
	if c.Ready() {
		t.Error("ready after the sink failed")
	}
	mem.AssertSize(t, 0)
}

// TestEveryPartitionIsRead: without joining a group, the consumer reads
// every partition from the sink's offsets, commits the group's offsets
// for Kafka's lag tooling, and reads new partitions once the topic grows.
func TestEveryPartitionIsRead(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 300)...)
	sink := newRecordingSink()
	c, end, stop := startConsumer(t, addr, sink)
	defer stop()
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) }) {
		t.Fatalf("did not catch up with %v: %+v", end, c.Stats())
	}
	if !c.Ready() {
		t.Error("not ready while reading every partition")
	}
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	ctx := context.Background()
	if !wait.Until(30*time.Second, func() bool {
		res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: "test", Topics: map[string][]int{"events": {0, 1, 2}}})
		if err != nil {
			return false
		}
		for _, p := range res.Topics["events"] {
			if p.Error != nil || p.CommittedOffset != end[int32(p.Partition)] {
				return false
			}
		}
		return true
	}) {
		t.Errorf("the group's offsets were not committed up to %v", end)
	}
}

// TestNewPartitionsAreRead: partitions added to the topic while the
// consumer runs are read too.
func TestNewPartitionsAreRead(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 100)...)
	sink := newRecordingSink()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg := testConfig(addr, "test-grow")
	c := newTestConsumer(t, cfg, sink, mem)
	c.checkEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	}()
	if !wait.Until(60*time.Second, func() bool { return c.Stats().Consumed == 100 }) {
		t.Fatalf("first 100 not consumed: %+v", c.Stats())
	}
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	res, err := client.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: "events", Count: 6}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Errors["events"]; err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	// kafka-go's transport caches metadata for a few seconds.
	var end map[int32]int64
	if !wait.Until(30*time.Second, func() bool {
		end, err = broker.EndOffsets(ctx, cfg.Brokers, cfg.Topic)
		return err == nil && len(end) == 6
	}) {
		t.Fatalf("the topic did not grow to 6 partitions: %v, %v", end, err)
	}
	produce(t, addr, validEvents(100, 400)...)
	if end, err = broker.EndOffsets(ctx, cfg.Brokers, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	var fresh int64
	for p := int32(3); p < 6; p++ {
		fresh += end[p]
	}
	if fresh == 0 {
		t.Fatalf("no event reached the new partitions: %v", end)
	}
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) }) {
		t.Fatalf("the new partitions were not read: end %v, %+v", end, c.Stats())
	}
	if len(sink.ids) != 400 {
		t.Errorf("%d events committed, want 400", len(sink.ids))
	}
}

// TestLargeMessagesAreBatchedByBytes: messages near the size limit cut
// batches by bytes (half of BatchBytes), not by count, so memory follows
// the batch size; every message is still committed or refused once.
func TestLargeMessagesAreBatchedByBytes(t *testing.T) {
	addr := startTestBroker(t)
	big := make([][]byte, 60)
	for i := range big {
		// A valid envelope padded with an unknown field: about 60 KB, refused.
		big[i] = fmt.Appendf(nil, `{"specversion":"1.0","id":"big-%d","source":"s","type":"work.task.started","time":"2026-11-20T10:00:00Z","data":{"team":"t","task":"x","pad":"%s"}}`, i, strings.Repeat("x", 60<<10))
	}
	produce(t, addr, big...)
	sink := newRecordingSink()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg := testConfig(addr, "test-bytes")
	cfg.BatchBytes, cfg.BatchLatency = 1<<20, 2*time.Second // latency long enough that bytes cut every batch
	c := newTestConsumer(t, cfg, sink, mem)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if !wait.Until(60*time.Second, func() bool { return c.Stats().Consumed == 60 }) {
		t.Fatalf("not all 60 large messages consumed: %+v", c.Stats())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	perBatch := int64(cfg.BatchBytes/2)/int64(len(big[0])) + 1
	var total int64
	for i, n := range sink.sizes {
		total += n
		if n > perBatch {
			t.Errorf("batch %d holds %d large messages, more than the %d that half of BatchBytes allows", i, n, perBatch)
		}
	}
	if total != 60 {
		t.Errorf("%d messages committed, want 60 (batches %v)", total, sink.sizes)
	}
}

// heldSink holds every commit until open is closed.
type heldSink struct {
	*recordingSink
	open chan struct{}
}

func (s *heldSink) Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error) {
	select {
	case <-s.open:
	case <-ctx.Done():
		return event.CommitResult{}, ctx.Err()
	}
	return s.recordingSink.Commit(ctx, b)
}

// TestNotReadyWhileCatchingUp: after a start the consumer is not ready
// until it has committed what the topic held when reading started, and
// says how far behind it is.
func TestNotReadyWhileCatchingUp(t *testing.T) {
	addr := startTestBroker(t)
	produce(t, addr, validEvents(0, 200)...)
	sink := &heldSink{recordingSink: newRecordingSink(), open: make(chan struct{})}
	c, end, stop := startConsumer(t, addr, sink)
	defer stop()
	var why string
	if !wait.Until(30*time.Second, func() bool {
		var ok bool
		ok, why = c.Readiness()
		return !ok && strings.Contains(why, "catching up: 200 messages behind")
	}) {
		t.Fatalf("while the first commit is held: readiness %q, want catching up, 200 behind", why)
	}
	close(sink.open)
	if !wait.Until(60*time.Second, func() bool { return c.CaughtUp(end) && c.Ready() }) {
		ok, why := c.Readiness()
		t.Fatalf("not ready after catching up: %v %q", ok, why)
	}
}

// testConfig is the consumer configuration of the tests: the test topics
// on the broker at addr, small batches.
func testConfig(addr, group string) Config {
	cfg := DefaultConfig()
	cfg.Brokers = StringList{addr}
	cfg.Topic, cfg.DLQTopic, cfg.Group = "events", "dlq", group
	cfg.BatchSize, cfg.BatchLatency = 100, 20*time.Millisecond
	return cfg
}

// newTestConsumer builds a consumer of cfg into sink with a throwaway key.
func newTestConsumer(t *testing.T, cfg Config, sink Sink, mem memory.Allocator) *Consumer {
	t.Helper()
	p, err := privacy.NewPseudonymizer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(cfg, NewDecoder(p, nil, 0), sink, mem, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
