package event

import "time"

// Event is one accepted event, validated and pseudonymized: one row of the
// raw events table. Zero values mean "absent" (nullable columns).
type Event struct {
	Source string
	ID     string
	Type   string
	Time   time.Time // event time, UTC
	// Day is the team-local calendar day the event counts towards, as days
	// since 1970-01-01: the day of Time, or of Start for time entries, in the
	// team's time zone.
	Day  int32
	Team string

	Task    string // keyed id ("t_" + hex), never the tracker's raw id
	Request string // keyed id ("r_" + hex), never the tool's raw id
	Person  string // keyed pseudonym, never a raw identifier

	DueAt   time.Time // due with a time of day (RFC 3339)
	DueDate int32     // date-only due, days since epoch; valid when HasDueDate
	// HasDueDate marks DueDate as set (day 0 is a valid date).
	HasDueDate bool

	EstimateHours float64
	HasEstimate   bool

	Kind     string // task kind or request kind
	Start    time.Time
	End      time.Time
	Category string

	// Entry and Revision identify a time entry across its revisions
	// (work.time.logged, work.time.deleted): Entry is a keyed id ("e_" +
	// hex), never the tracker's raw id; of an entry's events, the one with
	// the greatest Revision is the entry's state. Both are zero for a time
	// entry sent without one, which no later event can correct.
	Entry    string
	Revision int64

	// Provenance: where in Kafka the event came from.
	Partition int32
	Offset    int64
}

// Reset clears e for reuse without reallocating.
func (e *Event) Reset() { *e = Event{} }
