package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/transform"
)

// DefaultRetainEvents is how long a week's raw events and per-person rows
// are kept after its release: long enough to answer a question about a
// released week from its events (a late correction, a data-quality
// count), short enough that pseudonymized personal data is not kept for
// longer than the figures need it (GDPR storage limitation).
const DefaultRetainEvents = model.Duration(28 * 24 * time.Hour)

// DefaultRetainDeadLetters is how long the embedded broker keeps a dead
// letter: two weeks for a producer to find out what it sent wrong.
const DefaultRetainDeadLetters = model.Duration(14 * 24 * time.Hour)

// retentionInterval is how often the retention pass runs (and once after
// every release).
const retentionInterval = time.Hour

// registerCorrections exports the store's count of corrected time
// entries: they are counted when the stored events are derived (within
// minutes of their commit, and always before a release), not per batch.
func registerCorrections(reg prometheus.Registerer, store *transform.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "shoal_ingest_time_corrections_total",
			Help: "Stored time entries that a later revision replaced (other times, category, person, team or day) or deleted, counted when the stored events are derived (within minutes; before every release)."},
			func() float64 { n, _ := store.TimeCorrections(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "shoal_ingest_time_corrections_after_release_total",
			Help: "Corrected or deleted time entries that counted, or now count, towards an ISO week already released: the store follows them, the released week does not change. Many mean the settle delay (--settle-delay) is too short for how late people fix their time sheets."},
			func() float64 { _, n := store.TimeCorrections(); return float64(n) }),
	)
}

// newLifecycleMetrics registers the lifecycle metrics for store.
func newLifecycleMetrics(reg prometheus.Registerer, store *transform.Store) *metrics.Lifecycle {
	return metrics.NewLifecycle(reg, func() (int64, bool) {
		d, ok := store.RetainedFrom()
		return calendar.DayTime(d).Unix(), ok
	})
}

// retentionHorizon is the first day whose rows must be kept: the day after
// the last released week whose release is at least --retain-events old
// (false: no week is that old yet).
func (p *App) retentionHorizon(ctx context.Context) (int32, bool, error) {
	rels, err := p.store.Releases(ctx)
	if err != nil {
		return 0, false, err
	}
	cutoff := p.now().Add(-time.Duration(p.cfg.RetainEvents))
	var horizon int32
	var ok bool
	for _, r := range rels {
		if !r.ReleasedAt.After(cutoff) {
			horizon, ok = r.Week+7, true
		}
	}
	return horizon, ok, nil
}

// ApplyRetention deletes what the retention settings say is due: the rows
// of the weeks released at least --retain-events ago that hold or follow a
// person (transform.Store.Retain, a week per transaction), and the
// embedded broker's dead letters older than --retain-dead-letters.
func (p *App) ApplyRetention(ctx context.Context) (transform.RetainResult, error) {
	var res transform.RetainResult
	horizon, ok, err := p.retentionHorizon(ctx)
	if err != nil {
		return res, fmt.Errorf("retention: %w", err)
	}
	if ok {
		began := time.Now()
		res, err = p.store.Retain(ctx, horizon, func(r transform.RetainResult) {
			p.log.Debug("retention: rows deleted", "component", "retention", "through", calendar.DayTime(r.To-1).Format(time.DateOnly), "rows", r.Total())
		})
		for t, n := range res.Deleted {
			p.life.Deleted.WithLabelValues(t).Add(float64(n))
		}
		if err != nil {
			return res, fmt.Errorf("retention: %w", err)
		}
		if res.Total() > 0 {
			p.log.Info("retention: deleted the rows of released weeks past --retain-events", "component", "retention",
				"before", calendar.DayTime(res.To).Format(time.DateOnly), "rows", res.Total(), "events", res.Deleted["events"], "took", time.Since(began).Round(time.Millisecond))
			// DuckDB keeps deleted rows' bytes in freed blocks: the rewrite
			// takes them off the disk too (about once a week, after a
			// release makes a week due).
			began = time.Now()
			if err := p.store.Compact(ctx); err != nil {
				return res, fmt.Errorf("retention: the rows are deleted, but rewriting the file without them failed: %w", err)
			}
			p.log.Info("retention: DuckDB file rewritten without the deleted rows", "component", "retention", "took", time.Since(began).Round(time.Millisecond))
			p.checkpointAndTrim(ctx, "retention")
		}
	}
	if n, err := p.store.RemoveSetAsideWALs(p.now().Add(-time.Duration(p.cfg.RetainEvents))); err != nil {
		p.log.Warn("retention: a set-aside write-ahead log could not be deleted", "component", "retention", "err", err)
	} else if n > 0 {
		p.log.Info("retention: deleted set-aside write-ahead logs older than --retain-events", "component", "retention", "files", n)
	}
	if p.broker != nil {
		n, err := p.broker.TrimBefore(ctx, p.cfg.DLQTopic, p.now().Add(-time.Duration(p.cfg.RetainDeadLetters)))
		if err != nil {
			return res, fmt.Errorf("retention: dead letters: %w", err)
		}
		p.life.DeadLetters.Add(float64(n))
	}
	return res, p.updateOldest(ctx)
}

