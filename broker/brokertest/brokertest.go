// Package brokertest starts a throwaway Kafka-protocol broker for tests:
// an in-process kfake cluster on a free loopback port, which clients reach
// over real TCP, closed when the test ends. Tests only.
package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shoal-analytics/shoal/broker"
)

// Start runs a one-node broker with topics seeded at partitions partitions
// (other topics are created on first use, with as many partitions) and
// returns its address.
func Start(t testing.TB, partitions int, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topics...),
		kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// ReadTopic returns every message currently in topic at addr.
func ReadTopic(t testing.TB, addr, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end, err := broker.EndOffsets(ctx, []string{addr}, topic)
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
