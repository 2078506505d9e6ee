package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
)

// Sink makes batches durable. Commit must apply the events, the rejected
// counts and the offsets atomically; Offsets returns what was committed.
type Sink interface {
	Commit(ctx context.Context, b *event.Batch) (event.CommitResult, error)
	Offsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// Stats is a snapshot of the consumer's running totals.
type Stats struct {
	Consumed, Accepted, Duplicates, Rejected, Batches int64
	RejectedBy                                        map[string]int64
}

// Consumer runs the ingest pipeline: every partition → decode → firewall →
// pseudonymize → Arrow → Sink, refused events → dead-letter topic.
type Consumer struct {
	cfg     Config
	dec     *Decoder
	sink    Sink
	dlq     *kafka.Writer
	mem     memory.Allocator
	metrics *Metrics
	log     *slog.Logger

	consumed, accepted, duplicates, rejected, batches atomic.Int64
	ready                                             atomic.Bool
	// commitFailures counts failed attempts in a row to commit the current batch.
	commitFailures atomic.Int64

	// checkEvery is how often the topic's partitions are looked up again
	// (PartitionCheckInterval; tests shorten it).
	checkEvery time.Duration

	mu         sync.Mutex
	rejectedBy map[string]int64
	committed  map[int32]int64 // next offsets made durable, by partition
	catchUp    map[int32]int64 // the topic's end offsets when reading started
}

// NewConsumer wires a consumer. The dead-letter writer is created here and
// closed by Run.
func NewConsumer(cfg Config, dec *Decoder, sink Sink, mem memory.Allocator, m *Metrics, logger *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no brokers configured")
	}
	return &Consumer{
		cfg:        cfg,
		dec:        dec,
		sink:       sink,
		dlq:        broker.NewWriter(cfg.Brokers, cfg.DLQTopic),
		mem:        mem,
		metrics:    m,
		log:        logger.With("component", "ingest"),
		rejectedBy: make(map[string]int64),
		committed:  make(map[int32]int64),
		checkEvery: PartitionCheckInterval,
	}, nil
}

// Stats returns the running totals since the consumer started.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	by := maps.Clone(c.rejectedBy)
	c.mu.Unlock()
	return Stats{
		Consumed: c.consumed.Load(), Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), Batches: c.batches.Load(), RejectedBy: by,
	}
}

// Ready reports whether the consumer reads every partition of the topic,
// has caught up with what the topic held when reading started, and no
// commit is failing.
func (c *Consumer) Ready() bool { ok, _ := c.Readiness(); return ok }

// Readiness is Ready with the reason when it is not.
func (c *Consumer) Readiness() (bool, string) {
	if !c.ready.Load() {
		return false, "not reading the topic's partitions yet"
	}
	if n := c.commitFailures.Load(); n > 0 {
		return false, fmt.Sprintf("the last %d attempts to commit a batch failed (see the log)", n)
	}
	c.mu.Lock()
	behind := int64(0)
	for p, off := range c.catchUp {
		behind += max(0, off-c.committed[p])
	}
	c.mu.Unlock()
	if behind > 0 {
		return false, fmt.Sprintf("catching up: %d messages behind what the topic held when reading started", behind)
	}
	return true, ""
}

// CaughtUp reports whether every partition in end has been committed up to
// (at least) its offset.
func (c *Consumer) CaughtUp(end map[int32]int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, off := range end {
		if off > 0 && c.committed[p] < off {
			return false
		}
	}
	return true
}

