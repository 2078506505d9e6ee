package transform

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestReleaseLedger: a week's release is written once, read back as it
// was decided, refused a second time, kept across a reopen and a Rebuild,
// and events that arrive later change none of it.
func TestReleaseLedger(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	s, path := openStore(t)
	var g ids
	week := calendar.WeekStart(day0)
	var evs []event.Event
	for p := range 6 {
		evs = append(evs, g.ev(event.TimeLogged, 0, 9, who(p), logged("meeting", 1)))
	}
	commit(t, s, mem, evs...)
	release := func() privacy.Release { return decideWeek(t, s, week) }
	r := release()
	releasedAt := time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	if err := s.Release(ctx, r, releasedAt); err != nil {
		t.Fatal(err)
	}
	read := func(s *Store) ([]privacy.Published, []privacy.Published, []privacy.QualityCell) {
		w, d, err := s.Released(ctx, week, week, true)
		if err != nil {
			t.Fatal(err)
		}
		q, err := s.ReleasedQuality(ctx, week, week)
		if err != nil {
			t.Fatal(err)
		}
		return w, d, q
	}
	w, d, q := read(s)
	if !reflect.DeepEqual(w, r.Weekly) || !reflect.DeepEqual(d, r.Daily) || !reflect.DeepEqual(q, r.Quality) {
		t.Fatalf("the ledger does not give back the release:\nweekly %v\nwant   %v", w[:3], r.Weekly[:3])
	}
	var shown int
	for _, c := range w {
		if c.Visible && c.Metric == "meeting_load" && c.Level == "team" {
			shown++
			if c.Value != 3600 {
				t.Errorf("meeting_load = %v, want 3600", c.Value)
			}
		}
	}
	if shown != 1 {
		t.Errorf("%d visible team meeting_load cells, want 1", shown)
	}
	// A late entry: stored and counted, but the release stays as it was.
	late := g.ev(event.TimeLogged, 1, 9, who(1), logged("meeting", 5))
	if res := commit(t, s, mem, late, g.ev(event.TimeLogged, 7, 9, who(1), logged("meeting", 5))); res.AfterRelease != 1 || res.Inserted != 2 {
		t.Errorf("a late entry and one of the next week: %+v, want 2 inserted, 1 after the release", res)
	}
	// Duplicates (of a stored event, and twice in the batch) are not late
	// events: counted from what is stored, not from the batch.
	late2 := g.ev(event.TimeLogged, 2, 9, who(1), logged("meeting", 5))
	if res := commit(t, s, mem, late, late2, late2); res.AfterRelease != 1 || res.Inserted != 1 || res.Duplicates != 2 {
		t.Errorf("a stored late entry and a new one twice: %+v, want 1 inserted, 2 duplicates, 1 after the release", res)
	}
	if err := s.Release(ctx, release(), releasedAt.Add(time.Hour)); !errors.Is(err, ErrReleased) {
		t.Fatalf("second release of the week: %v, want ErrReleased", err)
	}
	if err := s.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if w2, d2, q2 := read(s); !reflect.DeepEqual(w2, w) || !reflect.DeepEqual(d2, d) || !reflect.DeepEqual(q2, q) {
		t.Fatal("the release changed after a late event and a rebuild")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, Config{Path: filepath.Clean(path), Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if w2, _, _ := read(s2); !reflect.DeepEqual(w2, w) {
		t.Fatal("the release changed across a reopen")
	}
	infos, err := s2.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Week != week || !infos[0].ReleasedAt.Equal(releasedAt) || infos[0].K != 5 ||
		len(infos[0].Hierarchy.Units) != 1 || infos[0].Cells != int64(len(r.Weekly)+len(r.Daily)) {
		t.Errorf("Releases = %+v", infos)
	}
}
