package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
	"github.com/shoal-analytics/shoal/transform"
)

// DefaultSettleDelay is how long after an ISO week has ended (in the org's
// time zone) it is released: time for late entries (a time entry logged on
// Monday for Friday) to arrive before the week is frozen.
const DefaultSettleDelay = 48 * time.Hour

// releaseInterval is how often the releaser looks for a week that is due.
const releaseInterval = 30 * time.Second

// ReleaseDue releases, oldest first, every ISO week that has ended plus
// the settle delay and is not released yet, from the week of the first
// event on; it returns the weeks it released. Nothing is released while
// the consumer is catching up or not reading (a week released then would
// miss events that are already in the topic), and nothing when no event
// was ever accepted. Each week is decided under the teams file in force
// (recorded with the release) and written in one transaction; a released
// week never changes.
func (p *App) ReleaseDue(ctx context.Context) ([]int32, error) {
	p.releaseMu.Lock()
	defer p.releaseMu.Unlock()
	if ok, why := p.consumer.Readiness(); !ok {
		p.log.Debug("no release while the pipeline is not ready", "component", "release", "reason", why)
		return nil, nil
	}
	next, ok, err := p.nextRelease(ctx)
	if err != nil || !ok {
		return nil, err
	}
	org := p.teams.Get()
	var done []int32
	for w := next; p.due(w, org); w += 7 {
		began := time.Now()
		r, err := p.decideRelease(ctx, org, w)
		if err != nil {
			return done, err
		}
		if err := p.store.Release(ctx, r, p.now()); err != nil {
			return done, err
		}
		done = append(done, w)
		visible := 0
		for _, c := range r.Weekly {
			if c.Visible {
				visible++
			}
		}
		p.log.Info("week released", "component", "release", "week", weekName(w), "cells", len(r.Weekly)+len(r.Daily),
			"weekly_cells_shown", visible, "weekly_cells", len(r.Weekly), "took", time.Since(began).Round(time.Millisecond))
	}
	return done, nil
}

// nextRelease is the Monday of the first week not released yet: the week
// after the last release, or the week of the first accepted event.
func (p *App) nextRelease(ctx context.Context) (int32, bool, error) {
	rels, err := p.store.Releases(ctx)
	if err != nil {
		return 0, false, err
	}
	if len(rels) > 0 {
		return rels[len(rels)-1].Week + 7, true, nil
	}
	first, ok, err := p.store.FirstEventDay(ctx)
	if err != nil || !ok {
		return 0, false, err
	}
	return calendar.WeekStart(first), true, nil
}

// due reports whether the week starting on week has ended in the org's
// zone at least the settle delay ago.
func (p *App) due(week int32, org *agreements.Org) bool {
	return !p.releaseAt(week, org).After(p.now())
}

// releaseAt is when the week starting on week is due for release.
func (p *App) releaseAt(week int32, org *agreements.Org) time.Time {
	y, m, d := calendar.DayTime(week + 7).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, org.Location("")).Add(p.cfg.SettleDelay)
}

// decideRelease computes the week's cells and days under org and decides
// them (privacy.NewRelease).
func (p *App) decideRelease(ctx context.Context, org *agreements.Org, week int32) (privacy.Release, error) {
	at := p.releaseAt(week, org)
	weekly, err := p.store.Outcomes(ctx, org, week, week, at)
	if err != nil {
		return privacy.Release{}, err
	}
	daily, err := p.store.DailyOutcomes(ctx, org, week, week+6, at)
	if err != nil {
		return privacy.Release{}, err
	}
	quality, err := p.store.Quality(ctx, week, week+6)
	if err != nil {
		return privacy.Release{}, err
	}
	h, err := p.hierarchy(ctx, org)
	if err != nil {
		return privacy.Release{}, err
	}
	return privacy.NewRelease(org.Policy(), h, week, weekly, daily, quality)
}

