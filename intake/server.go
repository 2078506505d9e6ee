package intake

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// Config is the intake's configuration.
type Config struct {
	// SourcesFile is the sources file (--sources): per source its secret
	// file, scopes → teams, bots, states, kinds, categories. Required.
	SourcesFile string
	// PeopleFile is the people file (--people): each person's identities
	// and team memberships. Default: none (every identity is unmapped).
	PeopleFile string
	// Topic is the event topic: the contract events, and the activities of
	// unmapped identities that ingest refuses as unmapped_identity.
	// Default: shoal.events
	Topic string
	// WriteTimeout bounds the broker's acknowledgement of one delivery's
	// events, below the sources' own timeouts (GitHub waits 10 s).
	// Default: 5s
	WriteTimeout time.Duration
	// RetryAfter is the Retry-After of a 503. Default: 30s
	RetryAfter time.Duration
	// Location is a team's time zone (the teams file's): the people
	// file's memberships are days of their team, matched in its zone, as
	// ingest counts the team's days. Default: nil, every team in UTC
	Location func(team string) *time.Location
}

// MessageWriter is what the server produces with: a kafka-go Writer
// (NewWriter), whose WriteMessages returns once the broker acknowledged.
type MessageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// NewWriter returns the intake's kafka-go writer: synchronous, acks from
// all in-sync replicas (a 2xx means durable), balancing by key (the
// team), with no default topic (each message names its topic).
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond, // a delivery's events are written together; don't wait for others
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
}

// Server is the intake's HTTP handler: POST /intake/<source> for every
// source the sources file configures. See the package comment.
type Server struct {
	cfg     Config
	log     *slog.Logger
	pseudo  *privacy.Pseudonymizer
	w       MessageWriter
	m       *metrics
	sources map[string]Source
	state   atomic.Pointer[state]
	seen    *seen
	reload  sync.Mutex
	now     func() time.Time
}

// state is what the two files say; a reload swaps it whole.
type state struct {
	sources *Sources
	people  *People
}

// NewServer loads the sources and people files (every problem is an
// error that says what to do) and returns the handler for srcs (Builtin()
// and whatever else the binary serves).
func NewServer(cfg Config, srcs []Source, pseudo *privacy.Pseudonymizer, w MessageWriter, reg prometheus.Registerer, logger *slog.Logger) (*Server, error) {
	if cfg.SourcesFile == "" {
		return nil, fmt.Errorf("%w: no file given; pass --sources with the webhook sources' secrets and scope → team mapping (docs/sources.md)", ErrSourcesFile)
	}
	if cfg.Topic == "" {
		cfg.Topic = "shoal.events"
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 30 * time.Second
	}
	s := &Server{cfg: cfg, log: logger.With("component", "intake"), pseudo: pseudo, w: w, sources: map[string]Source{}, seen: newSeen(8192), now: time.Now}
	var names []string
	for _, src := range srcs {
		s.sources[src.Name()] = src
		names = append(names, src.Name())
	}
	slices.Sort(names)
	st, err := s.load()
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.m = newMetrics(reg, names)
	return s, nil
}

func (s *Server) known() []string {
	var out []string
	for n := range s.sources {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (s *Server) load() (*state, error) {
	src, err := LoadSources(s.cfg.SourcesFile, s.known())
	if err != nil {
		return nil, err
	}
	st := &state{sources: src}
	if s.cfg.PeopleFile != "" {
		if st.people, err = LoadPeople(s.cfg.PeopleFile); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Reload reads both files again; on an error the files in force stay.
func (s *Server) Reload() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	st, err := s.load()
	if err != nil {
		s.log.Error("sources or people file not reloaded, the previous version stays in force", "err", err)
		return err
	}
	s.state.Store(st)
	s.log.Info("sources and people files reloaded", "sources", st.sources.Names())
	return nil
}

// Served lists the sources the files in force configure.
func (s *Server) Served() []string { return s.state.Load().sources.Names() }

// ServeHTTP answers POST /intake/<source>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := cutPrefix(r.URL.Path, "/intake/")
	src := s.sources[name]
	st := s.state.Load()
	entry := st.sources.configured(name)
	if !ok || src == nil || entry == nil {
		http.Error(w, "no such intake endpoint; the sources file configures /intake/ + one of the configured sources", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, st.sources.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.count(name, OutcomeMalformed)
			http.Error(w, fmt.Sprintf("the body is larger than %d bytes (max_body_bytes in the sources file)", st.sources.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	d := Delivery{Header: r.Header, Body: body}
	if err := src.Verify(d, entry.secret); err != nil {
		s.count(name, OutcomeBadSignature)
		http.Error(w, "bad or missing signature", http.StatusUnauthorized)
		return
	}
	if h, ok := src.(Handshaker); ok {
		if answer, ok := h.Handshake(d); ok {
			s.count(name, OutcomeAccepted)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
			return
		}
	}
	digest := sha256.Sum256(append([]byte(name+"\x00"), body...))
	if s.seen.has(digest) {
		s.count(name, OutcomeDuplicate)
		fmt.Fprintln(w, "duplicate delivery: already accepted")
		return
	}
	acts, err := src.Map(d, entry.cfg)
	if err != nil {
		s.count(name, OutcomeMalformed)
		// The error names fields and shapes, never a value (Source.Map's
		// contract); still, only ErrMalformed's text goes back.
		msg := "the payload does not have the shape the source documents"
		if errors.Is(err, ErrMalformed) {
			msg = err.Error()
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	msgs, produced, outcome, err := s.messages(name, entry, st.people, acts)
	if err != nil {
		s.count(name, OutcomeMalformed)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(msgs) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteTimeout)
		began := time.Now()
		err := s.w.WriteMessages(ctx, msgs...)
		cancel()
		if err != nil {
			s.count(name, OutcomeUnavailable)
			s.log.Warn("events not acknowledged by the broker; answered 503 so the source retries", "source", name, "events", len(msgs), "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds())))
			http.Error(w, "the event broker is unavailable; retry later", http.StatusServiceUnavailable)
			return
		}
		s.m.write.Observe(time.Since(began).Seconds())
	}
	s.m.produced.WithLabelValues(name).Add(float64(produced))
	if outcome == OutcomeAccepted {
		s.seen.add(digest)
	}
	s.count(name, outcome)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"outcome": outcome, "events": produced})
}

func cutPrefix(p, prefix string) (string, bool) {
	if len(p) <= len(prefix) || p[:len(prefix)] != prefix {
		return "", false
	}
	return p[len(prefix):], true
}

func (s *Server) count(source, outcome string) {
	s.m.deliveries.WithLabelValues(source, outcome).Inc()
}

// messages resolves, attributes, pseudonymizes and encodes a delivery's
// activities: the messages to produce, how many of them are contract
// events (the others are refused unmapped identities, for ingest to count
// as unmapped_identity), and the delivery's outcome.
func (s *Server) messages(name string, e *sourceEntry, people *People, acts []Activity) ([]kafka.Message, int, string, error) {
	outcome := OutcomeAccepted
	worse := func(o string) {
		// unmapped outranks refused outranks accepted.
		if outcome == OutcomeAccepted || o == OutcomeUnmapped {
			outcome = o
		}
	}
	var msgs []kafka.Message
	events := 0
	for _, a := range acts {
		if a.Bot || (a.Who.Value != "" && slices.Contains(e.cfg.Bots, normalize(a.Who.Value))) {
			s.m.dropped.WithLabelValues(name, dropBot).Inc()
			continue
		}
		source := a.Source
		if source == "" {
			source = "intake/" + name
		}
		carriesPerson := slices.Contains(typeFields[a.Type], "person")
		var person *Person
		pseudonym := ""
		if carriesPerson && a.Who.Value != "" {
			var ok bool
			if person, ok = people.Lookup(a.Who); ok {
				pseudonym = s.pseudo.Pseudonym(person.ID)
			} else {
				mode := UnmappedRefuse
				if people != nil {
					mode = people.Unmapped
				}
				if mode == UnmappedOwnPerson {
					s.m.unmapped.WithLabelValues(name, actionOwnPerson).Inc()
					pseudonym = s.pseudo.Pseudonym(OwnPersonID(a.Who))
				} else {
					s.m.unmapped.WithLabelValues(name, actionRefused).Inc()
					s.m.dropped.WithLabelValues(name, dropUnmapped).Inc()
					worse(OutcomeUnmapped)
					m, err := s.unmapped(name, source, e, a)
					if errors.Is(err, ErrMalformed) {
						return nil, 0, "", err
					}
					if err != nil {
						s.m.dropped.WithLabelValues(name, dropInvalid).Inc()
						s.log.Error("a mapped activity is not a contract event (a mapping bug in the source)", "source", name, "type", a.Type, "err", err)
						continue
					}
					msgs = append(msgs, m)
					continue
				}
			}
		}
		if a.Type == event.TimeDeleted && a.Who.Value != "" {
			// A deletion carries no person, but the one who deleted the
			// entry (when the people file lists them) attributes it to a
			// team like their time entries; unlisted, the scope does.
			// Nothing of them is encoded.
			person, _ = people.Lookup(a.Who)
		}
		team := s.team(name, e, a, person)
		if team == "" {
			s.m.dropped.WithLabelValues(name, dropNoTeam).Inc()
			worse(OutcomeRefused)
			s.log.Warn("activity not attributed to a team: its scope is not in the sources file's scopes and its person has no team that day; add the scope (repository, project, space, list or workspace) to sources."+name+".scopes",
				"source", name, "type", a.Type)
			continue
		}
		b, err := encode(a, source, team, pseudonym)
		if errors.Is(err, ErrMalformed) {
			return nil, 0, "", err // a value that must not reach the topic: refuse the whole delivery
		}
		if err != nil {
			s.m.dropped.WithLabelValues(name, dropInvalid).Inc()
			worse(OutcomeRefused)
			s.log.Error("a mapped activity is not a contract event (a mapping bug in the source)", "source", name, "type", a.Type, "err", err)
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: s.cfg.Topic, Key: []byte(team), Value: b})
		events++
	}
	return msgs, events, outcome, nil
}

// team attributes an activity: the team its person belonged to on its day
// in that team's zone (time entries: the day they started) when the
// people file says, else
// the sources file's team of its scope; for the CloudEvents endpoint,
// whose events name their team, that team unless the scopes rename it.
func (s *Server) team(name string, e *sourceEntry, a Activity, p *Person) string {
	if name == CloudEventsName {
		if t, ok := e.scopes[normalize(a.Scope)]; ok {
			return t
		}
		return a.Scope
	}
	if p != nil {
		day := a.Time
		if a.Type == event.TimeLogged && !a.Start.IsZero() {
			day = a.Start
		}
		if t := p.TeamOn(day, s.cfg.Location); t != "" {
			return t
		}
	}
	return e.scopes[normalize(a.Scope)]
}

// unmapped is the message of an activity refused because its person is
// not in the people file: the event it would have been, without the
// person and marked "shoalunmapped": true, on the event topic, where
// ingest refuses it as unmapped_identity, so that it is dead-lettered and
// counted by day in the store's data quality like every refusal. It
// carries nothing of the identity, not even its kind: only what the event
// carries anyway (its id and source, the scope's team, the task or
// request, times). A bad mapping is not an unmapped identity: the
// activity must still encode.
func (s *Server) unmapped(name, source string, e *sourceEntry, a Activity) (kafka.Message, error) {
	team := s.team(name, e, a, nil)
	b, err := encodeUnmapped(a, source, team)
	if err != nil {
		return kafka.Message{}, err
	}
	m := kafka.Message{Topic: s.cfg.Topic, Value: b}
	if team != "" {
		m.Key = []byte(team)
	}
	return m, nil
}
