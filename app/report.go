package app

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-analytics/shoal/privacy"
	"github.com/shoal-analytics/shoal/report"
)

// orgLocation is the org's time zone under the agreements in force: the
// zone a team the file does not list gets.
func (p *App) orgLocation() *time.Location { return p.teams.Get().Location("") }

// LastCompleteWeek is the ISO week before the current one in the org's
// zone, by the app's clock.
func (p *App) LastCompleteWeek() report.Week { return p.reports.LastCompleteWeek() }

// ReportData gathers one week's report: the outcome cells of the trend
// weeks through the suppression policy in force, and the week's data
// quality.
func (p *App) ReportData(ctx context.Context, week report.Week) (report.Data, error) {
	org := p.teams.Get()
	loc := org.Location("")
	from, to := week.Add(-(report.TrendWeeks - 1)).Monday(), week.Monday()
	rows, err := p.store.Outcomes(ctx, org, from, to, p.now())
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	policy := org.Policy()
	published, err := privacy.Apply(policy, rows)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	days, err := p.store.Quality(ctx, to, to+6)
	if err != nil {
		return report.Data{}, fmt.Errorf("report %s: %w", week, err)
	}
	d := report.Data{Week: week, TimeZone: loc.String(), K: policy.K, Generated: p.now(), Cells: published, Quality: days}
	for _, u := range org.Units() {
		d.Units = append(d.Units, report.Unit{ID: u.ID, Name: u.Name})
	}
	for _, t := range org.Teams() {
		d.Teams = append(d.Teams, report.Team{ID: t.Team, Name: t.TeamName, Unit: t.Unit, ResponseSLA: t.ResponseSLA})
	}
	return d, nil
}

// RenderReport renders week's report in format f.
func (p *App) RenderReport(ctx context.Context, week report.Week, f report.Format) ([]byte, error) {
	return p.reports.Render(ctx, week, f)
}
