package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// uniqueEvents is randomEvents without its re-sent ids (the first of each
// (source, id) stays), so two stores given subsets of it store exactly
// those subsets.
func uniqueEvents(r *rand.Rand, n int) []event.Event {
	seen := map[[2]string]bool{}
	var out []event.Event
	for _, e := range randomEvents(r, n) {
		k := [2]string{e.Source, e.ID}
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

func commitInBatches(t *testing.T, s *Store, evs []event.Event) {
	t.Helper()
	mem := checkedMem(t)
	for i := 0; i < len(evs); i += 97 {
		commit(t, s, mem, evs[i:min(i+97, len(evs))]...)
	}
}

// TestEraseEqualsNeverArrived: after erasing a person, the derived state
// is what a store that never received that person's events holds, no row
// of the store names the person, the ledger is untouched, and no byte of
// the pseudonym is left in the file or its write-ahead log.
func TestEraseEqualsNeverArrived(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			evs := uniqueEvents(rand.New(rand.NewPCG(seed, 7)), 1200)
			gone := person(int(seed) + 1)
			var kept []event.Event
			for _, e := range evs {
				if e.Person != gone {
					kept = append(kept, e)
				}
			}
			if len(kept) == len(evs) {
				t.Fatal("the erased person has no events: generator too narrow")
			}
			s, path := openStore(t)
			commitInBatches(t, s, evs)
			want, _ := openStore(t)
			commitInBatches(t, want, kept)

			res, err := s.Erase(ctx, []string{gone, person(99)}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if res.Found() != 1 || res.Persons[0].Events != int64(len(evs)-len(kept)) || res.Persons[1].Events+res.Persons[1].PersonRows != 0 || !res.Compacted {
				t.Fatalf("Erase = %+v, want the first person's %d events, nothing of the second, compacted", res, len(evs)-len(kept))
			}
			if got, exp := dumpState(t, s), dumpState(t, want); !reflect.DeepEqual(got, exp) {
				for table := range exp {
					if !reflect.DeepEqual(got[table], exp[table]) {
						t.Errorf("%s after erasure differs from never having the events: %d rows, want %d", table, len(got[table]), len(exp[table]))
					}
				}
			}
			if d := diffTeamDays(teamDays(t, s), teamDays(t, want)); d != "" {
				t.Errorf("team_day after erasure vs never having the events:\n%s", d)
			}
			var left int
			if err := s.db.QueryRow(`SELECT (SELECT count(*) FROM events WHERE person = ?) + (SELECT count(*) FROM team_day_people WHERE person = ?)`, gone, gone).Scan(&left); err != nil || left != 0 {
				t.Errorf("rows of the erased person left: %d (%v)", left, err)
			}
			entries, err := s.Erasures(ctx)
			if err != nil || len(entries) != 1 || entries[0].Persons != 2 || entries[0].Found != 1 || entries[0].Events != int64(len(evs)-len(kept)) {
				t.Errorf("Erasures = %+v, %v", entries, err)
			}
			// The store goes on after the file was swapped.
			mem := checkedMem(t)
			var g ids
			g.n = 1 << 20
			if r := commit(t, s, mem, g.ev(event.TaskCreated, 2, 9, who(50))); r.Inserted != 1 {
				t.Fatalf("commit after erasure: %+v", r)
			}
			if _, err := s.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{path, walPath(path)} {
				b, err := os.ReadFile(f)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(gone)) {
					t.Errorf("%s still holds the erased pseudonym's bytes", f)
				}
			}
		})
	}
}

