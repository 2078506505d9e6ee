package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
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
	bar := newProgress(stderr, "published")
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publish after %d events: %w", n, broker.SummarizeWriteError(err))
		}
		batch = batch[:0]
		bar.update(n)
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
	bar.finish(n)
	return n, size, err
}

// progress prints how many events are published and how fast: redrawn in
// place on a terminal, a line every few seconds to anything else (logs,
// CI). The total is not known while the events are generated.
type progress struct {
	w        io.Writer
	what     string
	tty      bool
	began    time.Time
	lastDraw time.Time
}

func newProgress(w io.Writer, what string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, what: what, tty: tty, began: time.Now()}
}

// update reports that done events are published.
func (p *progress) update(done int64) {
	every := 3 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if time.Since(p.lastDraw) < every {
		return
	}
	p.lastDraw = time.Now()
	p.draw(done)
}

func (p *progress) draw(done int64) {
	line := fmt.Sprintf("%s %d %.0f/s", p.what, done, float64(done)/max(time.Since(p.began).Seconds(), 1e-9))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish draws the final count and ends the line.
func (p *progress) finish(done int64) {
	p.draw(done)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
