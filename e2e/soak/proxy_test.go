package soak_test

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// linkMode is the state of the link between the agent and the broker.
type linkMode int

const (
	linkUp      linkMode = iota
	linkRefused          // connections are closed at once: a broker or route that resets
	linkSilent           // connections stay open, bytes are dropped both ways: a cable pulled somewhere along the route
)

func (m linkMode) String() string {
	switch m {
	case linkUp:
		return "up"
	case linkRefused:
		return "refused"
	case linkSilent:
		return "silent"
	}
	return "unknown"
}

// linkProxy stands between the agent and the receiver's MQTT listener. The
// agent dials the proxy's address, which the test holds for the whole soak,
// while the receiver gets a new port at each start (no port is picked and
// released in the hope that nobody takes it). The proxy can cut the link.
type linkProxy struct {
	ln net.Listener

	mu       sync.Mutex
	upstream string // the receiver's MQTT address; "" while it is down
	mode     linkMode
	conns    map[*pipe]struct{}
	wg       sync.WaitGroup
}

// pipe is one agent connection and, unless the link was silent when it
// came, its connection to the broker.
type pipe struct {
	client, broker net.Conn // broker is nil for a connection accepted into silence
	silent         atomic.Bool
	once           sync.Once
}

func (p *pipe) close() {
	p.once.Do(func() {
		p.client.Close()
		if p.broker != nil {
			p.broker.Close()
		}
	})
}

func newLinkProxy(ln net.Listener) *linkProxy {
	p := &linkProxy{ln: ln, conns: map[*pipe]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *linkProxy) Addr() string { return p.ln.Addr().String() }

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener is closed when the test ends
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *linkProxy) serve(c net.Conn) {
	p.mu.Lock()
	mode, upstream := p.mode, p.upstream
	p.mu.Unlock()
	pp := &pipe{client: c}
	switch {
	case mode == linkRefused:
		c.Close()
		return
	case mode == linkSilent:
		pp.silent.Store(true)
	case upstream == "":
		c.Close() // the receiver is down: as a refused connection would be
		return
	default:
		b, err := net.DialTimeout("tcp", upstream, 2*time.Second)
		if err != nil {
			c.Close()
			return
		}
		pp.broker = b
	}
	if !p.track(pp) {
		pp.close()
		return
	}
	defer p.untrack(pp)
	if pp.broker == nil {
		p.pump(nil, c, pp)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pump(pp.broker, c, pp)
	}()
	p.pump(c, pp.broker, pp)
	<-done
}

// pump copies src to dst until either side fails, dropping what it reads
// while the pipe is silent; then it closes both sides.
func (p *linkProxy) pump(dst, src net.Conn, pp *pipe) {
	defer pp.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && !pp.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// track adds a pipe unless the proxy is closing.
func (p *linkProxy) track(pp *pipe) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[pp] = struct{}{}
	return true
}

func (p *linkProxy) untrack(pp *pipe) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, pp)
}

// setUpstream points the proxy at the receiver's MQTT listener ("" while
// the receiver is down).
func (p *linkProxy) setUpstream(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upstream = addr
}

// cut refuses or silences the link, open connections included.
func (p *linkProxy) cut(mode linkMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	for pp := range p.conns {
		if mode == linkRefused {
			pp.close()
		} else {
			pp.silent.Store(true)
		}
	}
}

// restore lets the link through again. A connection that went silent lost
// bytes mid-stream and cannot go on: it is closed, and the agent dials again.
func (p *linkProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = linkUp
	for pp := range p.conns {
		if pp.silent.Load() {
			pp.close()
		}
	}
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *linkProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pp := range p.conns {
		pp.close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
