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
	// Group is the consumer group whose offsets Shoal commits after each
	// batch, for Kafka's lag tools; Shoal joins no group and resumes from
	// the Sink's offsets. Default: shoal
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
	// committed. Every output reads released weeks, so it is not a
	// freshness setting: a trickle of 20 events/s commits once per
	// BatchLatency, and each commit costs 15-40 ms of CPU whatever its
	// size (BENCHMARKS.md). Default: 5s
	BatchLatency time.Duration `yaml:"batch_latency"`
	// BatchBytes bounds the bytes of the messages read and not yet prepared
	// as a batch (a batch is cut at half of it), so that memory follows the
	// batch size however large the messages are. Default: 67108864 (64 MiB)
	BatchBytes int `yaml:"batch_bytes"`
	// MaxEventBytes is the largest accepted event; bigger ones are refused as
	// too_large. Default: 65536
	MaxEventBytes int `yaml:"max_event_bytes"`
	// EarliestEventTime (YYYY-MM-DD, UTC) is the earliest plausible time of
	// an event, a time entry or a due date: earlier ones (a zero time, a
	// year 1900) are refused as bad_time. Default: 2000-01-01
	EarliestEventTime string `yaml:"earliest_event_time"`
	// MaxEventAhead is how far past the present an event's time or a time
	// entry may be (clocks differ): later ones are refused as bad_time. A due
	// date may be up to ten years ahead. Default: 24h
	MaxEventAhead time.Duration `yaml:"max_event_ahead"`
	// UnlistedTeams is what happens, when there is a teams file, to an
	// event of a team the file does not list: UnlistedRefuse sends it to
	// the dead-letter topic as unknown_team, UnlistedAccept counts it under
	// the unassigned unit with the org defaults. Without a teams file every
	// team is accepted. Default: refuse
	UnlistedTeams string `yaml:"unlisted_teams"`
}

// The values of Config.UnlistedTeams.
const (
	UnlistedRefuse = "refuse"
	UnlistedAccept = "accept"
)

// Sentinel errors returned (wrapped) by Validate.
var (
	ErrNoTopic     = errors.New("topic must not be empty")
	ErrSameTopic   = errors.New("dlq topic must differ from the event topic")
	ErrBadBatching = errors.New("bad batching settings")
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Topic:             "shoal.events",
		DLQTopic:          "shoal.dlq",
		Group:             "shoal",
		Partitions:        6,
		BatchSize:         100000,
		BatchLatency:      5 * time.Second,
		BatchBytes:        64 << 20,
		MaxEventBytes:     64 << 10,
		EarliestEventTime: "2000-01-01",
		MaxEventAhead:     24 * time.Hour,
		UnlistedTeams:     UnlistedRefuse,
	}
}

// RegisterFlags binds the config to flags named prefix+name.
func (c *Config) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.Var(&c.Brokers, prefix+"brokers", "comma-separated Kafka bootstrap brokers; empty starts the embedded broker")
	fs.StringVar(&c.Topic, prefix+"topic", c.Topic, "Kafka topic with the events")
	fs.StringVar(&c.DLQTopic, prefix+"dlq-topic", c.DLQTopic, "Kafka topic for refused events (dead-letter queue)")
	fs.StringVar(&c.Group, prefix+"group", c.Group, "consumer group whose offsets Shoal commits for Kafka's lag tools (Shoal reads every partition itself)")
	fs.IntVar(&c.Partitions, prefix+"partitions", c.Partitions, "partitions for topics Shoal creates")
	fs.IntVar(&c.BatchSize, prefix+"batch-size", c.BatchSize, "most events per Arrow batch and DuckDB transaction")
	fs.DurationVar(&c.BatchLatency, prefix+"batch-latency", c.BatchLatency, "longest time an event waits before its batch commits")
	fs.IntVar(&c.BatchBytes, prefix+"batch-bytes", c.BatchBytes, "most message bytes per batch, and read ahead of it, so memory follows the batch size however large the events are (67108864 = 64 MiB)")
	fs.IntVar(&c.MaxEventBytes, prefix+"max-event-bytes", c.MaxEventBytes, "largest accepted event in bytes")
	fs.StringVar(&c.EarliestEventTime, prefix+"earliest-event-time", c.EarliestEventTime, "earliest plausible event time (YYYY-MM-DD, UTC); earlier times are refused as bad_time")
	fs.DurationVar(&c.MaxEventAhead, prefix+"max-event-ahead", c.MaxEventAhead, "how far past now an event's time may be; later times are refused as bad_time (a due date may be ten years ahead)")
	fs.StringVar(&c.UnlistedTeams, prefix+"unlisted-teams", c.UnlistedTeams, "with --teams, what happens to an event of a team the file does not list: refuse (dead-letter topic, reason unknown_team) or accept (counted under the unassigned unit); without --teams every team is accepted")
}

// TimeWindow is the plausible window of event times the config sets:
// EarliestEventTime and MaxEventAhead, checked by Validate.
func (c *Config) TimeWindow() (earliest time.Time, ahead time.Duration, err error) {
	earliest, err = time.Parse(time.DateOnly, strings.TrimSpace(c.EarliestEventTime))
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("earliest-event-time %q is not a YYYY-MM-DD date; e.g. 2000-01-01", c.EarliestEventTime)
	}
	if c.MaxEventAhead < 0 {
		return time.Time{}, 0, fmt.Errorf("max-event-ahead must not be negative, got %s", c.MaxEventAhead)
	}
	return earliest, c.MaxEventAhead, nil
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
	case c.BatchBytes < 1<<20:
		return fmt.Errorf("%w: batch-bytes must be at least 1048576 (1 MiB), got %d", ErrBadBatching, c.BatchBytes)
	case c.BatchLatency < time.Millisecond:
		return fmt.Errorf("%w: batch-latency must be at least 1ms, got %s", ErrBadBatching, c.BatchLatency)
	case c.MaxEventBytes < 1024 || c.MaxEventBytes > 900<<10:
		return fmt.Errorf("max-event-bytes must be between 1024 and %d (Kafka's message limit), got %d", 900<<10, c.MaxEventBytes)
	case c.UnlistedTeams != UnlistedRefuse && c.UnlistedTeams != UnlistedAccept:
		return fmt.Errorf("unlisted-teams %q: use %s (events of teams the teams file does not list go to the dead-letter topic) or %s (they count under the unassigned unit)", c.UnlistedTeams, UnlistedRefuse, UnlistedAccept)
	}
	if _, _, err := c.TimeWindow(); err != nil {
		return err
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
