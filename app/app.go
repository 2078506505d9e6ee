package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
	sqlserver "github.com/shoal-analytics/shoal/sql"
	"github.com/shoal-analytics/shoal/transform"
)

// App is one running Shoal: broker (embedded or not) → ingest →
// transform → the outputs (exporter, SQL endpoint, reports), plus the HTTP
// endpoint.
type App struct {
	cfg      Config
	log      *slog.Logger
	broker   *broker.Embedded // nil with external brokers
	store    *transform.Store
	consumer *ingest.Consumer
	reg      *prometheus.Registry
	ln       net.Listener
	srv      *http.Server
	web      *webAuth
	tls      bool // the HTTP endpoint serves TLS (--web-config-file)
	teams    *agreements.Holder
	exporter *metrics.Exporter
	reports  *report.Service
	intake   *Intake // nil without --intake-addr
	// The governed SQL endpoint (nil when --sql-addr is empty): the server,
	// the serving database it queries and what publishes to it.
	sqlSrv    *sqlserver.Server
	serving   *transform.ServingProcess
	publisher *sqlserver.Publisher
	// now is the clock that decides when a week is due for release.
	now func() time.Time
	// releaseMu serialises releases (the loop and tests' direct calls).
	releaseMu sync.Mutex
	// hup receives SIGHUP from New until close (reloadOnHUP).
	hup chan os.Signal
	// pseudo pseudonymizes the ids of an erasure request.
	pseudo *privacy.Pseudonymizer
	life   *metrics.Lifecycle
	// retainNow wakes the retention loop (after a release).
	retainNow chan struct{}
}

// New builds every component; nothing consumes until Run. It sets the
// process umask to 077 and makes the data directory private
// (secureDataDir) before anything is written there.
func New(ctx context.Context, cfg Config, key []byte, logger *slog.Logger) (_ *App, err error) {
	p := &App{cfg: cfg, log: logger, reg: prometheus.NewRegistry(), now: cfg.Now, hup: make(chan os.Signal, 1), retainNow: make(chan struct{}, 1)}
	signal.Notify(p.hup, syscall.SIGHUP)
	if p.now == nil {
		p.now = time.Now
	}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if err := SetGoMemoryLimit(cfg.GoMemoryLimit); err != nil {
		return nil, err
	}
	p.teams, err = agreements.NewHolder(cfg.Teams, logger)
	if err != nil {
		return nil, fmt.Errorf("teams file:\n%w", err)
	}
	// Before anything writes there: the data dir and every file in it are
	// private to Shoal's user, those already there and those to come.
	if err := secureDataDir(cfg.DataDir, logger); err != nil {
		return nil, err
	}
	pseudo, err := privacy.NewPseudonymizer(key)
	if err != nil {
		return nil, err
	}
	p.pseudo = pseudo
	// The store first: its lock keeps a second Shoal on the same data
	// directory from also starting the embedded broker on the shared log.
	p.store, err = transform.Open(ctx, cfg.StoreConfig(), logger)
	if err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		p.broker, err = broker.StartEmbedded(cfg.EmbeddedAddr, cfg.DataDir, cfg.Partitions, []string{cfg.Topic, cfg.DLQTopic}, logger)
		if err != nil {
			return nil, err
		}
		p.cfg.Brokers = ingest.StringList{p.broker.Addr()}
	}
	if err := broker.EnsureTopics(ctx, p.cfg.Brokers, cfg.Partitions, cfg.Topic, cfg.DLQTopic); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) > 0 {
		p.checkRetention(ctx)
	}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.life = newLifecycleMetrics(p.reg, p.store)
	registerCorrections(p.reg, p.store)
	dec := ingest.NewDecoder(pseudo, p.location, cfg.MaxEventBytes)
	if cfg.Teams != "" && cfg.UnlistedTeams != ingest.UnlistedAccept {
		dec.SetTeams(p.teams.Listed) // a reload's file decides the events read after it
	}
	earliest, ahead, err := cfg.TimeWindow()
	if err != nil {
		return nil, err
	}
	dec.SetTimeWindow(earliest, ahead, p.now)
	p.consumer, err = ingest.NewConsumer(p.cfg.Config, dec, p.store, memory.NewGoAllocator(), ingest.NewMetrics(p.reg), logger)
	if err != nil {
		return nil, err
	}
	p.exporter = metrics.NewExporter(releaseSource{p}, p.now, p.reg, logger)
	metrics.NewAgreementsCollector(p.teams.Get, p.exporter.VisibleTeams, p.reg)
	if cfg.SQL.Enabled() {
		memory, err := cfg.SQL.EngineMemory()
		if err != nil {
			return nil, err
		}
		p.serving, err = transform.StartServingProcess(ctx, transform.EngineConfig{
			MemoryLimit: memory,
			// A restarted engine gets the tables again, from the ledger.
			Republish: func(ctx context.Context) error { return p.publisher.Refresh(ctx, true) },
		}, logger)
		if err != nil {
			return nil, err
		}
		if err := p.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "shoal_sql_engine_restarts_total",
			Help: "Restarts of the SQL serving engine process (it ended, or a cancelled statement kept running).",
		}, func() float64 { return float64(p.serving.Restarts()) })); err != nil {
			return nil, err
		}
		p.publisher = sqlserver.NewPublisher(p.store, p.serving, p.teams.Get, logger)
		if err := p.publisher.Refresh(ctx, true); err != nil {
			return nil, fmt.Errorf("publish the SQL tables: %w", err)
		}
		p.sqlSrv, err = sqlserver.New(cfg.SQL, p.serving, p.reg, logger)
		if err != nil {
			return nil, err
		}
	}
	p.reports = report.NewService(filepath.Join(cfg.DataDir, "reports"), p.ReportData, p.latestReportWeek, p.now, logger)
	if p.web, err = newWebAuth(cfg.WebConfigFile); err != nil {
		return nil, err
	}
	tlsCfg, err := p.web.tlsConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Intake.IntakeAddr != "" {
		if p.intake, err = newIntake(cfg.Intake, p.cfg.Brokers, cfg.Topic, p.teamLocation, p.web, pseudo, p.reg, logger); err != nil {
			return nil, err
		}
	}
	p.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --http-addr %s: %w (pick a free port, e.g. --http-addr 127.0.0.1:0)", cfg.HTTPAddr, err)
	}
	if tlsCfg != nil {
		p.ln, p.tls = tls.NewListener(p.ln, tlsCfg), true
	}
	p.srv = &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	return p, nil
}

