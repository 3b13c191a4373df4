package livefeed

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// guard bounds every wait: a failure guard, never a timing assertion.
const guard = 15 * time.Second

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// sockPath returns a short socket path: t.TempDir() can exceed sun_path's
// 108 bytes.
func sockPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "a.sock")
}

var t0 = time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)

func state(floor int) wire.State {
	return wire.State{
		V: wire.Version, Site: "les-pins", Cabin: "a", Time: t0, Floor: floor,
		Direction: wire.DirectionNone, Doors: []string{wire.DoorClosed}, Mode: wire.ModeNormal,
		Faults: []int{}, Link: "ok", Uplink: true,
	}
}

func notices(version uint64, body string) wire.NoticeSet {
	return wire.NoticeSet{V: wire.Version, Site: "les-pins", Version: version, Notices: []wire.Notice{{
		ID: "eau", Category: wire.CategoryWater, Priority: wire.PriorityNormal,
		Title: wire.Text{FR: "Coupure d'eau", EN: "Water cut", IT: "Interruzione dell'acqua"},
		Body:  wire.Text{FR: body}, ValidFrom: t0,
	}}}
}

// startServer runs s until the test ends and waits until it listens.
func startServer(t *testing.T, s *Server) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(guard):
		t.Fatal("server did not start")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func next(t *testing.T, c *Conn) Message {
	t.Helper()
	line, err := c.NextLine()
	if err != nil {
		t.Fatalf("next line: %v", err)
	}
	m, err := DecodeMessage(line)
	if err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	return m
}

func dial(t *testing.T, path string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c.ReadTimeout = guard
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMessageRoundTrip(t *testing.T) {
	st := state(-1)
	ns := notices(7, "De 9h à 12h, côté cour. È, Ç, Ù, ô, ï.")
	for _, m := range []Message{
		{Type: TypeState, State: &st},
		{Type: TypeNotices, Notices: &ns},
		{Type: TypeKeepalive, Time: t0},
	} {
		t.Run(m.Type, func(t *testing.T) {
			line, err := EncodeMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("line %q is not one newline-terminated line", line)
			}
			got, err := DecodeMessage(line)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != m.Type {
				t.Fatalf("type %q, want %q", got.Type, m.Type)
			}
			switch m.Type {
			case TypeState:
				if got.State.Floor != -1 || got.State.Site != "les-pins" {
					t.Fatalf("state %+v", got.State)
				}
			case TypeNotices:
				if got.Notices.Version != 7 || got.Notices.Notices[0].Body.FR != ns.Notices[0].Body.FR {
					t.Fatalf("notices %+v", got.Notices)
				}
			case TypeKeepalive:
				if !got.Time.Equal(t0) {
					t.Fatalf("time %v, want %v", got.Time, t0)
				}
			}
		})
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	var fe *wire.FieldError
	for _, tc := range []struct {
		name, line string
		is         error // nil: any error
		field      string
	}{
		{"not json", `{"type":`, nil, ""},
		{"unknown type", `{"type":"reboot"}`, ErrUnknownType, ""},
		{"empty type", `{}`, ErrUnknownType, ""},
		{"state missing", `{"type":"state"}`, nil, ""},
		{"state bad direction", `{"type":"state","state":{"v":1,"site":"s","cabin":"c","time":"2026-01-01T00:00:00Z","floor":1,"direction":"sideways","moving":false,"door_zone":true,"doors":[],"mode":"normal","faults":[],"alarm":false,"link":"ok","uplink":true,"counters":{"trips":0,"door_cycles":0,"direction_changes":0,"running_s":0,"idle_s":0,"standby_s":0}}}`, nil, "direction"},
		{"state wrong version", `{"type":"state","state":{"v":9}}`, nil, "v"},
		{"state unknown field", `{"type":"state","state":{"v":1,"site":"s","cabin":"c","color":"red"}}`, nil, ""},
		{"notices missing fr", `{"type":"notices","notices":{"v":1,"site":"s","version":1,"notices":[{"id":"n","category":"general","priority":"low","title":{"en":"x"},"body":{"fr":"y"},"valid_from":"2026-01-01T00:00:00Z"}]}}`, nil, "notices[0].title.fr"},
		{"too long", `{"type":"keepalive","pad":"` + strings.Repeat("x", MaxLineBytes) + `"}`, wire.ErrTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMessage([]byte(tc.line))
			if err == nil {
				t.Fatalf("decoded %+v, want an error", m)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("error %v, want a field error on %q", err, tc.field)
			}
		})
	}
}