// Run reads every partition of the event topic until ctx is cancelled,
// then flushes and commits what it has read and returns nil. One Shoal owns
// one store and the offsets live in it, so there is no group membership to
// wait for: after a restart, even one right after a SIGKILL, every
// partition is read at once from the Sink's offsets (a partition the Sink
// has no offset for from its start). The partitions are looked up again
// every PartitionCheckInterval, and reading restarts when the topic grew.
// The consumer group's offsets are still committed after each batch, for
// Kafka's lag tooling; nothing reads them.
//
// Run returns an error when the Sink failed for good (event.ErrSinkFailed):
// the process must then start again from what is durable, and nothing is
// lost, as the failed batch's offsets were not committed.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.dlq.Close()
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	go c.reportProgress(ctx)
	for {
		parts, err := c.partitions(ctx, client)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.metrics.failures.WithLabelValues("group").Inc()
			c.log.Warn("looking up the topic's partitions failed; retrying", "topic", c.cfg.Topic, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		c.metrics.generations.Inc()
		if err := c.readAll(ctx, client, parts); err != nil {
			if errors.Is(err, event.ErrSinkFailed) {
				c.ready.Store(false)
				return err
			}
			c.log.Error("reading the partitions ended with an error; starting again", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// PartitionCheckInterval is how often Run looks up the topic's partitions
// to notice that it grew.
const PartitionCheckInterval = 30 * time.Second

// partitions returns the IDs of the event topic's partitions.
func (c *Consumer) partitions(ctx context.Context, client *kafka.Client) ([]int, error) {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	meta, err := client.Metadata(mctx, &kafka.MetadataRequest{Topics: []string{c.cfg.Topic}})
	if err != nil {
		return nil, err
	}
	for _, t := range meta.Topics {
		if t.Name != c.cfg.Topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", c.cfg.Topic, t.Error)
		}
		parts := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", c.cfg.Topic)
		}
		slices.Sort(parts)
		return parts, nil
	}
	return nil, fmt.Errorf("topic %s does not exist", c.cfg.Topic)
}

// readAll reads parts, each from the Sink's stored offset, until ctx ends
// or the topic's partitions change; the partial batch is flushed before it
// returns.
func (c *Consumer) readAll(ctx context.Context, client *kafka.Client, parts []int) error {
	stored, err := c.sink.Offsets(ctx, c.cfg.Topic)
	if err != nil {
		return fmt.Errorf("read stored offsets: %w", err)
	}
	c.mu.Lock()
	for p, off := range stored {
		c.committed[p] = max(c.committed[p], off)
	}
	c.mu.Unlock()
	// Lag of every partition from the start, not only of those a batch
	// touches: a partition that receives nothing still shows what it owes.
	if end, err := broker.EndOffsets(ctx, c.cfg.Brokers, c.cfg.Topic); err == nil {
		for _, part := range parts {
			c.metrics.setLag(int32(part), end[int32(part)]-stored[int32(part)])
		}
		c.mu.Lock()
		c.catchUp = end
		c.mu.Unlock()
	}

	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	// The readers stay one batch ahead: while a batch commits the next is
	// prepared and a third fills this channel. The commit is the slower
	// side, so a deeper buffer would only hold more messages in memory.
	msgs := make(chan kafka.Message, c.cfg.BatchSize)
	// The bytes of the messages read but not yet in a prepared batch are
	// bounded too: large messages fill BatchBytes long before BatchSize.
	ahead := semaphore.NewWeighted(int64(c.cfg.BatchBytes))
	var readers sync.WaitGroup
	for _, part := range parts {
		// The Sink (DuckDB) is the source of truth: a partition it has no
		// offset for is read from its start.
		start := kafka.FirstOffset
		if off, ok := stored[int32(part)]; ok {
			start = off
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.readPartition(rctx, part, start, ahead, msgs)
		}()
	}
	c.metrics.partitionsUnread.Set(0)
	c.ready.Store(true)
	c.log.Info("reading every partition from the stored offsets", "topic", c.cfg.Topic, "partitions", len(parts))
	go func() { readers.Wait(); close(msgs) }()
	go c.watchPartitions(rctx, client, parts, stopReading)
	return c.batchLoop(ctx, func(offsets map[int32]int64) { c.commitGroupOffsets(client, offsets) }, ahead, msgs)
}

// watchPartitions looks up the topic's partitions every
// PartitionCheckInterval and calls restart when they are not parts any
// more (the topic grew), so that Run reads the new ones too.
func (c *Consumer) watchPartitions(ctx context.Context, client *kafka.Client, parts []int, restart func()) {
	t := time.NewTicker(c.checkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := c.partitions(ctx, client)
		if err != nil || slices.Equal(now, parts) {
			continue
		}
		c.metrics.partitionsUnread.Set(float64(max(0, len(now)-len(parts))))
		c.log.Info("the topic's partitions changed; reading them all again", "topic", c.cfg.Topic, "was", len(parts), "now", len(now))
		restart()
		return
	}
}

// commitGroupOffsets commits offsets as the consumer group's, for Kafka's
// lag tooling only: DuckDB holds the offsets Shoal resumes from.
func (c *Consumer) commitGroupOffsets(client *kafka.Client, offsets map[int32]int64) {
	commits := make([]kafka.OffsetCommit, 0, len(offsets))
	for part, off := range offsets {
		commits = append(commits, kafka.OffsetCommit{Partition: int(part), Offset: off})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: c.cfg.Group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{c.cfg.Topic: commits}})
	if err == nil {
		for _, p := range res.Topics[c.cfg.Topic] {
			err = errors.Join(err, p.Error)
		}
	}
	if err != nil {
		c.log.Debug("committing group offsets failed (informational only)", "err", err)
	}
}

func (c *Consumer) readPartition(ctx context.Context, partition int, start int64, ahead *semaphore.Weighted, out chan<- kafka.Message) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        c.cfg.Brokers,
		Topic:          c.cfg.Topic,
		Partition:      partition,
		MinBytes:       fetchMinBytes,
		MaxBytes:       min(16<<20, max(1<<20, c.cfg.BatchBytes/4)), // a fetch is part of what a batch may hold
		MaxWait:        fetchMaxWait(c.cfg.BatchLatency),
		QueueCapacity:  max(100, min(1000, c.cfg.BatchBytes/(4*c.cfg.MaxEventBytes))), // messages held before the batch loop takes them
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
	})
	defer r.Close()
	for {
		err := r.SetOffset(start)
		if err == nil {
			break
		}
		c.metrics.failures.WithLabelValues("fetch").Inc()
		c.log.Warn("seeking the partition failed; retrying", "partition", partition, "offset", start, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.metrics.failures.WithLabelValues("fetch").Inc()
			c.log.Warn("fetch failed; retrying", "partition", partition, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if err := ahead.Acquire(ctx, c.messageBytes(&m)); err != nil {
			return
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
}

// A fetch waits at the broker until fetchMinBytes are there or
// fetchMaxWait has passed: a trickle is then read a few times a second per
// partition instead of once per produced message, which cost a live stream
// of 20 events/s more CPU than its commits (issue 24); a catch-up finds
// MaxBytes waiting and never waits. The wait is a part of BatchLatency, so
// an event still reaches its batch within about that.
const fetchMinBytes = 64 << 10

func fetchMaxWait(batchLatency time.Duration) time.Duration {
	return min(time.Second, max(10*time.Millisecond, batchLatency/2))
}

// messageBytes is what a message counts against BatchBytes: its key and
// value, at most half of BatchBytes, so that one huge message cannot wait
// for room that never comes.
func (c *Consumer) messageBytes(m *kafka.Message) int64 {
	return min(int64(len(m.Key)+len(m.Value)), int64(c.cfg.BatchBytes/2))
}

// batchLoop gathers messages into batches bounded by count (BatchSize),
// bytes (half of BatchBytes: the messages read and not yet prepared,
// which ahead counts, hold at most BatchBytes) and latency.
// Batches are prepared (decoded, built, dead letters written) while the
// previous one commits, and committed one at a time in offset order.
func (c *Consumer) batchLoop(ctx context.Context, commitGroup func(map[int32]int64), ahead *semaphore.Weighted, msgs <-chan kafka.Message) (err error) {
	b := newBatcher(c)
	defer b.release()
	// A flush that has started finishes even while shutting down: what was
	// read is committed, not thrown away.
	defer func() { err = errors.Join(err, b.wait()) }()
	timer := time.NewTimer(c.cfg.BatchLatency)
	defer timer.Stop()
	var pending []kafka.Message
	var pendingBytes int64
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := b.process(ctx, commitGroup, pending)
		clear(pending) // the prepared batch no longer needs the messages' bytes
		pending = pending[:0]
		ahead.Release(pendingBytes)
		pendingBytes = 0
		return err
	}
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return flush()
			}
			if len(pending) == 0 {
				timer.Reset(c.cfg.BatchLatency)
			}
			pending = append(pending, m)
			pendingBytes += c.messageBytes(&m)
			if len(pending) >= c.cfg.BatchSize || pendingBytes >= int64(c.cfg.BatchBytes/2) {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		case err := <-b.inflight: // nil (blocks) while no commit runs
			b.inflight = nil
			if err != nil { // retries are over: the sink failed for good, or the flush window ended
				return err
			}
		}
	}
}

