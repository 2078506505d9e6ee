package sql

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginGuard(t *testing.T) {
	g := newLoginGuard(10 * time.Second)
	now := time.Now()
	guess := loginKey{"analyst", "10.0.0.9"}
	var waits []time.Duration
	for range 8 { // parallel guesses: none has ended yet
		w, _ := g.begin(guess, now)
		waits = append(waits, w)
	}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	for range 8 {
		g.end(guess, false)
	}
	if w, _ := g.begin(guess, now); w != 5*time.Second {
		t.Errorf("after 8 failures: %s, want the cap", w)
	}
	// The same user from another address is not slowed, and its hash
	// does not queue behind the guesses.
	if w, clean := g.begin(loginKey{"analyst", "10.0.0.1"}, now); w != 0 || !clean {
		t.Errorf("the real user elsewhere: wait %s, clean %v", w, clean)
	}
	// Another user from the guessing address: slowed once the address has
	// used its free attempts (9 so far).
	if w, clean := g.begin(loginKey{"other", "10.0.0.9"}, now); w != loginBase || clean {
		t.Errorf("another name from the guessing address: wait %s, clean %v", w, clean)
	}
	// A success clears its user and address.
	ok := loginKey{"analyst", "10.0.0.1"}
	g.end(ok, true)
	if w, clean := g.begin(ok, now); w != 0 || !clean {
		t.Errorf("after a success: wait %s, clean %v", w, clean)
	}
	// Forgotten after a quiet while.
	if w, _ := g.begin(guess, now.Add(loginForget+time.Second)); w != 0 {
		t.Errorf("after %s: %s", loginForget, w)
	}
	// The cap stays under the startup timeout.
	if g := newLoginGuard(2 * time.Second); g.max != time.Second {
		t.Errorf("cap with a 2s startup timeout: %s", g.max)
	}
}

// TestLoginGuardBounded: a flood of names and addresses does not grow the
// guard without bound.
func TestLoginGuardBounded(t *testing.T) {
	g := newLoginGuard(10 * time.Second)
	now := time.Now()
	for i := range 50000 {
		g.begin(loginKey{fmt.Sprint("u", i), fmt.Sprint("10.1.", i/250, ".", i%250)}, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(g.byUser) + len(g.byAddr); n > loginMaxEntries+2 {
		t.Errorf("%d entries", n)
	}
}
