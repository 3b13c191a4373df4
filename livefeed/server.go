package livefeed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Server defaults.
const (
	DefaultKeepAlive    = 5 * time.Second
	DefaultWriteTimeout = 2 * time.Second
)

// ErrInUse is returned by Run when another process serves the socket.
var ErrInUse = errors.New("socket in use by another live process")

// Server serves the live feed on a Unix socket to any number of clients.
// SetState and SetNotices never block on a client.
type Server struct {
	path string
	log  *slog.Logger

	// KeepAlive is the interval between keep-alive lines. Set before Run.
	KeepAlive time.Duration
	// WriteTimeout is how long one line may take to reach a client before the
	// client is dropped as too slow. Set before Run.
	WriteTimeout time.Duration
	// Now stamps keep-alives; injected for tests. Set before Run.
	Now func() time.Time
	// OnPlayed, if set, is called with each valid play record a client
	// sends (a "played" line), from that client's reader goroutine. It must
	// not block for long: the client's later lines wait. Set before Run.
	OnPlayed func(wire.NoticeShownData)

	mu      sync.Mutex
	state   []byte // encoded line of the current state, nil before the first
	notices []byte // encoded line of the current notice set
	clients map[*client]struct{}
	dropped uint64
	refused uint64        // client lines refused (bad, unknown or too long)
	ready   chan struct{} // closed once listening
}

// NewServer returns a server that will listen on the Unix socket at path.
func NewServer(path string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		path:         path,
		log:          logger.With("socket", path),
		KeepAlive:    DefaultKeepAlive,
		WriteTimeout: DefaultWriteTimeout,
		Now:          time.Now,
		clients:      make(map[*client]struct{}),
		ready:        make(chan struct{}),
	}
}

// Ready is closed once Run listens; useful for tests and for ordering start-up.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Clients returns the number of connected clients.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Dropped returns how many clients were dropped for being too slow.
func (s *Server) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Refused returns how many client lines were refused: undecodable, of a
// type a client may not send, or too long.
func (s *Server) Refused() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// SetState publishes a new cabin state to every client.
func (s *Server) SetState(st wire.State) {
	line, err := EncodeMessage(Message{Type: TypeState, State: &st})
	if err != nil {
		s.log.Warn("live feed: state not sent", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = line
	for c := range s.clients {
		c.put(slotState, line)
	}
}

// SetNotices publishes a new notice set to every client.
func (s *Server) SetNotices(n wire.NoticeSet) {
	line, err := EncodeMessage(Message{Type: TypeNotices, Notices: &n})
	if err != nil {
		s.log.Warn("live feed: notices not sent", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = line
	for c := range s.clients {
		c.put(slotNotices, line)
	}
}

// Run listens on the socket and serves clients until ctx is done. A stale
// socket file left by a previous run is removed first; the socket file is
// removed again on return.
func (s *Server) Run(ctx context.Context) error {
	if fi, err := os.Lstat(s.path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("live feed listen %s: exists and is not a socket", s.path)
		}
		// A socket someone still answers on is not stale: two agents must not
		// steal each other's screens.
		var d net.Dialer
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "unix", s.path)
		dcancel()
		if err == nil {
			conn.Close()
			return fmt.Errorf("live feed listen %s: %w", s.path, ErrInUse)
		}
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("live feed remove stale socket %s: %w", s.path, err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", s.path)
	if err != nil {
		return fmt.Errorf("live feed listen %s: %w", s.path, err)
	}
	// Close removes the socket file (net.UnixListener unlinks on close).
	defer ln.Close()
	close(s.ready)
	s.log.Info("live feed listening")

	// Deferred in this order so that goroutines are told to stop before
	// they are waited for.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		ln.Close()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.keepalives(ctx)
	}()

	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("live feed accept on %s: %w", s.path, err)
		}
		c := newClient(conn)
		s.mu.Lock()
		s.clients[c] = struct{}{}
		// Under the lock, so no change slips between the snapshot and the
		// subscription.
		if s.state != nil {
			c.put(slotState, s.state)
		}
		if s.notices != nil {
			c.put(slotNotices, s.notices)
		}
		n := len(s.clients)
		s.mu.Unlock()
		s.log.Debug("live feed client connected", "clients", n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, c)
		}()
	}
}

func (s *Server) keepalives(ctx context.Context) {
	t := time.NewTicker(s.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		line, err := EncodeMessage(Message{Type: TypeKeepalive, Time: s.Now()})
		if err != nil {
			s.log.Error("live feed keep-alive", "err", err)
			continue
		}
		s.mu.Lock()
		for c := range s.clients {
			c.put(slotKeepalive, line)
		}
		s.mu.Unlock()
	}
}

// serve writes a client's mailbox to its connection until the client goes
// away, is too slow, or ctx is done.
func (s *Server) serve(ctx context.Context, c *client) {
	defer func() {
		c.conn.Close()
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	// A reader notices a client that hung up even while nothing is sent,
	// and takes the play records a display sends.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		s.read(c)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			return
		case <-c.wake:
		}
		for _, line := range c.take() {
			if err := c.conn.SetWriteDeadline(time.Now().Add(s.WriteTimeout)); err != nil {
				return
			}
			if _, err := c.conn.Write(line); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					s.mu.Lock()
					s.dropped++
					s.mu.Unlock()
					s.log.Warn("live feed client too slow, dropped", "timeout", s.WriteTimeout)
				} else {
					s.log.Debug("live feed client gone", "err", err)
				}
				return
			}
		}
	}
}

// read takes a client's lines until it hangs up. Play records go to
// OnPlayed; anything else is refused and skipped. A line longer than
// MaxClientLineBytes ends the connection: a client that sends one is broken,
// and skipping to its next newline would mean reading unbounded bytes.
func (s *Server) read(c *client) {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 0, 1024), MaxClientLineBytes+1)
	sc.Split(scanWholeLines)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		m, err := DecodeMessage(line)
		if err == nil && m.Type != TypePlayed {
			err = fmt.Errorf("a client may not send %q lines", m.Type)
		}
		if err != nil {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			s.log.Warn("live feed: client line refused", "err", err, "bytes", len(line))
			continue
		}
		if s.OnPlayed != nil {
			s.OnPlayed(*m.Played)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		s.log.Warn("live feed: client line too long, client dropped", "max", MaxClientLineBytes)
		c.conn.Close()
	}
}

// Mailbox slots, in the order they are written.
const (
	slotState = iota
	slotNotices
	slotKeepalive
	numSlots
)

// client is one connection and its mailbox: at most one pending line per
// slot, so the buffer is bounded and the newest state wins.
type client struct {
	conn net.Conn
	wake chan struct{}

	mu      sync.Mutex
	pending [numSlots][]byte
}

func newClient(conn net.Conn) *client {
	return &client{conn: conn, wake: make(chan struct{}, 1)}
}

func (c *client) put(slot int, line []byte) {
	c.mu.Lock()
	c.pending[slot] = line
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *client) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, 0, numSlots)
	for i := range c.pending {
		if c.pending[i] != nil {
			out = append(out, c.pending[i])
			c.pending[i] = nil
		}
	}
	return out
}
