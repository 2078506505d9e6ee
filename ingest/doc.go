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
// not to a metric label, not to the dead-letter topic (its copy of a
// refused message keeps only the envelope values it can show harmless, the
// reason and the field names: default deny), not to the Sink (only
// pseudonyms reach event.Event). The fields that identify things (id,
// source, subject, team, task, request, entry) are refused when they look
// like they hold a person identifier, and task, request and time-entry ids
// reach the Sink as keyed ids, so the store does not join back to the
// tracker without the key. With a teams file, events of teams it does not list are refused
// unless the operator accepts them (Decoder.SetTeams).
// It does not import transform: both speak event.Batch, and app hands the
// store to the consumer as its Sink.
package ingest
