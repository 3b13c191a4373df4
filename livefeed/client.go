package livefeed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Conn is one connection to a live feed server.
type Conn struct {
	conn net.Conn
	sc   *bufio.Scanner
	// ReadTimeout, if positive, fails Next when no line (keep-alives
	// included) arrives for that long: the agent is hung or gone.
	ReadTimeout time.Duration
}

// Dial connects to the live feed at path.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("live feed dial %s: %w", path, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+1)
	sc.Split(scanWholeLines)
	return &Conn{conn: conn, sc: sc}, nil
}

// Close closes the connection; a blocked Next returns.
func (c *Conn) Close() error { return c.conn.Close() }

// NextLine returns the next raw line, without its newline.
func (c *Conn) NextLine() ([]byte, error) {
	if c.ReadTimeout > 0 {
		if err := c.conn.SetReadDeadline(time.Now().Add(c.ReadTimeout)); err != nil {
			return nil, fmt.Errorf("live feed set read deadline: %w", err)
		}
	}
	if !c.sc.Scan() {
		if err := c.sc.Err(); err != nil {
			return nil, fmt.Errorf("live feed read: %w", err)
		}
		return nil, fmt.Errorf("live feed read: %w", errClosed)
	}
	return c.sc.Bytes(), nil
}

var errClosed = errors.New("connection closed by the agent")

// scanWholeLines is bufio.ScanLines without its last-line rule: bytes after
// the last newline when the connection ends are a line cut short (a server
// that dropped us mid-write), not a message.
func scanWholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, bytes.TrimSuffix(data[:i], []byte{'\r'}), nil
	}
	if atEOF && len(data) > 0 {
		return len(data), nil, nil
	}
	return 0, nil, nil
}

// Subscriber follows the live feed across agent restarts. Its zero value is
// not usable; fill Path and Handle at least.
type Subscriber struct {
	// Path is the agent's socket.
	Path string
	// Logger receives connection changes and skipped lines (none if nil).
	Logger *slog.Logger
	// Handle is called, from the Run goroutine, for every valid message.
	Handle func(Message)
	// OnLink, if set, is called with true when a connection is up and false
	// when it is lost. It must not block.
	OnLink func(up bool)
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (defaults 200 ms and 5 s); the wait doubles after each failure.
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout drops a connection on which nothing arrives for that long
	// (default three server keep-alive intervals).
	ReadTimeout time.Duration

	mu      sync.Mutex
	state   *wire.State
	notices *wire.NoticeSet
	skipped uint64
}

// Subscribe follows the live feed at path until ctx is done, calling fn for
// each message. It is Subscriber.Run with default settings.
func Subscribe(ctx context.Context, path string, logger *slog.Logger, fn func(Message)) error {
	s := &Subscriber{Path: path, Logger: logger, Handle: fn}
	return s.Run(ctx)
}

// Last returns the last state and notice set received, nil before the
// first; they survive disconnections.
func (s *Subscriber) Last() (*wire.State, *wire.NoticeSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.notices
}

// Skipped returns how many bad lines were skipped.
func (s *Subscriber) Skipped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// Run connects, reads and reconnects until ctx is done; it returns ctx.Err().
func (s *Subscriber) Run(ctx context.Context) error {
	minB, maxB := s.MinBackoff, s.MaxBackoff
	if minB <= 0 {
		minB = 200 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(5*time.Second, minB)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	log := s.Logger.With("socket", s.Path)
	backoff := minB
	for {
		got, err := s.once(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if got {
			backoff = minB
		}
		log.Info("live feed unavailable, retrying", "err", err, "in", backoff)
		// Jitter keeps several displays from reconnecting in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, maxB)
	}
}

// once runs one connection; got reports whether any valid line arrived.
func (s *Subscriber) once(ctx context.Context) (got bool, err error) {
	c, err := Dial(ctx, s.Path)
	if err != nil {
		return false, err
	}
	c.ReadTimeout = s.ReadTimeout
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 3 * DefaultKeepAlive
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if s.OnLink != nil {
		s.OnLink(true)
		defer s.OnLink(false)
	}
	s.Logger.Info("live feed connected", "socket", s.Path)
	for {
		line, err := c.NextLine()
		if err != nil {
			return got, err
		}
		m, err := DecodeMessage(line)
		if err != nil {
			s.mu.Lock()
			s.skipped++
			s.mu.Unlock()
			s.Logger.Warn("live feed: bad line skipped", "err", err, "bytes", len(line))
			continue
		}
		got = true
		s.mu.Lock()
		switch m.Type {
		case TypeState:
			s.state = m.State
		case TypeNotices:
			// An older set never replaces a newer one of the same site.
			if s.notices != nil && s.notices.Site == m.Notices.Site && m.Notices.Version < s.notices.Version {
				s.mu.Unlock()
				s.Logger.Warn("live feed: older notice set ignored", "version", m.Notices.Version, "have", s.notices.Version)
				continue
			}
			s.notices = m.Notices
		}
		s.mu.Unlock()
		if s.Handle != nil {
			s.Handle(m)
		}
	}
}
