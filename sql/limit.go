package sql

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxMessageBytes is the largest protocol message a client may send (the
// wire library allocates a buffer of this size per connection); a
// statement is at most 64 KiB.
const maxMessageBytes = 80 << 10

// Reasons a connection is refused or closed by the endpoint, the values of
// the closed-connections counter's reason label.
const (
	closedMaxConns        = "max_conns"          // --sql-max-conns open already
	closedMaxConnsPerAddr = "max_conns_per_addr" // --sql-max-conns-per-addr open from its address
	closedStartupTimeout  = "startup_timeout"    // no login within --sql-startup-timeout
	closedIdleTimeout     = "idle_timeout"       // silent for --sql-idle-timeout
	closedEvicted         = "evicted"            // not logged in, silent, and its slot needed
	closedThrottled       = "throttled"          // its address is inside a failed-login window
)

// evictAfter is how long a connection that has not logged in may keep the
// endpoint waiting for its next message before, when every slot is taken,
// its slot goes to a new connection.
const evictAfter = time.Second

// Phases of a connection.
const (
	phaseStartup  int32 = iota // waiting for the client's startup (and TLS) messages
	phasePassword              // waiting for the client's password
	phaseChecking              // checking the password (waiting for us)
	phaseSession               // logged in
)

// refusing bounds the refused connections draining at once.
const refusing = 64

// listener holds the endpoint's connection limits: at most max open
// connections, at most perAddr from one client address, a startup deadline
// for each new connection and an idle deadline once it has logged in. A
// connection over a cap is answered with SQLSTATE 53300 and closed, as
// PostgreSQL does, rather than left waiting in the listen backlog; but when
// every slot is taken, a connection that has not logged in and has kept
// the endpoint waiting for its client for evictAfter gives its slot up
// first, so sockets that never send a startup packet cannot hold the
// endpoint from several addresses either.
type listener struct {
	net.Listener
	max, perAddr  int
	startup, idle time.Duration
	log           *slog.Logger
	closed        *prometheus.CounterVec
	refusals      chan struct{}
	tls           *tls.Config // for refusals of clients that ask for TLS
	// throttled is how long until an address may try to log in again (0:
	// now); a connection from it before then is refused at once.
	throttled       func(addr string, now time.Time) time.Duration
	mu              sync.Mutex
	open            int
	byAddr          map[string]int
	conns           map[*conn]struct{}
	refusalsRunning sync.WaitGroup
}

func newListener(ln net.Listener, cfg Config, tlsCfg *tls.Config, closed *prometheus.CounterVec, logger *slog.Logger) *listener {
	return &listener{
		Listener: ln, max: cfg.MaxConns, perAddr: cfg.MaxConnsPerAddr, startup: cfg.StartupTimeout, idle: cfg.IdleTimeout,
		tls: tlsCfg, log: logger, closed: closed, refusals: make(chan struct{}, refusing), byAddr: map[string]int{}, conns: map[*conn]struct{}{},
	}
}

// Accept returns the next connection within the caps, with its startup
// deadline set; connections over a cap are refused on the side.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := hostOf(c.RemoteAddr())
		lc := &conn{Conn: c, l: l, addr: addr, startupDeadline: time.Now().Add(l.startup)}
		lc.remote = &remoteAddr{Addr: c.RemoteAddr(), conn: lc}
		lc.setPhase(phaseStartup)
		if l.throttled != nil {
			if wait := l.throttled(addr, time.Now()); wait > 0 {
				l.refuse(c, closedThrottled, fmt.Sprintf("too many failed logins from your address: try again in %s", wait.Round(10*time.Millisecond)))
				continue
			}
		}
		reason := l.admit(lc)
		if reason != "" {
			l.refuse(c, reason, "")
			continue
		}
		if err := c.SetDeadline(lc.startupDeadline); err != nil {
			lc.Close()
			continue
		}
		return lc, nil
	}
}

