package nettest

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

func TestListenAccepts(t *testing.T) {
	l := Listen(t)
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial the listener: %v", err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("accept: %v", err)
	}
}

func TestRefusedAddrRefuses(t *testing.T) {
	_, err := net.Dial("tcp", RefusedAddr(t))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial RefusedAddr: got %v, want connection refused", err)
	}
}