// teamLocation is the team's time zone under the agreements in force,
// without location's reporting of unlisted teams: the intake asks it for
// the teams of the people file's memberships.
func (p *App) teamLocation(team string) *time.Location { return p.teams.Get().Location(team) }

// location is the team's time zone under the agreements in force; a team
// the file does not list (with --unlisted-teams accept) is reported once
// and gets the org default. A
// reload changes the zone for events read after it; days already stored
// keep the zone they were read with.
func (p *App) location(team string) *time.Location {
	org := p.teams.Get()
	a := org.Team(team)
	if !a.Listed && p.cfg.Teams != "" {
		p.teams.Unlisted(team)
	}
	return a.Location
}

// reload re-reads the teams file; a bad edit leaves the old one in force.
// Released weeks keep the hierarchy they were decided under: the new file
// decides the weeks released from now on (and the SQL endpoint's
// team_agreements table). Reloads coalesce: one runs at a time (the
// holder's lock), a file whose content did not change changes nothing,
// and only a changed file republishes the SQL tables.
func (p *App) reload() (changed bool, err error) {
	if p.intake != nil {
		if err := p.intake.srv.Reload(); err != nil {
			return false, err
		}
	}
	changed, err = p.teams.Reload()
	if err != nil || !changed {
		return false, err
	}
	p.RefreshSQLNow(context.Background(), false)
	return true, nil
}

// refreshInterval is how often the exported snapshot is re-read from the
// release ledger besides right after a release (a safety net: it changes
// only with a release).
const refreshInterval = time.Minute

// refreshOutcomes re-reads the exporter's snapshot off the scrape path
// until ctx ends.
func (p *App) refreshOutcomes(ctx context.Context) {
	refreshLoop(ctx, refreshInterval, func(ctx context.Context) { p.refreshNow(ctx) })
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

// refreshNow re-reads the exporter's snapshot and logs a failure: the
// previous snapshot stays served.
func (p *App) refreshNow(ctx context.Context) {
	if err := p.RefreshMetrics(ctx); err != nil && ctx.Err() == nil {
		p.log.Warn("outcome metrics not refreshed; the previous snapshot stays served", "component", "metrics", "err", err)
	}
}

// RefreshMetrics re-reads the exporter's snapshot from the release ledger.
func (p *App) RefreshMetrics(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return p.exporter.Refresh(rctx)
}

func (p *App) routes() http.Handler {
	mux := http.NewServeMux()
	user := func(h http.Handler) http.Handler { return p.web.wrap(userOnly, h) }
	mux.Handle("GET /metrics", p.web.wrap(asConfigd, metrics.Handler(p.reg, p.exporter)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := p.consumer.Readiness(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("POST /-/reload", user(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		changed, err := p.reload()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !changed {
			fmt.Fprintln(w, "teams file unchanged")
			return
		}
		fmt.Fprintln(w, "teams file reloaded")
	})))
	mux.Handle("POST /-/erase", user(http.HandlerFunc(p.eraseHandler)))
	p.reports.Routes(mux, user)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Shoal: /metrics (Prometheus), /healthz, /readyz, /reports/ (weekly reports)")
	})
	return mux
}

