package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestEmbeddedBroker: the embedded broker keeps its log under the data
// dir; topics are created once with the partitions asked for; what
// Publish sends is what EndOffsets counts, across a restart of the broker.
func TestEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	b, err := StartEmbedded("127.0.0.1:0", dir, 3, []string{"events"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	brokers := []string{b.Addr()}
	if err := EnsureTopics(ctx, brokers, 2, "events", "dlq"); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, brokers, 2, "events", "dlq"); err != nil {
		t.Fatalf("ensuring existing topics again: %v", err)
	}
	msgs := make([]int, 12_000) // more than one chunk
	var progress []int
	kv := func(i int) ([]byte, []byte) { return fmt.Appendf(nil, "k%d", i%7), fmt.Appendf(nil, "v%d", i) }
	for i := range msgs {
		msgs[i] = i
	}
	if err := Publish(ctx, brokers, "events", msgs, kv, func(n int) { progress = append(progress, n) }); err != nil {
		t.Fatal(err)
	}
	if len(progress) != 3 || progress[2] != len(msgs) {
		t.Errorf("progress %v, want three chunks ending at %d", progress, len(msgs))
	}
	count := func(topic string) (int64, int) {
		end, err := EndOffsets(ctx, brokers, topic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, o := range end {
			n += o
		}
		return n, len(end)
	}
	if n, parts := count("events"); n != int64(len(msgs)) || parts != 3 {
		t.Errorf("events: %d messages in %d partitions, want %d in 3 (seeded)", n, parts, len(msgs))
	}
	if n, parts := count("dlq"); n != 0 || parts != 2 {
		t.Errorf("dlq: %d messages in %d partitions, want 0 in 2 (created)", n, parts)
	}
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, "kafka")); err != nil {
		t.Fatalf("no broker log under the data dir: %v", err)
	}
	b, err = StartEmbedded("127.0.0.1:0", dir, 3, []string{"events"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers = []string{b.Addr()}
	if n, _ := count("events"); n != int64(len(msgs)) {
		t.Errorf("after a restart the broker holds %d messages, want %d", n, len(msgs))
	}
}

// TestStartEmbeddedBusyPort: a port in use is refused with what to do.
func TestStartEmbeddedBusyPort(t *testing.T) {
	b, err := StartEmbedded("127.0.0.1:0", t.TempDir(), 1, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = StartEmbedded(b.Addr(), t.TempDir(), 1, nil, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("a second broker on the same port started")
	}
	if want := "--embedded-addr 127.0.0.1:0"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestStartEmbeddedUnwritableDir: a data dir the broker cannot keep its
// log in is named as such, not blamed on the port.
func TestStartEmbeddedUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kafka"), nil, 0o600); err != nil { // a file where the log directory goes
		t.Fatal(err)
	}
	_, err := StartEmbedded("127.0.0.1:0", dir, 1, nil, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "make --data-dir writable") || strings.Contains(err.Error(), "port") {
		t.Fatalf("error %v, want one that says to make --data-dir writable", err)
	}
}

// TestCheckLoopback: only localhost, 127.0.0.0/8 and ::1 pass; every
// interface (empty host, 0.0.0.0, ::), other addresses and other names are
// refused with what to run instead.
func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9092", true},
		{"127.0.0.1:0", true},
		{"127.1.2.3:9092", true},
		{"[::1]:9092", true},
		{"[::ffff:127.0.0.1]:9092", true},
		{"localhost:9092", true},
		{"LocalHost:9092", true},
		{":9092", false},
		{"0.0.0.0:9092", false},
		{"[::]:9092", false},
		{"[::ffff:0.0.0.0]:9092", false},
		{"10.0.0.5:9092", false},
		{"192.168.1.10:9092", false},
		{"[fe80::1]:9092", false},
		{"[2001:db8::1]:9092", false},
		{"128.0.0.1:9092", false},
		{"kafka:9092", false},
		{"localhost.evil.example:9092", false},
		{"myhost.local:9092", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := CheckLoopback(tc.addr)
			if tc.ok {
				if err != nil {
					t.Errorf("CheckLoopback(%q) = %v, want nil", tc.addr, err)
				}
				return
			}
			if !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("CheckLoopback(%q) = %v, want ErrNotLoopback", tc.addr, err)
			}
			for _, want := range []string{tc.addr, "--brokers", "deploy/"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	if err := CheckLoopback("127.0.0.1"); err == nil || errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("CheckLoopback without a port = %v, want a host:port error", err)
	}
}

// TestStartEmbeddedRefusesOtherInterfaces: the broker itself refuses to
// listen off loopback, whatever its caller validated.
func TestStartEmbeddedRefusesOtherInterfaces(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		b, err := StartEmbedded(addr, t.TempDir(), 1, nil, slog.New(slog.DiscardHandler))
		if err == nil {
			b.Close()
			t.Errorf("StartEmbedded(%q) started on %s", addr, b.Addr())
			continue
		}
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("StartEmbedded(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	b, err := StartEmbedded("localhost:0", t.TempDir(), 1, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("StartEmbedded on localhost: %v", err)
	}
	defer b.Close()
	host, _, _ := net.SplitHostPort(b.Addr())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("the broker on localhost bound %s", b.Addr())
	}
}

// TestTopicRetention reads retention.ms as the brokers report it: a
// topic's own setting, and -1 as unlimited.
func TestTopicRetention(t *testing.T) {
	b, err := StartEmbedded("127.0.0.1:0", t.TempDir(), 1, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addr()
	ctx := context.Background()
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "forever", NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "-1"}}},
		{Topic: "week", NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "604800000"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range res.Errors {
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	if r, err := TopicRetention(ctx, []string{addr}, "forever"); err != nil || !r.Unlimited {
		t.Errorf("forever: %+v, %v; want unlimited", r, err)
	}
	if r, err := TopicRetention(ctx, []string{addr}, "week"); err != nil || r.Unlimited || r.Time != 7*24*time.Hour {
		t.Errorf("week: %+v, %v; want 168h", r, err)
	}
}

// TestTrimBefore: the dead-letter window deletes what was written before
// the cutoff and keeps the rest.
func TestTrimBefore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := StartEmbedded("127.0.0.1:0", t.TempDir(), 2, []string{"dlq"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	kv := func(i int) ([]byte, []byte) { return fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i) }
	if err := Publish(ctx, brokers, "dlq", make([]int, 30), kv, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(50 * time.Millisecond)
	if err := Publish(ctx, brokers, "dlq", make([]int, 7), kv, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := b.TrimBefore(ctx, "dlq", cutoff); err != nil || n != 30 {
		t.Fatalf("TrimBefore = %d, %v; want the 30 older records", n, err)
	}
	if n, err := b.TrimBefore(ctx, "dlq", cutoff); err != nil || n != 0 {
		t.Fatalf("TrimBefore again = %d, %v; want 0", n, err)
	}
	if n, err := b.TrimBefore(ctx, "dlq", time.Now().Add(time.Hour)); err != nil || n != 7 {
		t.Fatalf("TrimBefore a future cutoff = %d, %v; want the 7 left", n, err)
	}
}
