package ingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is the pipeline-health instrumentation of the consumer. Labels
// are reasons and partitions only: never a person, task or pseudonym.
type Metrics struct {
	consumed      prometheus.Counter
	accepted      prometheus.Counter
	duplicates    prometheus.Counter
	afterRelease  prometheus.Counter
	expired       prometheus.Counter
	rejected      *prometheus.CounterVec
	batches       prometheus.Counter
	batchDuration prometheus.Histogram
	batchEvents   prometheus.Histogram
	failures      *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	commitFailing prometheus.Gauge
	// partitionsUnread counts the topic's partitions not being read.
	partitionsUnread prometheus.Gauge
	lastCommit       prometheus.Gauge
	generations      prometheus.Counter
}

// NewMetrics registers the ingest metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_messages_consumed_total", Help: "Kafka messages read from the event topic."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_events_accepted_total", Help: "Events that passed validation and the privacy firewall and were committed."}),
		afterRelease: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_events_after_release_total",
			Help: "Events stored that are dated in an ISO week already released: they change no output (a released week is frozen). Many mean the settle delay (--settle-delay) is too short for the sources' late entries."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_events_expired_total",
			Help: "Events not stored because they are dated before the retention horizon (--retain-events after their week's release): their week was released long ago and its rows are deleted."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_events_duplicate_total", Help: "Accepted events ignored because their (source, id) was already stored."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_ingest_events_rejected_total", Help: "Events refused to the dead-letter topic, by reason."}, []string{"reason"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_batches_committed_total", Help: "Batches committed to DuckDB together with their offsets."}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shoal_ingest_batch_duration_seconds", Help: "Time to decode, dead-letter and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shoal_ingest_batch_messages", Help: "Messages per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_ingest_failures_total", Help: "Failed attempts that were retried, by stage (dlq_write, commit, fetch, group)."}, []string{"stage"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoal_ingest_consumer_lag_messages", Help: "Messages in the partition not yet committed by Shoal, as of the last batch."}, []string{"partition"}),
		commitFailing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_ingest_commit_failures_consecutive", Help: "Failed attempts in a row to commit the current batch (0 once a commit succeeds); /readyz is not ready while it is above 0."}),
		partitionsUnread: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_ingest_partitions_unread", Help: "Partitions of the event topic not being read (until reading starts, and after the topic grew, until the new ones are read)."}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shoal_ingest_last_commit_timestamp_seconds", Help: "Unix time of the last committed batch."}),
		generations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_ingest_group_generations_total", Help: "Times reading every partition of the topic started (once at start, again when the topic grows or reading failed)."}),
	}
	reg.MustRegister(m.consumed, m.accepted, m.duplicates, m.afterRelease, m.expired, m.rejected, m.batches, m.batchDuration,
		m.batchEvents, m.failures, m.lag, m.commitFailing, m.partitionsUnread, m.lastCommit, m.generations)
	for _, r := range Reasons {
		m.rejected.WithLabelValues(string(r))
	}
	for _, s := range []string{"dlq_write", "commit", "fetch", "group"} {
		m.failures.WithLabelValues(s)
	}
	return m
}

func (m *Metrics) setLag(partition int32, lag int64) {
	if lag < 0 {
		lag = 0
	}
	m.lag.WithLabelValues(strconv.Itoa(int(partition))).Set(float64(lag))
}