// admit counts c in, or returns why not; a full endpoint first evicts a
// connection that keeps it waiting.
func (l *listener) admit(c *conn) (reason string) {
	for {
		l.mu.Lock()
		var victim *conn
		switch {
		case l.byAddr[c.addr] >= l.perAddr:
			reason = closedMaxConnsPerAddr
		case l.open >= l.max:
			reason = closedMaxConns
			now := time.Now().UnixNano()
			for o := range l.conns {
				if o.evictable(now) && (victim == nil || o.phaseSince.Load() < victim.phaseSince.Load()) {
					victim = o
				}
			}
		default:
			l.open++
			l.byAddr[c.addr]++
			l.conns[c] = struct{}{}
			l.mu.Unlock()
			return ""
		}
		l.mu.Unlock()
		if victim == nil {
			return reason
		}
		l.closed.WithLabelValues(closedEvicted).Inc()
		l.log.Info("SQL connection closed: it had not logged in and kept the endpoint waiting while every slot was taken", "client", victim.Conn.RemoteAddr().String(), "reason", closedEvicted)
		victim.Close()
	}
}

// Close stops accepting and waits for refusals being written.
func (l *listener) Close() error {
	err := l.Listener.Close()
	l.refusalsRunning.Wait()
	return err
}

func (l *listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	addr := c.addr
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// connections is the number of open connections.
func (l *listener) connections() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// refuse answers c with a FATAL error (SQLSTATE 53300, or 28000 for a
// throttled address) and closes it. Clients ask for TLS before anything
// else and do not trust an error in place of the answer (libpq reports
// only "error response during SSL exchange"), so the refusal takes the
// client's first messages as the endpoint would (TLS if it has it, no GSS)
// and answers the startup message; a client silent for a second is just
// closed. Refusals in progress are bounded; beyond that the error is
// written at once.
func (l *listener) refuse(c net.Conn, reason, msg string) {
	l.closed.WithLabelValues(reason).Inc()
	code := "53300"
	switch reason {
	case closedMaxConns:
		msg = "sorry, too many clients already: the SQL endpoint holds at most --sql-max-conns connections; try again later"
	case closedMaxConnsPerAddr:
		msg = "too many connections from your address: the SQL endpoint holds at most --sql-max-conns-per-addr connections from one address; close one (or use a connection pool) and try again"
	case closedThrottled:
		code = "28000"
	}
	c.SetDeadline(time.Now().Add(time.Second))
	select {
	case l.refusals <- struct{}{}:
	default:
		c.Write(errorResponse(code, msg)) //nolint:errcheck // closed either way
		c.Close()
		return
	}
	l.refusalsRunning.Add(1)
	go func() {
		defer l.refusalsRunning.Done()
		defer func() { <-l.refusals }()
		defer c.Close()
		tellRefused(c, l.tls, errorResponse(code, msg))
	}()
}

// Protocol codes of the startup packet (PostgreSQL's protocol).
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
)

// tellRefused reads the client's startup message, answering a TLS request
// (with TLS when tlsCfg is set) and a GSS one (no), then writes msg and
// half-closes the connection, so the error is read before the close.
func tellRefused(c net.Conn, tlsCfg *tls.Config, msg []byte) {
	for range 3 {
		var head [8]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint32(head[:4]))
		if size < 8 || size > 10000 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(size-8)); err != nil {
			return
		}
		switch binary.BigEndian.Uint32(head[4:]) {
		case codeCancelRequest:
			return
		case codeSSLRequest:
			if _, isTLS := c.(*tls.Conn); tlsCfg != nil && !isTLS {
				if _, err := c.Write([]byte{'S'}); err != nil {
					return
				}
				tc := tls.Server(c, tlsCfg)
				if err := tc.Handshake(); err != nil {
					return
				}
				c = tc
				continue
			}
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
		case codeGSSENCRequest:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
		default:
			if _, err := c.Write(msg); err != nil {
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				tc.CloseWrite() //nolint:errcheck // closed after the drain either way
			} else if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite() //nolint:errcheck // ditto
			}
			io.Copy(io.Discard, io.LimitReader(c, 1<<16)) //nolint:errcheck // draining until the client closes or the deadline
			return
		}
	}
}

