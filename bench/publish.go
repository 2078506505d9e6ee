package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/progress"
	"github.com/shoal-analytics/shoal/synth"
)

// publish streams the organisation's events to the broker and to an
// NDJSON file (the loader's input); it returns events and bytes.
func publish(ctx context.Context, opts synth.Options, addr, ndjson string, stderr io.Writer) (int64, int64, error) {
	file, err := os.Create(ndjson)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", ndjson, err)
	}
	defer file.Close()
	out := bufio.NewWriterSize(file, 1<<20)
	w := broker.NewWriter([]string{addr}, topic)
	defer w.Close()
	var n, size int64
	batch := make([]kafka.Message, 0, 5000)
	bar := progress.New(stderr, "published", 0)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publish after %d events: %w", n, broker.SummarizeWriteError(err))
		}
		batch = batch[:0]
		bar.Update(n)
		return nil
	}
	_, err = synth.GenerateTo(opts, func(m synth.Message) error {
		batch = append(batch, kafka.Message{Key: m.Key, Value: m.Value})
		out.Write(m.Value)
		out.WriteByte('\n')
		n++
		size += int64(len(m.Value))
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = out.Flush()
	}
	bar.Finish(n)
	return n, size, err
}
