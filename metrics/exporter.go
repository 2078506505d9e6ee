package metrics

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// Source provides precomputed outcome cells. It must not scan raw events.
type Source interface {
	// now bounds values that depend on the present (working time elapsed
	// on requests still open in a week that has not ended).
	Outcomes(ctx context.Context, fromWeek, toWeek int32, now time.Time) ([]outcome.Cell, error)
}

// Exporter serves the catalog's metrics for the current and previous ISO
// week per team, unit and org, after the suppression policy, from a
// snapshot refreshed off the scrape path.
type Exporter struct {
	src    Source
	policy func() (privacy.Policy, *time.Location)
	log    *slog.Logger
	now    func() time.Time

	descs      map[string]*prometheus.Desc
	suppressed *prometheus.Desc
	refreshed  *prometheus.Desc
	errors     prometheus.Counter

	// own holds only the exporter's collector: it is gathered and encoded
	// once per Refresh, never per scrape (2,000 teams are ~70k series).
	own *prometheus.Registry

	mu       sync.RWMutex
	snapshot []prometheus.Metric
	visible  map[string]bool // teams with a visible cell in the snapshot
	at       time.Time
	families []*dto.MetricFamily // own, gathered at the last Refresh
	text, gz []byte              // families in the text exposition format, and gzipped
}

var (
	_ prometheus.Collector = (*Exporter)(nil)
	_ prometheus.Gatherer  = (*Exporter)(nil)
)

// NewExporter returns an exporter reading src. policy returns the
// suppression policy and the org's time zone in force (both may change on
// reload); now is the clock that decides the current week (nil: time.Now).
// Its failure counter is registered on reg; the outcome families are not:
// serve them with Exposition (or gather them with Gather) next to reg's,
// and call Refresh after data changes.
func NewExporter(src Source, policy func() (privacy.Policy, *time.Location), now func() time.Time, reg prometheus.Registerer, logger *slog.Logger) *Exporter {
	if now == nil {
		now = time.Now
	}
	e := &Exporter{
		src:    src,
		policy: policy,
		log:    logger.With("component", "metrics"),
		now:    now,
		descs:  make(map[string]*prometheus.Desc, len(outcome.Catalog)),
		suppressed: prometheus.NewDesc("shoal_suppressed_cells",
			"Outcome cells withheld by the privacy policy in the exported windows, by metric, level and reason (below_k, dominance, complementary or few_samples).",
			[]string{"metric", "level", "reason", "window"}, nil),
		refreshed: prometheus.NewDesc("shoal_outcomes_refreshed_timestamp_seconds",
			"Unix time the exported outcome snapshot was computed.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_outcomes_refresh_failures_total", Help: "Failed refreshes of the exported outcome snapshot (the previous snapshot stays served)."}),
	}
	for _, m := range outcome.Catalog {
		e.descs[m.ID] = prometheus.NewDesc(m.Name, m.Help, []string{"team", "unit", "window"}, nil)
	}
	e.own = prometheus.NewRegistry()
	e.own.MustRegister(e)
	reg.MustRegister(e.errors)
	return e
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.descs {
		ch <- d
	}
	ch <- e.suppressed
	ch <- e.refreshed
}

// Collect implements prometheus.Collector: it serves the last snapshot.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, m := range e.snapshot {
		ch <- m
	}
	if !e.at.IsZero() {
		ch <- prometheus.MustNewConstMetric(e.refreshed, prometheus.GaugeValue, float64(e.at.UnixNano())/1e9)
	}
}

