package app

import (
	"context"

	"github.com/shoal-analytics/shoal/broker"
)

// trimBroker deletes from the embedded broker's log the events the
// checkpointed DuckDB file holds (transform.Store.CheckpointedOffsets):
// they carry raw person identifiers, and no restart needs them again (a
// write-ahead log that cannot be replayed sends Shoal back to the
// checkpoint's offsets, which are kept). With an external Kafka the
// topic's retention does this (checkRetention). A failure is logged; the
// next checkpoint tries again.
func (p *App) trimBroker(ctx context.Context) {
	if p.broker == nil {
		return
	}
	offsets := p.store.CheckpointedOffsets(p.cfg.Topic)
	if err := p.broker.Trim(ctx, p.cfg.Topic, offsets); err != nil && ctx.Err() == nil {
		p.log.Warn("raw events not deleted from the embedded broker's log; the next checkpoint tries again", "component", "broker", "err", err)
		return
	}
	p.log.Debug("embedded broker's log trimmed to the checkpointed offsets", "component", "broker", "partitions", len(offsets))
}

// checkRetention warns when the external event topic keeps its records
// longer than broker.LongRetention: they hold raw person identifiers
// (pseudonymized only as Shoal reads them), which Shoal needs only until
// it has stored the events. A broker that does not answer (an ACL on
// DescribeConfigs) is noted and Shoal goes on.
func (p *App) checkRetention(ctx context.Context) {
	r, err := broker.TopicRetention(ctx, p.cfg.Brokers, p.cfg.Topic)
	switch {
	case err != nil:
		p.log.Info("could not read the event topic's retention; make sure it is bounded (raw person identifiers stay in Kafka as long as it keeps them)", "component", "ingest", "topic", p.cfg.Topic, "err", err)
	case r.Unlimited || r.Time > broker.LongRetention:
		keeps := "for ever"
		if !r.Unlimited {
			keeps = "for " + r.Time.String()
		}
		p.log.Warn("the event topic keeps raw events "+keeps+": they carry person identifiers until Shoal pseudonymizes them, and Shoal needs them only until they are stored; set its retention.ms to days, e.g. kafka-configs.sh --alter --entity-type topics --entity-name "+p.cfg.Topic+" --add-config retention.ms=604800000 (7 days)",
			"component", "ingest", "topic", p.cfg.Topic, "retention", keeps)
	}
}
