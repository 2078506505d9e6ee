package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/intake"
	"github.com/shoal-analytics/shoal/privacy"
)

// IntakeConfig is the webhook intake's settings (docs/sources.md).
type IntakeConfig struct {
	// IntakeAddr serves /intake/<source>. Default: none (no intake)
	IntakeAddr string `yaml:"intake_addr"`
	// Sources is the sources file: per source its secret file, scopes →
	// teams, bots, states, kinds, categories. Required with IntakeAddr.
	Sources string `yaml:"sources"`
	// People is the people file: each person's identities and team
	// memberships. Default: none (every identity is unmapped)
	People string `yaml:"people"`
}

// RegisterFlags registers the intake's flags.
func (c *IntakeConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.IntakeAddr, "intake-addr", c.IntakeAddr, "address serving the signed webhook intake (/intake/github, /intake/gitlab, /intake/jira, /intake/cloudevents, ...); TLS from --web-config-file; empty = no intake")
	fs.StringVar(&c.Sources, "sources", c.Sources, "sources file of the intake (YAML: per source secret_file, scopes → teams, bots, states, kinds, categories; docs/sources.md); reload with SIGHUP or POST /-/reload")
	fs.StringVar(&c.People, "people", c.People, "people file of the intake (YAML: each person's canonical id, tool identities and dated team memberships; docs/sources.md)")
}

// Validate checks the intake's settings; required makes --intake-addr
// required (shoal intake).
func (c *IntakeConfig) Validate(required bool) error {
	var errs []error
	if c.IntakeAddr == "" {
		if required {
			errs = append(errs, errors.New("intake-addr is required: the address the sources' webhooks reach, e.g. --intake-addr :8443"))
		}
		if c.Sources != "" || c.People != "" {
			errs = append(errs, errors.New("sources and people configure the intake: pass --intake-addr too (e.g. --intake-addr :8443)"))
		}
		return errors.Join(errs...)
	}
	if _, _, err := net.SplitHostPort(c.IntakeAddr); err != nil {
		errs = append(errs, fmt.Errorf("intake-addr %q: %w (use host:port, e.g. :8443)", c.IntakeAddr, err))
	}
	if c.Sources == "" {
		errs = append(errs, errors.New("sources is required with intake-addr: a sources file with each webhook source's secret_file and scopes (docs/sources.md)"))
	}
	return errors.Join(errs...)
}

// Intake is the webhook intake's HTTP server and Kafka writer.
type Intake struct {
	srv  *intake.Server
	w    *kafka.Writer
	http *http.Server
	ln   net.Listener
	tls  bool
	log  *slog.Logger
}

// newIntake loads the intake's files and listens on cfg.IntakeAddr, with
// TLS when the web configuration has it. Sources authenticate by their
// signatures, so basic auth does not apply to /intake/. loc is a team's
// time zone under the teams file in force, for the people file's
// memberships.
func newIntake(cfg IntakeConfig, brokers []string, topic string, loc func(team string) *time.Location, web *webAuth, pseudo *privacy.Pseudonymizer, reg prometheus.Registerer, logger *slog.Logger) (*Intake, error) {
	in := &Intake{w: intake.NewWriter(brokers), log: logger}
	var err error
	in.srv, err = intake.NewServer(intake.Config{SourcesFile: cfg.Sources, PeopleFile: cfg.People, Topic: topic, Location: loc},
		intake.Builtin(), pseudo, in.w, reg, logger)
	if err != nil {
		in.w.Close()
		return nil, fmt.Errorf("intake:\n%w", err)
	}
	tlsCfg, err := web.tlsConfig()
	if err != nil {
		in.w.Close()
		return nil, err
	}
	in.ln, err = net.Listen("tcp", cfg.IntakeAddr)
	if err != nil {
		in.w.Close()
		return nil, fmt.Errorf("listen on --intake-addr %s: %w (pick a free port)", cfg.IntakeAddr, err)
	}
	if tlsCfg != nil {
		in.ln, in.tls = tls.NewListener(in.ln, tlsCfg), true
	}
	mux := http.NewServeMux()
	mux.Handle("/intake/", in.srv)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	// A source's retries come on its own schedule; a slow client must not
	// hold a connection (the body is capped by the sources file).
	in.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	return in, nil
}

// URL is the intake's base URL.
func (in *Intake) URL() string {
	if in.tls {
		return "https://" + in.ln.Addr().String()
	}
	return "http://" + in.ln.Addr().String()
}

// serve serves until shutdown; it returns nil after shutdown.
func (in *Intake) serve() error {
	in.log.Info("serving the webhook intake", "component", "intake", "url", in.URL(), "sources", in.srv.Served())
	if err := in.http.Serve(in.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("intake server: %w", err)
	}
	return nil
}

// shutdown stops accepting deliveries, lets those in flight finish their
// writes (each bounded by the write timeout), then closes the writer.
func (in *Intake) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.http.Shutdown(ctx); err != nil {
		in.log.Warn("intake shutdown", "err", err)
	}
	_ = in.ln.Close() // when Serve never ran, Shutdown does not know the listener
	if err := in.w.Close(); err != nil {
		in.log.Warn("closing the intake's Kafka writer", "err", err)
	}
}

