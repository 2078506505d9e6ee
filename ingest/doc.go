// Package ingest reads every partition of Shoal's event topic with kafka-go
// (no group membership: one Shoal owns one store), decodes and validates every message against the event contract, refuses
// monitoring data and anything malformed to the dead-letter topic with a
// reason, pseudonymizes person fields, and hands accepted events to a Sink
// as Arrow record batches together with the partition offsets they cover.
//
// Offsets move only after the Sink has made a batch durable: the Sink's
// stored offsets are where reading resumes after a restart (a partition the
// Sink has no offset for is read from its start), and the Kafka group
// offsets are committed afterwards only so that lag is visible to Kafka
// tooling. A commit the Sink refuses for good (event.ErrSinkFailed) stops
// the consumer: Run returns it, so the process starts again from what is
// durable.
//
// ingest never writes a raw person identifier anywhere: not to a log line,
// not to a metric label, not to the dead-letter topic (bodies are
// sanitized first), not to the Sink (only pseudonyms reach event.Event).
// It does not import transform: both speak event.Batch, and app hands the
// store to the consumer as its Sink.
package ingest
