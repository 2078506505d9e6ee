package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
	"github.com/shoal-analytics/shoal/transform"
)

// runBenchPhase runs one measurement in this (child) process and prints
// its benchResult as JSON on stdout.
func runBenchPhase(ctx context.Context, f benchFlags, stdout io.Writer) error {
	level, err := app.ParseLevel(f.logLevel)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if f.brokers == "" || f.workDir == "" {
		return errors.New("--phase is internal to `shoal bench`: it needs --brokers and --work-dir")
	}
	brokers := []string{f.brokers}
	if f.profileDir != "" {
		prof, err := os.Create(filepath.Join(f.profileDir, f.phase+".pprof"))
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
		stop := keepPeakHeapProfile(filepath.Join(f.profileDir, f.phase+".heap.pprof"), logger)
		defer stop()
	}
	if f.phase != "ceiling" && f.phase != "naive" && f.phase != "readjson" {
		// Shoal's phases, also those that open the store without a pipeline.
		if err := app.SetGoMemoryLimit(f.tuning.goMemory); err != nil {
			return err
		}
	}
	var r benchResult
	switch f.phase {
	case "ceiling":
		r, err = benchCeiling(ctx, brokers, logger)
	case "shoal":
		r, err = benchShoal(ctx, brokers, f.workDir, f.tuning, logger)
	case "naive":
		r, err = benchNaive(ctx, brokers, f.workDir, f.naiveEvents)
	case "readjson":
		r, err = benchReadJSON(ctx, f.workDir)
	case "stage":
		r, err = benchStage(ctx, brokers, f.workDir, f.tuning, logger)
	case "sql":
		r, err = benchSQL(ctx, brokers, f.workDir, f.tuning, logger)
	case "absorb":
		r, err = benchAbsorb(ctx, brokers, f.workDir, f.absorb, f.tuning, logger)
	default:
		return fmt.Errorf("unknown phase %q", f.phase)
	}
	if err != nil {
		return err
	}
	r.Phase = f.phase
	return json.NewEncoder(stdout).Encode(r)
}

// benchCeiling reads every event of the topic with a kafka-go consumer
// group, the way ingest does (one reader per assigned partition), and
// commits offsets every 20k messages per partition and at the end, doing
// nothing else with the messages.
func benchCeiling(ctx context.Context, brokers []string, logger *slog.Logger) (benchResult, error) {
	end, err := broker.EndOffsets(ctx, brokers, benchTopic)
	if err != nil {
		return benchResult{}, err
	}
	began := time.Now()
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: "bench-ceiling", Brokers: brokers, Topics: []string{benchTopic}, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: time.Second,
	})
	if err != nil {
		return benchResult{}, err
	}
	defer group.Close()
	gen, err := group.Next(ctx)
	if err != nil {
		return benchResult{}, fmt.Errorf("join group: %w", err)
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(end))
	for _, a := range gen.Assignments[benchTopic] {
		stop := end[int32(a.ID)]
		if stop == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: benchTopic, Partition: a.ID,
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
					if err := gen.CommitOffsets(map[string]map[int]int64{benchTopic: {a.ID: m.Offset + 1}}); err != nil {
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
		return benchResult{}, err
	}
	logger.Debug("ceiling done", "messages", total.Load())
	return benchResult{Events: total.Load(), Seconds: time.Since(began).Seconds()}, nil
}

// median sorts xs (an odd number of timings) and returns the middle one.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// benchReports is how many times the shoal phase renders the weekly report.
const benchReports = 3

// benchKey is a fresh pseudonym key per phase.
func benchKey() []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return key
}

