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

// Retention is how long a topic keeps its records: its retention.ms,
// Unlimited when that is -1 (or the topic's retention is not time-bound).
type Retention struct {
	Time      time.Duration
	Unlimited bool
}

// TopicRetention asks the brokers for topic's retention.ms (the topic's
// own setting or the broker default it inherits).
func TopicRetention(ctx context.Context, brokers []string, topic string) (Retention, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms"},
	}}})
	if err != nil {
		return Retention{}, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return Retention{}, fmt.Errorf("describe topic %s: %w", topic, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "retention.ms" {
				continue
			}
			var ms int64
			if _, err := fmt.Sscan(e.ConfigValue, &ms); err != nil {
				return Retention{}, fmt.Errorf("topic %s: retention.ms %q: %w", topic, e.ConfigValue, err)
			}
			if ms < 0 {
				return Retention{Unlimited: true}, nil
			}
			return Retention{Time: time.Duration(ms) * time.Millisecond}, nil
		}
	}
	return Retention{}, fmt.Errorf("topic %s: the brokers did not say its retention.ms", topic)
}

// LongRetention is the retention above which Shoal warns at startup: the
// event topic holds raw person identifiers, which it needs only until
// Shoal has stored the events.
const LongRetention = 30 * 24 * time.Hour
