package sql

import (
	"sync"
	"time"
)

// Login backoff: after a failed login, the next attempt for the same user
// from the same client address is not checked before
//
//	min(loginBase × 2^(n-1), cap)
//
// has passed, n counting that user's failures from that address since its
// last success; past loginFreePerAddr failures from an address, the same
// holds for every attempt from it. An attempt inside its window is refused
// at once, before the password is asked for, so a guesser pays in time and
// holds no connection slot while it waits; an attempt that was waiting for
// a hash slot when a failure opened its window is refused too, so parallel
// guesses cost a hash or two, not one each. Logins that do not fail are
// never slowed (a connection pool may open many at once), and nothing
// counts per user alone, so a guesser elsewhere cannot lock a real user
// out. A success clears its user's failures and its address's.
const (
	loginBase         = 100 * time.Millisecond
	loginMaxWait      = 5 * time.Second
	loginFreePerAddr  = 8
	loginForget       = 15 * time.Minute // an entry quiet for this long is dropped
	loginMaxEntries   = 8192
	loginPruneEntries = loginMaxEntries / 2
)

type loginKey struct{ user, addr string }

type loginCount struct {
	n        int       // failures since the last success
	next     time.Time // when the next attempt may be checked
	last     time.Time // the last attempt
	inflight int       // attempts begun and not ended
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

// wait is how long until k's next attempt may be checked (0: now).
func (g *loginGuard) wait(u, a *loginCount, now time.Time) time.Duration {
	w := u.next.Sub(now)
	if a.n > loginFreePerAddr {
		w = max(w, a.next.Sub(now))
	}
	return max(w, 0)
}

// begin starts an attempt, unless it is inside its window: then retry is
// how long until it may. clean reports that its address has had no failure
// since its last success (its hash then does not queue behind suspected
// guesses). A begun attempt is ended with end.
func (g *loginGuard) begin(k loginKey, now time.Time) (retry time.Duration, clean bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.byUser)+len(g.byAddr) > loginMaxEntries {
		g.prune(now)
	}
	u := count(g.byUser, k, now)
	a := count(g.byAddr, k.addr, now)
	if retry = g.wait(u, a, now); retry > 0 {
		return retry, false
	}
	u.inflight++
	a.inflight++
	u.last, a.last = now, now
	return 0, a.n == 0
}

// addrWait is how long until any attempt from addr may be checked: the
// address's own window, past its free failures (0: now).
func (g *loginGuard) addrWait(addr string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.byAddr[addr]
	if a == nil || a.n <= loginFreePerAddr {
		return 0
	}
	return max(a.next.Sub(now), 0)
}

// check is begin's test again, for an attempt about to be hashed: a
// failure may have opened its window since it began.
func (g *loginGuard) check(k loginKey, now time.Time) (retry time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, a := g.byUser[k], g.byAddr[k.addr]
	if u == nil || a == nil {
		return 0
	}
	return g.wait(u, a, now)
}

// Outcomes of a login attempt.
const (
	loginUnchecked = iota // ended before its password was checked
	loginOK
	loginFailed
)

// end ends a begun attempt: a success clears its user's failures and its
// address's; a failure counts and opens the windows.
func (g *loginGuard) end(k loginKey, outcome int, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, a := count(g.byUser, k, now), count(g.byAddr, k.addr, now)
	u.inflight = max(u.inflight-1, 0)
	a.inflight = max(a.inflight-1, 0)
	switch outcome {
	case loginUnchecked:
		return
	case loginOK:
		u.n, u.next = 0, time.Time{}
		a.n, a.next = 0, time.Time{}
		return
	}
	u.n++
	a.n++
	u.next = now.Add(g.backoff(u.n))
	a.next = now.Add(g.backoff(a.n - loginFreePerAddr))
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
	if c == nil || c.inflight == 0 && now.Sub(c.last) > loginForget {
		c = &loginCount{last: now}
		m[k] = c
	}
	return c
}

// prune drops forgotten entries, then, if that was not enough, the
// oldest ones (never one with an attempt running); the guard's memory
// stays bounded under a flood of names.
func (g *loginGuard) prune(now time.Time) {
	cut := now.Add(-loginForget)
	for len(g.byUser)+len(g.byAddr) > loginPruneEntries && cut.Before(now) {
		for k, c := range g.byUser {
			if c.inflight == 0 && c.last.Before(cut) {
				delete(g.byUser, k)
			}
		}
		for k, c := range g.byAddr {
			if c.inflight == 0 && c.last.Before(cut) {
				delete(g.byAddr, k)
			}
		}
		cut = cut.Add((now.Sub(cut) + 1) / 2)
	}
}
