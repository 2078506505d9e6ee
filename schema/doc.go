// Package schema holds the JSON Schema (draft 2020-12) of Shoal's event
// contract, events.schema.json, for producers to validate against and for
// cmd/shoal to serve.
//
// The schema describes the same contract as ingest.Decoder and
// docs/events.md; ingest's tests keep the three in agreement. Where JSON
// Schema cannot express a rule (byte lengths, duplicate keys, end after
// start, surveillance vocabulary at any depth) the decoder is authoritative.
package schema
