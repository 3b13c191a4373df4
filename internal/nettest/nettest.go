package nettest

import (
	"net"
	"testing"
)

// Listen returns a TCP listener bound to a free loopback port, closed when
// the test ends. Hand it to the server under test instead of its port.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nettest: listen on loopback: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// RefusedAddr returns a loopback "host:port" where nothing listens: a port
// that was just bound and released. Only tests of a refused connection use
// it, where another process taking the port in between would at worst make
// the test see a different refusal.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nettest: listen on loopback: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("nettest: release %s: %v", addr, err)
	}
	return addr
}
