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

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// Release is the last released week as the exporter serves it.
type Release struct {
	// Start is the week's first instant (Monday 00:00 in the org's zone);
	// ReleasedAt is when it was released.
	Start, ReleasedAt time.Time
	// Cells are the week's released weekly cells (privacy.NewRelease).
	Cells []privacy.Published
}

// Source provides the last release. It must not scan raw events.
type Source interface {
	// LatestRelease returns the last released week, false when no week
	// has been released yet.
	LatestRelease(ctx context.Context) (Release, bool, error)
}

// Stamper is a Source that can say which release is the last one without
// reading its cells: Refresh then re-reads the cells only when that
// release is not the one it serves. A released week never changes, so the
// minute-by-minute refresh of a week that is already served costs one
// read of the release list instead of reading, building and encoding
// ~70 k series (0.2-0.3 s of CPU at 2,000 teams, the largest idle cost of
// a live stream; BENCHMARKS.md).
type Stamper interface {
	// LatestReleaseStamp returns the last release's Start and ReleasedAt
	// (Release.Cells empty), false when no week has been released yet.
	LatestReleaseStamp(ctx context.Context) (Release, bool, error)
}

// Exporter serves the catalog's metrics of the last released ISO week per
// team, unit and org, exactly as the release decided them (withheld cells
// are absent), from a snapshot refreshed off the scrape path. There is no
// live window: a series changes once a week, when the next week is
// released.
type Exporter struct {
	src Source
	log *slog.Logger
	now func() time.Time

	descs      map[string]*prometheus.Desc
	suppressed *prometheus.Desc
	refreshed  *prometheus.Desc
	weekStart  *prometheus.Desc
	releasedAt *prometheus.Desc
	errors     prometheus.Counter

	// own holds only the exporter's collector: it is gathered and encoded
	// once per Refresh, never per scrape (2,000 teams are ~70k series).
	own *prometheus.Registry

	mu       sync.RWMutex
	snapshot []prometheus.Metric
	visible  map[string]bool // teams with a visible cell in the snapshot
	at       time.Time
	built    bool                // the exposition is of release: a Stamper's unchanged stamp skips the rebuild
	release  Release             // cells dropped
	families []*dto.MetricFamily // own, gathered at the last Refresh
	text, gz []byte              // families in the text exposition format, and gzipped
}

var (
	_ prometheus.Collector = (*Exporter)(nil)
	_ prometheus.Gatherer  = (*Exporter)(nil)
)

// NewExporter returns an exporter reading src; now is the clock of the
// refresh timestamp (nil: time.Now). Its failure counter is registered on
// reg; the outcome families are not: serve them with Exposition (or
// gather them with Gather) next to reg's, and call Refresh after a
// release.
func NewExporter(src Source, now func() time.Time, reg prometheus.Registerer, logger *slog.Logger) *Exporter {
	if now == nil {
		now = time.Now
	}
	e := &Exporter{
		src:   src,
		log:   logger.With("component", "metrics"),
		now:   now,
		descs: make(map[string]*prometheus.Desc, len(outcome.Catalog)),
		suppressed: prometheus.NewDesc("shoal_suppressed_cells",
			"Outcome cells of the last released week withheld by its disclosure rules, by metric, level and reason (below_k, dominance, complementary, few_samples).",
			[]string{"metric", "level", "reason"}, nil),
		refreshed: prometheus.NewDesc("shoal_outcomes_refreshed_timestamp_seconds",
			"Unix time the exporter last checked the release ledger (its snapshot is re-read when a week was released since).", nil, nil),
		weekStart: prometheus.NewDesc(outcome.ReleaseWeekName,
			"Start (Monday 00:00 in the org's time zone) of the ISO week whose released outcomes are exported.", nil, nil),
		releasedAt: prometheus.NewDesc(outcome.ReleasedAtName,
			"Unix time the exported week was released.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shoal_outcomes_refresh_failures_total", Help: "Failed refreshes of the exported outcome snapshot (the previous snapshot stays served)."}),
	}
	for _, m := range outcome.Catalog {
		e.descs[m.ID] = prometheus.NewDesc(m.Name, m.Help, []string{"team", "unit"}, nil)
	}
	e.own = prometheus.NewRegistry()
	e.own.MustRegister(e)
	reg.MustRegister(e.errors, refreshedCollector{e})
	return e
}

