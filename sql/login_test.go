package sql

import (
	"fmt"
	"testing"
	"time"
)

func TestLoginGuard(t *testing.T) {
	g := newLoginGuard(5 * time.Second)
	now := time.Now()
	guess := loginKey{"analyst", "10.0.0.9"}
	if retry, clean := g.begin(guess, now); retry != 0 || !clean {
		t.Fatalf("first attempt: retry %s, clean %v", retry, clean)
	}
	// Parallel guesses: refused until the window has passed.
	if retry, _ := g.begin(guess, now.Add(10*time.Millisecond)); retry != 90*time.Millisecond {
		t.Errorf("second attempt 10ms later: retry in %s, want 90ms", retry)
	}
	g.end(guess, false)
	// Serial guesses, each as soon as allowed: the windows after the 2nd to
	// the 9th double to the cap.
	var windows []time.Duration
	at := now
	for range 8 {
		retry, _ := g.begin(guess, at)
		for retry > 0 {
			at = at.Add(retry)
			retry, _ = g.begin(guess, at)
		}
		g.end(guess, false)
		w, _ := g.begin(guess, at)
		windows = append(windows, w)
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if fmt.Sprint(windows) != fmt.Sprint(want) {
		t.Errorf("windows %v, want %v", windows, want)
	}
	// The same user from another address is not slowed, and its hash
	// does not queue behind the guesses.
	if retry, clean := g.begin(loginKey{"analyst", "10.0.0.1"}, at); retry != 0 || !clean {
		t.Errorf("the real user elsewhere: retry %s, clean %v", retry, clean)
	}
	// Another user from the guessing address, past its free attempts: the
	// address's own window.
	if retry, clean := g.begin(loginKey{"other", "10.0.0.9"}, at); retry == 0 || clean {
		t.Errorf("another name from the guessing address: retry %s, clean %v", retry, clean)
	}
	// A success clears its user and address.
	ok := loginKey{"analyst", "10.0.0.1"}
	g.end(ok, true)
	if retry, clean := g.begin(ok, at.Add(time.Millisecond)); retry != 0 || !clean {
		t.Errorf("after a success: retry %s, clean %v", retry, clean)
	}
	// Forgotten after a quiet while.
	if retry, _ := g.begin(guess, at.Add(loginForget+time.Second)); retry != 0 {
		t.Errorf("after %s: %s", loginForget, retry)
	}
	if g := newLoginGuard(time.Second); g.max != time.Second {
		t.Errorf("cap %s, want the 1s given", g.max)
	}
}

// TestLoginGuardBounded: a flood of names and addresses does not grow the
// guard without bound.
func TestLoginGuardBounded(t *testing.T) {
	g := newLoginGuard(5 * time.Second)
	now := time.Now()
	for i := range 50000 {
		g.begin(loginKey{fmt.Sprint("u", i), fmt.Sprint("10.1.", i/250, ".", i%250)}, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(g.byUser) + len(g.byAddr); n > loginMaxEntries+2 {
		t.Errorf("%d entries", n)
	}
}
