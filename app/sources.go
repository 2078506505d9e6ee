package app

import (
	"context"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/transform"
)

// The store is the consumer's sink: ingest and transform share only the
// event contract.
var _ ingest.Sink = (*transform.Store)(nil)

// outcomeSource feeds the exporter from transform's weekly outcome cells
// under the team agreements in force.
type outcomeSource struct {
	store *transform.Store
	teams *agreements.Holder
}

var _ metrics.Source = outcomeSource{}

func (o outcomeSource) Outcomes(ctx context.Context, fromWeek, toWeek int32, now time.Time) ([]outcome.Cell, error) {
	return o.store.Outcomes(ctx, o.teams.Get(), fromWeek, toWeek, now)
}
