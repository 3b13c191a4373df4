package uplink

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// TestNoticeSetsNewestWinsWithoutBlocking: paho calls the handler from
// several goroutines at once and OnNotices writes a file; sets delivered
// concurrently reach OnNotices in increasing version order only, the last
// one is the newest, and a slow OnNotices never holds the handler (issue
// 14: an older set could land after a newer one and stay).
func TestNoticeSetsNewestWinsWithoutBlocking(t *testing.T) {
	u, err := New(DefaultConfig(), "s", "c", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var got []uint64
	u.OnNotices = func(set wire.NoticeSet) {
		<-release // a slow disk
		mu.Lock()
		got = append(got, set.Version)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.deliverNotices(ctx)

	const n = 200
	var wg sync.WaitGroup
	for v := uint64(1); v <= n; v++ {
		b, err := json.Marshal(wire.NoticeSet{V: wire.Version, Site: "s", Version: v, Notices: []wire.Notice{}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { u.handleNotices("palier/v1/s/notices", b) })
	}
	handled := make(chan struct{})
	go func() { wg.Wait(); close(handled) }()
	select {
	case <-handled: // every handler returned while OnNotices was blocked
	case <-time.After(30 * time.Second):
		t.Fatal("handlers blocked behind a slow OnNotices")
	}
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		last := uint64(0)
		if len(got) > 0 {
			last = got[len(got)-1]
		}
		done := last == n
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v, never the newest (%d)", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("delivered out of order: %v", got)
		}
	}
	if len(got) >= n {
		t.Logf("note: no coalescing happened (%d deliveries)", len(got))
	}
}

// TestForgedNoticeVersionIsRefused is finding 9 of issue 20: a set with
// version 2^64-1 pinned the screens until the agent restarted, every later
// set of the receiver's being "older". A jump the receiver cannot make is
// refused and counted; the receiver's next set still lands.
func TestForgedNoticeVersionIsRefused(t *testing.T) {
	u, err := New(DefaultConfig(), "s", "c", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 8)
	u.OnNotices = func(set wire.NoticeSet) { got <- set.Version }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.deliverNotices(ctx)
	send := func(v uint64) {
		b, err := json.Marshal(wire.NoticeSet{V: wire.Version, Site: "s", Version: v, Notices: []wire.Notice{}})
		if err != nil {
			t.Fatal(err)
		}
		u.handleNotices("palier/v1/s/notices", b)
	}
	wait := func(want uint64) {
		t.Helper()
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("delivered version %d, want %d", v, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("version %d never delivered", want)
		}
	}
	send(5)
	wait(5)
	send(math.MaxUint64)
	send(5 + MaxNoticeJump + 1)
	if n := u.Stats().BadNotices; n != 2 {
		t.Fatalf("%d sets refused, want the 2 forged ones", n)
	}
	send(6)
	wait(6)
	send(6 + MaxNoticeJump) // years of changes missed: still taken
	wait(6 + MaxNoticeJump)
}
