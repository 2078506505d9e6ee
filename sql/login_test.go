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
	// Logins that do not fail are not slowed, in parallel either.
	for range 10 {
		if retry, clean := g.begin(guess, now); retry != 0 || !clean {
			t.Fatalf("parallel attempts: retry %s, clean %v", retry, clean)
		}
	}
	for range 9 {
		g.end(guess, loginOK, now)
	}
	// A failure opens a window for the user at the address; attempts that
	// began before it are stopped before their hash.
	g.end(guess, loginFailed, now)
	if retry, clean := g.begin(guess, now.Add(10*time.Millisecond)); retry != 90*time.Millisecond || clean {
		t.Errorf("10ms after a failure: retry in %s (clean %v), want 90ms", retry, clean)
	}
	// Serial guesses, each as soon as allowed: the windows double to the cap.
	var windows []time.Duration
	at := now.Add(100 * time.Millisecond)
	for range 8 {
		if retry, _ := g.begin(guess, at); retry != 0 {
			t.Fatalf("at the end of its window: retry %s", retry)
		}
		if g.check(guess, at) != 0 {
			t.Fatal("check refused an attempt with no failure beside it")
		}
		g.end(guess, loginFailed, at)
		w, _ := g.begin(guess, at)
		windows = append(windows, w)
		at = at.Add(w)
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if fmt.Sprint(windows) != fmt.Sprint(want) {
		t.Errorf("windows %v, want %v", windows, want)
	}
	// An attempt that began before a failure is stopped by check.
	g.begin(guess, at)
	g.begin(guess, at)
	g.end(guess, loginFailed, at)
	if g.check(guess, at) == 0 {
		t.Error("check let a parallel guess through after a failure")
	}
	g.end(guess, loginUnchecked, at)
	// The same user from another address is not slowed, and its hash
	// does not queue behind the guesses.
	if retry, clean := g.begin(loginKey{"analyst", "10.0.0.1"}, at); retry != 0 || !clean {
		t.Errorf("the real user elsewhere: retry %s, clean %v", retry, clean)
	}
	// Another user from the guessing address, past its free failures: the
	// address's own window.
	if retry, clean := g.begin(loginKey{"other", "10.0.0.9"}, at); retry == 0 || clean {
		t.Errorf("another name from the guessing address: retry %s, clean %v", retry, clean)
	}
	// A success clears the user's failures and the address's.
	g.end(loginKey{"analyst", "10.0.0.1"}, loginOK, at)
	if retry, clean := g.begin(loginKey{"analyst", "10.0.0.1"}, at.Add(time.Millisecond)); retry != 0 || !clean {
		t.Errorf("after a success: retry %s, clean %v", retry, clean)
	}
	// Forgotten after a quiet while.
	if retry, _ := g.begin(loginKey{"other", "10.0.0.9"}, at.Add(loginForget+time.Minute)); retry != 0 {
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
		k := loginKey{fmt.Sprint("u", i), fmt.Sprint("10.1.", i/250, ".", i%250)}
		at := now.Add(time.Duration(i) * time.Millisecond)
		g.begin(k, at)
		g.end(k, loginFailed, at)
	}
	if n := len(g.byUser) + len(g.byAddr); n > loginMaxEntries+2 {
		t.Errorf("%d entries", n)
	}
}
