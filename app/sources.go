package app

import (
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/transform"
)

// The store is the consumer's sink: ingest and transform share only the
// event contract.
var _ ingest.Sink = (*transform.Store)(nil)
