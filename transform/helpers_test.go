package transform

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
)

// base is a Monday at 00:00 UTC; day0 is its day number.
var (
	base = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	day0 = calendar.DateOf(2025, time.March, 3)
)

// at returns base + d days + h hours.
func at(d int, h float64) time.Time {
	return base.Add(time.Duration(d)*24*time.Hour + time.Duration(h*float64(time.Hour)))
}

// person returns a well-formed pseudonym for test person n.
func person(n int) string { return fmt.Sprintf("p_%024x", n) }

// checkedMem returns a checked allocator that fails the test if anything
// allocated from it is still live when the test ends.
func checkedMem(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("arrow memory leak: %d bytes still allocated", n)
		}
	})
	return mem
}

// openStore opens a Store on a fresh file and closes it at the end of the
// test.
func openStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	// Derived after every commit, as the tests of the rollups read the
	// derived tables directly (TestDeferredDerivation covers the default).
	s, err := Open(context.Background(), Config{Path: path, Threads: 2, DeriveEvents: 1}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// record builds an Arrow record of evs; the caller releases it.
func record(mem memory.Allocator, evs []event.Event) arrow.Record {
	b := event.NewBuilder(mem)
	defer b.Release()
	for i := range evs {
		b.Append(&evs[i])
	}
	return b.NewRecord()
}

// commit commits evs (with offsets of partition 0 after the last event) and
// fails the test on error.
func commit(t testing.TB, s *Store, mem memory.Allocator, evs ...event.Event) event.CommitResult {
	t.Helper()
	rec := record(mem, evs)
	defer rec.Release()
	off := map[int32]int64{}
	for _, e := range evs {
		if e.Offset+1 > off[e.Partition] {
			off[e.Partition] = e.Offset + 1
		}
	}
	res, err := s.Commit(context.Background(), &event.Batch{Record: rec, Topic: "shoal.events", Offsets: off})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func teamDays(t testing.TB, s *Store) []TeamDay {
	t.Helper()
	tds, err := s.TeamDays(context.Background())
	if err != nil {
		t.Fatalf("TeamDays: %v", err)
	}
	return tds
}

// cell returns the team_day row of (team, day0+d), or a zero row with
// Team "" if there is none.
func cell(t testing.TB, s *Store, team string, d int) TeamDay {
	t.Helper()
	for _, td := range teamDays(t, s) {
		if td.Team == team && td.Day == day0+int32(d) {
			return td
		}
	}
	return TeamDay{}
}

// ids hands out unique event ids and offsets.
type ids struct{ n int64 }

// ev returns an event of type typ for team "t1" on day d at hour h; opts
// adjust it.
func (g *ids) ev(typ string, d int, h float64, opts ...func(*event.Event)) event.Event {
	g.n++
	e := event.Event{
		Source: "test", ID: fmt.Sprintf("e%d", g.n), Type: typ,
		Time: at(d, h), Day: day0 + int32(d), Team: "t1",
		Offset: g.n,
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func task(id string) func(*event.Event)    { return func(e *event.Event) { e.Task = id } }
func request(id string) func(*event.Event) { return func(e *event.Event) { e.Request = id } }
func team(name string) func(*event.Event)  { return func(e *event.Event) { e.Team = name } }
func who(n int) func(*event.Event)         { return func(e *event.Event) { e.Person = person(n) } }
func dueAt(t time.Time) func(*event.Event) { return func(e *event.Event) { e.DueAt = t } }
func dueDate(d int) func(*event.Event) {
	return func(e *event.Event) { e.DueDate, e.HasDueDate = day0+int32(d), true }
}
func logged(cat string, hours float64) func(*event.Event) {
	return func(e *event.Event) {
		e.Category, e.Start = cat, e.Time
		e.End = e.Time.Add(time.Duration(hours * float64(time.Hour)))
	}
}
func withID(id string) func(*event.Event) { return func(e *event.Event) { e.ID = id } }