// batcher turns runs of messages into committed batches: it prepares one
// batch while the previous one commits (decoding and building Arrow use
// the CPU DuckDB's single-threaded COMMIT leaves idle), and commits them
// one at a time, in order. It keeps its buffers between batches.
type batcher struct {
	c        *Consumer
	builder  *event.Builder
	evs      []event.Event
	rejs     []*Rejection
	inflight chan error // the running commit's result, nil if none
}

func newBatcher(c *Consumer) *batcher {
	return &batcher{c: c, builder: event.NewBuilder(c.mem)}
}

// release frees the builder; call it after wait.
func (b *batcher) release() { b.builder.Release() }

// prepared is a batch ready to commit: its dead letters are written.
type prepared struct {
	began    time.Time
	n        int
	batch    *event.Batch
	hwm      map[int32]int64
	rejected map[event.Rejected]int64
	dead     int
}

// flushTimeout bounds one batch's dead-letter write and commit, which run
// to the end even when the consumer is shutting down, but for at most
// ShutdownGrace after the shutdown began: a commit that keeps failing does
// not hold the process. A batch cut short is not committed and is read
// again after the restart.
const flushTimeout = 2 * time.Minute

// ShutdownGrace is how long the batch being written when a shutdown begins
// may still take to commit (its retries included).
const ShutdownGrace = 10 * time.Second

