package bench

import (
	"bufio"
	"bytes"
	"context"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/synth"
	"github.com/shoal-analytics/shoal/transform"
)

// readMessages streams the NDJSON file as Kafka messages of the event
// topic, keyed by team, spread over partitions by key hash, offsets in
// order per partition, as the broker would deliver them: fn gets them in
// chunks of at most chunk messages (it may keep them).
func readMessages(path string, partitions, chunk int, fn func([]kafka.Message) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := make([]int64, partitions)
	msgs := make([]kafka.Message, 0, chunk)
	now := time.Now()
	for sc.Scan() {
		v := bytes.Clone(sc.Bytes())
		key := synth.TeamKey(v)
		h := fnv.New32a()
		h.Write(key)
		p := int(h.Sum32() % uint32(partitions))
		msgs = append(msgs, kafka.Message{Topic: topic, Partition: p, Offset: next[p], Key: key, Value: v, Time: now})
		next[p]++
		if len(msgs) == chunk {
			if err := fn(msgs); err != nil {
				return err
			}
			msgs = make([]kafka.Message, 0, chunk)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fn(msgs)
	}
	return nil
}

// newConsumer builds the ingest consumer and store the stage and
// absorb phases feed from memory.
func newConsumer(ctx context.Context, brokers []string, dataDir string, tune Tuning, logger *slog.Logger) (*ingest.Consumer, *transform.Store, error) {
	cfg := app.DefaultConfig(dataDir)
	cfg.Brokers, cfg.Topic, cfg.DLQTopic = brokers, topic, dlqTopic
	tune.apply(&cfg)
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, nil, err
	}
	store, err := transform.Open(ctx, cfg.StoreConfig(), logger)
	if err != nil {
		return nil, nil, err
	}
	pseudo, err := privacy.NewPseudonymizer(newKey())
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	dec := ingest.NewDecoder(pseudo, func(string) *time.Location { return time.UTC }, cfg.MaxEventBytes)
	c, err := ingest.NewConsumer(cfg.Config, dec, store, memory.NewGoAllocator(), ingest.NewMetrics(prometheus.NewRegistry()), logger)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return c, store, nil
}

// runStage feeds the NDJSON file's events from memory through Shoal's
// batch path into a fresh store: the pipeline without Kafka. The file is
// read a few batches at a time (untimed), so memory stays bounded at any
// size; only Process is timed.
func runStage(ctx context.Context, brokers []string, work string, tune Tuning, logger *slog.Logger) (result, error) {
	c, store, err := newConsumer(ctx, brokers, filepath.Join(work, "stage"), tune, logger)
	if err != nil {
		return result{}, err
	}
	defer store.Close()
	defer c.Close()
	var took time.Duration
	var n int64
	err = readMessages(filepath.Join(work, "events.ndjson"), ingest.DefaultConfig().Partitions, 4*tune.BatchSize, func(msgs []kafka.Message) error {
		began := time.Now()
		err := c.Process(ctx, msgs)
		took += time.Since(began)
		n += int64(len(msgs))
		return err
	})
	if err != nil {
		return result{}, err
	}
	return result{Events: n, Seconds: took.Seconds(), Extra: map[string]float64{"go_sys_mib": goSysMiB()}}, nil
}

// runAbsorb opens the shoal phase's store, absorbs n new events (copies
// of the newest events with new ids, so they land in recent cells) through
// the batch path, then recomputes every derived table from the raw events.
// Events is the number of events stored before the absorb.
func runAbsorb(ctx context.Context, brokers []string, work string, n int, tune Tuning, logger *slog.Logger) (result, error) {
	// The newest n events, streamed so that memory stays bounded.
	var msgs []kafka.Message
	err := readMessages(filepath.Join(work, "events.ndjson"), ingest.DefaultConfig().Partitions, n, func(chunk []kafka.Message) error {
		msgs = append(msgs[max(0, len(msgs)+len(chunk)-n):], chunk...)
		return nil
	})
	if err != nil {
		return result{}, err
	}
	c, store, err := newConsumer(ctx, brokers, filepath.Join(work, "shoal"), tune, logger)
	if err != nil {
		return result{}, err
	}
	defer store.Close()
	defer c.Close()
	stored, err := store.EventCount(ctx)
	if err != nil {
		return result{}, err
	}
	offsets, err := store.Offsets(ctx, topic)
	if err != nil {
		return result{}, err
	}
	fresh := make([]kafka.Message, 0, n)
	for _, m := range msgs {
		v := bytes.Replace(m.Value, []byte(`"id":"`), []byte(`"id":"absorb-`), 1)
		m.Value = v
		m.Offset = offsets[int32(m.Partition)]
		offsets[int32(m.Partition)]++
		fresh = append(fresh, m)
	}
	began := time.Now()
	if err := c.Process(ctx, fresh); err != nil {
		return result{}, err
	}
	// A commit only lands them: derive them too, as a reader would.
	if err := store.Flush(ctx); err != nil {
		return result{}, err
	}
	incremental := time.Since(began).Seconds()
	began = time.Now()
	if err := store.Rebuild(ctx); err != nil {
		return result{}, err
	}
	full := time.Since(began).Seconds()
	return result{Events: stored, Seconds: incremental + full, Extra: map[string]float64{
		"absorbed": float64(c.Stats().Consumed), "incremental_seconds": incremental, "full_seconds": full}}, nil
}
