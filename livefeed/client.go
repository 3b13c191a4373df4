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

// Send writes one message to the server (a client sends "played" lines),
// giving up after timeout if positive.
func (c *Conn) Send(m Message, timeout time.Duration) error {
	line, err := EncodeMessage(m)
	if err != nil {
		return err
	}
	if timeout > 0 {
		if err := c.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return fmt.Errorf("live feed set write deadline: %w", err)
		}
	}
	if _, err := c.conn.Write(line); err != nil {
		return fmt.Errorf("live feed send %s: %w", m.Type, err)
	}
	return nil
}

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
	played  chan wire.NoticeShownData // records waiting for a connection
	lost    uint64                    // records dropped: queue full or write failed
}

// MaxPendingPlays bounds the play records a subscriber keeps while the
// agent is away; older ones are dropped beyond it (Subscriber.LostPlays).
const MaxPendingPlays = 256

// Played queues a play record for the agent; it never blocks. Records wait
// across disconnections, up to MaxPendingPlays.
func (s *Subscriber) Played(d wire.NoticeShownData) {
	s.mu.Lock()
	ch := s.queue()
	s.mu.Unlock()
	for {
		select {
		case ch <- d:
			return
		default:
		}
		// Full: the oldest record gives way to the newest.
		select {
		case <-ch:
			s.mu.Lock()
			s.lost++
			s.mu.Unlock()
		default:
		}
	}
}

// LostPlays returns how many play records were dropped (queue full while
// the agent was away, or a write that failed).
func (s *Subscriber) LostPlays() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// queue returns the play queue, made on first use; s.mu must be held.
func (s *Subscriber) queue() chan wire.NoticeShownData {
	if s.played == nil {
		s.played = make(chan wire.NoticeShownData, MaxPendingPlays)
	}
	return s.played
}

// sendPlays writes queued play records to c until done is closed or a
// write fails.
func (s *Subscriber) sendPlays(c *Conn, done <-chan struct{}) {
	s.mu.Lock()
	ch := s.queue()
	s.mu.Unlock()
	for {
		select {
		case <-done:
			return
		case d := <-ch:
			if err := c.Send(Message{Type: TypePlayed, Played: &d}, 2*time.Second); err != nil {
				s.mu.Lock()
				s.lost++
				s.mu.Unlock()
				s.Logger.Warn("live feed: play record not sent", "err", err)
				return
			}
		}
	}
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
	done := make(chan struct{})
	var senders sync.WaitGroup
	senders.Add(1)
	go func() { defer senders.Done(); s.sendPlays(c, done) }()
	defer senders.Wait()
	defer close(done)
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