// TestEraseNobody: an erasure of ids with no rows says so, records an
// entry and leaves the file as it was (no compaction).
func TestEraseNobody(t *testing.T) {
	s, _ := openStore(t)
	commitInBatches(t, s, uniqueEvents(rand.New(rand.NewPCG(1, 1)), 100))
	res, err := s.Erase(context.Background(), []string{person(77)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Found() != 0 || res.Compacted {
		t.Fatalf("Erase = %+v, want nothing found, no compaction", res)
	}
	if _, err := s.Erase(context.Background(), []string{"alice@example.com"}, time.Now()); err == nil {
		t.Fatal("Erase took a raw id")
	}
}

// TestRetain: rows before the horizon that hold or follow a person go,
// week by week; team_day and open tasks stay; an event dated before the
// horizon is not stored; a rebuild keeps what retention left.
func TestRetain(t *testing.T) {
	ctx := context.Background()
	evs := uniqueEvents(rand.New(rand.NewPCG(3, 3)), 1500)
	s, _ := openStore(t)
	commitInBatches(t, s, evs)
	horizon := day0 + 9
	if _, err := s.Retain(ctx, horizon, nil); !errors.Is(err, ErrUnreleased) {
		t.Fatalf("Retain before any release: %v, want ErrUnreleased", err)
	}
	s.releasedThrough.Store(day0 + 13) // two weeks released (the ledger's own tests release for real)
	before := teamDays(t, s)
	var openBefore int
	if err := s.db.QueryRow(`SELECT count(*) FROM tasks WHERE completed_at IS NULL AND cancelled_at IS NULL`).Scan(&openBefore); err != nil {
		t.Fatal(err)
	}
	var steps int
	res, err := s.Retain(ctx, horizon, func(RetainResult) { steps++ })
	if err != nil {
		t.Fatal(err)
	}
	if steps != 2 || res.To != horizon || res.Deleted["events"] == 0 || res.Deleted["tasks"] == 0 {
		t.Fatalf("Retain = %+v in %d transactions, want 2 (a week each), events and tasks deleted", res, steps)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM events WHERE day < `+dayArg, horizon); n != 0 {
		t.Errorf("%d events before the horizon", n)
	}
	if n := count(`SELECT (SELECT count(*) FROM team_day_people WHERE day < `+dayArg+`) + (SELECT count(*) FROM team_day_tasks WHERE day < `+dayArg+`)`, horizon, horizon); n != 0 {
		t.Errorf("%d per-person rows before the horizon", n)
	}
	if k, e := count(`SELECT count(*) FROM event_keys`), count(`SELECT count(*) FROM events`); k != e {
		t.Errorf("%d event keys for %d events", k, e)
	}
	if n := count(`SELECT count(*) FROM tasks WHERE completed_day < `+dayArg, horizon); n != 0 {
		t.Errorf("%d tasks completed before the horizon kept", n)
	}
	if n := count(`SELECT count(*) FROM tasks WHERE completed_at IS NULL AND cancelled_at IS NULL`); n != openBefore {
		t.Errorf("%d open tasks after retention, %d before", n, openBefore)
	}
	if d := diffTeamDays(teamDays(t, s), before); d != "" {
		t.Errorf("team_day changed by retention:\n%s", d)
	}
	if again, err := s.Retain(ctx, horizon, nil); err != nil || again.Total() != 0 {
		t.Errorf("a second Retain to the same horizon: %+v, %v", again, err)
	}

	mem := checkedMem(t)
	var g ids
	g.n = 1 << 20
	r := commit(t, s, mem, g.ev(event.TimeLogged, 2, 9, who(1), logged("focus", 1)), g.ev(event.TimeLogged, 10, 9, who(1), logged("focus", 1)))
	if r.Expired != 1 || r.Inserted != 1 || r.Duplicates != 0 {
		t.Errorf("commit of an expired and a current event: %+v, want 1 expired, 1 inserted", r)
	}

	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	after := teamDays(t, s)
	old := func(tds []TeamDay) []TeamDay {
		return slices.DeleteFunc(slices.Clone(tds), func(td TeamDay) bool { return td.Day >= horizon })
	}
	if d := diffTeamDays(old(after), old(before)); d != "" {
		t.Errorf("a rebuild after retention lost the team_day rows before the horizon:\n%s", d)
	}
	if n := count(`SELECT count(*) FROM tasks WHERE completed_at IS NULL AND cancelled_at IS NULL`); n < openBefore {
		t.Errorf("%d open tasks after a rebuild, %d before", n, openBefore)
	}
}

// TestRemoveSetAsideWALs deletes the set-aside logs older than the cutoff
// and leaves the newer ones and the live log.
func TestRemoveSetAsideWALs(t *testing.T) {
	s, path := openStore(t)
	old, recent := walPath(path)+".unreplayable-20260101T000000Z", walPath(path)+".unreplayable-20261201T000000Z"
	for _, f := range []string{old, recent} {
		if err := os.WriteFile(f, []byte("p_000000000000000000000001"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RemoveSetAsideWALs(time.Now().Add(-24 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("RemoveSetAsideWALs = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Error("the old set-aside log is still there")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Error("the recent set-aside log is gone")
	}
}
