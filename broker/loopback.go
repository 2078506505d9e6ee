package broker

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrNotLoopback is returned (wrapped) for an embedded broker address that
// other hosts could reach.
var ErrNotLoopback = errors.New("the embedded broker listens on loopback only")

// notLoopbackHelp says why the embedded broker stays on loopback and what
// to run instead.
const notLoopbackHelp = " (127.0.0.0/8, ::1 or localhost): it has no authentication and no encryption, so anyone who reaches its port " +
	"reads every raw event and can write events. Keep it on loopback (e.g. --embedded-addr 127.0.0.1:9092), or run a real Kafka " +
	"with authentication (deploy/compose/compose.yaml starts one; deploy/kubernetes points at your cluster) and pass --brokers"

// CheckLoopback returns nil when addr (host:port) is reachable from this
// host only: its host is localhost, an address in 127.0.0.0/8 or ::1. An
// empty host (":9092"), 0.0.0.0 and :: listen on every interface, and any
// other name may resolve to one, so they are refused with ErrNotLoopback.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("embedded-addr %q: %w (use host:port, e.g. 127.0.0.1:9092)", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.IsLoopback():
		return nil
	case host == "" || ip != nil && ip.IsUnspecified():
		return fmt.Errorf("embedded-addr %q listens on every interface, but %w%s", addr, ErrNotLoopback, notLoopbackHelp)
	case ip != nil:
		return fmt.Errorf("embedded-addr %q is not a loopback address, but %w%s", addr, ErrNotLoopback, notLoopbackHelp)
	default:
		return fmt.Errorf("embedded-addr %q names a host other than localhost, but %w%s", addr, ErrNotLoopback, notLoopbackHelp)
	}
}

// listenLoopback listens on addr after checking it, and checks the address
// it bound too: a name that passed the check must not have resolved off
// loopback.
func listenLoopback(network, addr string) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("embedded-addr %q bound %s, but %w%s", addr, ln.Addr(), ErrNotLoopback, notLoopbackHelp)
	}
	return ln, nil
}