// flushContext is the context of one batch's flush: not cancelled with
// ctx, so what was read is committed, but ended flushTimeout after it
// starts or ShutdownGrace after ctx ends, whichever is first.
func flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(ShutdownGrace, cancel)
		context.AfterFunc(fctx, func() { t.Stop() })
	})
	return fctx, func() { stop(); cancel() }
}

// process prepares msgs as a batch, waits for the previous batch's commit
// and starts this one's. It returns the previous commit's error, or this
// preparation's; wait returns the last commit's.
func (b *batcher) process(ctx context.Context, commitGroup func(map[int32]int64), msgs []kafka.Message) error {
	fctx, cancel := flushContext(ctx)
	p, err := b.prepare(fctx, msgs)
	cancel()
	if err != nil {
		return errors.Join(err, b.wait())
	}
	if err := b.wait(); err != nil {
		p.batch.Record.Release()
		return err
	}
	done := make(chan error, 1)
	b.inflight = done
	go func() {
		cctx, cancel := flushContext(ctx)
		err := b.commit(cctx, commitGroup, p)
		cancel()
		p.batch.Record.Release() // before wait returns: the caller may check or free memory then
		done <- err
	}()
	return nil
}

// wait waits for the running commit, if any, and returns its error.
func (b *batcher) wait() error {
	if b.inflight == nil {
		return nil
	}
	err := <-b.inflight
	b.inflight = nil
	return err
}

