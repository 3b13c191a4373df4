package store

import (
	"errors"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{TimeUS: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), ID: 42}
	got, err := DecodeCursor(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range []string{"", "!!", "MTIz", "YTpi"} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestSummarizeNewestWins(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ev := func(sec int, typ, data string) wire.Event {
		return wire.Event{Seq: uint64(sec), Time: t0.Add(time.Duration(sec) * time.Second), Type: typ, Data: []byte(data)}
	}
	u := Summarize([]wire.Batch{{Site: "s", Cabin: "c", Events: []wire.Event{
		ev(5, wire.TypeArrival, `{"floor":5}`),
		ev(2, wire.TypeArrival, `{"floor":2}`),
		ev(3, wire.TypeHeartbeat, `{"counters":{"trips":9}}`),
		ev(1, wire.TypeHeartbeat, `{"counters":{"trips":3}}`),
		ev(4, wire.TypeModeChange, `{"from":"normal","to":"fire_service"}`),
	}}}, t0.Add(time.Hour))[[2]string{"s", "c"}]
	if u == nil || *u.Floor != 5 || u.Counters.Trips != 9 || u.Mode != "fire_service" || !u.LastEvent.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("summary %+v", u)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{TimeUS: 1, ID: 2}.Encode())
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if c.ID < 0 {
			t.Fatalf("negative id accepted from %q", s)
		}
		if again, err := DecodeCursor(c.Encode()); err != nil || again != c {
			t.Fatalf("%+v does not round-trip", c)
		}
	})
}
