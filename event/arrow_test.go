package event

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/shoal-analytics/shoal/event/calendar"
)

func sampleEvents(n int) []Event {
	evs := make([]Event, n)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range evs {
		e := Event{Source: "https://jira.acme.example", ID: fmt.Sprint(100000 + i), Time: t0.Add(time.Duration(i) * time.Second),
			Day: calendar.DayOf(t0, time.UTC), Team: fmt.Sprintf("team-%02d", i%30), Person: fmt.Sprintf("p_%024x", i%250), Partition: int32(i % 6), Offset: int64(i)}
		if i%2 == 0 {
			e.Type, e.Category, e.Start, e.End = TimeLogged, "focus", e.Time, e.Time.Add(time.Hour)
		} else {
			e.Type, e.Task, e.Kind, e.DueDate, e.HasDueDate = TaskCreated, fmt.Sprintf("K-%d", i), "bug", e.Day+3, true
		}
		evs[i] = e
	}
	return evs
}

// TestBuilderReleases: a record of every column shape is built and every
// byte goes back to the allocator.
func TestBuilderReleases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := NewBuilder(mem)
	defer b.Release()
	for _, e := range sampleEvents(100) {
		b.Append(&e)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if rec.NumRows() != 100 || rec.NumCols() != int64(len(Schema.Fields())) {
		t.Fatalf("record %d×%d, want 100×%d", rec.NumRows(), rec.NumCols(), len(Schema.Fields()))
	}
	if b.Len() != 0 {
		t.Errorf("builder holds %d events after NewRecord", b.Len())
	}
}

// BenchmarkBuilder measures appending events to Arrow and cutting records
// of 100k (the default batch size).
func BenchmarkBuilder(b *testing.B) {
	evs := sampleEvents(100_000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	bld := NewBuilder(mem)
	defer bld.Release()
	b.ReportAllocs()
	for b.Loop() {
		bld.Reserve(len(evs))
		for i := range evs {
			bld.Append(&evs[i])
		}
		bld.NewRecord().Release()
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
