package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the topics that do not exist yet with the given
// partition count (replication factor 1 on a single broker, else 3 capped
// by broker count). Existing topics are left alone.
func EnsureTopics(ctx context.Context, brokers []string, partitions int, topics ...string) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("reach Kafka at %v: %w (is the broker running and --brokers right?)", brokers, err)
	}
	replication := min(3, len(meta.Brokers))
	existing := make(map[string]bool)
	for _, t := range meta.Topics {
		if t.Error == nil {
			existing[t.Name] = true
		}
	}
	var create []kafka.TopicConfig
	for _, t := range topics {
		if !existing[t] {
			create = append(create, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication})
		}
	}
	if len(create) == 0 {
		return nil
	}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, terr)
		}
	}
	return nil
}

// EndOffsets returns the next offset to be written in every partition of
// topic: reading up to these means having caught up with everything
// published so far.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", topic, err)
	}
	var req []kafka.OffsetRequest
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			req = append(req, kafka.LastOffsetOf(p.ID))
		}
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := make(map[int32]int64)
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[int32(p.Partition)] = p.LastOffset
	}
	return out, nil
}

// NewWriter returns a synchronous, acks=all kafka-go writer for topic,
// balancing by message key.
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              10000,
		BatchBytes:             1_000_000, // below Kafka's default message.max.bytes (1048588) for a produce batch
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
}

// SummarizeWriteError shortens kafka-go's per-message WriteErrors (one entry
// per message, easily megabytes) to a count and the distinct causes.
func SummarizeWriteError(err error) error {
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	causes := map[string]bool{}
	var list []string
	for _, e := range we {
		if e != nil && !causes[e.Error()] && len(list) < 3 {
			causes[e.Error()] = true
			list = append(list, e.Error())
		}
	}
	return fmt.Errorf("%d of %d messages not written: %s", we.Count(), len(we), strings.Join(list, "; "))
}
