package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/report"
	"github.com/shoal-analytics/shoal/transform"
)

// ReportData gathers a released week's report from the release ledger:
// the released cells of the trend weeks and the week's released data
// quality. An unreleased week is an error wrapping report.ErrNotReleased
// that says when it will be released.
func (p *App) ReportData(ctx context.Context, week report.Week) (report.Data, error) {
	org := p.teams.Get()
	loc := org.Location("")
	rels, err := p.store.Releases(ctx)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	i := slices.IndexFunc(rels, func(r transform.ReleaseInfo) bool { return r.Week == week.Monday() })
	if i < 0 {
		when := "once Shoal has received events"
		next, ok, err := p.nextRelease(ctx)
		switch {
		case err != nil:
			return report.Data{}, fmt.Errorf("report %s: %w", week, err)
		case ok && week.Monday() < next:
			when = "never: it is before the first week with events"
		case ok:
			when = "at " + p.releaseAt(week.Monday(), org).Format(time.RFC3339)
		}
		return report.Data{}, fmt.Errorf("report %s: %w: it will be released %s (a week is released once it has ended plus the settle delay, %s)", week, report.ErrNotReleased, when, p.cfg.SettleDelay)
	}
	rel := rels[i]
	cells, _, err := p.store.Released(ctx, week.Add(-(report.TrendWeeks - 1)).Monday(), week.Monday(), false)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	q, err := p.releasedQuality(ctx, week.Monday())
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	d := report.Data{Week: week, TimeZone: loc.String(), K: rel.K, Generated: rel.ReleasedAt, Cells: cells, Quality: q}
	for _, u := range org.Units() {
		d.Units = append(d.Units, report.Unit{ID: u.ID, Name: u.Name})
	}
	for _, t := range org.Teams() {
		d.Teams = append(d.Teams, report.Team{ID: t.Team, Name: t.TeamName, Unit: t.Unit, ResponseSLA: t.ResponseSLA})
	}
	return d, nil
}

// releasedQuality is the released week's data quality: the accepted count
// as released, and the events refused on its days (they describe no one:
// they are counted by reason only, as on /metrics).
func (p *App) releasedQuality(ctx context.Context, week int32) (report.Quality, error) {
	cells, err := p.store.ReleasedQuality(ctx, week, week)
	if err != nil {
		return report.Quality{}, err
	}
	var q report.Quality
	for _, c := range cells {
		if c.Days == 7 {
			q.Accepted, q.AcceptedWithheld = c.Accepted, !c.Visible
		}
	}
	days, err := p.store.Quality(ctx, week, week+6)
	if err != nil {
		return report.Quality{}, err
	}
	for _, d := range days {
		for r, n := range d.Rejected {
			if q.Refused == nil {
				q.Refused = map[string]int64{}
			}
			q.Refused[r] += n
		}
	}
	return q, nil
}

// RenderReport renders week's report in format f.
func (p *App) RenderReport(ctx context.Context, week report.Week, f report.Format) ([]byte, error) {
	return p.reports.Render(ctx, week, f)
}
