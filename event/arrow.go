package event

import (
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond} // no zone: UTC by convention (DuckDB TIMESTAMP)

// Schema is the Arrow schema of accepted events, in column order. The
// transform package creates its events table with exactly these columns.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "source", Type: arrow.BinaryTypes.String},
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "type", Type: arrow.BinaryTypes.String},
	{Name: "event_time", Type: tsType},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "team", Type: arrow.BinaryTypes.String},
	{Name: "task", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "request", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "person", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "due_at", Type: tsType, Nullable: true},
	{Name: "due_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "estimate_hours", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "kind", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "started_at", Type: tsType, Nullable: true},
	{Name: "ended_at", Type: tsType, Nullable: true},
	{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "kafka_partition", Type: arrow.PrimitiveTypes.Int32},
	{Name: "kafka_offset", Type: arrow.PrimitiveTypes.Int64},
	// Added after the first stores were written: last, so that a stored
	// events table gains them by ALTER TABLE ADD COLUMN in the same order.
	{Name: "entry", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "revision", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// Builder accumulates Events into Arrow records of Schema. It is not safe
// for concurrent use. Release it when done.
type Builder struct {
	b *array.RecordBuilder

	source, id, typ, team, task, request, person, kind, category, entry *array.StringBuilder
	eventTime, dueAt, startedAt, endedAt                                *array.TimestampBuilder
	day, dueDate                                                        *array.Date32Builder
	estimate                                                            *array.Float64Builder
	partition                                                           *array.Int32Builder
	offset, revision                                                    *array.Int64Builder
	n                                                                   int
}

// NewBuilder returns a Builder allocating from mem.
func NewBuilder(mem memory.Allocator) *Builder {
	rb := array.NewRecordBuilder(mem, Schema)
	f := func(i int) *array.StringBuilder { return rb.Field(i).(*array.StringBuilder) }
	ts := func(i int) *array.TimestampBuilder { return rb.Field(i).(*array.TimestampBuilder) }
	return &Builder{
		b:         rb,
		source:    f(0),
		id:        f(1),
		typ:       f(2),
		eventTime: ts(3),
		day:       rb.Field(4).(*array.Date32Builder),
		team:      f(5),
		task:      f(6),
		request:   f(7),
		person:    f(8),
		dueAt:     ts(9),
		dueDate:   rb.Field(10).(*array.Date32Builder),
		estimate:  rb.Field(11).(*array.Float64Builder),
		kind:      f(12),
		startedAt: ts(13),
		endedAt:   ts(14),
		category:  f(15),
		partition: rb.Field(16).(*array.Int32Builder),
		offset:    rb.Field(17).(*array.Int64Builder),
		entry:     f(18),
		revision:  rb.Field(19).(*array.Int64Builder),
	}
}

// Reserve makes room for n more events, so that appending them does not
// grow the column buffers step by step.
func (b *Builder) Reserve(n int) { b.b.Reserve(n) }

// Len is the number of events appended since the last NewRecord.
func (b *Builder) Len() int { return b.n }

func appendStr(sb *array.StringBuilder, s string) {
	if s == "" {
		sb.AppendNull()
		return
	}
	sb.Append(s)
}

func appendTS(tb *array.TimestampBuilder, t time.Time) {
	if t.IsZero() {
		tb.AppendNull()
		return
	}
	tb.Append(arrow.Timestamp(t.UnixMicro()))
}

// Append adds one event.
func (b *Builder) Append(e *Event) {
	b.source.Append(e.Source)
	b.id.Append(e.ID)
	b.typ.Append(e.Type)
	b.eventTime.Append(arrow.Timestamp(e.Time.UnixMicro()))
	b.day.Append(arrow.Date32(e.Day))
	b.team.Append(e.Team)
	appendStr(b.task, e.Task)
	appendStr(b.request, e.Request)
	appendStr(b.person, e.Person)
	appendTS(b.dueAt, e.DueAt)
	if e.HasDueDate {
		b.dueDate.Append(arrow.Date32(e.DueDate))
	} else {
		b.dueDate.AppendNull()
	}
	if e.HasEstimate {
		b.estimate.Append(e.EstimateHours)
	} else {
		b.estimate.AppendNull()
	}
	appendStr(b.kind, e.Kind)
	appendTS(b.startedAt, e.Start)
	appendTS(b.endedAt, e.End)
	appendStr(b.category, e.Category)
	b.partition.Append(e.Partition)
	b.offset.Append(e.Offset)
	appendStr(b.entry, e.Entry)
	if e.Entry != "" {
		b.revision.Append(e.Revision)
	} else {
		b.revision.AppendNull()
	}
	b.n++
}

// NewRecord returns the events appended so far as a record and resets the
// builder. The caller owns the record and must Release it.
func (b *Builder) NewRecord() arrow.Record {
	b.n = 0
	return b.b.NewRecord()
}

// Release frees the builder's memory.
func (b *Builder) Release() { b.b.Release() }
