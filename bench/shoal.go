package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/report"
	"github.com/shoal-analytics/shoal/transform"
)

// reportRenders is how many times the shoal phase renders the weekly report.
const reportRenders = 3

// runShoal runs the real pipeline (app.New and Run, as `shoal run` does)
// until everything published is committed and derived, then measures the idle
// checkpoint, one outcome refresh, the /metrics scrape latency and the
// weekly report. It leaves its store in WORK/shoal for the sql and absorb
// phases.
func runShoal(ctx context.Context, brokers []string, work string, tune Tuning, logger *slog.Logger) (result, error) {
	cfg := app.DefaultConfig(filepath.Join(work, "shoal"))
	cfg.Brokers, cfg.Topic, cfg.DLQTopic, cfg.Group = brokers, topic, dlqTopic, "bench-shoal"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Now = func() time.Time { return dataEnd }
	cfg.SettleDelay = 0 // every week before the data's end is due
	tune.apply(&cfg)
	end, err := broker.EndOffsets(ctx, brokers, topic)
	if err != nil {
		return result{}, err
	}
	began := time.Now()
	p, err := app.New(ctx, cfg, newKey(), logger)
	if err != nil {
		return result{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	t := time.NewTicker(20 * time.Millisecond)
	for !p.CaughtUp(end) {
		select {
		case <-ctx.Done():
			return result{}, ctx.Err()
		case err := <-done:
			return result{}, fmt.Errorf("pipeline stopped before catching up: %w", err)
		case <-t.C:
		}
	}
	t.Stop()
	// Caught up means committed; the rollups of what waits in pending are
	// derived now, as a release would, and counted in the catch-up.
	if err := p.Store().Flush(ctx); err != nil {
		return result{}, fmt.Errorf("derive after catching up: %w", err)
	}
	st := p.Stats()
	r := result{Events: st.Consumed, Seconds: time.Since(began).Seconds(), Extra: map[string]float64{}}
	// The peak RSS after each step below shows which one raises it.
	peakAfter := func(step string) {
		if kib, ok := peakRSSKiB(); ok {
			r.Extra[step+"_peak_rss_kib"] = float64(kib)
		}
	}
	peakAfter("ingest") // before the outputs below run
	r.Extra["go_sys_mib"] = goSysMiB()

	// As the pipeline does once the stream pauses (app's idle checkpoint), so
	// that it does not do so while the outputs below are measured. A query
	// of the refresh loop makes DuckDB refuse; it ends within seconds.
	began = time.Now()
	for {
		wal, released, err := p.IdleCheckpoint(ctx)
		if errors.Is(err, transform.ErrCheckpointBusy) && time.Since(began) < time.Minute {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			return result{}, fmt.Errorf("checkpoint after catching up: %w", err)
		}
		r.Extra["checkpoint_seconds"], r.Extra["checkpoint_wal_bytes"] = time.Since(began).Seconds(), float64(wal)
		r.Extra["idle_released_mib"] = float64(released) / (1 << 20)
		break
	}
	peakAfter("checkpoint")
	if kib, ok := rssKiB(); ok {
		r.Extra["idle_rss_kib"] = float64(kib) // what the pause returned
	}

	// The releases of every week of the data (as the release loop does once
	// the pipeline has caught up; the loop finds nothing left to do), then
	// one read of the last release into the exporter's snapshot.
	began = time.Now()
	if _, err := p.ReleaseDue(ctx); err != nil {
		return result{}, err
	}
	// Counted from the ledger: the pipeline's own release loop may have
	// taken the first weeks (then this waited for it, and the time misses
	// the seconds before this call).
	released, err := p.Releases(ctx)
	if err != nil {
		return result{}, err
	}
	r.Extra["release_seconds"], r.Extra["released_weeks"] = time.Since(began).Seconds(), float64(len(released))
	peakAfter("release")
	began = time.Now()
	if err := p.RefreshMetrics(ctx); err != nil {
		return result{}, err
	}
	r.Extra["refresh_seconds"] = time.Since(began).Seconds()
	peakAfter("refresh")
	const scrapes = 21
	var lat []float64
	for range scrapes {
		began := time.Now()
		resp, err := http.Get(p.URL() + "/metrics")
		if err != nil {
			return result{}, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return result{}, err
		}
		lat = append(lat, time.Since(began).Seconds())
	}
	r.Extra["scrape_seconds"], r.Extra["scrapes"] = median(lat), scrapes
	peakAfter("scrape")

	// The weekly report of the last released week, as /reports/ renders it
	// (8 released weeks from the ledger, HTML with its SVG charts):
	// the median of reportRenders renders, as one render of a few seconds
	// varies by a third between runs on a shared host.
	latest, ok, err := p.LatestRelease(ctx)
	if err != nil {
		return result{}, err
	}
	if !ok {
		return result{}, errors.New("no week released: the data must cover at least one whole ISO week")
	}
	var took []float64
	for range reportRenders {
		began = time.Now()
		html, err := p.RenderReport(ctx, report.WeekOfDay(latest.Week), report.HTML)
		if err != nil {
			return result{}, fmt.Errorf("render the weekly report: %w", err)
		}
		took = append(took, time.Since(began).Seconds())
		r.Extra["report_bytes"] = float64(len(html))
	}
	r.Extra["report_seconds"], r.Extra["reports"] = median(took), reportRenders
	peakAfter("report")
	cancel()
	if err := <-done; err != nil {
		return result{}, err
	}
	return r, nil
}

// analystQuery is a typical analyst question over the weekly view:
// per unit and week, the teams' median cycle time and total throughput
// over the visible team rows.
const analystQuery = `SELECT unit, week, count(*) AS teams, sum(tasks_completed) AS done,
	median(cycle_time_p50) / 3600 AS cycle_h, avg(response_within_sla_ratio) AS sla
FROM shoal.weekly_outcomes
WHERE level = 'team' AND NOT flow_suppressed
GROUP BY unit, week ORDER BY week DESC, unit`

// runSQL starts Shoal on the shoal phase's store with the SQL endpoint
// on (nothing left to consume), times publishing the serving tables, then
// runs analystQuery through the endpoint with pgx.
func runSQL(ctx context.Context, brokers []string, work string, tune Tuning, logger *slog.Logger) (result, error) {
	cfg := app.DefaultConfig(filepath.Join(work, "shoal"))
	cfg.Brokers, cfg.Topic, cfg.DLQTopic, cfg.Group = brokers, topic, dlqTopic, "bench-shoal"
	tune.apply(&cfg)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SQL.Addr, cfg.SQL.AllowAnonymous = "127.0.0.1:0", true
	cfg.Now = func() time.Time { return dataEnd }
	cfg.SettleDelay = 0 // every week before the data's end is due
	began := time.Now()
	p, err := app.New(ctx, cfg, newKey(), logger) // publishes the serving tables before it returns
	if err != nil {
		return result{}, err
	}
	started := time.Since(began).Seconds()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	conn, err := pgx.Connect(ctx, "postgres://analyst@"+p.SQLAddr()+"/shoal?sslmode=disable")
	if err != nil {
		return result{}, fmt.Errorf("connect to the SQL endpoint: %w", err)
	}
	defer conn.Close(ctx)
	const runs = 11
	var lat []float64
	var rows int
	for range runs {
		began := time.Now()
		rs, err := conn.Query(ctx, analystQuery)
		if err != nil {
			return result{}, err
		}
		rows = 0
		for rs.Next() {
			rows++
		}
		if err := rs.Err(); err != nil {
			return result{}, fmt.Errorf("analyst query: %w", err)
		}
		lat = append(lat, time.Since(began).Seconds())
	}
	q := median(lat)
	n, err := p.Store().EventCount(ctx)
	if err != nil {
		return result{}, err
	}
	cancel()
	if err := <-done; err != nil {
		return result{}, err
	}
	return result{Events: n, Seconds: q, Extra: map[string]float64{
		"start_publish_seconds": started, "query_seconds": q, "rows": float64(rows), "runs": runs}}, nil
}
