package app

import (
	"context"
	"fmt"
	"time"

	sqlserver "github.com/shoal-analytics/shoal/sql"
)

// refreshServing republishes the serving database off the query path
// until ctx ends.
func (p *App) refreshServing(ctx context.Context) {
	refreshLoop(ctx, sqlserver.RefreshInterval, func(ctx context.Context) { p.RefreshSQLNow(ctx, false) })
}

// RefreshSQLNow republishes the SQL endpoint's tables if anything changed
// (force: always); a failure is logged and the previous tables stay served.
func (p *App) RefreshSQLNow(ctx context.Context, force bool) {
	if p.publisher == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.publisher.Refresh(rctx, force); err != nil && ctx.Err() == nil {
		p.log.Warn("SQL tables not refreshed; the previous ones stay served", "component", "sql", "err", fmt.Sprint(err))
	}
}