// prepare decodes msgs, builds the batch's record and writes its dead
// letters.
func (b *batcher) prepare(ctx context.Context, msgs []kafka.Message) (*prepared, error) {
	c := b.c
	p := &prepared{began: time.Now(), n: len(msgs), hwm: map[int32]int64{}, rejected: map[event.Rejected]int64{}}
	n := len(msgs)
	if cap(b.evs) < n {
		b.evs = make([]event.Event, n)
		b.rejs = make([]*Rejection, n)
	}
	evs, rejs := b.evs[:n], b.rejs[:n]
	defer clear(evs)
	defer clear(rejs)
	decodeParallel(c.dec, msgs, evs, rejs)

	offsets := make(map[int32]int64)
	var dead []kafka.Message
	b.builder.Reserve(n)
	for i := range msgs {
		m := &msgs[i]
		part := int32(m.Partition)
		offsets[part] = max(offsets[part], m.Offset+1)
		p.hwm[part] = max(p.hwm[part], m.HighWaterMark)
		if r := rejs[i]; r != nil {
			dead = append(dead, c.deadLetter(m, r))
			day := m.Time
			if day.IsZero() {
				day = time.Now()
			}
			p.rejected[event.Rejected{Day: calendar.DayOf(day, time.UTC), Reason: string(r.Reason)}]++
			continue
		}
		evs[i].Partition, evs[i].Offset = part, m.Offset
		b.builder.Append(&evs[i])
	}
	rec := b.builder.NewRecord()

	// Dead letters first: once the batch's offsets are committed the refused
	// messages would never be read again, so they must already be in the DLQ.
	if len(dead) > 0 {
		if err := retry(ctx, c, "dlq_write", func() error { return c.dlq.WriteMessages(ctx, dead...) }); err != nil {
			rec.Release()
			return nil, fmt.Errorf("write %d messages to dead-letter topic %s: %w", len(dead), c.cfg.DLQTopic, broker.SummarizeWriteError(err))
		}
	}
	p.dead = len(dead)
	p.batch = &event.Batch{Record: rec, Topic: c.cfg.Topic, Offsets: offsets}
	for k, v := range p.rejected {
		k.Count = v
		p.batch.Rejected = append(p.batch.Rejected, k)
	}
	return p, nil
}

// commit commits a prepared batch through the Sink and counts it.
func (b *batcher) commit(ctx context.Context, commitGroup func(map[int32]int64), p *prepared) error {
	c := b.c
	var res event.CommitResult
	if err := retry(ctx, c, "commit", func() (err error) { res, err = c.sink.Commit(ctx, p.batch); return err }); err != nil {
		return fmt.Errorf("commit batch of %d messages: %w", p.n, err)
	}
	// The counters move before the committed offsets: whoever sees the
	// offsets (CaughtUp) then sees this batch counted too.
	c.consumed.Add(int64(p.n))
	c.accepted.Add(res.Inserted)
	c.duplicates.Add(res.Duplicates)
	c.rejected.Add(int64(p.dead))
	c.batches.Add(1)
	offsets := p.batch.Offsets
	c.mu.Lock()
	for part, off := range offsets {
		c.committed[part] = max(c.committed[part], off)
		c.metrics.setLag(part, p.hwm[part]-off)
	}
	for k, v := range p.rejected {
		c.rejectedBy[k.Reason] += v
	}
	c.mu.Unlock()
	// The group offset is informational (lag in Kafka tooling); DuckDB's is the truth.
	if commitGroup != nil {
		commitGroup(offsets)
	}

	m := c.metrics
	m.consumed.Add(float64(p.n))
	m.accepted.Add(float64(res.Inserted))
	m.duplicates.Add(float64(res.Duplicates))
	m.afterRelease.Add(float64(res.AfterRelease))
	m.expired.Add(float64(res.Expired))
	for k, v := range p.rejected {
		m.rejected.WithLabelValues(k.Reason).Add(float64(v))
	}
	m.batches.Inc()
	m.batchEvents.Observe(float64(p.n))
	m.batchDuration.Observe(time.Since(p.began).Seconds())
	m.lastCommit.SetToCurrentTime()
	return nil
}