// benchShoal runs the real pipeline (startPipeline, as `shoal run` does)
// until everything published is committed, then measures one outcome
// refresh and the /metrics scrape latency. It leaves its store in
// WORK/shoal for the absorb phase.
func benchShoal(ctx context.Context, brokers []string, work string, tune benchTuning, logger *slog.Logger) (benchResult, error) {
	cfg := app.DefaultConfig(filepath.Join(work, "shoal"))
	cfg.Brokers, cfg.Topic, cfg.DLQTopic, cfg.Group = brokers, benchTopic, benchDLQ, "bench-shoal"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Now = func() time.Time { return benchEnd }
	tune.apply(&cfg)
	end, err := broker.EndOffsets(ctx, brokers, benchTopic)
	if err != nil {
		return benchResult{}, err
	}
	began := time.Now()
	p, err := app.New(ctx, cfg, benchKey(), logger)
	if err != nil {
		return benchResult{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	t := time.NewTicker(20 * time.Millisecond)
	for !p.CaughtUp(end) {
		select {
		case <-ctx.Done():
			return benchResult{}, ctx.Err()
		case err := <-done:
			return benchResult{}, fmt.Errorf("pipeline stopped before catching up: %w", err)
		case <-t.C:
		}
	}
	t.Stop()
	st := p.Stats()
	r := benchResult{Events: st.Consumed, Seconds: time.Since(began).Seconds(), Extra: map[string]float64{}}
	// The peak RSS after each step below shows which one raises it.
	peakAfter := func(step string) {
		if kib, ok := peakRSSKiB(); ok {
			r.Extra[step+"_peak_rss_kib"] = float64(kib)
		}
	}
	peakAfter("ingest") // before the outputs below run
	r.Extra["go_sys_mib"] = goSysMiB()

	// As the pipeline does once the stream pauses (checkpointWhenIdle), so
	// that it does not do so while the outputs below are measured. A query
	// of the refresh loop makes DuckDB refuse; it ends within seconds.
	began = time.Now()
	for {
		wal, released, err := p.IdleCheckpoint(ctx)
		if errors.Is(err, transform.ErrCheckpointBusy) && time.Since(began) < time.Minute {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			return benchResult{}, fmt.Errorf("checkpoint after catching up: %w", err)
		}
		r.Extra["checkpoint_seconds"], r.Extra["checkpoint_wal_bytes"] = time.Since(began).Seconds(), float64(wal)
		r.Extra["idle_released_mib"] = float64(released) / (1 << 20)
		break
	}
	peakAfter("checkpoint")
	if kib, ok := rssKiB(); ok {
		r.Extra["idle_rss_kib"] = float64(kib) // what the pause returned
	}

	// As the refresh loop does, so that the loop does not recompute the same
	// snapshot again while the scrapes and the report are measured.
	began = time.Now()
	if err := p.RefreshMetrics(ctx, true); err != nil {
		return benchResult{}, err
	}
	r.Extra["refresh_seconds"] = time.Since(began).Seconds()
	peakAfter("refresh")
	const scrapes = 21
	var lat []float64
	for range scrapes {
		began := time.Now()
		resp, err := http.Get(p.URL() + "/metrics")
		if err != nil {
			return benchResult{}, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return benchResult{}, err
		}
		lat = append(lat, time.Since(began).Seconds())
	}
	r.Extra["scrape_seconds"], r.Extra["scrapes"] = median(lat), scrapes
	peakAfter("scrape")

	// The weekly report of the last complete week, as /reports/ renders it
	// (8 weeks of outcomes through the policy, HTML with its SVG charts):
	// the median of benchReports renders, as one render of a few seconds
	// varies by a third between runs on a shared host.
	var took []float64
	for range benchReports {
		began = time.Now()
		html, err := p.RenderReport(ctx, p.LastCompleteWeek(), report.HTML)
		if err != nil {
			return benchResult{}, fmt.Errorf("render the weekly report: %w", err)
		}
		took = append(took, time.Since(began).Seconds())
		r.Extra["report_bytes"] = float64(len(html))
	}
	r.Extra["report_seconds"], r.Extra["reports"] = median(took), benchReports
	peakAfter("report")
	cancel()
	if err := <-done; err != nil {
		return benchResult{}, err
	}
	return r, nil
}

// keepPeakHeapProfile samples the Go heap every second and writes a pprof
// heap profile to path each time the heap in use is the largest so far:
// what held the memory at the phase's peak (as of the garbage collection
// before it). stop ends the sampling.
func keepPeakHeapProfile(path string, logger *slog.Logger) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var peak uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse <= peak {
				continue
			}
			peak = m.HeapInuse
			var buf bytes.Buffer
			err := pprof.Lookup("heap").WriteTo(&buf, 0)
			if err == nil {
				err = os.WriteFile(path, buf.Bytes(), 0o640)
			}
			if err != nil {
				logger.Warn("cannot write the heap profile", "path", path, "err", err)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// goSysMiB is the memory the Go runtime holds from the OS (heap, stacks,
// its own structures): the part of the RSS that is not DuckDB's.
func goSysMiB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Sys) / (1 << 20)
}

// peakRSSKiB is this process's peak resident set so far (VmHWM).
func peakRSSKiB() (int64, bool) { return procStatusKiB("VmHWM") }

// rssKiB is this process's resident set now (VmRSS).
func rssKiB() (int64, bool) { return procStatusKiB("VmRSS") }

// procStatusKiB reads one of /proc/self/status's sizes in kB.
func procStatusKiB(field string) (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			return kib, err == nil
		}
	}
	return 0, false
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