// Refresh recomputes the snapshot. On error the previous snapshot stays.
func (e *Exporter) Refresh(ctx context.Context) error {
	policy, loc := e.policy()
	now := e.now()
	cur := calendar.WeekStartOf(now, loc)
	prev := cur - 7
	cells, err := e.src.Outcomes(ctx, prev, cur, now)
	if err != nil {
		e.errors.Inc()
		return fmt.Errorf("refresh outcome metrics: %w", err)
	}
	snap, visible, err := e.build(policy, cells, map[int32]string{cur: outcome.CurrentWeek, prev: outcome.PreviousWeek})
	if err != nil {
		e.errors.Inc()
		return err
	}
	e.mu.Lock()
	e.snapshot, e.visible, e.at = snap, visible, now
	e.mu.Unlock()
	return e.encode()
}

// encode gathers the new snapshot once and keeps it as metric families and
// as encoded exposition text, plain and gzipped, for every scrape until the
// next Refresh.
func (e *Exporter) encode() error {
	families, err := e.own.Gather()
	if err != nil {
		e.errors.Inc()
		return fmt.Errorf("gather outcome metrics: %w", err)
	}
	var text, gz bytes.Buffer
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			e.errors.Inc()
			return fmt.Errorf("encode outcome metrics: %w", err)
		}
	}
	zw := gzip.NewWriter(&gz)
	zw.Write(text.Bytes())
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress outcome metrics: %w", err)
	}
	e.mu.Lock()
	e.families, e.text, e.gz = families, text.Bytes(), gz.Bytes()
	e.mu.Unlock()
	return nil
}

// Gather implements prometheus.Gatherer: the outcome families of the last
// Refresh (nil before the first). Callers must not modify them.
func (e *Exporter) Gather() ([]*dto.MetricFamily, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.families, nil
}

// Exposition returns the outcome families of the last Refresh in the
// Prometheus text format (version 0.0.4), plain and as one gzip member,
// so that a scrape only appends them. Callers must not modify them.
func (e *Exporter) Exposition() (text, gz []byte) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.text, e.gz
}

// VisibleTeams returns the teams with at least one visible outcome cell in
// the served snapshot: the teams dashboards may show. A team under k is
// never among them.
func (e *Exporter) VisibleTeams() map[string]bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.visible
}

// build applies the suppression policy to each (week, metric) tree and
// turns the visible, defined cells into constant metrics.
func (e *Exporter) build(policy privacy.Policy, cells []outcome.Cell, windows map[int32]string) ([]prometheus.Metric, map[string]bool, error) {
	in := make([]outcome.Cell, 0, len(cells))
	for _, c := range cells {
		if _, ok := windows[c.Week]; ok {
			in = append(in, c)
		}
	}
	published, err := privacy.Apply(policy, in)
	if err != nil {
		return nil, nil, err
	}
	visible := map[string]bool{}
	type countKey struct {
		metric, window string
		level          outcome.Level
		reason         privacy.Reason
	}
	counts := map[countKey]int{}
	var out []prometheus.Metric
	for _, c := range published {
		window := windows[c.Week]
		if !c.Visible {
			counts[countKey{c.Metric, window, c.Level, c.Reason}]++
			continue
		}
		if c.Level == outcome.LevelTeam {
			visible[c.Team] = true
		}
		if !c.Defined {
			continue
		}
		out = append(out, prometheus.MustNewConstMetric(e.descs[c.Metric], prometheus.GaugeValue, c.Value, c.Team, c.Unit, window))
	}
	// Always export the suppression counters for every metric, level and
	// window, so a zero is visible as a zero.
	for _, m := range outcome.Catalog {
		for _, w := range []string{outcome.CurrentWeek, outcome.PreviousWeek} {
			for _, l := range []outcome.Level{outcome.LevelTeam, outcome.LevelUnit, outcome.LevelOrg} {
				for _, r := range []privacy.Reason{privacy.ReasonBelowK, privacy.ReasonDominance, privacy.ReasonComplementary, privacy.ReasonFewSamples} {
					n := counts[countKey{m.ID, w, l, r}]
					out = append(out, prometheus.MustNewConstMetric(e.suppressed, prometheus.GaugeValue, float64(n), m.ID, string(l), string(r), w))
				}
			}
		}
	}
	return out, visible, nil
}