// Process runs msgs, already read from the event topic and in offset order
// per partition, through the batch path without a consumer group: decode,
// validate, firewall, pseudonymize, Arrow, dead letters, Sink commit, in
// batches of at most BatchSize (one prepared while the previous commits).
// It is the stage `shoal bench` measures without Kafka, and it counts in
// Stats and the metrics like Run. Call Close when done if Run is not used.
func (c *Consumer) Process(ctx context.Context, msgs []kafka.Message) (err error) {
	b := newBatcher(c)
	defer b.release()
	defer func() { err = errors.Join(err, b.wait()) }()
	for lo := 0; lo < len(msgs); lo += c.cfg.BatchSize {
		if err := b.process(ctx, nil, msgs[lo:min(lo+c.cfg.BatchSize, len(msgs))]); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the dead-letter writer; Run does this itself.
func (c *Consumer) Close() error { return c.dlq.Close() }

// deadLetter builds the DLQ message for a refused event: the default-deny
// copy of its body and key (Decoder.DeadLetter), the reason, and the
// offending field where there is one.
func (c *Consumer) deadLetter(m *kafka.Message, r *Rejection) kafka.Message {
	key, body := c.dec.DeadLetter(m.Key, m.Value, r)
	headers := []kafka.Header{
		{Key: "shoal-reason", Value: []byte(r.Reason)},
		{Key: "shoal-detail", Value: []byte(r.Detail)},
	}
	if r.Field != "" {
		headers = append(headers, kafka.Header{Key: "shoal-field", Value: []byte(r.Field)})
	}
	headers = append(headers,
		kafka.Header{Key: "shoal-source-topic", Value: []byte(m.Topic)},
		kafka.Header{Key: "shoal-source-partition", Value: fmt.Appendf(nil, "%d", m.Partition)},
		kafka.Header{Key: "shoal-source-offset", Value: fmt.Appendf(nil, "%d", m.Offset)},
	)
	return kafka.Message{Key: key, Value: body, Headers: headers}
}

// decodeParallel decodes msgs into evs/rejs using up to GOMAXPROCS workers.
func decodeParallel(dec *Decoder, msgs []kafka.Message, evs []event.Event, rejs []*Rejection) {
	workers := min(runtime.GOMAXPROCS(0), 1+len(msgs)/1024)
	if workers <= 1 {
		for i := range msgs {
			rejs[i] = dec.Decode(msgs[i].Value, &evs[i])
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(msgs) + workers - 1) / workers
	for lo := 0; lo < len(msgs); lo += chunk {
		hi := min(lo+chunk, len(msgs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				rejs[i] = dec.Decode(msgs[i].Value, &evs[i])
			}
		}()
	}
	wg.Wait()
}

// retry runs fn until it succeeds or ctx ends, counting and logging each
// failure, with backoff from 100ms to 5s. A commit the Sink refuses for
// good (event.ErrSinkFailed) is not retried. While a commit fails the
// consumer is not ready.
func retry(ctx context.Context, c *Consumer, stage string, fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := broker.SummarizeWriteError(fn())
		if stage == "commit" {
			n := int64(0)
			if err != nil {
				n = c.commitFailures.Add(1)
			} else {
				c.commitFailures.Store(0)
			}
			c.metrics.commitFailing.Set(float64(n))
		}
		if err == nil {
			return nil
		}
		c.metrics.failures.WithLabelValues(stage).Inc()
		if errors.Is(err, event.ErrSinkFailed) {
			c.log.Error("pipeline stage failed for good; stopping", "stage", stage, "err", err)
			return err
		}
		c.log.Warn("pipeline stage failed; retrying", "stage", stage, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// reportProgress logs throughput every 10 s while there is work, so a long
// replay shows it is moving.
func (c *Consumer) reportProgress(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last, lastAt := c.consumed.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := c.consumed.Load()
			if cur == last {
				continue
			}
			rate := float64(cur-last) / now.Sub(lastAt).Seconds()
			c.log.Info("ingest progress", "consumed", cur, "accepted", c.accepted.Load(),
				"rejected", c.rejected.Load(), "duplicates", c.duplicates.Load(), "events_per_s", int64(rate))
			last, lastAt = cur, now
		}
	}
}
