// Package event is Shoal's event contract: the event types it accepts, the
// shape of one accepted event after pseudonymization, the Arrow schema in
// which accepted events travel from ingest to transform, and the Batch, the
// unit of durability ingest hands its sink, with the sink's CommitResult.
//
// Day and week arithmetic is in the calendar subpackage, which imports no
// Arrow, so the outputs use it too.
//
// It is the one thing ingest and transform share, so neither imports the
// other. It never carries a raw person identifier: Event.Person is always a
// keyed pseudonym by the time an Event exists, and Event.Task,
// Event.Request and Event.Entry are keyed ids, not the tools' own.
//
// The wire format (CloudEvents 1.0 structured JSON) is documented in
// docs/events.md and schema/events.schema.json.
package event
