package agent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/wire"
)

var playNow = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func rec(notice, lang string, from time.Time, span time.Duration, shownS, times int) wire.NoticeShownData {
	return wire.NoticeShownData{Notice: notice, Version: 4, Lang: lang, Layout: "800x480", Orientation: wire.OrientationLandscape,
		From: from, To: from.Add(span), ShownMS: int64(shownS) * 1000, Times: times}
}

func takeData(t *testing.T, p *playAggregator) []wire.NoticeShownData {
	t.Helper()
	var out []wire.NoticeShownData
	for _, ev := range p.take() {
		if ev.Type != wire.TypeNoticeShown {
			t.Fatalf("event type %q", ev.Type)
		}
		d, err := wire.DecodeNoticeShown(ev.Data)
		if err != nil {
			t.Fatalf("event data %s: %v", ev.Data, err)
		}
		if !ev.Time.Equal(d.To) {
			t.Fatalf("event time %s, want the record's end %s", ev.Time, d.To)
		}
		out = append(out, d)
	}
	return out
}

// TestPlayAggregatorMergesAndBounds: records of one notice and language
// merge into one event whose time shown never exceeds its span; records
// from the future, too old, or beyond the distinct-notice cap are refused.
func TestPlayAggregatorMergesAndBounds(t *testing.T) {
	p := newPlayAggregator(func() time.Time { return playNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m0 := playNow.Add(-3 * time.Minute)
	p.add(rec("ag", "fr", m0, time.Minute, 20, 3))
	p.add(rec("ag", "fr", m0.Add(time.Minute), time.Minute, 20, 3))
	p.add(rec("ag", "en", m0, time.Minute, 10, 2))
	// The same record three times (a display resending): capped by the span.
	for range 3 {
		p.add(rec("eau", "it", m0, time.Minute, 50, 1))
	}
	got := takeData(t, p)
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	byKey := map[string]wire.NoticeShownData{}
	for _, d := range got {
		byKey[d.Notice+"/"+d.Lang] = d
	}
	if d := byKey["ag/fr"]; d.ShownMS != 40_000 || d.Times != 6 || !d.From.Equal(m0) || !d.To.Equal(m0.Add(2*time.Minute)) {
		t.Errorf("ag/fr merged to %+v", d)
	}
	if d := byKey["eau/it"]; d.ShownMS != 60_000 {
		t.Errorf("eau/it resent thrice claims %d ms in a minute", d.ShownMS)
	}
	if len(p.take()) != 0 {
		t.Fatal("take left records behind")
	}

	// Four hours a display kept while the agent was away, a record a
	// minute: merged per 10-minute slot, each valid, nothing lost.
	back := playNow.Add(-4 * time.Hour).Truncate(playFlushPeriod)
	for i := range 240 {
		p.add(rec("ag", "fr", back.Add(time.Duration(i)*time.Minute), time.Minute, 30, 1))
	}
	got = takeData(t, p)
	var total int64
	for _, d := range got {
		total += d.ShownMS
	}
	if len(got) < 24 || len(got) > 25 || total != 240*30_000 || p.Refused() != 0 {
		t.Fatalf("a 4-hour backlog: %d events, %d ms, %d refused; want 24 or 25 events, %d ms, none refused", len(got), total, p.Refused(), 240*30_000)
	}

	for _, bad := range []wire.NoticeShownData{
		rec("ag", "fr", playNow.Add(2*time.Minute), time.Minute, 10, 1), // ends 3 min ahead
		rec("ag", "fr", playNow.Add(-25*time.Hour), time.Minute, 10, 1), // a day old
		rec("ag", "fr", playNow.Add(-time.Hour), 2*time.Hour, 10, 1),    // spans two hours
		rec("Ag!", "fr", playNow.Add(-time.Hour), time.Minute, 10, 1),   // bad id
	} {
		p.add(bad)
	}
	if p.Refused() != 4 || len(p.take()) != 0 {
		t.Fatalf("refused %d, want 4, and nothing kept", p.Refused())
	}

	// A display bug sending a new notice id every time: the period holds
	// maxPlayKeys events, no more.
	for i := range maxPlayKeys + 500 {
		p.add(rec("n-"+itoa(i), "fr", playNow.Add(-time.Minute), time.Minute, 1, 1))
	}
	if n := len(p.take()); n != maxPlayKeys {
		t.Fatalf("%d events in one period, want the cap %d", n, maxPlayKeys)
	}
	if p.Refused() != 4+500 {
		t.Fatalf("refused %d, want 504", p.Refused())
	}
	b, _ := json.Marshal(rec("ag", "fr", m0, time.Minute, 20, 3))
	if len(b) > 300 {
		t.Errorf("a record is %d bytes; the outbox sizing assumes under 300", len(b))
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestAgentAppendsPlaysFromTheScreen runs a whole agent (contacts through
// periph's gpiotest pins, a real outbox, its live feed socket) and a
// display-side connection that sends play records, junk and a record from
// the future: the valid ones end up in the outbox as notice_shown
// telemetry, merged, the others nowhere, and the connection keeps serving
// the screen.
func TestAgentAppendsPlaysFromTheScreen(t *testing.T) {
	cfg := contactsConfig(t)
	cfg.Controller.PollInterval = 10 * time.Millisecond
	cfg.Events.HeartbeatInterval = time.Hour
	pins := map[string]*gpiotest.Pin{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) {
		if pins[name] == nil {
			pins[name] = &gpiotest.Pin{N: name, L: gpio.High}
		}
		return pins[name], nil
	})
	a.SetPlayPeriod(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	var c *livefeed.Conn
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err = livefeed.Dial(ctx, cfg.Screen.Socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live feed never listened: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer c.Close()
	c.ReadTimeout = 15 * time.Second
	now := time.Now().Truncate(time.Minute)
	send := func(d wire.NoticeShownData) {
		t.Helper()
		if err := c.Send(livefeed.Message{Type: livefeed.TypePlayed, Played: &d}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	send(rec("ag", "fr", now.Add(-2*time.Minute), time.Minute, 20, 2))
	send(rec("ag", "fr", now.Add(-time.Minute), time.Minute, 25, 2)) // merges with the first if the same slot
	send(rec("ag", "it", now.Add(-time.Minute), time.Minute, 12, 1))
	send(rec("ag", "en", now.Add(time.Hour), time.Minute, 12, 1)) // from the future: refused
	// Junk from a second client: refused by the feed, never reaching the agent.
	junk, err := net.Dial("unix", cfg.Screen.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if _, err := junk.Write([]byte("{\"type\":\"state\"}\nnot json\n{\"type\":\"played\",\"played\":{\"notice\":\"x\"}}\n")); err != nil {
		t.Fatal(err)
	}
	for a.plays.Refused() < 1 || a.feed.Refused() < 3 || a.Stats().Outbox.Pending[outbox.ClassTelemetry] < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("refused by the agent %d, by the feed %d, telemetry pending %d", a.plays.Refused(), a.feed.Refused(), a.Stats().Outbox.Pending[outbox.ClassTelemetry])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The screen's connection still serves it.
	if line, err := c.NextLine(); err != nil || len(line) == 0 {
		t.Fatalf("the screen's connection after junk: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // a few more flushes: nothing else may come
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ob, err := outbox.Open(context.Background(), filepath.Join(cfg.StateDir, "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer lcancel()
	entries, err := ob.Lease(lctx, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]int64{}
	for _, e := range entries {
		var ev wire.Event
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != wire.TypeNoticeShown {
			continue
		}
		if e.Class != outbox.ClassTelemetry {
			t.Errorf("notice_shown in class %v, want telemetry", e.Class)
		}
		d, err := wire.DecodeNoticeShown(ev.Data)
		if err != nil {
			t.Fatal(err)
		}
		shown[d.Lang] += d.ShownMS
	}
	if shown["fr"] != 45_000 || shown["it"] != 12_000 || len(shown) != 2 {
		t.Fatalf("shown per language %v, want fr 45 s, it 12 s, no en", shown)
	}
}
