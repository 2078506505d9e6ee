package main

import (
	"context"
	"time"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/metrics"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/transform"
)

// storeSink connects ingest to transform: the only place the two meet.
type storeSink struct{ store *transform.Store }

var _ ingest.Sink = storeSink{}

func (s storeSink) Commit(ctx context.Context, b *ingest.Batch) (ingest.CommitResult, error) {
	rej := make([]transform.Rejected, len(b.Rejected))
	for i, r := range b.Rejected {
		rej[i] = transform.Rejected{Day: r.Day, Reason: r.Reason, Count: r.Count}
	}
	res, err := s.store.Commit(ctx, transform.Batch{Record: b.Record, Topic: b.Topic, Offsets: b.Offsets, Rejected: rej})
	return ingest.CommitResult{Inserted: res.Inserted, Duplicates: res.Duplicates}, err
}

func (s storeSink) Offsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return s.store.Offsets(ctx, topic)
}

// outcomeSource feeds the exporter from transform's weekly outcome cells
// under the team agreements in force.
type outcomeSource struct {
	store *transform.Store
	teams *agreements.Holder
}

var _ metrics.Source = outcomeSource{}

func (o outcomeSource) Outcomes(ctx context.Context, fromWeek, toWeek int32, now time.Time) ([]outcome.Cell, error) {
	rows, err := o.store.Outcomes(ctx, o.teams.Get(), fromWeek, toWeek, now)
	if err != nil {
		return nil, err
	}
	return outcomeCells(rows), nil
}

// outcomeCells converts transform's outcome rows to metrics cells, field
// for field; privacy.Apply then decides what may be published.
func outcomeCells(rows []transform.Outcome) []outcome.Cell {
	cells := make([]outcome.Cell, len(rows))
	for i, r := range rows {
		cells[i] = outcome.Cell{Week: r.Week, Level: outcome.Level(r.Level), Team: r.Team, Unit: r.Unit,
			Metric: r.Metric, Value: r.Value, Defined: r.Defined, People: r.People}
	}
	return cells
}
