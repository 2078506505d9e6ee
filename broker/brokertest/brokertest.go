// Package brokertest starts a throwaway Kafka-protocol broker for tests:
// an in-process kfake cluster on a free loopback port, which clients reach
// over real TCP, closed when the test ends. Tests only.
package brokertest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
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
