package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/privacy"
	sqlserver "github.com/shoal-analytics/shoal/sql"
	"github.com/shoal-analytics/shoal/transform"
)

// pipeline is one running Shoal: broker (embedded or not) → ingest →
// transform, plus the HTTP endpoint.
type pipeline struct {
	cfg      Config
	log      *slog.Logger
	broker   *embeddedBroker // nil with external brokers
	store    *transform.Store
	consumer *ingest.Consumer
	reg      *prometheus.Registry
	ln       net.Listener
	srv      *http.Server
	teams    *agreements.Holder
	exporter *metrics.Exporter
	// The governed SQL endpoint (nil when --sql-addr is empty): the server,
	// the serving database it queries and what publishes to it.
	sqlSrv    *sqlserver.Server
	serving   *transform.Serving
	publisher *servingPublisher
	// now is the clock that decides the current ISO week of every output.
	now func() time.Time
	// lastRefresh is what the exporter's snapshot was computed from.
	refreshMu   sync.Mutex
	lastRefresh struct {
		commit, at time.Time
		org        *agreements.Org
	}
}

// startPipeline builds every component; nothing consumes until run.
func startPipeline(ctx context.Context, cfg Config, key []byte, logger *slog.Logger) (_ *pipeline, err error) {
	p := &pipeline{cfg: cfg, log: logger, reg: prometheus.NewRegistry(), now: cfg.now}
	if p.now == nil {
		p.now = time.Now
	}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if err := setGoMemoryLimit(cfg.GoMemoryLimit); err != nil {
		return nil, err
	}
	p.teams, err = agreements.NewHolder(cfg.Teams, logger)
	if err != nil {
		return nil, fmt.Errorf("teams file:\n%w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	pseudo, err := privacy.NewPseudonymizer(key)
	if err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		p.broker, err = startEmbeddedBroker(cfg.EmbeddedAddr, cfg.DataDir, cfg.Partitions, []string{cfg.Topic, cfg.DLQTopic}, logger)
		if err != nil {
			return nil, err
		}
		p.cfg.Brokers = ingest.StringList{p.broker.addr}
	}
	if err := ingest.EnsureTopics(ctx, p.cfg.Brokers, cfg.Partitions, cfg.Topic, cfg.DLQTopic); err != nil {
		return nil, err
	}
	p.store, err = transform.Open(ctx, cfg.storeConfig(), logger)
	if err != nil {
		return nil, err
	}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dec := ingest.NewDecoder(pseudo, p.location, cfg.MaxEventBytes)
	p.consumer, err = ingest.NewConsumer(p.cfg.Config, dec, p.store, memory.NewGoAllocator(), ingest.NewMetrics(p.reg), logger)
	if err != nil {
		return nil, err
	}
	p.exporter = metrics.NewExporter(outcomeSource{p.store, p.teams}, func() (privacy.Policy, *time.Location) {
		org := p.teams.Get()
		return org.Policy(), org.Location("") // a team the file does not list has the org's zone
	}, p.now, p.reg, logger)
	metrics.NewAgreementsCollector(p.teams.Get, p.exporter.VisibleTeams, p.reg)
	if cfg.SQL.Enabled() {
		p.serving, err = transform.OpenServing(ctx, transform.ServingConfig{}, logger)
		if err != nil {
			return nil, err
		}
		p.publisher = &servingPublisher{store: p.store, serving: p.serving, teams: p.teams, now: p.now, log: logger}
		if err := p.publisher.Refresh(ctx, true); err != nil {
			return nil, fmt.Errorf("publish the SQL tables: %w", err)
		}
		p.sqlSrv, err = sqlserver.New(cfg.SQL, p.serving, p.reg, logger)
		if err != nil {
			return nil, err
		}
	}
	p.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --http-addr %s: %w (pick a free port, e.g. --http-addr 127.0.0.1:0)", cfg.HTTPAddr, err)
	}
	p.srv = &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second}
	return p, nil
}

// location is the team's time zone under the agreements in force; a team
// the file does not list is reported once and gets the org default. A
// reload changes the zone for events read after it; days already stored
// keep the zone they were read with.
func (p *pipeline) location(team string) *time.Location {
	org := p.teams.Get()
	a := org.Team(team)
	if !a.Listed && p.cfg.Teams != "" {
		p.teams.Unlisted(team)
	}
	return a.Location
}

