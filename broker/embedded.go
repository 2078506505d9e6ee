package broker

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is the in-process Kafka-protocol broker used when no brokers
// are configured: one node, listening on a fixed address so any Kafka
// client can publish to it, persisting its log under DATA_DIR/kafka.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// StartEmbedded starts the broker on addr with topics seeded at partitions
// partitions (and any other topic created on first use). addr must be a
// loopback address (CheckLoopback): the broker has no authentication.
func StartEmbedded(addr, dataDir string, partitions int, topics []string, logger *slog.Logger) (*Embedded, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	logDir := filepath.Join(dataDir, "kafka")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the embedded broker's log directory: %w (make --data-dir writable, or pass --brokers to use your Kafka)", err)
	}
	var bound string
	listen := func(network, _ string) (net.Listener, error) {
		ln, err := listenLoopback(network, addr)
		if err == nil {
			bound = ln.Addr().String()
		}
		return ln, err
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.DataDir(filepath.Join(dataDir, "kafka")),
		kfake.SeedTopics(int32(partitions), topics...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(partitions),
		kfake.ClusterID("shoal-embedded"),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w (is another process using the port? pass --embedded-addr 127.0.0.1:0 for any free port, or --brokers to use your Kafka)", addr, err)
	}
	logger.Info("embedded Kafka-protocol broker started", "component", "broker", "addr", bound, "log_dir", filepath.Join(dataDir, "kafka"))
	return &Embedded{cluster: c, addr: bound}, nil
}

// Addr is the address the broker listens on (host:port).
func (b *Embedded) Addr() string { return b.addr }

// Close stops the broker.
func (b *Embedded) Close() { b.cluster.Close() }
