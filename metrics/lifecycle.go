package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Lifecycle is what /metrics shows of the data lifecycle: rows deleted by
// retention, dead letters deleted, erasures, the oldest stored event and
// the retention horizon (docs/privacy.md, "Retention and erasure").
type Lifecycle struct {
	// Deleted counts the rows retention deleted, by table.
	Deleted *prometheus.CounterVec
	// DeadLetters counts the dead letters deleted from the embedded broker.
	DeadLetters prometheus.Counter
	// Erasures counts the erasure requests carried out, ErasedRows the rows
	// they deleted.
	Erasures, ErasedRows prometheus.Counter
	// Oldest is the unix time of the oldest stored event's day (0: none),
	// set by whoever reads it from the store.
	Oldest atomic.Int64
}

// RetentionTables are the tables retention deletes from.
var RetentionTables = []string{"events", "event_keys", "team_day_people", "team_day_tasks", "time_entries", "tasks", "requests"}

// NewLifecycle registers the lifecycle metrics with reg; horizon returns
// the unix time of the first retained day (false before any retention).
func NewLifecycle(reg prometheus.Registerer, horizon func() (int64, bool)) *Lifecycle {
	m := &Lifecycle{
		Deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoal_retention_rows_deleted_total",
			Help: "Rows deleted by retention (--retain-events after their week's release), by table: events, event_keys, team_day_people, team_day_tasks, time_entries, tasks, requests."}, []string{"table"}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_retention_dead_letters_deleted_total",
			Help: "Dead letters deleted from the embedded broker's log after --retain-dead-letters."}),
		Erasures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_erasures_total",
			Help: "Erasure requests carried out (shoal erase; each may name several people)."}),
		ErasedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_erasure_rows_deleted_total",
			Help: "Rows deleted by erasures: events and per-person rows."}),
	}
	for _, t := range RetentionTables {
		m.Deleted.WithLabelValues(t)
	}
	reg.MustRegister(m.Deleted, m.DeadLetters, m.Erasures, m.ErasedRows,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shoal_store_oldest_event_timestamp_seconds",
			Help: "Start of the day (UTC) of the oldest stored event, as of the last retention pass; 0 when none is stored."},
			func() float64 { return float64(m.Oldest.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shoal_retention_horizon_timestamp_seconds",
			Help: "Start of the first day whose events are kept (UTC): everything before it that held or followed a person is deleted; 0 before the first deletion."},
			func() float64 {
				if t, ok := horizon(); ok {
					return float64(t)
				}
				return 0
			}),
	)
	return m
}