// reload re-reads the teams file; a bad edit leaves the old one in force.
// The exported outcomes are recomputed under the new agreements.
func (p *pipeline) reload() error {
	if err := p.teams.Reload(); err != nil {
		return err
	}
	p.refreshNow(context.Background(), true)
	p.refreshServingNow(context.Background(), true)
	return nil
}

// refreshInterval is how often the exported outcome snapshot is recomputed
// while events are committed; idleRefreshInterval when none were since the
// last refresh (only the clock moves then: work in progress and requests
// open past their SLA).
const (
	refreshInterval     = 5 * time.Second
	idleRefreshInterval = time.Minute
)

// refreshOutcomes recomputes the exporter's snapshot off the scrape path
// until ctx ends.
func (p *pipeline) refreshOutcomes(ctx context.Context) {
	refreshLoop(ctx, refreshInterval, func(ctx context.Context) { p.refreshNow(ctx, false) })
}

// refreshLoop calls refresh now and again until ctx ends, waiting interval
// between calls, or four times as long as the last call took if that is
// longer: recomputing off the query path never takes more than a fifth of
// the time, however large the organisation.
func refreshLoop(ctx context.Context, interval time.Duration, refresh func(context.Context)) {
	for {
		began := time.Now()
		refresh(ctx)
		t := time.NewTimer(max(interval, 4*time.Since(began)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refreshNow recomputes the exporter's snapshot (refreshSnapshot) and logs
// a failure: the previous snapshot stays served.
func (p *pipeline) refreshNow(ctx context.Context, force bool) {
	if err := p.refreshSnapshot(ctx, force); err != nil && ctx.Err() == nil {
		p.log.Warn("outcome metrics not refreshed; the previous snapshot stays served", "component", "metrics", "err", err)
	}
}

// refreshSnapshot recomputes the exporter's snapshot, unless force is false
// and nothing was committed, nor the agreements changed, since the last
// refresh less than idleRefreshInterval ago: an idle pipeline does not keep
// both cores busy recomputing the same outcomes (they slowed a weekly report
// at 2,000 teams by a quarter).
func (p *pipeline) refreshSnapshot(ctx context.Context, force bool) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	commit, org, began := p.store.LastCommit(), p.teams.Get(), time.Now()
	last := p.lastRefresh
	if !force && commit.Equal(last.commit) && org == last.org && began.Sub(last.at) < idleRefreshInterval {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.exporter.Refresh(rctx); err != nil {
		return err
	}
	p.lastRefresh.commit, p.lastRefresh.org, p.lastRefresh.at = commit, org, began
	return nil
}

// idleCheckpointAfter is how long after the last commit the pipeline
// checkpoints DuckDB's write-ahead log. Until DuckDB's own checkpoint at
// --duckdb-checkpoint-threshold (1GB by default), the log keeps growing
// across bursts: every restart replays it (about 37 s for 1 GB at 20 M
// events) and every outcome query reads its data uncompressed. A pause of
// this long in the stream ends that.
const idleCheckpointAfter = 10 * time.Second

// checkpointWhenIdle checkpoints the store (Store.Checkpoint) once the
// stream has paused for the idle interval after a commit, until ctx ends.
// While a query of the outputs runs DuckDB refuses; the next tick tries
// again.
func (p *pipeline) checkpointWhenIdle(ctx context.Context) {
	idle := cmp.Or(p.cfg.idleCheckpoint, idleCheckpointAfter)
	t := time.NewTicker(idle / 4)
	defer t.Stop()
	var done time.Time // the last commit the log was checkpointed after
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := p.store.LastCommit()
		if last.IsZero() || !last.After(done) || time.Since(last) < idle {
			continue
		}
		_, _, err := p.idleCheckpoint(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, transform.ErrCheckpointBusy):
			p.log.Debug("checkpoint deferred: a query is running", "component", "transform")
			continue
		case err != nil:
			p.log.Warn("write-ahead log not checkpointed; DuckDB checkpoints it at --duckdb-checkpoint-threshold, and a restart replays it",
				"component", "transform", "err", err)
		}
		done = last
	}
}

// idleCheckpoint is what the pipeline does once the stream has paused:
// it checkpoints the store's write-ahead log (Store.Checkpoint) and then
// returns the Go heap's free pages to the system (released, in bytes).
// While batches flow, the batches in flight keep the heap near
// --go-memory-limit; once they are committed that memory is free but stays
// resident until Go's background scavenger gets to it. At 20 M events
// the resident set fell from 864-973 MiB when ingest caught up to 589-657
// MiB after it, and the pause took no longer than before (2.9-3.2 s, most
// of it the checkpoint; BENCHMARKS.md). It does not lower the peak: the
// weekly report computed later takes DuckDB's memory back up to its limit.
func (p *pipeline) idleCheckpoint(ctx context.Context) (walBytes, released int64, err error) {
	walBytes, err = p.store.Checkpoint(ctx)
	if err != nil {
		return walBytes, 0, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	released = int64(after.HeapReleased) - int64(before.HeapReleased)
	p.log.Debug("stream paused: free Go heap returned to the system", "released_bytes", released)
	return walBytes, released, nil
}

func (p *pipeline) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(p.reg, p.exporter))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.consumer.Ready() {
			http.Error(w, "not ready: consumer has not joined its group yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := p.reload(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "teams file reloaded")
	})
	p.reportRoutes(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Shoal: /metrics (Prometheus), /healthz, /readyz, /reports/ (weekly reports)")
	})
	return mux
}