// benchNaive is what most teams would write first: a kafka-go group
// reader, encoding/json, one INSERT per event, the rollup at the end. Person
// values are pseudonymized before the INSERT (no raw id at rest, even here).
func benchNaive(ctx context.Context, brokers []string, work string, limit int) (benchResult, error) {
	store, err := transform.OpenNaive(ctx, filepath.Join(work, "naive.duckdb"))
	if err != nil {
		return benchResult{}, err
	}
	defer store.Close()
	pseudo, err := privacy.NewPseudonymizer(benchKey())
	if err != nil {
		return benchResult{}, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: benchTopic, GroupID: "bench-naive",
		StartOffset: kafka.FirstOffset, CommitInterval: time.Second, MaxBytes: 16 << 20})
	defer r.Close()
	began := time.Now()
	var n, skipped int64
	for n < int64(limit) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return benchResult{}, err
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
			return benchResult{}, fmt.Errorf("insert event %d: %w", n, err)
		}
	}
	cells, err := store.Rollup(ctx)
	if err != nil {
		return benchResult{}, err
	}
	return benchResult{Events: n, Seconds: time.Since(began).Seconds(), Extra: map[string]float64{"cells": float64(cells), "skipped": float64(skipped)}}, nil
}

// benchReadJSON is DuckDB's own loader over the NDJSON file of the same
// events, then the same rollup as the naive pipeline.
func benchReadJSON(ctx context.Context, work string) (benchResult, error) {
	path := filepath.Join(work, "events.ndjson")
	lines, err := countLines(path)
	if err != nil {
		return benchResult{}, err
	}
	salt := fmt.Sprintf("%x", benchKey())
	res, err := transform.LoadNDJSON(ctx, filepath.Join(work, "readjson.duckdb"), path, salt, 0)
	if err != nil {
		return benchResult{}, err
	}
	return benchResult{Events: lines, Seconds: (res.Load + res.Rollups).Seconds(),
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

// readBenchMessages streams the NDJSON file as Kafka messages of the event
// topic, keyed by team, spread over partitions by key hash, offsets in
// order per partition, as the broker would deliver them: fn gets them in
// chunks of at most chunk messages (it may keep them).
func readBenchMessages(path string, partitions, chunk int, fn func([]kafka.Message) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := make([]int64, partitions)
	msgs := make([]kafka.Message, 0, chunk)
	now := time.Now()
	for sc.Scan() {
		v := bytes.Clone(sc.Bytes())
		key := teamKey(v)
		h := fnv.New32a()
		h.Write(key)
		p := int(h.Sum32() % uint32(partitions))
		msgs = append(msgs, kafka.Message{Topic: benchTopic, Partition: p, Offset: next[p], Key: key, Value: v, Time: now})
		next[p]++
		if len(msgs) == chunk {
			if err := fn(msgs); err != nil {
				return err
			}
			msgs = make([]kafka.Message, 0, chunk)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fn(msgs)
	}
	return nil
}

// newBenchConsumer builds the ingest consumer and store the stage and
// absorb phases feed from memory.
func newBenchConsumer(ctx context.Context, brokers []string, dataDir string, tune benchTuning, logger *slog.Logger) (*ingest.Consumer, *transform.Store, error) {
	cfg := app.DefaultConfig(dataDir)
	cfg.Brokers, cfg.Topic, cfg.DLQTopic = brokers, benchTopic, benchDLQ
	tune.apply(&cfg)
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, nil, err
	}
	store, err := transform.Open(ctx, cfg.StoreConfig(), logger)
	if err != nil {
		return nil, nil, err
	}
	pseudo, err := privacy.NewPseudonymizer(benchKey())
	if err != nil {
		return nil, nil, err
	}
	dec := ingest.NewDecoder(pseudo, func(string) *time.Location { return time.UTC }, cfg.MaxEventBytes)
	c, err := ingest.NewConsumer(cfg.Config, dec, store, memory.NewGoAllocator(), ingest.NewMetrics(prometheus.NewRegistry()), logger)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return c, store, nil
}

// benchStage feeds the NDJSON file's events from memory through Shoal's
// batch path into a fresh store: the pipeline without Kafka. The file is
// read a few batches at a time (untimed), so memory stays bounded at any
// size; only Process is timed.
func benchStage(ctx context.Context, brokers []string, work string, tune benchTuning, logger *slog.Logger) (benchResult, error) {
	c, store, err := newBenchConsumer(ctx, brokers, filepath.Join(work, "stage"), tune, logger)
	if err != nil {
		return benchResult{}, err
	}
	defer store.Close()
	defer c.Close()
	var took time.Duration
	var n int64
	err = readBenchMessages(filepath.Join(work, "events.ndjson"), ingest.DefaultConfig().Partitions, 4*tune.batchSize, func(msgs []kafka.Message) error {
		began := time.Now()
		err := c.Process(ctx, msgs)
		took += time.Since(began)
		n += int64(len(msgs))
		return err
	})
	if err != nil {
		return benchResult{}, err
	}
	return benchResult{Events: n, Seconds: took.Seconds(), Extra: map[string]float64{"go_sys_mib": goSysMiB()}}, nil
}

// benchAbsorb opens the shoal phase's store, absorbs n new events (copies
// of the newest events with new ids, so they land in recent cells) through
// the batch path, then recomputes every derived table from the raw events.
// Events is the number of events stored before the absorb.
func benchAbsorb(ctx context.Context, brokers []string, work string, n int, tune benchTuning, logger *slog.Logger) (benchResult, error) {
	// The newest n events, streamed so that memory stays bounded.
	var msgs []kafka.Message
	err := readBenchMessages(filepath.Join(work, "events.ndjson"), ingest.DefaultConfig().Partitions, n, func(chunk []kafka.Message) error {
		msgs = append(msgs[max(0, len(msgs)+len(chunk)-n):], chunk...)
		return nil
	})
	if err != nil {
		return benchResult{}, err
	}
	c, store, err := newBenchConsumer(ctx, brokers, filepath.Join(work, "shoal"), tune, logger)
	if err != nil {
		return benchResult{}, err
	}
	defer store.Close()
	defer c.Close()
	stored, err := store.EventCount(ctx)
	if err != nil {
		return benchResult{}, err
	}
	offsets, err := store.Offsets(ctx, benchTopic)
	if err != nil {
		return benchResult{}, err
	}
	fresh := make([]kafka.Message, 0, n)
	for _, m := range msgs {
		v := bytes.Replace(m.Value, []byte(`"id":"`), []byte(`"id":"absorb-`), 1)
		m.Value = v
		m.Offset = offsets[int32(m.Partition)]
		offsets[int32(m.Partition)]++
		fresh = append(fresh, m)
	}
	began := time.Now()
	if err := c.Process(ctx, fresh); err != nil {
		return benchResult{}, err
	}
	incremental := time.Since(began).Seconds()
	began = time.Now()
	if err := store.Rebuild(ctx); err != nil {
		return benchResult{}, err
	}
	full := time.Since(began).Seconds()
	return benchResult{Events: stored, Seconds: incremental + full, Extra: map[string]float64{
		"absorbed": float64(c.Stats().Consumed), "incremental_seconds": incremental, "full_seconds": full}}, nil
}

// benchAnalystQuery is a typical analyst question over the weekly view:
// per unit and week, the teams' median cycle time and total throughput
// over the visible team rows.
const benchAnalystQuery = `SELECT unit, week, count(*) AS teams, sum(tasks_completed) AS done,
	median(cycle_time_p50) / 3600 AS cycle_h, avg(response_within_sla_ratio) AS sla
FROM shoal.weekly_outcomes
WHERE level = 'team' AND NOT flow_suppressed
GROUP BY unit, week ORDER BY week DESC, unit`

// benchSQL starts Shoal on the shoal phase's store with the SQL endpoint
// on (nothing left to consume), times publishing the serving tables, then
// runs benchAnalystQuery through the endpoint with pgx.
func benchSQL(ctx context.Context, brokers []string, work string, tune benchTuning, logger *slog.Logger) (benchResult, error) {
	cfg := app.DefaultConfig(filepath.Join(work, "shoal"))
	cfg.Brokers, cfg.Topic, cfg.DLQTopic, cfg.Group = brokers, benchTopic, benchDLQ, "bench-shoal"
	tune.apply(&cfg)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SQL.Addr, cfg.SQL.AllowAnonymous = "127.0.0.1:0", true
	cfg.Now = func() time.Time { return benchEnd }
	began := time.Now()
	p, err := app.New(ctx, cfg, benchKey(), logger) // publishes the serving tables before it returns
	if err != nil {
		return benchResult{}, err
	}
	started := time.Since(began).Seconds()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	conn, err := pgx.Connect(ctx, "postgres://analyst@"+p.SQLAddr()+"/shoal?sslmode=disable")
	if err != nil {
		return benchResult{}, fmt.Errorf("connect to the SQL endpoint: %w", err)
	}
	defer conn.Close(ctx)
	const runs = 11
	var lat []float64
	var rows int
	for range runs {
		began := time.Now()
		rs, err := conn.Query(ctx, benchAnalystQuery)
		if err != nil {
			return benchResult{}, err
		}
		rows = 0
		for rs.Next() {
			rows++
		}
		if err := rs.Err(); err != nil {
			return benchResult{}, fmt.Errorf("analyst query: %w", err)
		}
		lat = append(lat, time.Since(began).Seconds())
	}
	q := median(lat)
	n, err := p.Store().EventCount(ctx)
	if err != nil {
		return benchResult{}, err
	}
	cancel()
	if err := <-done; err != nil {
		return benchResult{}, err
	}
	return benchResult{Events: n, Seconds: q, Extra: map[string]float64{
		"start_publish_seconds": started, "query_seconds": q, "rows": float64(rows), "runs": runs}}, nil
}
