package main

import (
	"context"

	"github.com/shoal-analytics/shoal/ingest"
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
