package broker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Trim deletes the records of topic below offsets (per partition, the
// next offset to keep) from the embedded broker's log, as Kafka's
// DeleteRecords does: segment files wholly below the offset are removed
// from the data directory, so once everything read is stored and
// checkpointed, no raw event (and no raw person identifier) is left on
// disk. kafka-go has no DeleteRecords request; franz-go's client (which
// the embedded broker already depends on) sends it.
func (e *Embedded) Trim(ctx context.Context, topic string, offsets map[int32]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RequestTimeoutOverhead(10*time.Second))
	if err != nil {
		return fmt.Errorf("trim %s: %w", topic, err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, offsets[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("trim %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("trim %s partition %d to offset %d: %w", t.Topic, p.Partition, offsets[p.Partition], err)
			}
		}
	}
	return nil
}

// TrimBefore deletes the records of topic written before cutoff (by their
// timestamp) from the embedded broker's log: the dead-letter topic's
// retention window. It returns how many records went.
func (e *Embedded) TrimBefore(ctx context.Context, topic string, cutoff time.Time) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RequestTimeoutOverhead(10*time.Second))
	if err != nil {
		return 0, fmt.Errorf("trim %s: %w", topic, err)
	}
	defer cl.Close()
	ends, err := EndOffsets(ctx, []string{e.addr}, topic)
	if err != nil {
		return 0, fmt.Errorf("trim %s: %w", topic, err)
	}
	starts, err := e.listOffsets(ctx, cl, topic, ends, -2) // the log start
	if err != nil {
		return 0, err
	}
	firstKept, err := e.listOffsets(ctx, cl, topic, ends, cutoff.UnixMilli())
	if err != nil {
		return 0, err
	}
	offsets := map[int32]int64{}
	var n int64
	for p, end := range ends {
		o, ok := firstKept[p]
		if !ok || o < 0 { // nothing at or after cutoff
			o = end
		}
		if o > starts[p] {
			offsets[p] = o
			n += o - starts[p]
		}
	}
	if len(offsets) == 0 {
		return 0, nil
	}
	return n, e.Trim(ctx, topic, offsets)
}

// listOffsets asks for the offset of timestamp ts (-2: the log start) of
// every partition of parts.
func (e *Embedded) listOffsets(ctx context.Context, cl *kgo.Client, topic string, parts map[int32]int64, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s partition %d: %w", t.Topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}
