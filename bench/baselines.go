package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/transform"
)

// runCeiling reads every event of the topic with a kafka-go consumer
// group, the way ingest does (one reader per assigned partition), and
// commits offsets every 20k messages per partition and at the end, doing
// nothing else with the messages.
func runCeiling(ctx context.Context, brokers []string, logger *slog.Logger) (result, error) {
	end, err := broker.EndOffsets(ctx, brokers, topic)
	if err != nil {
		return result{}, err
	}
	began := time.Now()
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: "bench-ceiling", Brokers: brokers, Topics: []string{topic}, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: time.Second,
	})
	if err != nil {
		return result{}, err
	}
	defer group.Close()
	gen, err := group.Next(ctx)
	if err != nil {
		return result{}, fmt.Errorf("join group: %w", err)
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(end))
	for _, a := range gen.Assignments[topic] {
		stop := end[int32(a.ID)]
		if stop == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: a.ID,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond, QueueCapacity: 1000})
			defer r.Close()
			if err := r.SetOffset(a.Offset); err != nil {
				errs <- err
				return
			}
			for n := 0; ; n++ {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					errs <- err
					return
				}
				total.Add(1)
				last := m.Offset+1 >= stop
				if n%20_000 == 19_999 || last {
					if err := gen.CommitOffsets(map[string]map[int]int64{topic: {a.ID: m.Offset + 1}}); err != nil {
						errs <- fmt.Errorf("commit offsets: %w", err)
						return
					}
				}
				if last {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return result{}, err
	}
	logger.Debug("ceiling done", "messages", total.Load())
	return result{Events: total.Load(), Seconds: time.Since(began).Seconds()}, nil
}

// naiveEvent is the struct the naive pipeline decodes into.
type naiveEvent struct {
	ID     string    `json:"id"`
	Source string    `json:"source"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Data   struct {
		Team     string     `json:"team"`
		Task     string     `json:"task"`
		Request  string     `json:"request"`
		Person   string     `json:"person"`
		Category string     `json:"category"`
		Start    *time.Time `json:"start"`
		End      *time.Time `json:"end"`
	} `json:"data"`
}

// runNaive is what most teams would write first: a kafka-go group
// reader, encoding/json, one INSERT per event, the rollup at the end. Person
// values are pseudonymized before the INSERT (no raw id at rest, even here).
// It reads limit events, or the whole topic if it holds fewer.
func runNaive(ctx context.Context, brokers []string, work string, limit int) (result, error) {
	end, err := broker.EndOffsets(ctx, brokers, topic)
	if err != nil {
		return result{}, err
	}
	var published int64 // the topic is fresh: its end offsets add up to its events
	for _, o := range end {
		published += o
	}
	store, err := transform.OpenNaive(ctx, filepath.Join(work, "naive.duckdb"))
	if err != nil {
		return result{}, err
	}
	defer store.Close()
	pseudo, err := privacy.NewPseudonymizer(newKey())
	if err != nil {
		return result{}, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: "bench-naive",
		StartOffset: kafka.FirstOffset, CommitInterval: time.Second, MaxBytes: 16 << 20})
	defer r.Close()
	began := time.Now()
	var n, skipped int64
	for n < min(int64(limit), published) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return result{}, err
		}
		n++
		var e naiveEvent
		if json.Unmarshal(m.Value, &e) != nil || e.ID == "" || e.Data.Team == "" || e.Time.IsZero() {
			skipped++
			continue
		}
		ne := transform.NaiveEvent{Source: e.Source, ID: e.ID, Type: e.Type, Time: e.Time, Team: e.Data.Team,
			Task: e.Data.Task, Request: e.Data.Request, Category: e.Data.Category}
		if e.Data.Person != "" {
			ne.Person, ne.HasPerson = pseudo.Pseudonym(e.Data.Person), true
		}
		if e.Data.Start != nil && e.Data.End != nil {
			ne.Start, ne.End, ne.HasTimeEntry = *e.Data.Start, *e.Data.End, true
		}
		if err := store.Insert(ctx, ne); err != nil {
			return result{}, fmt.Errorf("insert event %d: %w", n, err)
		}
	}
	cells, err := store.Rollup(ctx)
	if err != nil {
		return result{}, err
	}
	return result{Events: n, Seconds: time.Since(began).Seconds(), Extra: map[string]float64{"cells": float64(cells), "skipped": float64(skipped)}}, nil
}

// runReadJSON is DuckDB's own loader over the NDJSON file of the same
// events, then the same rollup as the naive pipeline.
func runReadJSON(ctx context.Context, work string) (result, error) {
	path := filepath.Join(work, "events.ndjson")
	lines, err := countLines(path)
	if err != nil {
		return result{}, err
	}
	salt := fmt.Sprintf("%x", newKey())
	res, err := transform.LoadNDJSON(ctx, filepath.Join(work, "readjson.duckdb"), path, salt, 0)
	if err != nil {
		return result{}, err
	}
	return result{Events: lines, Seconds: (res.Load + res.Rollups).Seconds(),
		Extra: map[string]float64{"rows": float64(res.Rows), "cells": float64(res.Cells), "load_seconds": res.Load.Seconds()}}, nil
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
