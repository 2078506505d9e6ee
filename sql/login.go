package sql

import (
	"sync"
	"time"
)

// Login backoff: an attempt waits, before its password is hashed, for
//
//	min(loginBase × 2^(n-1), cap)
//
// where n counts the attempts (failed or still running) for the same user
// from the same client address, and likewise for the address across user
// names once it has used its first loginFreePerAddr. A guesser pays in
// time, not in our CPU, and cannot make a slot of ours hash faster than
// its connections allow (each waits holding one of its
// --sql-max-conns-per-addr). Failures are never counted per user alone, so
// a guesser elsewhere cannot lock a real user out; a success clears its
// user and address.
const (
	loginBase         = 100 * time.Millisecond
	loginMaxWait      = 5 * time.Second
	loginFreePerAddr  = 8
	loginForget       = 15 * time.Minute // an entry without attempts for this long is dropped
	loginMaxEntries   = 8192
	loginPruneEntries = loginMaxEntries / 2
)

type loginKey struct{ user, addr string }

type loginCount struct {
	n    int
	last time.Time
}

// loginGuard keeps the counts of recent login attempts.
type loginGuard struct {
	max time.Duration // the longest wait (at most half the startup timeout)

	mu     sync.Mutex
	byUser map[loginKey]*loginCount // user at address
	byAddr map[string]*loginCount
}

func newLoginGuard(startup time.Duration) *loginGuard {
	return &loginGuard{max: min(loginMaxWait, startup/2), byUser: map[loginKey]*loginCount{}, byAddr: map[string]*loginCount{}}
}

// begin counts an attempt and returns how long it must wait, and whether
// its address had no attempt before it that has not yet succeeded (its
// hash then does not queue behind suspected guesses).
func (g *loginGuard) begin(k loginKey, now time.Time) (wait time.Duration, clean bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.byUser)+len(g.byAddr) > loginMaxEntries {
		g.prune(now)
	}
	u := count(g.byUser, k, now)
	a := count(g.byAddr, k.addr, now)
	clean = a.n == 0
	wait = max(g.backoff(u.n), g.backoff(a.n-loginFreePerAddr))
	u.n++
	a.n++
	return wait, clean
}

// end records an attempt's outcome: a success forgets the user's and the
// address's attempts, a failure keeps them counted.
func (g *loginGuard) end(k loginKey, ok bool) {
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byUser, k)
	delete(g.byAddr, k.addr)
}

func (g *loginGuard) backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if n > 16 {
		return g.max
	}
	return min(loginBase<<(n-1), g.max)
}

func count[K comparable](m map[K]*loginCount, k K, now time.Time) *loginCount {
	c := m[k]
	if c == nil || now.Sub(c.last) > loginForget {
		c = &loginCount{}
		m[k] = c
	}
	c.last = now
	return c
}

// prune drops forgotten entries, then, if that was not enough, the
// oldest half; the guard's memory stays bounded under a flood of names.
func (g *loginGuard) prune(now time.Time) {
	for k, c := range g.byUser {
		if now.Sub(c.last) > loginForget {
			delete(g.byUser, k)
		}
	}
	for k, c := range g.byAddr {
		if now.Sub(c.last) > loginForget {
			delete(g.byAddr, k)
		}
	}
	if len(g.byUser)+len(g.byAddr) <= loginPruneEntries {
		return
	}
	cut := now.Add(-loginForget / 2)
	for cut.Before(now) && len(g.byUser)+len(g.byAddr) > loginPruneEntries {
		for k, c := range g.byUser {
			if c.last.Before(cut) {
				delete(g.byUser, k)
			}
		}
		for k, c := range g.byAddr {
			if c.last.Before(cut) {
				delete(g.byAddr, k)
			}
		}
		cut = cut.Add((now.Sub(cut) + 1) / 2)
	}
}