func TestDecodeMessageToleratesNewEnvelopeFields(t *testing.T) {
	m, err := DecodeMessage([]byte(`{"type":"keepalive","time":"2026-11-24T14:00:00Z","seq":12}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeKeepalive || !m.Time.Equal(t0) {
		t.Fatalf("got %+v", m)
	}
}

func TestServerSendsCurrentThenChanges(t *testing.T) {
	path := sockPath(t)
	s := NewServer(path, testLogger(t))
	s.KeepAlive = time.Hour // keep-alives would interleave with what is checked
	s.SetState(state(2))
	s.SetNotices(notices(1, "a"))
	startServer(t, s)

	c := dial(t, path)
	if m := next(t, c); m.Type != TypeState || m.State.Floor != 2 {
		t.Fatalf("first message %+v, want the current state (floor 2)", m)
	}
	if m := next(t, c); m.Type != TypeNotices || m.Notices.Version != 1 {
		t.Fatalf("second message %+v, want the current notices", m)
	}
	s.SetState(state(3))
	if m := next(t, c); m.Type != TypeState || m.State.Floor != 3 {
		t.Fatalf("message %+v, want the new state (floor 3)", m)
	}
	s.SetNotices(notices(2, "b"))
	if m := next(t, c); m.Type != TypeNotices || m.Notices.Version != 2 {
		t.Fatalf("message %+v, want notices version 2", m)
	}
}

func TestServerBeforeFirstStateSendsNothingButKeepalives(t *testing.T) {
	path := sockPath(t)
	s := NewServer(path, testLogger(t))
	s.KeepAlive = 10 * time.Millisecond
	s.Now = func() time.Time { return t0 }
	startServer(t, s)
	c := dial(t, path)
	for i := 0; i < 3; i++ {
		m := next(t, c)
		if m.Type != TypeKeepalive || !m.Time.Equal(t0) {
			t.Fatalf("message %d: %+v, want a keep-alive stamped by the injected clock", i, m)
		}
	}
}

func TestServerManyClientsSeeTheLastState(t *testing.T) {
	path := sockPath(t)
	s := NewServer(path, testLogger(t))
	s.KeepAlive = time.Hour
	s.SetState(state(0))
	startServer(t, s)
	const n = 8
	conns := make([]*Conn, n)
	for i := range conns {
		conns[i] = dial(t, path)
		if m := next(t, conns[i]); m.State.Floor != 0 {
			t.Fatalf("client %d first floor %d", i, m.State.Floor)
		}
	}
	for f := 1; f <= 100; f++ {
		s.SetState(state(f))
	}
	for i, c := range conns {
		// Intermediate states may be skipped (newest wins) but never reordered.
		last := 0
		for last != 100 {
			m := next(t, c)
			if m.State.Floor <= last {
				t.Fatalf("client %d: floor %d after %d", i, m.State.Floor, last)
			}
			last = m.State.Floor
		}
	}
	if got := s.Clients(); got != n {
		t.Fatalf("%d clients, want %d", got, n)
	}
}

func TestSlowClientIsDroppedWithoutBlockingTheAgent(t *testing.T) {
	path := sockPath(t)
	s := NewServer(path, testLogger(t))
	s.KeepAlive = time.Hour
	// Long enough for the fast client even under -race on a busy machine.
	s.WriteTimeout = time.Second
	startServer(t, s)

	// The slow client connects and never reads.
	slow, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := dial(t, path)
	waitFor(t, func() bool { return s.Clients() == 2 }, "two clients")

	big := strings.Repeat("Travaux de façade, échafaudage côté rue. ", 45) // ~1900 runes
	set := notices(1, string([]rune(big)[:1900]))
	for i := range 20 {
		set.Notices = append(set.Notices, set.Notices[0])
		set.Notices[i+1].ID = "n" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	// The fast client reads all along, as a display does.
	got42 := make(chan error, 1)
	go func() {
		for {
			line, err := fast.NextLine()
			if err != nil {
				got42 <- err
				return
			}
			m, err := DecodeMessage(line)
			if err != nil {
				got42 <- err
				return
			}
			if m.Type == TypeState && m.State.Floor == 42 {
				got42 <- nil
				return
			}
		}
	}()
	// 150 updates of ~40 KB each: 6 MB if anything queued them all, far
	// more than the socket buffers hold.
	published := make(chan struct{})
	go func() {
		defer close(published)
		for v := uint64(1); v <= 150; v++ {
			set.Version = v
			s.SetNotices(set)
			s.SetState(state(int(v % 40)))
		}
		s.SetState(state(42))
	}()
	select {
	case <-published:
	case <-time.After(guard):
		t.Fatal("SetNotices/SetState blocked behind the slow client")
	}
	if err := <-got42; err != nil {
		t.Fatalf("fast client: %v", err)
	}
	waitFor(t, func() bool { return s.Dropped() == 1 && s.Clients() == 1 }, "the slow client dropped")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunRemovesStaleSocketAndRefusesLiveOne(t *testing.T) {
	path := sockPath(t)
	// A crashed agent leaves its socket file behind.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	s := NewServer(path, testLogger(t))
	stop := startServer(t, s)

	other := NewServer(path, testLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := other.Run(ctx); !errors.Is(err, ErrInUse) {
		t.Fatalf("second server on a live socket: %v, want ErrInUse", err)
	}
	stop()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Run returned: %v, want it removed", err)
	}
}

func TestRunRefusesNonSocketFile(t *testing.T) {
	path := sockPath(t)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := NewServer(path, testLogger(t)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Run over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("regular file was touched")
	}
}

// recorder collects what a Subscriber hands out.
type recorder struct {
	mu    sync.Mutex
	msgs  []Message
	links []bool
}

func (r *recorder) handle(m Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }
func (r *recorder) link(up bool)     { r.mu.Lock(); r.links = append(r.links, up); r.mu.Unlock() }
func (r *recorder) floors() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var f []int
	for _, m := range r.msgs {
		if m.Type == TypeState {
			f = append(f, m.State.Floor)
		}
	}
	return f
}
func (r *recorder) linkChanges() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.links...)
}

func runSubscriber(t *testing.T, sub *Subscriber) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("subscriber Run: %v, want context.Canceled", err)
		}
	})
}

func TestSubscriberReconnectsAndKeepsLastState(t *testing.T) {
	path := sockPath(t)
	rec := &recorder{}
	sub := &Subscriber{Path: path, Logger: testLogger(t), Handle: rec.handle, OnLink: rec.link,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	// The display starts before the agent: it must keep trying.
	runSubscriber(t, sub)

	s1 := NewServer(path, testLogger(t))
	s1.SetState(state(1))
	s1.SetNotices(notices(3, "x"))
	stop1 := startServer(t, s1)
	waitFor(t, func() bool { st, _ := sub.Last(); return st != nil && st.Floor == 1 }, "floor 1")

	stop1() // the agent restarts
	waitFor(t, func() bool { l := rec.linkChanges(); return len(l) >= 2 && !l[len(l)-1] }, "link down")
	st, ns := sub.Last()
	if st == nil || st.Floor != 1 || ns == nil || ns.Version != 3 {
		t.Fatalf("after the agent left: state %+v notices %+v, want the last ones kept", st, ns)
	}

	s2 := NewServer(path, testLogger(t))
	s2.SetState(state(5))
	startServer(t, s2)
	waitFor(t, func() bool { st, _ := sub.Last(); return st.Floor == 5 }, "floor 5 from the restarted agent")
	if _, ns := sub.Last(); ns == nil || ns.Version != 3 {
		t.Fatalf("notices lost across the restart: %+v", ns)
	}
	f := rec.floors()
	if f[0] != 1 || f[len(f)-1] != 5 {
		t.Fatalf("floors handed out %v, want 1 first and 5 last", f)
	}
	if l := rec.linkChanges(); !l[0] || !l[len(l)-1] {
		t.Fatalf("link changes %v, want up first and up last", l)
	}
}

func TestSubscriberSkipsBadLines(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	good, err := EncodeMessage(Message{Type: TypeState, State: new(state(4))})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "garbage\n")
		io.WriteString(c, `{"type":"state","state":{"v":1}}`+"\n")
		io.WriteString(c, `{"type":"hologram"}`+"\n")
		c.Write(good)
		io.Copy(io.Discard, c) // hold the connection open
	}()
	rec := &recorder{}
	sub := &Subscriber{Path: path, Logger: testLogger(t), Handle: rec.handle}
	runSubscriber(t, sub)
	waitFor(t, func() bool { return len(rec.floors()) == 1 }, "the good state")
	if got := rec.floors(); got[0] != 4 {
		t.Fatalf("floors %v, want [4]", got)
	}
	if got := sub.Skipped(); got != 3 {
		t.Fatalf("skipped %d lines, want 3", got)
	}
}

func TestSubscriberIgnoresOlderNoticeSet(t *testing.T) {
	path := sockPath(t)
	s := NewServer(path, testLogger(t))
	s.SetNotices(notices(9, "new"))
	startServer(t, s)
	rec := &recorder{}
	sub := &Subscriber{Path: path, Logger: testLogger(t), Handle: rec.handle}
	runSubscriber(t, sub)
	waitFor(t, func() bool { _, ns := sub.Last(); return ns != nil }, "notices")
	s.SetNotices(notices(4, "old"))
	s.SetState(state(8)) // a marker after the old set
	waitFor(t, func() bool { st, _ := sub.Last(); return st != nil }, "state marker")
	if _, ns := sub.Last(); ns.Version != 9 {
		t.Fatalf("notices version %d, want 9 kept over the older 4", ns.Version)
	}
}

// TestSubscriberKeepsNoticesOnASetItCannotRead: a screen older than its
// agent (a notice with a field it does not know, as "schedule" was) skips
// that set's line and keeps showing the set it had.
func TestSubscriberKeepsNoticesOnASetItCannotRead(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	old, err := EncodeMessage(Message{Type: TypeNotices, Notices: new(notices(3, "lundi"))})
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(strings.Replace(string(old), `"version":3`, `"version":4`, 1), `"valid_from"`, `"recurrence":{"days":["mon"]},"valid_from"`, 1)
	marker, err := EncodeMessage(Message{Type: TypeState, State: new(state(2))})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(old)
		io.WriteString(c, newer)
		c.Write(marker)
		io.Copy(io.Discard, c)
	}()
	sub := &Subscriber{Path: path, Logger: testLogger(t)}
	runSubscriber(t, sub)
	waitFor(t, func() bool { st, _ := sub.Last(); return st != nil }, "the state after the sets")
	if _, ns := sub.Last(); ns == nil || ns.Version != 3 || sub.Skipped() != 1 {
		t.Fatalf("notices %+v after a set it cannot read, %d lines skipped; want version 3 kept and 1 skipped", ns, sub.Skipped())
	}
}
