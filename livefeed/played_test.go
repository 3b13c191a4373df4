package livefeed

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func play(notice string, shownS int) wire.NoticeShownData {
	return wire.NoticeShownData{Notice: notice, Version: 12, Lang: wire.LangFR, Layout: "1024x600", Orientation: wire.OrientationLandscape,
		From: t0, To: t0.Add(time.Minute), ShownMS: int64(shownS) * 1000, Times: 1}
}

func TestPlayedRoundTripAndRefusals(t *testing.T) {
	p := play("eau", 18)
	line, err := EncodeMessage(Message{Type: TypePlayed, Played: &p})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(line)
	if err != nil || m.Type != TypePlayed || *m.Played != p {
		t.Fatalf("round trip: %+v, %v", m, err)
	}
	bad := p
	bad.ShownMS = 61_000 // more than the minute it covers
	if _, err := EncodeMessage(Message{Type: TypePlayed, Played: &bad}); err == nil {
		t.Fatal("encoded a record shown longer than its span")
	}
	for name, tc := range map[string]struct{ line, want string }{
		"no payload":    {`{"type":"played"}`, `no "played"`},
		"unknown field": {strings.Replace(string(line), `"times":1`, `"times":1,"x":2`, 1), "unknown field"},
		"bad lang":      {strings.Replace(string(line), `"lang":"fr"`, `"lang":"de"`, 1), "lang"},
		"bad id":        {strings.Replace(string(line), `"notice":"eau"`, `"notice":"Eau/1"`, 1), "notice"},
		"to before":     {strings.Replace(string(line), `"to":"2026-11-24T14:01:00Z"`, `"to":"2026-11-24T13:59:00Z"`, 1), "not after"},
		"too long":      {`{"type":"played","pad":"` + strings.Repeat("x", MaxClientLineBytes) + `","played":{}}`, "too large"},
	} {
		_, err := DecodeMessage([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// TestServerTakesPlaysFromASubscriber runs the display's side (a
// Subscriber with queued records, some queued before it connected) against
// a server: every valid record reaches OnPlayed in order; a client's bad
// line, a line of a server-only type and an over-long line are refused,
// the last ending only that connection.
func TestServerTakesPlaysFromASubscriber(t *testing.T) {
	path := sockPath(t)
	srv := NewServer(path, testLogger(t))
	var mu sync.Mutex
	var got []string
	srv.OnPlayed = func(d wire.NoticeShownData) { mu.Lock(); got = append(got, d.Notice); mu.Unlock() }
	srv.SetState(state(1))
	startServer(t, srv)

	sub := &Subscriber{Path: path, Logger: testLogger(t)}
	sub.Played(play("avant", 5)) // queued before the connection
	runSubscriber(t, sub)
	for i := range 5 {
		sub.Played(play("n"+string(rune('a'+i)), 10+i))
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 6 }, "six records")
	mu.Lock()
	if strings.Join(got, ",") != "avant,na,nb,nc,nd,ne" {
		t.Fatalf("records %v", got)
	}
	mu.Unlock()

	raw := dial(t, path)
	st := state(1)
	for _, l := range []string{"not json\n", mustLine(t, Message{Type: TypeState, State: &st})} {
		if _, err := raw.conn.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return srv.Refused() == 2 }, "two refused lines")
	if _, err := raw.conn.Write(append(bytes.Repeat([]byte("x"), MaxClientLineBytes+10), '\n')); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Refused() == 3 }, "the long line refused")
	// The long line ended that connection only: the reader sees EOF after
	// whatever the server had sent.
	for {
		if _, err := raw.NextLine(); err != nil {
			break
		}
	}
	sub.Played(play("apres", 3))
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 7 }, "the subscriber still delivers")
}

// TestServerWithoutOnPlayedIgnoresPlays is an agent that does not take
// plays (OnPlayed nil, as every agent before them ignored client bytes):
// the display's lines change nothing it sends.
func TestServerWithoutOnPlayedIgnoresPlays(t *testing.T) {
	path := sockPath(t)
	srv := NewServer(path, testLogger(t))
	srv.SetState(state(2))
	startServer(t, srv)
	c := dial(t, path)
	if m := next(t, c); m.Type != TypeState {
		t.Fatalf("first line %q", m.Type)
	}
	p := play("eau", 1)
	for range 100 {
		if err := c.Send(Message{Type: TypePlayed, Played: &p}, guard); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetState(state(3))
	if m := next(t, c); m.Type != TypeState || m.State.Floor != 3 {
		t.Fatalf("after plays: %+v", m)
	}
	if srv.Refused() != 0 {
		t.Fatalf("%d lines refused", srv.Refused())
	}
}

func TestSubscriberPlayQueueIsBounded(t *testing.T) {
	sub := &Subscriber{Path: "/nonexistent", Logger: testLogger(t)}
	for i := range MaxPendingPlays + 10 {
		p := play("eau", 1)
		p.Times = i + 1
		sub.Played(p)
	}
	if sub.LostPlays() != 10 {
		t.Fatalf("lost %d, want 10", sub.LostPlays())
	}
	first := <-sub.queue()
	if first.Times != 11 {
		t.Fatalf("oldest kept has times %d, want 11 (the oldest give way)", first.Times)
	}
}

func mustLine(t *testing.T, m Message) string {
	t.Helper()
	b, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
