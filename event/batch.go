package event

import (
	"errors"

	"github.com/apache/arrow/go/v17/arrow"
)

// Rejected counts refused events of one day by reason.
type Rejected struct {
	Day    int32 // days since 1970-01-01 (UTC) of the Kafka message timestamp
	Reason string
	Count  int64
}

// Batch is one unit of durability, handed from ingest to transform: the
// accepted events of a run of messages, the counts of the refused ones,
// and the offsets they cover. Its sink writes all of it in one transaction.
type Batch struct {
	// Record holds the accepted events, with Schema. It may be nil or
	// empty. The producer keeps ownership: the sink never releases it and
	// holds no reference to it after its commit returns.
	Record arrow.Record
	// Topic is the Kafka topic the offsets belong to.
	Topic string
	// Offsets maps partition to the next offset to read (the last offset in
	// the batch + 1). Stored offsets never move backwards.
	Offsets map[int32]int64
	// Rejected are counts of refused events to add.
	Rejected []Rejected
}

// CommitResult reports what committing a Batch changed.
type CommitResult struct {
	Inserted     int64 // new events stored
	Duplicates   int64 // events whose (source, id) was already stored or repeated in the batch
	CellsTouched int64 // distinct (team, day) cells recomputed
	// AfterRelease counts the new events dated in a week that was already
	// released: stored, but in no output (a released week never changes).
	AfterRelease int64
	// Expired counts the events dated before the store's retention horizon:
	// their week was released long ago and its rows are deleted, so they
	// are not stored.
	Expired int64
	// TimeCorrections counts, when the commit derived the stored events
	// (transform derives them when due, not every commit), their revisions
	// of time entries that
	// changed their entry (other times, category, person, team or day,
	// deleted or brought back), applied in partition and offset order on
	// top of the stored entries, as if each were a batch of its own. An
	// older revision or one that repeats the entry is none.
	TimeCorrections int64
	// TimeCorrectionsAfterRelease counts those of TimeCorrections whose
	// entry was, or now is, dated in a week already released: the store
	// follows the correction, the released week does not change.
	TimeCorrectionsAfterRelease int64
}

// ErrSinkFailed marks (wrapped) a commit error after which the sink takes
// no more batches: what it holds in memory may no longer match what is
// durable, so it must not write, and the process must start again from
// what is durable (the sink's file and the batches' offsets in Kafka).
// Retrying such a commit cannot succeed; the consumer stops instead.
var ErrSinkFailed = errors.New("the store takes no more batches after a failed commit")