// hierarchy is the tree a release is decided under: the teams file's units
// and teams, and every team that ever had an event and is not in the file
// under agreements.UnassignedUnit (as transform groups them).
func (p *App) hierarchy(ctx context.Context, org *agreements.Org) (privacy.Hierarchy, error) {
	teams, err := p.store.Teams(ctx)
	if err != nil {
		return privacy.Hierarchy{}, err
	}
	var h privacy.Hierarchy
	listed := map[string]bool{}
	for _, u := range org.Units() {
		h.Units = append(h.Units, privacy.HierarchyUnit{ID: u.ID, Teams: u.Teams})
		for _, t := range u.Teams {
			listed[t] = true
		}
	}
	var unassigned []string
	for _, t := range teams {
		if !listed[t] {
			unassigned = append(unassigned, t)
		}
	}
	if len(unassigned) > 0 {
		i := slices.IndexFunc(h.Units, func(u privacy.HierarchyUnit) bool { return u.ID == agreements.UnassignedUnit })
		if i < 0 {
			h.Units = append(h.Units, privacy.HierarchyUnit{ID: agreements.UnassignedUnit})
			i = len(h.Units) - 1
		}
		h.Units[i].Teams = append(h.Units[i].Teams, unassigned...)
	}
	return h, nil
}

// releaseLoop releases due weeks until ctx ends, and refreshes every
// output after a release.
func (p *App) releaseLoop(ctx context.Context) {
	t := time.NewTicker(releaseInterval)
	defer t.Stop()
	for {
		if _, err := p.PublishReleases(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("release failed; retrying in "+releaseInterval.String(), "component", "release", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PublishReleases releases what is due (ReleaseDue) and, if anything was,
// refreshes every output from the ledger and writes the report of the
// last released week. It returns the weeks released; weeks released
// before a failure are published too.
func (p *App) PublishReleases(ctx context.Context) ([]int32, error) {
	weeks, err := p.ReleaseDue(ctx)
	if len(weeks) > 0 {
		p.refreshNow(ctx)
		p.RefreshSQLNow(ctx, true)
		p.reports.Released(ctx, report.WeekOfDay(weeks[len(weeks)-1]))
		select { // a release may make older weeks due for deletion
		case p.retainNow <- struct{}{}:
		default:
		}
	}
	return weeks, err
}

// Releases lists the released weeks, oldest first.
func (p *App) Releases(ctx context.Context) ([]transform.ReleaseInfo, error) {
	return p.store.Releases(ctx)
}

// LatestRelease is the last released week, false when none is.
func (p *App) LatestRelease(ctx context.Context) (transform.ReleaseInfo, bool, error) {
	rels, err := p.store.Releases(ctx)
	if err != nil || len(rels) == 0 {
		return transform.ReleaseInfo{}, false, err
	}
	return rels[len(rels)-1], true, nil
}

// NextReleaseAt is when the week after the last released one (or the
// first week with an event) is due for release, false with no event at
// all.
func (p *App) NextReleaseAt(ctx context.Context) (time.Time, bool, error) {
	next, ok, err := p.nextRelease(ctx)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	return p.releaseAt(next, p.teams.Get()), true, nil
}

func weekName(week int32) string {
	y, w := calendar.DayTime(week).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// releaseSource feeds the exporter the last release.
type releaseSource struct{ p *App }

var _ metrics.Source = releaseSource{}

var _ metrics.Stamper = releaseSource{}

func (s releaseSource) LatestRelease(ctx context.Context) (metrics.Release, bool, error) {
	info, ok, err := s.p.LatestRelease(ctx)
	if err != nil || !ok {
		return metrics.Release{}, false, err
	}
	rel := s.stamp(info)
	if rel.Cells, _, err = s.p.store.Released(ctx, info.Week, info.Week, false); err != nil {
		return metrics.Release{}, false, err
	}
	return rel, true, nil
}

// LatestReleaseStamp is the last release without its cells (the list of
// releases only).
func (s releaseSource) LatestReleaseStamp(ctx context.Context) (metrics.Release, bool, error) {
	info, ok, err := s.p.LatestRelease(ctx)
	if err != nil || !ok {
		return metrics.Release{}, false, err
	}
	return s.stamp(info), true, nil
}

// stamp is a release's week start, in the org's zone, and release time.
func (s releaseSource) stamp(info transform.ReleaseInfo) metrics.Release {
	y, m, d := calendar.DayTime(info.Week).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, s.p.teams.Get().Location(""))
	return metrics.Release{Start: start, ReleasedAt: info.ReleasedAt}
}

// latestReportWeek is the last released week, for the reports.
func (p *App) latestReportWeek(ctx context.Context) (report.Week, bool, error) {
	info, ok, err := p.LatestRelease(ctx)
	if err != nil || !ok {
		return report.Week{}, false, err
	}
	return report.WeekOfDay(info.Week), true, nil
}