// httpURL is the base URL of the HTTP endpoint.
func (p *pipeline) httpURL() string { return "http://" + p.ln.Addr().String() }

// run serves until ctx ends, then shuts down in order: stop fetching and
// flush the last batch → stop the SQL endpoint → close DuckDB → stop HTTP →
// stop the embedded broker.
func (p *pipeline) run(ctx context.Context) error {
	httpErr := make(chan error, 1)
	go func() {
		if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
		close(httpErr)
	}()
	p.log.Info("serving", "component", "http", "url", p.httpURL())
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumerErr := make(chan error, 1)
	go func() { consumerErr <- p.consumer.Run(cctx) }()
	refreshed := make(chan struct{})
	go func() { p.refreshOutcomes(cctx); close(refreshed) }()
	reported := make(chan struct{})
	go func() { p.scheduleReports(cctx, p.now); close(reported) }()
	servingRefreshed := make(chan struct{})
	go func() { p.refreshServing(cctx); close(servingRefreshed) }()
	checkpointed := make(chan struct{})
	go func() { p.checkpointWhenIdle(cctx); close(checkpointed) }()
	sqlErr := make(chan error, 1)
	if p.sqlSrv != nil {
		go func() { sqlErr <- p.sqlSrv.Serve() }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-cctx.Done():
				return
			case <-hup:
				_ = p.reload() // logged by the holder; the old file stays in force on error
			}
		}
	}()

	var err error
	select {
	case err = <-consumerErr:
	case err = <-httpErr:
		err = fmt.Errorf("http server: %w", err)
		cancel()
		<-consumerErr
	case err = <-sqlErr:
		err = fmt.Errorf("sql server: %w", err)
		cancel()
		<-consumerErr
	case <-ctx.Done():
		err = <-consumerErr
	}
	cancel()
	<-refreshed // no query may be in flight when DuckDB closes
	<-reported
	<-servingRefreshed
	<-checkpointed
	p.close()
	return err
}

func (p *pipeline) close() {
	if p.sqlSrv != nil { // stop accepting SQL before the databases close
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.sqlSrv.Shutdown(sctx); err != nil {
			p.log.Warn("SQL endpoint shutdown", "err", err)
		}
		cancel()
		p.sqlSrv = nil
	}
	if p.serving != nil {
		if err := p.serving.Close(); err != nil {
			p.log.Error("closing the SQL serving database", "err", err)
		}
		p.serving = nil
	}
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			p.log.Error("closing DuckDB", "err", err)
		}
		p.store = nil
	}
	if p.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.srv.Shutdown(sctx)
		cancel()
	} else if p.ln != nil {
		p.ln.Close()
	}
	if p.broker != nil {
		p.broker.Close()
		p.broker = nil
	}
}

// waitCaughtUp blocks until everything published to the topic when it was
// called has been committed, logging progress.
func (p *pipeline) waitCaughtUp(ctx context.Context, progress func(ingest.Stats)) error {
	end, err := ingest.EndOffsets(ctx, p.cfg.Brokers, p.cfg.Topic)
	if err != nil {
		return err
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for !p.consumer.CaughtUp(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if progress != nil {
				progress(p.consumer.Stats())
			}
		}
	}
	return nil
}