// IntakeOnlyConfig is what `shoal intake` reads: the intake, the brokers
// and topics, the key, the web configuration and logging.
type IntakeOnlyConfig struct {
	IntakeConfig `yaml:",inline"`
	// Brokers are the Kafka bootstrap brokers. Required
	Brokers ingest.StringList `yaml:"brokers"`
	// Topic is the event topic, as in run: the intake produces there only
	// (an unmapped identity too, for ingest to refuse and count).
	// Default: shoal.events
	Topic string `yaml:"topic"`
	// Teams is the teams file shoal run uses: the people file's
	// memberships are days in each team's time zone. Default: none (UTC)
	Teams string `yaml:"teams"`
	// HTTPAddr serves /metrics and /healthz. Default: 127.0.0.1:9465
	HTTPAddr         string `yaml:"http_addr"`
	WebConfigFile    string `yaml:"web_config_file"`
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
	LogLevel         string `yaml:"log_level"`
	LogFormat        string `yaml:"log_format"`
	// ConfigFile is the YAML file given by --config.
	ConfigFile string `yaml:"-"`
}

// DefaultIntakeOnlyConfig is `shoal intake`'s configuration before flags.
func DefaultIntakeOnlyConfig() IntakeOnlyConfig {
	return IntakeOnlyConfig{Topic: "shoal.events", HTTPAddr: "127.0.0.1:9465", LogLevel: "info", LogFormat: "text"}
}

// RegisterFlags registers `shoal intake`'s flags.
func (c *IntakeOnlyConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ConfigFile, "config", "", "optional YAML file with any of these settings (keys: flag names with _ for -); unknown keys are an error")
	c.IntakeConfig.RegisterFlags(fs)
	fs.Var(&c.Brokers, "brokers", "comma-separated Kafka bootstrap brokers the intake produces to (required)")
	fs.StringVar(&c.Topic, "topic", c.Topic, "Kafka topic of the events")
	fs.StringVar(&c.Teams, "teams", c.Teams, "teams file of shoal run (YAML; docs/agreements.md): the people file's team memberships are days in each team's time zone; empty = every team in UTC; reload with SIGHUP or POST /-/reload")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "address serving /metrics and /healthz")
	fs.StringVar(&c.WebConfigFile, "web-config-file", c.WebConfigFile, "Prometheus exporter-toolkit web configuration: TLS for both listeners, basic_auth_users for /metrics (the intake's routes authenticate by the sources' signatures)")
	fs.StringVar(&c.PseudonymKeyFile, "pseudonym-key-file", c.PseudonymKeyFile, "file with the secret key (>= 32 bytes) that pseudonymizes person ids: the same key as shoal run's, so a person gets one pseudonym")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
}

// Validate reports every problem at once.
func (c *IntakeOnlyConfig) Validate() error {
	errs := []error{c.IntakeConfig.Validate(true)}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers is required: the Kafka bootstrap brokers shoal run consumes from, e.g. --brokers kafka-1:9092"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic must be set: the event topic shoal run consumes (default shoal.events)"))
	}
	if c.PseudonymKeyFile == "" {
		errs = append(errs, errors.New("pseudonym-key-file is required: the key shoal run uses (--pseudonym-key-file), so the intake's pseudonyms are the pipeline's"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http-addr %q: %w (use host:port, e.g. 127.0.0.1:9465)", c.HTTPAddr, err))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format %q: use text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// RunIntake runs the intake alone (shoal intake) until ctx ends: the
// webhook routes on --intake-addr, /metrics and /healthz on --http-addr;
// hup reloads the sources and people files.
func RunIntake(ctx context.Context, cfg IntakeOnlyConfig, key []byte, hup <-chan struct{}, logger *slog.Logger) error {
	pseudo, err := privacy.NewPseudonymizer(key)
	if err != nil {
		return err
	}
	web, err := newWebAuth(cfg.WebConfigFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	teams, err := agreements.NewHolder(cfg.Teams, logger)
	if err != nil {
		return fmt.Errorf("teams: %w", err)
	}
	loc := func(team string) *time.Location { return teams.Get().Location(team) }
	in, err := newIntake(cfg.IntakeConfig, cfg.Brokers, cfg.Topic, loc, web, pseudo, reg, logger)
	if err != nil {
		return err
	}
	reload := func() error {
		_, terr := teams.Reload()
		return errors.Join(terr, in.srv.Reload())
	}
	tlsCfg, err := web.tlsConfig()
	if err != nil {
		in.shutdown()
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		in.shutdown()
		return fmt.Errorf("listen on --http-addr %s: %w", cfg.HTTPAddr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", web.wrap(asConfigd, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("POST /-/reload", web.wrap(userOnly, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := reload(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "sources, people and teams files reloaded")
	})))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 2)
	go func() { errc <- in.serve() }()
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	logger.Info("serving", "component", "http", "addr", ln.Addr().String())
	for err == nil {
		select {
		case <-ctx.Done():
			in.shutdown()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = hs.Shutdown(sctx)
			cancel()
			return nil
		case <-hup:
			_ = reload()
		case err = <-errc:
		}
	}
	in.shutdown()
	_ = hs.Close()
	return err
}
