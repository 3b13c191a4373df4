package nettest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy between a client and a server that can drop every
// connection, black-hole them (bytes stop flowing, sockets stay open), or
// slow the server's answers down. It is a few lines rather than toxiproxy:
// it needs no extra module and no separate server process, and these three
// behaviours are all the tests need.
type Proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []net.Conn
	blackout bool
	held     []net.Conn    // accepted during a blackout, never connected to the server
	delay    time.Duration // added before each chunk from the server
	accepted atomic.Int64  // connections accepted
}

// StartProxy forwards a new loopback listener to target until the test
// ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln := Listen(t)
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Drop() })
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		p.conns = append(p.conns, c)
		black := p.blackout
		if black {
			p.held = append(p.held, c) // accepted, never answered
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, up)
		p.mu.Unlock()
		go p.pipe(c, up, false)
		go p.pipe(up, c, true)
	}
}

// pipe copies src to dst until either closes, stalling while black-holed.
func (p *Proxy) pipe(src, dst net.Conn, fromServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for {
				p.mu.Lock()
				black, delay := p.blackout, p.delay
				p.mu.Unlock()
				if !black {
					if fromServer && delay > 0 {
						time.Sleep(delay)
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			dst.Close()
			return
		}
	}
}

// Drop closes every connection through the proxy (a cut link with resets).
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// SetBlackout stops all traffic without closing anything. Ending it lets
// the stalled bytes through and closes the connections accepted meanwhile
// (they were never connected to the server), as a link coming back would
// reset them.
func (p *Proxy) SetBlackout(on bool) {
	p.mu.Lock()
	p.blackout = on
	if !on {
		for _, c := range p.held {
			c.Close()
		}
		p.held = nil
	}
	p.mu.Unlock()
}

// SetDelay adds d before each chunk from the server.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Accepted is how many connections the proxy accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }
