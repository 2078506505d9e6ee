package intake

import "github.com/prometheus/client_golang/prometheus"

// Delivery outcomes, the outcome label of shoal_intake_deliveries_total.
const (
	// OutcomeAccepted: verified and mapped; every activity was produced
	// (or was a bot's, or the delivery maps to nothing Shoal needs).
	OutcomeAccepted = "accepted"
	// OutcomeDuplicate: the same delivery was accepted recently; answered
	// 2xx without producing again.
	OutcomeDuplicate = "duplicate"
	// OutcomeBadSignature: the signature or token was missing or wrong (401).
	OutcomeBadSignature = "bad_signature"
	// OutcomeUnmapped: an activity's person is not in the people file and
	// unmapped identities are refused; it was produced without the person,
	// for ingest to refuse as unmapped_identity (2xx).
	OutcomeUnmapped = "unmapped"
	// OutcomeRefused: an activity could not be attributed to a team (its
	// scope is not in the sources file and its person has no team that
	// day); nothing was produced for it (2xx).
	OutcomeRefused = "refused"
	// OutcomeMalformed: the body is too large or not what the source
	// documents (400 or 413).
	OutcomeMalformed = "malformed"
	// OutcomeUnavailable: the broker did not acknowledge in time (503 with
	// Retry-After; the source retries).
	OutcomeUnavailable = "unavailable"
)

// Actions on an unmapped identity, the action label of
// shoal_intake_unmapped_identities_total.
const (
	actionRefused   = "refused"
	actionOwnPerson = UnmappedOwnPerson
)

// Reasons an activity is not produced, the reason label of
// shoal_intake_activities_dropped_total.
const (
	dropBot      = "bot"
	dropUnmapped = "unmapped"
	dropNoTeam   = "no_team"
	// dropInvalid: the source mapped it to something that is not a
	// contract event (a mapping bug; logged).
	dropInvalid = "invalid"
)

// Outcomes lists every delivery outcome, for pre-registering series and
// documentation.
var Outcomes = []string{OutcomeAccepted, OutcomeDuplicate, OutcomeBadSignature, OutcomeUnmapped, OutcomeRefused, OutcomeMalformed, OutcomeUnavailable}

// metrics is the intake's instrumentation. Labels are source names,
// outcomes and reasons only: never a person, scope or team.
type metrics struct {
	deliveries *prometheus.CounterVec
	produced   *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	unmapped   *prometheus.CounterVec
	write      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, sources []string) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_intake_deliveries_total",
			Help: "Webhook deliveries by source and outcome (accepted, duplicate, bad_signature, unmapped, refused, malformed, unavailable)."}, []string{"source", "outcome"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_intake_events_produced_total",
			Help: "Contract events the intake produced to the event topic, acknowledged by the broker, by source."}, []string{"source"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_intake_activities_dropped_total",
			Help: "Mapped activities not produced, by source and reason (bot: automation; unmapped: person not in the people file; no_team: no team for its scope or person; invalid: not a contract event, a mapping bug that is logged)."}, []string{"source", "reason"}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_intake_unmapped_identities_total",
			Help: "Activities whose person is not in the people file, by source and what was done (refused, own_person)."}, []string{"source", "action"}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "shoal_intake_write_duration_seconds",
			Help:    "Time the broker took to acknowledge a delivery's events.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 13)}),
	}
	reg.MustRegister(m.deliveries, m.produced, m.dropped, m.unmapped, m.write)
	for _, s := range sources {
		for _, o := range Outcomes {
			m.deliveries.WithLabelValues(s, o)
		}
		m.produced.WithLabelValues(s)
		for _, r := range []string{dropBot, dropUnmapped, dropNoTeam, dropInvalid} {
			m.dropped.WithLabelValues(s, r)
		}
		for _, a := range []string{actionRefused, actionOwnPerson} {
			m.unmapped.WithLabelValues(s, a)
		}
	}
	return m
}
