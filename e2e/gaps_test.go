package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// Gaps: every sequence of an epoch ends up stored or accounted for as lost,
// and the acknowledgement moves on. These tests run the real outbox, the
// real uplink over MQTT and the real receiver with its embedded NATS and
// SQLite store; only the elevator is left out (events are appended as the
// agent appends them).

// receiverConfig is a receiver on free ports with its state in dir.
func receiverConfig(dir string) receiver.Config {
	rcfg := receiver.DefaultConfig()
	rcfg.StateDir = dir
	rcfg.NATS.Embedded.Port = -1
	rcfg.NATS.Embedded.MQTTPort = -1
	rcfg.HTTP.Listen = "127.0.0.1:0"
	rcfg.Acks.ResendInterval = time.Second
	return rcfg
}

// startReceiver runs a receiver until ctx is done or the test ends;
// stopped is closed once it has stopped.
func startReceiver(t *testing.T, ctx context.Context, rcfg receiver.Config) (rcv *receiver.Receiver, stopped <-chan struct{}) {
	t.Helper()
	rcv, err := receiver.New(ctx, rcfg, logger(t).With("part", "receiver"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rcv.Run(ctx); err != nil {
			t.Errorf("receiver: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return rcv, done
}

// startUplink drains ob to the receiver's MQTT listener until stop is
// called or the test ends.
func startUplink(t *testing.T, ctx context.Context, rcv *receiver.Receiver, ob *outbox.Outbox, tune func(*uplink.Config)) (up *uplink.Uplink, stop func()) {
	t.Helper()
	return startUplinkTo(t, ctx, "tcp://"+rcv.MQTTAddr(), ob, tune)
}

// startUplinkTo drains ob to broker until stop is called or the test ends.
func startUplinkTo(t *testing.T, ctx context.Context, broker string, ob *outbox.Outbox, tune func(*uplink.Config)) (up *uplink.Uplink, stop func()) {
	t.Helper()
	cfg := uplink.DefaultConfig()
	cfg.Broker = broker
	cfg.Protocol = uplink.Protocol311
	cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	up, err := uplink.New(cfg, site, cabin, ob, logger(t).With("part", "uplink"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("uplink: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return up, stop
}

// appendEvent appends an event as the agent does: wire JSON without its
// sequence, in the outbox class of its type.
func appendEvent(t *testing.T, ob *outbox.Outbox, at time.Time, typ string, data any) {
	t.Helper()
	ev, err := wire.NewEvent(at, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	class := outbox.ClassEvents
	switch {
	case wire.Safety(typ):
		class = outbox.ClassSafety
	case wire.Telemetry(typ):
		class = outbox.ClassTelemetry
	}
	if _, err := ob.Append(context.Background(), class, b); err != nil {
		t.Fatal(err)
	}
}

// waitDrained waits until the outbox is empty and the receiver's view of
// the epoch has no hole: contiguous = highest = the outbox's last sequence.
func waitDrained(t *testing.T, rcv *receiver.Receiver, ob *outbox.Outbox, within time.Duration) store.EpochSummary {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := ob.Stats()
		eps, err := rcv.Store().Epochs(context.Background(), site, cabin)
		if err == nil && st.Depth() == 0 && st.UnreportedLost == 0 {
			for _, e := range eps {
				if e.Epoch == ob.Epoch() && e.Contiguous == st.LastSeq && e.Highest == st.LastSeq {
					return e
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained within %s: outbox %+v; receiver epochs %+v (%v)", within, st, eps, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAccounted checks that every sequence 1..last is stored exactly once
// or accounted for as lost, as the summary says, and returns the count of
// each.
func checkAccounted(t *testing.T, rcv *receiver.Receiver, sum store.EpochSummary) {
	t.Helper()
	events := allEvents(t, rcv.Store())
	seen := map[uint64]int{}
	var sent []wire.Event
	for _, e := range events {
		if e.Epoch == sum.Epoch {
			seen[e.Seq]++
			sent = append(sent, wire.Event{Seq: e.Seq, Time: e.Time, Type: e.Type, Data: e.Data})
		}
	}
	checkSchema(t, sent) // lost reports and resets included
	for seq, n := range seen {
		if n != 1 {
			t.Fatalf("sequence %d stored %d times", seq, n)
		}
	}
	if int64(len(seen)) != sum.Events || uint64(len(seen))+sum.Lost != sum.Highest {
		t.Fatalf("stored %d, summary %+v: stored + lost must be every sequence up to highest", len(seen), sum)
	}
	var lost uint64
	for _, l := range sum.Losses {
		for _, r := range l.Ranges {
			for s := r[0]; s <= r[1]; s++ {
				if seen[s] == 0 {
					lost++
				}
			}
		}
	}
	if lost != sum.Lost {
		t.Fatalf("the loss ranges cover %d sequences not stored, the summary says %d", lost, sum.Lost)
	}
}

// TestEvictedSequencesAreAccountedFor is finding 1 and 5 of issue 14: the
// receiver is away while the outbox fills and evicts telemetry; once it is
// back, the acknowledgement reaches the last sequence (it stopped at the
// first eviction before), the outbox empties, and the receiver says what
// was lost and why.
func TestEvictedSequencesAreAccountedFor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{MaxBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	// The receiver is away: heartbeats every "minute", an arrival now and
	// then, an alarm once; far more than 16 KiB.
	at := time.Now().Add(-time.Hour)
	for i := range 400 {
		at = at.Add(5 * time.Second)
		appendEvent(t, ob, at, wire.TypeHeartbeat, wire.HeartbeatData{Counters: wire.Counters{Trips: uint64(i)}})
		if i%7 == 0 {
			appendEvent(t, ob, at, wire.TypeArrival, wire.ArrivalData{Floor: i % 9})
		}
		if i == 200 {
			appendEvent(t, ob, at, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 2})
		}
	}
	st := ob.Stats()
	if st.Evicted == 0 {
		t.Fatalf("the test did not fill the outbox: %+v", st)
	}

	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	startUplink(t, ctx, rcv, ob, nil)
	sum := waitDrained(t, rcv, ob, time.Minute)
	checkAccounted(t, rcv, sum)
	if len(sum.Losses) != 1 || sum.Losses[0].Reason != wire.LostEvicted || sum.Lost != st.Evicted {
		t.Fatalf("losses %+v, want %d evicted", sum.Losses, st.Evicted)
	}
	t.Logf("appended %d, evicted %d; stored %d, accounted lost %d, acknowledged to %d",
		sum.Highest-1, st.Evicted, sum.Events, sum.Lost, sum.Contiguous)
}

// TestRateLimitedBacklogDrains is finding 4 of issue 14: a backlog drained
// through a rate limit, safety and events first, with telemetry waiting its
// turn. Before acknowledgements carried ranges, the first telemetry
// sequence held the acknowledgement back while the events above it went
// unconfirmed and were sent again every resend_after, for ever. Now the
// events are deleted once stored, and the drain ends with few resends.
func TestRateLimitedBacklogDrains(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	const resendAfter = 700 * time.Millisecond
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{ResendAfter: resendAfter})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	at := time.Now().Add(-time.Hour)
	const n = 240
	for i := range n {
		at = at.Add(time.Second)
		if i%4 == 0 {
			appendEvent(t, ob, at, wire.TypeHeartbeat, wire.HeartbeatData{Counters: wire.Counters{Trips: uint64(i)}})
		} else {
			appendEvent(t, ob, at, wire.TypeArrival, wire.ArrivalData{Floor: i % 9})
		}
	}
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	// 80 events per second in batches of 10: the 180 events take over 2
	// s, three times resend_after, before telemetry's turn.
	up, _ := startUplink(t, ctx, rcv, ob, func(c *uplink.Config) {
		c.RateLimit = 80
		c.BatchEvents = 10
	})
	sum := waitDrained(t, rcv, ob, 2*time.Minute)
	checkAccounted(t, rcv, sum)
	if sum.Lost != 0 || sum.Events != n {
		t.Fatalf("summary %+v, want all %d stored", sum, n)
	}
	// Resends: what the uplink published beyond the n entries.
	sent := up.Stats().Events
	if sent > n+n/4 {
		t.Fatalf("the uplink published %d events for %d entries: stored events were sent again", sent, n)
	}
	t.Logf("%d entries drained with %d publishes", n, sent)
}

// TestMissingSequencesAreAccountedFor is finding 3 of issue 14: the
// receiver lost sequences the agent had already deleted (its store restored
// from an older backup: here, a new receiver with an empty store). The
// agent learns from the ranges of the acknowledgements that the receiver
// lacks sequences it no longer holds, and reports them as missing.
func TestMissingSequencesAreAccountedFor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	// The acks must lack them for 2 s (the receiver re-sends its ack every
	// second here) before they count as lost: one ack could be older.
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{MissingAfter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	at := time.Now().Add(-time.Hour)
	for i := range 30 {
		appendEvent(t, ob, at.Add(time.Duration(i)*time.Second), wire.TypeArrival, wire.ArrivalData{Floor: i % 9})
	}
	rctx, rcancel := context.WithCancel(ctx)
	first, firstStopped := startReceiver(t, rctx, receiverConfig(filepath.Join(dir, "receiver-1")))
	_, stop := startUplink(t, ctx, first, ob, nil)
	waitDrained(t, first, ob, time.Minute)
	stop()
	rcancel()
	<-firstStopped

	// A receiver that has none of them; the agent goes on with its epoch.
	second, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver-2")))
	for i := range 20 {
		appendEvent(t, ob, at.Add(time.Duration(100+i)*time.Second), wire.TypeArrival, wire.ArrivalData{Floor: i % 9})
	}
	startUplink(t, ctx, second, ob, nil)
	sum := waitDrained(t, second, ob, time.Minute)
	checkAccounted(t, second, sum)
	if len(sum.Losses) != 1 || sum.Losses[0].Reason != wire.LostMissing || sum.Lost != 30 {
		t.Fatalf("losses %+v, want the first 30 missing", sum.Losses)
	}
	if want := []wire.Range{{1, 30}}; fmt.Sprint(sum.Losses[0].Ranges) != fmt.Sprint(want) {
		t.Fatalf("missing ranges %v, want %v", sum.Losses[0].Ranges, want)
	}
}

// TestRolledBackOutboxStartsANewEpoch is the rolled-back file of issue 14:
// an older copy of the outbox put back (a backup, a card image) reuses
// sequences the receiver already stored, and the events written under
// them were dropped as duplicates. The acknowledgement beyond the file's
// last sequence gives it away: the outbox starts a new epoch with
// everything it holds, reports the reset, and nothing written after the
// restore is lost.
func TestRolledBackOutboxStartsANewEpoch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	at := time.Now().Add(-time.Hour)
	arrival := func(ob *outbox.Outbox, floor int) {
		at = at.Add(time.Second)
		appendEvent(t, ob, at, wire.TypeArrival, wire.ArrivalData{Floor: floor})
	}
	ob, err := outbox.Open(ctx, path, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		arrival(ob, 1)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	snapshot, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if ob, err = outbox.Open(ctx, path, outbox.Options{}); err != nil {
		t.Fatal(err)
	}
	oldEpoch := ob.Epoch()
	for range 10 {
		arrival(ob, 2)
	}
	rcv, _ := startReceiver(t, ctx, receiverConfig(filepath.Join(dir, "receiver")))
	_, stop := startUplink(t, ctx, rcv, ob, nil)
	waitDrained(t, rcv, ob, time.Minute)
	stop()
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}

	// The older copy is put back: sequences 1..10, and what comes next
	// takes 11..13, which the receiver holds already (floor 2).
	if err := os.WriteFile(path, snapshot, 0o600); err != nil {
		t.Fatal(err)
	}
	if ob, err = outbox.Open(ctx, path, outbox.Options{}); err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	for range 3 {
		arrival(ob, 7)
	}
	up, _ := startUplink(t, ctx, rcv, ob, nil)
	sum := waitDrained(t, rcv, ob, time.Minute)
	if ob.Epoch() == oldEpoch || up.Stats().Rotations != 1 {
		t.Fatalf("epoch %s (was %s), rotations %d: want one new epoch", ob.Epoch(), oldEpoch, up.Stats().Rotations)
	}
	checkAccounted(t, rcv, sum)
	// The new epoch holds the restored 10, the 3 written after the
	// restore, and the reset that says why.
	var floor7 int
	var reset *wire.OutboxResetData
	for _, e := range allEvents(t, rcv.Store()) {
		if e.Epoch != ob.Epoch() {
			continue
		}
		switch e.Type {
		case wire.TypeArrival:
			var d wire.ArrivalData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Floor == 7 {
				floor7++
			}
		case wire.TypeOutboxReset:
			reset = new(wire.OutboxResetData)
			if err := json.Unmarshal(e.Data, reset); err != nil {
				t.Fatal(err)
			}
		}
	}
	if floor7 != 3 || sum.Events != 14 {
		t.Fatalf("new epoch holds %d of the 3 events written after the restore, %d events in all (want 14)", floor7, sum.Events)
	}
	if reset == nil || reset.PrevEpoch != oldEpoch || !strings.Contains(reset.Reason, "rolled back") {
		t.Fatalf("reset event %+v, want the old epoch and the reason", reset)
	}
}
