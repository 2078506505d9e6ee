package sql

import (
	"sync"
	"time"
)

// Login backoff: after an attempt, the next one for the same user from
// the same client address is not checked before
//
//	min(loginBase × 2^(n-1), cap)
//
// has passed, where n counts that user's attempts from that address
// since its last success; likewise every attempt from the address, once
// it has used loginFreePerAddr. An attempt that comes earlier is refused
// before its password is even asked for, so a guesser pays in time and
// holds no connection slot while it waits, and our CPU hashes at most one
// of its guesses per window. An attempt counts when it starts, so
// parallel guesses are throttled like serial ones. Nothing is counted per
// user alone: a guesser elsewhere cannot lock a real user out. A success
// clears its user and address.
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
	n          int       // attempts since the last success
	next, last time.Time // when the next may be checked; the last attempt
}

// loginGuard keeps the counts of recent login attempts.
type loginGuard struct {
	max time.Duration // the longest window

	mu     sync.Mutex
	byUser map[loginKey]*loginCount // user at address
	byAddr map[string]*loginCount
}

func newLoginGuard(maxWait time.Duration) *loginGuard {
	return &loginGuard{max: min(loginMaxWait, maxWait), byUser: map[loginKey]*loginCount{}, byAddr: map[string]*loginCount{}}
}

// begin decides whether an attempt may be checked now. If not, retry is
// how long until it may. clean reports that its address had no attempt
// since its last success (its hash then does not queue behind suspected
// guesses).
func (g *loginGuard) begin(k loginKey, now time.Time) (retry time.Duration, clean bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.byUser)+len(g.byAddr) > loginMaxEntries {
		g.prune(now)
	}
	u := count(g.byUser, k, now)
	a := count(g.byAddr, k.addr, now)
	if wait := max(u.next.Sub(now), a.next.Sub(now)); wait > 0 {
		return wait, false
	}
	clean = a.n == 0
	u.n++
	a.n++
	u.next = now.Add(g.backoff(u.n))
	a.next = now.Add(g.backoff(a.n - loginFreePerAddr))
	u.last, a.last = now, now
	return 0, clean
}

// end records an attempt's outcome: a success forgets its user's and its
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
		c = &loginCount{last: now}
		m[k] = c
	}
	return c
}

// prune drops forgotten entries, then, if that was not enough, the
// oldest ones; the guard's memory stays bounded under a flood of names.
func (g *loginGuard) prune(now time.Time) {
	cut := now.Add(-loginForget)
	for len(g.byUser)+len(g.byAddr) > loginPruneEntries && cut.Before(now) {
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
