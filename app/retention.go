package app

import (
	"context"

	"github.com/shoal-analytics/shoal/broker"
)

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
