package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/progress"
	"github.com/shoal-analytics/shoal/synth"
)

const publishSummary = `Send an NDJSON file of events (one CloudEvents JSON object per line) to a Kafka topic,
keyed by data.team, with a progress bar. Lines that are not valid events are sent as they
are: Shoal refuses them to its dead-letter topic with a reason, which is a way to test it.`

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", publishSummary, stdout, stderr)
	var brokers ingest.StringList
	fs.Var(&brokers, "brokers", "comma-separated Kafka brokers, e.g. 127.0.0.1:9092 (the embedded broker of a running `shoal run`)")
	file := fs.String("file", "", "NDJSON file to send; - reads stdin")
	topic := fs.String("topic", "shoal.events", "topic to send to")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("--file is required (an NDJSON file, e.g. from `shoal generate --out events.ndjson`)")
	}
	if len(brokers) == 0 {
		return errors.New("--brokers is required: start `shoal run` (its embedded broker listens on 127.0.0.1:9092) or point at your Kafka")
	}
	var in io.Reader = os.Stdin
	var total int64
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("open events file: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			total = st.Size()
		}
		in = f
	}
	if err := broker.EnsureTopics(ctx, brokers, 6, *topic); err != nil {
		return err
	}
	w := broker.NewWriter(brokers, *topic)
	defer w.Close()
	bar := progress.New(stderr, "published bytes", total)
	var sent, bytes int64
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	batch := make([]kafka.Message, 0, 5000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publish to %s after %d events: %w", *topic, sent, broker.SummarizeWriteError(err))
		}
		sent += int64(len(batch))
		batch = batch[:0]
		bar.Update(bytes)
		return nil
	}
	for sc.Scan() {
		line := sc.Bytes()
		bytes += int64(len(line)) + 1
		if len(line) == 0 {
			continue
		}
		v := append([]byte(nil), line...)
		batch = append(batch, kafka.Message{Key: synth.TeamKey(v), Value: v})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read events file line %d: %w", sent+int64(len(batch))+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Finish(bytes)
	fmt.Fprintf(stdout, "published %d events to %s\n", sent, *topic)
	return nil
}

// publishAll sends msgs to topic with a progress bar (nil: none).
func publishAll(ctx context.Context, brokers []string, topic string, msgs []synth.Message, bar *progress.Bar) error {
	var update func(int)
	if bar != nil {
		update = func(n int) { bar.Update(int64(n)) }
	}
	if err := broker.Publish(ctx, brokers, topic, msgs, synth.Message.KeyValue, update); err != nil {
		return err
	}
	if bar != nil {
		bar.Finish(int64(len(msgs)))
	}
	return nil
}
