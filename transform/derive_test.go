package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// TestDeferredDerivation: with the default thresholds a commit only lands
// its events (pending), and the derived state after a flush, a reopen or a
// read is the state of deriving after every commit.
func TestDeferredDerivation(t *testing.T) {
	ctx := context.Background()
	evs := uniqueEvents(rand.New(rand.NewPCG(11, 5)), 1500)
	want, _ := openStore(t) // derives after every commit
	commitInBatches(t, want, evs)

	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	s, err := Open(ctx, Config{Path: path, Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	half := len(evs) / 2
	commitInBatches(t, s, evs[:half])
	if p := s.Pending(); p != int64(half) {
		t.Fatalf("Pending = %d after committing %d events, want all of them", p, half)
	}
	var derived int
	if err := s.db.QueryRow(`SELECT count(*) FROM team_day`).Scan(&derived); err != nil || derived != 0 {
		t.Fatalf("team_day has %d rows before any derivation (%v)", derived, err)
	}
	// A stop with events pending: they wait in the file.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, Config{Path: path, Threads: 2, DeriveAfter: time.Hour}, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := s.Pending(); p != int64(half) {
		t.Fatalf("Pending = %d after a reopen, want %d", p, half)
	}
	commitInBatches(t, s, evs[half:])
	// A reader flushes first.
	if d := diffTeamDays(teamDays(t, s), teamDays(t, want)); d != "" {
		t.Errorf("deferred vs per-commit derivation:\n%s", d)
	}
	if s.Pending() != 0 {
		t.Errorf("Pending = %d after a read", s.Pending())
	}
	if got, exp := dumpState(t, s), dumpState(t, want); !reflect.DeepEqual(got, exp) {
		for table := range exp {
			if !reflect.DeepEqual(got[table], exp[table]) {
				t.Errorf("%s differs: %d rows deferred, %d per commit", table, len(got[table]), len(exp[table]))
			}
		}
	}
}

// TestDeriveThresholds: a commit derives once pending holds DeriveEvents
// events, or once its oldest has waited DeriveAfter.
func TestDeriveThresholds(t *testing.T) {
	ctx := context.Background()
	evs := uniqueEvents(rand.New(rand.NewPCG(12, 5)), 300)
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "shoal.duckdb"), Threads: 2, DeriveEvents: 200, DeriveAfter: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mem := checkedMem(t)
	commit(t, s, mem, evs[:150]...)
	if s.Pending() != 150 {
		t.Fatalf("Pending = %d, want 150", s.Pending())
	}
	if r := commit(t, s, mem, evs[150:250]...); s.Pending() != 0 || r.CellsTouched == 0 {
		t.Fatalf("at 250 pending events (threshold 200): Pending = %d, cells %d; want derived", s.Pending(), r.CellsTouched)
	}
	s.deriveAfter = 10 * time.Millisecond
	commit(t, s, mem, evs[250:260]...)
	time.Sleep(20 * time.Millisecond)
	commit(t, s, mem, evs[260:270]...)
	if s.Pending() != 0 {
		t.Fatalf("Pending = %d after DeriveAfter, want derived", s.Pending())
	}
}

// TestKeyFilterAcrossCatchUp: a large batch (a catch-up) drops the dedup
// key filter; the next small batch builds it again from event_keys, so a
// re-sent event of the large batch is still a duplicate, while a small
// batch of new events is stored without scanning event_keys.
func TestKeyFilterAcrossCatchUp(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	scans := 0
	s.failpoint = func(step string) error {
		if step == stepKnown.name {
			scans++
		}
		return nil
	}
	var g ids
	small := func() []event.Event {
		return []event.Event{g.ev(event.TaskCreated, 0, 9, task(fmt.Sprint("s", g.n)), who(1)), g.ev(event.TaskStarted, 0, 10, task("s"), who(2))}
	}
	if s.keys == nil {
		t.Fatal("no key filter after Open")
	}
	if res := commit(t, s, mem, small()...); res.Inserted != 2 || scans != 0 {
		t.Fatalf("new events into an empty store: %+v, %d scans of event_keys, want 2 inserted and none", res, scans)
	}
	large := make([]event.Event, keyFilterMaxBatch+1)
	for i := range large {
		large[i] = g.ev(event.TaskCreated, 0, 9, task(fmt.Sprint("l", i)), who(1+i%3))
	}
	if res := commit(t, s, mem, large...); res.Inserted != int64(len(large)) || scans != 1 || s.keys != nil {
		t.Fatalf("a large batch: %+v, %d scans, filter kept %v; want all inserted, one scan, the filter dropped", res, scans, s.keys != nil)
	}
	scans = 0
	if res := commit(t, s, mem, small()...); res.Inserted != 2 || scans != 0 || s.keys == nil {
		t.Fatalf("new events after the large batch: %+v, %d scans, filter built %v; want 2 inserted, no scan, the filter built", res, scans, s.keys != nil)
	}
	if res := commit(t, s, mem, large[len(large)/2], small()[0]); res.Inserted != 1 || res.Duplicates != 1 || scans != 1 {
		t.Fatalf("a re-sent event of the large batch and a new one: %+v, %d scans; want 1 inserted, 1 duplicate, one scan", res, scans)
	}
}
