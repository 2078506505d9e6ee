package ingest

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Config configures the consumer and the dead-letter writer.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Default: none (cmd/shoal then
	// starts the embedded broker and fills this in).
	Brokers StringList `yaml:"brokers"`
	// Topic is the event topic. Default: shoal.events
	Topic string `yaml:"topic"`
	// DLQTopic receives refused events with a reason header. Default: shoal.dlq
	DLQTopic string `yaml:"dlq_topic"`
	// Group is the Kafka consumer group id. Default: shoal
	Group string `yaml:"group"`
	// Partitions is the partition count used when Shoal creates the topics
	// (existing topics are left as they are). Default: 6
	Partitions int `yaml:"partitions"`
	// BatchSize is the most events in one Arrow batch / DuckDB transaction.
	// Larger batches cost memory and save CPU while catching up: DuckDB
	// parallelises a statement per row group of 122,880 rows and each commit
	// runs ~25 statements. `shoal bench --preset small` (1 M events)
	// measured 25.7k events/s, 61 CPU-s and 451 MiB peak RSS at 20000 and
	// 44.5k events/s, 36 CPU-s and 864 MiB at 100000 (BENCHMARKS.md).
	// Live traffic commits smaller batches anyway (BatchLatency).
	// Default: 100000
	BatchSize int `yaml:"batch_size"`
	// BatchLatency is the longest a message waits before its batch is
	// committed. Default: 500ms
	BatchLatency time.Duration `yaml:"batch_latency"`
	// MaxEventBytes is the largest accepted event; bigger ones are refused as
	// too_large. Default: 65536
	MaxEventBytes int `yaml:"max_event_bytes"`
}

// Sentinel errors returned (wrapped) by Validate.
var (
	ErrNoTopic     = errors.New("topic must not be empty")
	ErrSameTopic   = errors.New("dlq topic must differ from the event topic")
	ErrBadBatching = errors.New("bad batching settings")
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Topic:         "shoal.events",
		DLQTopic:      "shoal.dlq",
		Group:         "shoal",
		Partitions:    6,
		BatchSize:     100000,
		BatchLatency:  500 * time.Millisecond,
		MaxEventBytes: 64 << 10,
	}
}

// RegisterFlags binds the config to flags named prefix+name.
func (c *Config) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.Var(&c.Brokers, prefix+"brokers", "comma-separated Kafka bootstrap brokers; empty starts the embedded broker")
	fs.StringVar(&c.Topic, prefix+"topic", c.Topic, "Kafka topic with the events")
	fs.StringVar(&c.DLQTopic, prefix+"dlq-topic", c.DLQTopic, "Kafka topic for refused events (dead-letter queue)")
	fs.StringVar(&c.Group, prefix+"group", c.Group, "Kafka consumer group id")
	fs.IntVar(&c.Partitions, prefix+"partitions", c.Partitions, "partitions for topics Shoal creates")
	fs.IntVar(&c.BatchSize, prefix+"batch-size", c.BatchSize, "most events per Arrow batch and DuckDB transaction")
	fs.DurationVar(&c.BatchLatency, prefix+"batch-latency", c.BatchLatency, "longest time an event waits before its batch commits")
	fs.IntVar(&c.MaxEventBytes, prefix+"max-event-bytes", c.MaxEventBytes, "largest accepted event in bytes")
}

// Validate reports the first problem with the config.
func (c *Config) Validate() error {
	switch {
	case c.Topic == "" || c.DLQTopic == "":
		return fmt.Errorf("%w: set --topic and --dlq-topic", ErrNoTopic)
	case c.Topic == c.DLQTopic:
		return fmt.Errorf("%w: both are %q", ErrSameTopic, c.Topic)
	case c.Group == "":
		return errors.New("group must not be empty: set --group")
	case c.Partitions < 1:
		return fmt.Errorf("partitions must be at least 1, got %d", c.Partitions)
	case c.BatchSize < 1 || c.BatchSize > 1_000_000:
		return fmt.Errorf("%w: batch-size must be between 1 and 1000000, got %d", ErrBadBatching, c.BatchSize)
	case c.BatchLatency < time.Millisecond:
		return fmt.Errorf("%w: batch-latency must be at least 1ms, got %s", ErrBadBatching, c.BatchLatency)
	case c.MaxEventBytes < 1024 || c.MaxEventBytes > 900<<10:
		return fmt.Errorf("max-event-bytes must be between 1024 and %d (Kafka's message limit), got %d", 900<<10, c.MaxEventBytes)
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("broker %q has no port: use host:port, e.g. kafka:9092", b)
		}
	}
	return nil
}

// StringList is a comma-separated list flag that also decodes from a YAML
// list or a comma-separated YAML string.
type StringList []string

func (s *StringList) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value.
func (s *StringList) Set(v string) error {
	*s = nil
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// UnmarshalYAML accepts a list or a comma-separated string.
func (s *StringList) UnmarshalYAML(unmarshal func(any) error) error {
	var list []string
	if err := unmarshal(&list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := unmarshal(&one); err != nil {
		return errors.New("expected a list of host:port strings or a comma-separated string")
	}
	return s.Set(one)
}
