package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
)

// streamRates are the steady rates the stream phase measures, events per
// second: a 2,000-team organisation averages about 1.4 (issue 24), so 20
// is a busy hour and 200 a burst.
var streamRates = []int{20, 200}

// runStream starts Shoal on the shoal phase's store (caught up: nothing
// new in the topic), then publishes new events at each of streamRates for
// seconds, and measures the CPU the process spent from the first event to
// the commit of the last: per event and as a share of one core. The
// events are copies of the newest ones of the data with new ids, sent one
// tick (50 ms) at a time. The producer (a kafka-go writer) runs in the
// same process, so its CPU is included: an upper bound.
func runStream(ctx context.Context, brokers []string, work string, seconds int, tune Tuning, logger *slog.Logger) (result, error) {
	need := 0
	for _, r := range streamRates {
		need += r * seconds
	}
	var templates []kafka.Message
	err := readMessages(filepath.Join(work, "events.ndjson"), ingest.DefaultConfig().Partitions, need, func(chunk []kafka.Message) error {
		templates = append(templates[max(0, len(templates)+len(chunk)-need):], chunk...)
		return nil
	})
	if err != nil {
		return result{}, err
	}
	if len(templates) < need {
		return result{}, fmt.Errorf("the data has %d events, the stream phase needs %d", len(templates), need)
	}
	cfg := app.DefaultConfig(filepath.Join(work, "shoal"))
	cfg.Brokers, cfg.Topic, cfg.DLQTopic, cfg.Group = brokers, topic, dlqTopic, "bench-shoal"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Now = func() time.Time { return dataEnd }
	cfg.SettleDelay = 0
	tune.apply(&cfg)
	p, err := app.New(ctx, cfg, newKey(), logger)
	if err != nil {
		return result{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	caughtUp := func() error {
		end, err := broker.EndOffsets(ctx, brokers, topic)
		if err != nil {
			return err
		}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for !p.CaughtUp(end) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-done:
				return fmt.Errorf("pipeline stopped: %w", err)
			case <-t.C:
			}
		}
		return nil
	}
	if err := caughtUp(); err != nil {
		return result{}, err
	}
	// The release loop's first pass and the first refreshes run at start:
	// let them finish before measuring.
	if _, err := p.ReleaseDue(ctx); err != nil {
		return result{}, err
	}
	time.Sleep(2 * time.Second)
	stored, err := p.Store().EventCount(ctx)
	if err != nil {
		return result{}, err
	}
	r := result{Events: stored, Extra: map[string]float64{"stored": float64(stored), "stream_seconds": float64(seconds)}}
	next := 0
	for _, rate := range streamRates {
		n := rate * seconds
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			m := templates[next+i]
			msgs[i] = kafka.Message{Key: m.Key, Value: bytes.Replace(m.Value, []byte(`"id":"`), fmt.Appendf(nil, `"id":"stream%d-`, rate), 1)}
		}
		next += n
		const tick = 50 * time.Millisecond
		perTick := max(1, rate*int(tick)/int(time.Second))
		// A producer the size of a tick: broker.NewWriter's BatchSize of
		// 10,000 makes kafka-go allocate that many messages for every
		// write, which cost this process more CPU than Shoal's commits.
		w := broker.NewWriter(brokers, topic)
		w.BatchTimeout, w.BatchSize = time.Millisecond, perTick // one tick's events go at once
		cpu0 := processCPU()
		began := time.Now()
		t := time.NewTicker(tick)
		for i := 0; i < n; i += perTick {
			if err := w.WriteMessages(ctx, msgs[i:min(i+perTick, n)]...); err != nil {
				t.Stop()
				_ = w.Close()
				return result{}, fmt.Errorf("publish at %d events/s: %w", rate, err)
			}
			<-t.C
		}
		t.Stop()
		if err := w.Close(); err != nil {
			return result{}, fmt.Errorf("close the producer at %d events/s: %w", rate, err)
		}
		if err := caughtUp(); err != nil {
			return result{}, err
		}
		wall := time.Since(began).Seconds()
		cpu := (processCPU() - cpu0).Seconds()
		key := fmt.Sprintf("stream_%d_", rate)
		r.Extra[key+"events"], r.Extra[key+"seconds"], r.Extra[key+"cpu_seconds"] = float64(n), wall, cpu
		r.Seconds += wall
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return result{}, err
	}
	return r, nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
