package transform

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"
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