// IntakeURL is the base URL of the webhook intake, "" when it is off.
func (p *App) IntakeURL() string {
	if p.intake == nil {
		return ""
	}
	return p.intake.URL()
}

// URL is the base URL of the HTTP endpoint.
func (p *App) URL() string {
	if p.tls {
		return "https://" + p.ln.Addr().String()
	}
	return "http://" + p.ln.Addr().String()
}

// Run serves until ctx ends or a component fails, then shuts down in
// order: stop fetching and flush the last batch, stop the background loops
// (no query may be in flight when DuckDB closes) → stop the SQL endpoint →
// close DuckDB → stop HTTP → stop the embedded broker. The components run
// as one oklog/run group: the first to return interrupts the others. On
// ctx's end the consumer returns first, so Run returns its error (a batch
// that could not be flushed).
func (p *App) Run(ctx context.Context) error {
	httpErr := make(chan error, 1)
	go func() {
		if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			httpErr <- fmt.Errorf("http server: %w", err)
		}
	}()
	p.log.Info("serving", "component", "http", "url", p.URL())
	if p.intake != nil {
		go func() {
			if err := p.intake.serve(); err != nil {
				httpErr <- err
			}
		}()
	}
	sqlErr := make(chan error, 1)
	if p.sqlSrv != nil {
		go func() {
			if err := p.sqlSrv.Serve(); err != nil {
				sqlErr <- fmt.Errorf("sql server: %w", err)
			}
		}()
	}

	var g run.Group
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.Add(func() error { return p.consumer.Run(cctx) }, func(error) { cancel() })
	for _, loop := range []func(context.Context){p.releaseLoop, p.retentionLoop, p.refreshOutcomes, p.refreshServing, p.checkpointWhenIdle, p.reloadOnHUP} {
		// Only the consumer watches ctx: the loops stop when the group is
		// interrupted, so the consumer's error is the one Run returns.
		lctx, lcancel := context.WithCancel(context.Background())
		g.Add(func() error { loop(lctx); return nil }, func(error) { lcancel() })
	}
	// The servers are stopped by close, in order, after the group: this
	// actor only ends the group when one of them fails.
	stop := make(chan struct{})
	g.Add(func() error {
		select {
		case err := <-httpErr:
			return err
		case err := <-sqlErr:
			return err
		case <-stop:
			return nil
		}
	}, func(error) { close(stop) })
	err := g.Run()
	p.close()
	return err
}

// reloadOnHUP reloads the teams file on every SIGHUP until ctx ends; a
// bad file is logged by the holder and the old one stays in force. The
// signal is caught from New on (p.hup): a SIGHUP that arrived before this
// loop's goroutine started would otherwise end the process (its default
// action).
func (p *App) reloadOnHUP(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.hup:
			_, _ = p.reload()
		}
	}
}

func (p *App) close() {
	signal.Stop(p.hup)
	if p.intake != nil { // no delivery is acknowledged once the broker may be going
		p.intake.shutdown()
		p.intake = nil
	}
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

// WaitCaughtUp blocks until everything published to the topic when it was
// called has been committed, logging progress.
func (p *App) WaitCaughtUp(ctx context.Context, progress func(ingest.Stats)) error {
	end, err := broker.EndOffsets(ctx, p.cfg.Brokers, p.cfg.Topic)
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

// Stats are the consumer's running totals.
func (p *App) Stats() ingest.Stats { return p.consumer.Stats() }

// CaughtUp reports whether every partition has been committed up to end
// (broker.EndOffsets).
func (p *App) CaughtUp(end map[int32]int64) bool { return p.consumer.CaughtUp(end) }

// Store is the DuckDB store, for read-only questions (event counts).
func (p *App) Store() *transform.Store { return p.store }

// Brokers are the Kafka brokers the app consumes from: the embedded
// broker's address when none were configured.
func (p *App) Brokers() []string { return p.cfg.Brokers }

// SQLAddr is the address of the SQL endpoint, "" when it is off.
func (p *App) SQLAddr() string {
	if p.sqlSrv == nil {
		return ""
	}
	return p.sqlSrv.Addr()
}

// checkpointWhenIdle runs the store's idle checkpoint policy until ctx
// ends.
func (p *App) checkpointWhenIdle(ctx context.Context) {
	p.store.CheckpointWhenIdle(ctx, cmp.Or(p.cfg.IdleCheckpoint, transform.IdleCheckpointAfter), p.trimBroker)
}

// IdleCheckpoint is what the app does once the stream has paused
// (transform.Store.IdleCheckpoint).
func (p *App) IdleCheckpoint(ctx context.Context) (walBytes, released int64, err error) {
	return p.store.IdleCheckpoint(ctx)
}