// errorResponse is a FATAL ErrorResponse message.
func errorResponse(code, msg string) []byte {
	b := []byte{'E', 0, 0, 0, 0}
	for _, f := range []struct {
		t byte
		v string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', code}, {'M', msg}} {
		b = append(b, f.t)
		b = append(b, f.v...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:5], uint32(len(b)-1))
	return b
}

// conn is one accepted connection: it gives its slot back when closed,
// and once its session has started (established) it is closed after the
// idle timeout without a byte from the client, or with none of ours read.
type conn struct {
	net.Conn
	l               *listener
	addr            string
	remote          *remoteAddr
	startupDeadline time.Time
	// writeLimit, when set (Unix nanoseconds), is when a write must end:
	// the running statement's deadline has passed.
	writeLimit  atomic.Int64
	established atomic.Bool
	phase       atomic.Int32
	phaseSince  atomic.Int64 // Unix nanoseconds
	closeOnce   sync.Once
	timedOut    atomic.Bool
}

// remoteAddr is the client's address as the wire library hands it to the
// session: it leads back to the connection.
type remoteAddr struct {
	net.Addr
	conn *conn
}

func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) Read(p []byte) (int, error) {
	if c.established.Load() {
		c.Conn.SetReadDeadline(time.Now().Add(c.l.idle))
	}
	n, err := c.Conn.Read(p)
	c.noteTimeout(err)
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if c.established.Load() {
		d := time.Now().Add(c.l.idle)
		if l := c.writeLimit.Load(); l != 0 {
			d = time.Unix(0, min(l, d.UnixNano()))
		}
		c.Conn.SetWriteDeadline(d)
	}
	n, err := c.Conn.Write(p)
	c.noteTimeout(err)
	return n, err
}

func (c *conn) noteTimeout(err error) {
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || !c.timedOut.CompareAndSwap(false, true) {
		return
	}
	reason, what := closedStartupTimeout, "it did not log in within --sql-startup-timeout"
	switch {
	case c.writeLimit.Load() != 0:
		reason, what = closedIdleTimeout, "it took none of its result within --sql-statement-timeout"
	case c.established.Load():
		reason, what = closedIdleTimeout, "it was idle for --sql-idle-timeout"
	}
	c.l.closed.WithLabelValues(reason).Inc()
	c.l.log.Info("SQL connection closed: "+what, "client", c.Conn.RemoteAddr().String(), "reason", reason)
}

// writeGrace is how long past its statement's deadline a client has to
// take what is being written to it before the connection is cut.
const writeGrace = 5 * time.Second

// limitWrites is called when the running statement's deadline passes:
// writes must end within writeGrace, also one blocked now.
func (c *conn) limitWrites() {
	d := time.Now().Add(writeGrace)
	c.writeLimit.Store(d.UnixNano())
	c.Conn.SetWriteDeadline(d)
}

// unlimitWrites ends limitWrites once the statement has returned.
func (c *conn) unlimitWrites() { c.writeLimit.Store(0) }

// establish ends the startup deadline: the session has logged in.
func (c *conn) establish() {
	c.Conn.SetDeadline(time.Time{})
	c.established.Store(true)
	c.setPhase(phaseSession)
}

func (c *conn) setPhase(p int32) {
	c.phaseSince.Store(time.Now().UnixNano())
	c.phase.Store(p)
}

// evictable: not logged in, and waiting for its client for evictAfter.
func (c *conn) evictable(now int64) bool {
	p := c.phase.Load()
	return (p == phaseStartup || p == phasePassword) && now-c.phaseSince.Load() >= int64(evictAfter)
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() { c.l.release(c) })
	return c.Conn.Close()
}

// hostOf is the client address a connection is counted under.
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