// checkpointAndTrim records the checkpoint a compaction made (the offsets
// the file holds) and trims the embedded broker's log to it, so the raw
// events of what was just deleted leave it too.
func (p *App) checkpointAndTrim(ctx context.Context, component string) {
	if _, err := p.store.Checkpoint(ctx); err != nil {
		p.log.Warn(component+": checkpoint after compaction failed; the broker's log is trimmed at the next one", "component", component, "err", err)
		return
	}
	p.trimBroker(ctx)
}

// updateOldest reads the oldest stored event's day for /metrics.
func (p *App) updateOldest(ctx context.Context) error {
	d, ok, err := p.store.OldestEventDay(ctx)
	if err != nil {
		return err
	}
	var v int64
	if ok {
		v = calendar.DayTime(d).Unix()
	}
	p.life.Oldest.Store(v)
	return nil
}

// retentionLoop runs ApplyRetention at start, every retentionInterval and
// after each release (p.retainNow), until ctx ends.
func (p *App) retentionLoop(ctx context.Context) {
	t := time.NewTicker(retentionInterval)
	defer t.Stop()
	for {
		if _, err := p.ApplyRetention(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("retention failed; retrying in "+retentionInterval.String(), "component", "retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.retainNow:
		}
	}
}

// EraseRequest is the body of POST /-/erase: the person ids as the sources
// send them (e-mail addresses, tool user ids), pseudonymized by the server
// with its key.
type EraseRequest struct {
	Persons []string `json:"persons"`
}

// ErasedPerson is one id of an erasure's answer.
type ErasedPerson struct {
	Person     string `json:"person"`
	Events     int64  `json:"events"`
	PersonRows int64  `json:"person_rows"`
}

// EraseResponse is the answer of POST /-/erase.
type EraseResponse struct {
	Persons []ErasedPerson `json:"persons"`
	// Teams is how many teams' unreleased state was derived again.
	Teams int `json:"teams"`
	// Compacted reports that the DuckDB file was rewritten without the
	// deleted rows' bytes (CompactSeconds long).
	Compacted      bool    `json:"compacted"`
	CompactSeconds float64 `json:"compact_seconds"`
}

// maxErasePersons bounds one erasure request.
const maxErasePersons = 10_000

// Erase deletes everything stored of the given person ids (as the sources
// send them): their events and per-person rows, the touched teams' state
// derived again without them, the file compacted, the embedded broker's
// log trimmed to the new checkpoint. Released figures do not change. The
// ids are never logged or stored; the erasure entry holds counts only.
func (p *App) Erase(ctx context.Context, persons []string) (EraseResponse, error) {
	var out EraseResponse
	if len(persons) == 0 {
		return out, errors.New("no person ids given")
	}
	if len(persons) > maxErasePersons {
		return out, fmt.Errorf("%d person ids in one request: send at most %d at a time", len(persons), maxErasePersons)
	}
	pseudonyms := make([]string, len(persons))
	for i, id := range persons {
		if strings.TrimSpace(id) == "" {
			return out, fmt.Errorf("person id %d is empty", i+1)
		}
		pseudonyms[i] = p.pseudo.Pseudonym(id)
	}
	res, err := p.store.Erase(ctx, pseudonyms, p.now())
	if err != nil {
		return out, err
	}
	var rows int64
	for i, e := range res.Persons {
		out.Persons = append(out.Persons, ErasedPerson{Person: persons[i], Events: e.Events, PersonRows: e.PersonRows})
		rows += e.Events + e.PersonRows
	}
	out.Teams, out.Compacted, out.CompactSeconds = res.Teams, res.Compacted, res.CompactTook.Seconds()
	p.life.Erasures.Inc()
	p.life.ErasedRows.Add(float64(rows))
	p.log.Info("erasure carried out", "component", "erasure", "persons", len(persons), "found", res.Found(), "rows", rows, "teams", res.Teams, "compacted", res.Compacted)
	if res.Found() > 0 {
		// The raw events they came from leave the embedded broker's log
		// with the checkpoint the compaction made.
		p.checkpointAndTrim(ctx, "erasure")
		// A write-ahead log set aside after a crash may hold their events.
		if _, err := p.store.RemoveSetAsideWALs(time.Now().Add(time.Hour)); err != nil {
			p.log.Warn("erasure: a set-aside write-ahead log could not be deleted; delete shoal.duckdb.wal.unreplayable-* by hand", "component", "erasure", "err", err)
		}
		_ = p.updateOldest(ctx)
	}
	return out, nil
}

// eraseHandler serves POST /-/erase: a JSON EraseRequest, or text with one
// id a line (# comments and blank lines skipped).
func (p *App) eraseHandler(w http.ResponseWriter, r *http.Request) {
	persons, err := readEraseRequest(http.MaxBytesReader(w, r.Body, 16<<20), r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The erasure finishes even if the client goes: it is one transaction
	// and then a compaction, and the answer is in the log and on /metrics.
	res, err := p.Erase(context.WithoutCancel(r.Context()), persons)
	if err != nil {
		p.log.Error("erasure failed", "component", "erasure", "persons", len(persons), "err", err)
		code := http.StatusInternalServerError
		if len(persons) == 0 || len(persons) > maxErasePersons {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// readEraseRequest reads the ids of an erasure request.
func readEraseRequest(body io.Reader, contentType string) ([]string, error) {
	if strings.HasPrefix(contentType, "application/json") {
		var req EraseRequest
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("erase request: %w (send {\"persons\": [\"id\", ...]})", err)
		}
		return req.Persons, nil
	}
	var ids []string
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("erase request: %w", err)
	}
	return ids, nil
}
