package ingest

import "fmt"

// Reason says, machine-readably, why an event was refused. It travels to
// the dead-letter topic as the shoal-reason header and labels the
// shoal_ingest_rejected_total metric, so its values are a stable contract:
// docs/events.md lists them with what a producer should do about each.
type Reason string

// The reasons an event is refused, in precedence order: when an event has
// several problems, the first reason in this list that applies is the one
// reported (bad_value, bad_time and identifier_in_field share a rank; the
// first offending field in contract order decides).
const (
	// ReasonTooLarge: the message is longer than the configured maximum
	// (checked on the raw bytes, before parsing).
	ReasonTooLarge Reason = "too_large"
	// ReasonMalformedJSON: the message is not one JSON object: a syntax
	// error, a duplicate key, trailing bytes, nesting deeper than
	// maxNesting, or an empty message / a JSON array (batch mode).
	ReasonMalformedJSON Reason = "malformed_json"
	// ReasonSurveillanceType: the event type names monitoring data.
	ReasonSurveillanceType Reason = "surveillance_type"
	// ReasonSurveillanceField: a key anywhere in the message (envelope,
	// data, or nested deeper) names monitoring data.
	ReasonSurveillanceField Reason = "surveillance_field"
	// ReasonUnknownType: the event type is not one Shoal accepts.
	ReasonUnknownType Reason = "unknown_type"
	// ReasonUnknownField: an envelope or data key the contract does not
	// define for this event type.
	ReasonUnknownField Reason = "unknown_field"
	// ReasonUnmappedIdentity: the event carries the shoalunmapped extension
	// attribute (true): Shoal's intake took an activity whose person its
	// people file does not list, with unmapped: refuse, and sent it without
	// the person so that the refusal is counted like every other. It ranks
	// before missing_field because such an event lacks data.person.
	ReasonUnmappedIdentity Reason = "unmapped_identity"
	// ReasonMissingField: a required envelope attribute or data field is absent.
	ReasonMissingField Reason = "missing_field"
	// ReasonBadValue: a value of the wrong JSON type, an empty or blank
	// string, a string too long / not valid UTF-8 / with control
	// characters, an enum value not allowed, a negative estimate, a
	// specversion other than 1.0, a datacontenttype other than
	// application/json, or a time entry longer than 24 hours.
	ReasonBadValue Reason = "bad_value"
	// ReasonBadTime: a time, start, end or due that is not an RFC 3339
	// timestamp (or, for due, a YYYY-MM-DD date), or that lies outside the
	// plausible window (Decoder.SetTimeWindow).
	ReasonBadTime Reason = "bad_time"
	// ReasonIdentifierInField: id, source, subject, data.team, data.task or
	// data.request holds what looks like a person identifier (an e-mail
	// address, an @handle, a phone number: privacy.PersonIdentifierIn).
	// Only data.person may identify a person, and it is pseudonymized.
	ReasonIdentifierInField Reason = "identifier_in_field"
	// ReasonEndBeforeStart: a time entry whose end is not after its start.
	ReasonEndBeforeStart Reason = "end_before_start"
	// ReasonUnknownTeam: with a teams file and unlisted teams refused
	// (Decoder.SetTeams), data.team is a team the file does not list. An
	// event is checked for it last: one refused for it is otherwise valid.
	ReasonUnknownTeam Reason = "unknown_team"
)

// Reasons lists every Reason in precedence order, for pre-registering
// metric series and for documentation tests.
var Reasons = []Reason{
	ReasonTooLarge,
	ReasonMalformedJSON,
	ReasonSurveillanceType,
	ReasonSurveillanceField,
	ReasonUnknownType,
	ReasonUnknownField,
	ReasonUnmappedIdentity,
	ReasonMissingField,
	ReasonBadValue,
	ReasonBadTime,
	ReasonIdentifierInField,
	ReasonEndBeforeStart,
	ReasonUnknownTeam,
}

// Rejection is why Decode refused a message. Detail is for the humans who
// run the producer: it says what is wrong and what to do. It names fields
// and event types but never contains a field value, so it is safe to store
// in a dead-letter header or a log line. Field names the offending field
// (e.g. "data.task") where one field is the reason, for the dead-letter
// topic's shoal-field header; "" otherwise.
type Rejection struct {
	Reason Reason
	Detail string
	Field  string
}

// Error implements error.
func (r *Rejection) Error() string {
	return fmt.Sprintf("event refused (%s): %s", r.Reason, r.Detail)
}

func reject(r Reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