// refreshedCollector serves shoal_outcomes_refreshed_timestamp_seconds
// with the live families (reg), not in the exposition encoded at a
// rebuild, so that a refresh that finds the served week still the last
// one only moves the timestamp.
type refreshedCollector struct{ e *Exporter }

func (r refreshedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- r.e.refreshed }

func (r refreshedCollector) Collect(ch chan<- prometheus.Metric) {
	r.e.mu.RLock()
	at := r.e.at
	r.e.mu.RUnlock()
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(r.e.refreshed, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.descs {
		ch <- d
	}
	ch <- e.suppressed
	ch <- e.weekStart
	ch <- e.releasedAt
}

// Collect implements prometheus.Collector: it serves the last snapshot.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, m := range e.snapshot {
		ch <- m
	}
	if !e.release.Start.IsZero() {
		ch <- prometheus.MustNewConstMetric(e.weekStart, prometheus.GaugeValue, float64(e.release.Start.Unix()))
		ch <- prometheus.MustNewConstMetric(e.releasedAt, prometheus.GaugeValue, float64(e.release.ReleasedAt.UnixNano())/1e9)
	}
}

// Refresh reads the last release into the snapshot. On error the
// previous snapshot stays; before the first release the outcome series
// are absent (the suppression counts are zeros).
func (e *Exporter) Refresh(ctx context.Context) error {
	now := e.now()
	if st, isStamper := e.src.(Stamper); isStamper {
		stamp, ok, err := st.LatestReleaseStamp(ctx)
		e.mu.RLock()
		served := ok && e.built && stamp.Start.Equal(e.release.Start) && stamp.ReleasedAt.Equal(e.release.ReleasedAt)
		e.mu.RUnlock()
		if err == nil && served {
			e.mu.Lock()
			e.at = now
			e.mu.Unlock()
			return nil
		}
	}
	rel, ok, err := e.src.LatestRelease(ctx)
	if err != nil {
		e.errors.Inc()
		return fmt.Errorf("refresh outcome metrics: %w", err)
	}
	if !ok {
		rel = Release{}
	}
	snap, visible := e.build(rel.Cells)
	rel.Cells = nil
	e.mu.Lock()
	e.snapshot, e.visible, e.at, e.release, e.built = snap, visible, now, rel, false
	e.mu.Unlock()
	if err := e.encode(); err != nil {
		return err
	}
	e.mu.Lock()
	e.built = true
	e.mu.Unlock()
	return nil
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

// build turns the visible, defined released cells into constant metrics
// and counts the withheld ones.
func (e *Exporter) build(cells []privacy.Published) ([]prometheus.Metric, map[string]bool) {
	visible := map[string]bool{}
	type countKey struct {
		metric string
		level  outcome.Level
		reason privacy.Reason
	}
	counts := map[countKey]int{}
	var out []prometheus.Metric
	for _, c := range cells {
		if !c.Visible {
			counts[countKey{c.Metric, c.Level, c.Reason}]++
			continue
		}
		if c.Level == outcome.LevelTeam {
			visible[c.Team] = true
		}
		if !c.Defined {
			continue
		}
		out = append(out, prometheus.MustNewConstMetric(e.descs[c.Metric], prometheus.GaugeValue, c.Value, c.Team, c.Unit))
	}
	// Always export the suppression counters of every metric, level and
	// weekly reason, so a zero is visible as a zero.
	for _, m := range outcome.Catalog {
		for _, l := range []outcome.Level{outcome.LevelTeam, outcome.LevelUnit, outcome.LevelOrg} {
			for _, r := range privacy.WeeklyReasons {
				n := counts[countKey{m.ID, l, r}]
				delete(counts, countKey{m.ID, l, r})
				out = append(out, prometheus.MustNewConstMetric(e.suppressed, prometheus.GaugeValue, float64(n), m.ID, string(l), string(r)))
			}
		}
	}
	for k, n := range counts { // a reason the list above does not know yet
		out = append(out, prometheus.MustNewConstMetric(e.suppressed, prometheus.GaugeValue, float64(n), k.metric, string(k.level), string(k.reason)))
	}
	return out, visible
}
