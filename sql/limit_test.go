package sql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testListener(t *testing.T, cfg Config) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "closed"}, []string{"reason"})
	l := newListener(ln, cfg, nil, closed, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { l.Close() })
	return l
}

// dialFrom connects to l from a local address (any 127.x.y.z is loopback
// on Linux, so tests can be several clients).
func dialFrom(t *testing.T, l net.Listener, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusal sends a startup packet on c and returns the error the endpoint
// answers with.
func refusal(t *testing.T, c net.Conn) string {
	t.Helper()
	body := []byte{0, 3, 0, 0}
	body = append(body, "user\x00someone\x00\x00"...)
	pkt := append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	return string(b)
}

// TestListenerCaps: one address gets at most its share, others still get
// in, a client over a cap is told why (SQLSTATE 53300), and a closed
// connection gives its slot back once.
func TestListenerCaps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns, cfg.MaxConnsPerAddr = 3, 2
	l := testListener(t, cfg)
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	next := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(20 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	dialFrom(t, l, "127.0.0.1")
	first := next()
	dialFrom(t, l, "127.0.0.1")
	next()
	if msg := refusal(t, dialFrom(t, l, "127.0.0.1")); !strings.Contains(msg, "53300") || !strings.Contains(msg, "--sql-max-conns-per-addr") {
		t.Errorf("third connection from one address: %q, want SQLSTATE 53300 naming --sql-max-conns-per-addr", msg)
	}
	dialFrom(t, l, "127.0.0.2")
	next()
	if msg := refusal(t, dialFrom(t, l, "127.0.0.3")); !strings.Contains(msg, "53300") || !strings.Contains(msg, "too many clients") {
		t.Errorf("connection over the cap: %q, want SQLSTATE 53300", msg)
	}
	first.Close()
	first.Close() // closing twice releases once
	dialFrom(t, l, "127.0.0.1")
	next()
	if n := l.connections(); n != 3 {
		t.Errorf("%d connections counted, want 3", n)
	}
	if got := testutil.ToFloat64(l.closed.WithLabelValues(closedMaxConnsPerAddr)); got != 1 {
		t.Errorf("refusals per address counted %v, want 1", got)
	}
}

// TestListenerDeadlines: a connection that does not log in is cut at the
// startup deadline; once its session is established, at the idle deadline
// after its last byte.
func TestListenerDeadlines(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StartupTimeout, cfg.IdleTimeout = 300*time.Millisecond, 600*time.Millisecond
	l := testListener(t, cfg)
	dialFrom(t, l, "127.0.0.1")
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read before login: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("startup deadline after %s", d)
	}
	c.Close()

	client := dialFrom(t, l, "127.0.0.1")
	c, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.(*conn).establish()
	time.Sleep(400 * time.Millisecond) // past the startup deadline: established sessions do not have one
	client.Write([]byte("x"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read after login: %v", err)
	}
	start = time.Now()
	if _, err = c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("idle read: %v, want a timeout", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("idle deadline after %s", d)
	}
	if got := testutil.ToFloat64(l.closed.WithLabelValues(closedIdleTimeout)) + testutil.ToFloat64(l.closed.WithLabelValues(closedStartupTimeout)); got != 2 {
		t.Errorf("%v timeouts counted, want 2", got)
	}
}

func TestErrorResponse(t *testing.T) {
	b := errorResponse("53300", "full")
	want := "E\x00\x00\x00\x20SFATAL\x00VFATAL\x00C53300\x00Mfull\x00\x00"
	if !bytes.Equal(b, []byte(want)) {
		t.Errorf("%q, want %q", b, want)
	}
}

// TestListenerEvicts: with every slot taken, a new client gets the slot
// of a connection that has not logged in and kept the endpoint waiting
// (evictAfter), the oldest first; young ones and sessions are kept.
func TestListenerEvicts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns, cfg.MaxConnsPerAddr = 3, 3
	l := testListener(t, cfg)
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	next := func() *conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c.(*conn)
		case <-time.After(20 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	idle := dialFrom(t, l, "127.0.0.1")
	next()
	time.Sleep(100 * time.Millisecond)
	dialFrom(t, l, "127.0.0.1")
	next()
	dialFrom(t, l, "127.0.0.1")
	next().establish() // a session: never evicted
	time.Sleep(evictAfter + 100*time.Millisecond)
	dialFrom(t, l, "127.0.0.2")
	next()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Error("the oldest idle connection was not closed")
	}
	dialFrom(t, l, "127.0.0.3")
	next() // the second idle one's slot
	if msg := refusal(t, dialFrom(t, l, "127.0.0.4")); !strings.Contains(msg, "53300") {
		t.Errorf("with a session and two young connections: %q, want 53300", msg)
	}
	if got := testutil.ToFloat64(l.closed.WithLabelValues(closedEvicted)); got != 2 {
		t.Errorf("%v evictions counted, want 2", got)
	}
}

// TestRefusalAfterTLSRequest: a refused client that asks for TLS first
// (libpq's default) is answered no, then told why, as its startup message
// gets an answer.
func TestRefusalAfterTLSRequest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns, cfg.MaxConnsPerAddr = 1, 1
	l := testListener(t, cfg)
	go func() {
		for {
			if _, err := l.Accept(); err != nil {
				return
			}
		}
	}()
	dialFrom(t, l, "127.0.0.1")
	time.Sleep(100 * time.Millisecond)
	c := dialFrom(t, l, "127.0.0.2")
	c.Write(binary.BigEndian.AppendUint32([]byte{0, 0, 0, 8}, codeSSLRequest))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'N' {
		t.Fatalf("answer to the TLS request: %q, %v", b, err)
	}
	if msg := refusal(t, c); !strings.HasPrefix(msg, "E") || !strings.Contains(msg, "53300") {
		t.Errorf("after the TLS request: %q", msg)
	}
}
