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
