package receiver

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// refusingStore is the real SQLite store, except that it refuses the
// content of one cabin's batches as a database refuses a value it cannot
// hold (PostgreSQL's SQLSTATE 22xxx): the fault is injected at the store's
// boundary, everything else is real.
type refusingStore struct {
	store.Store
	bad   string
	calls atomic.Int64
}

func (s *refusingStore) InsertBatches(ctx context.Context, batches []wire.Batch, received time.Time) (store.InsertResult, error) {
	s.calls.Add(1)
	for _, b := range batches {
		if b.Cabin == s.bad {
			return store.InsertResult{}, fmt.Errorf("insert events: %w: cabin %s's value out of range", store.ErrRefused, b.Cabin)
		}
	}
	return s.Store.InsertBatches(ctx, batches, received)
}

// ingestRig is what an ingester needs apart from itself: an embedded NATS
// server to connect to and a SQLite store, both gone when the test ends.
func ingestRig(t *testing.T) (*nats.Conn, store.Store) {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc := connect(t, srv.ClientURL())
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return nc, st
}

// TestRefusedBatchHoldsBackNoOther: one device's batches that the store
// refuses are dead-lettered alone while every other batch fetched with
// them is stored; nothing is retried for ever (issue 20, finding 1: 5,200
// such batches froze ingestion for the whole fleet).
func TestRefusedBatchHoldsBackNoOther(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := testLogger(t)
	nc, st := ingestRig(t)
	rs := &refusingStore{Store: st, bad: "hostile"}
	m := NewMetrics(prometheus.NewRegistry())
	in, err := NewIngester(nc, rs, IngestOptions{Stream: StreamConfig{FetchBatch: 16}, RetryDelay: 50 * time.Millisecond},
		NewAcker(nc, rs, m, logger), m, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	js := jsOf(t, nc)
	const n = 60
	for i := range n {
		for _, cabin := range []string{"hostile", "good"} {
			b, _ := json.Marshal(storetest.Batch("s1", cabin, "e1", uint64(i+1)))
			if _, err := js.Publish(ctx, "palier.v1.s1."+cabin+".events", b); err != nil {
				t.Fatal(err)
			}
		}
	}
	go in.Run(ctx)
	eventually(t, "every good batch stored", func() bool {
		c, err := st.Cabin(ctx, "s1", "good")
		return err == nil && c.Events == n
	})
	dl, err := js.Stream(ctx, "PALIER_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "every refused batch dead-lettered", func() bool {
		info, err := dl.Info(ctx)
		return err == nil && info.State.Msgs == n
	})
	m1, err := dl.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if reason := m1.Header.Get(HeaderReason); m1.Subject != "palier.deadletter.s1.hostile" || !strings.Contains(reason, "refused by the store") {
		t.Fatalf("dead letter on %s, reason %q", m1.Subject, reason)
	}
	cons, err := js.Consumer(ctx, "PALIER_EVENTS", DefaultConfig().Stream.Durable)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "nothing left to redeliver", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	// Settled: the store is not called again and again.
	calls := rs.calls.Load()
	time.Sleep(300 * time.Millisecond)
	if again := rs.calls.Load() - calls; again != 0 {
		t.Fatalf("%d more store calls after everything was settled: something is retried for ever", again)
	}
	// The refused sequences are accounted for, so the hostile cabin's own
	// acknowledgement moves on instead of stopping at the first of them
	// (issue 14: a dead-lettered batch stalled its epoch for good).
	eps, err := st.Epochs(ctx, "s1", "hostile")
	if err != nil || len(eps) != 1 {
		t.Fatalf("Epochs = %+v, %v", eps, err)
	}
	if e := eps[0]; e.Contiguous != n || e.Lost != n || len(e.Losses) != 1 || e.Losses[0].Reason != wire.LostRefused {
		t.Fatalf("hostile epoch %+v, want all %d accounted for as refused", e, n)
	}
}

// TestJunkIsHeldByTheByteNotByTheMessage is the memory finding of issue
// 20: junk traffic grew a receiver to 1.28 GB, since it prefetched 512
// messages of up to 1 MiB each. What it holds fetched and not yet settled
// is now bounded in bytes (stream.fetch_max_bytes); this counts the
// messages delivered to it and not yet acknowledged, at any time, while it
// dead-letters 120 junk messages of 900 kB.
func TestJunkIsHeldByTheByteNotByTheMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := testLogger(t)
	nc, st := ingestRig(t)
	m := NewMetrics(prometheus.NewRegistry())
	opts := IngestOptions{Stream: DefaultConfig().Stream}
	in, err := NewIngester(nc, st, opts, NewAcker(nc, st, m, logger), m, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	js := jsOf(t, nc)
	const n, size = 120, 900 << 10
	junk := []byte(strings.Repeat("j", size))
	for range n {
		if _, err := js.Publish(ctx, "palier.v1.s1.junk.events", junk); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.Consumer(ctx, opts.Stream.Name, opts.Stream.Durable)
	if err != nil {
		t.Fatal(err)
	}
	go in.Run(ctx)
	most := 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, info.NumAckPending)
		if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("junk not settled: %+v", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Half the bound prefetched, half gathered for one transaction.
	if limit := opts.Stream.FetchMaxBytes/size + 2; most > limit {
		t.Fatalf("up to %d messages of %d kB held at once, want at most %d (%d MiB)", most, size>>10, limit, opts.Stream.FetchMaxBytes>>20)
	}
	t.Logf("at most %d junk messages of %d kB held at once", most, size>>10)
}

// TestOneDevicesJunkKeepsOthersEvidence: the dead-letter stream kept the
// newest messages whoever sent them, so one device's junk rotated out the
// evidence of every other's (issue 20). It is bounded per cabin now.
func TestOneDevicesJunkKeepsOthersEvidence(t *testing.T) {
	cfg := testConfig(t)
	cfg.Stream.DeadLetterPerCabin = 10
	r := start(t, cfg)
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "palier.v1.s1.victim.events", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if _, err := js.Publish(ctx, "palier.v1.s1.hostile.events", []byte("junk")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "41 dead letters", func() bool { return counter(t, r, "palier_receiver_dead_letters_total") == 41 })
	dl, err := js.Stream(ctx, "PALIER_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx, jetstream.WithSubjectFilter("palier.deadletter.>"))
	if err != nil {
		t.Fatal(err)
	}
	if v, h := info.State.Subjects["palier.deadletter.s1.victim"], info.State.Subjects["palier.deadletter.s1.hostile"]; v != 1 || h != 10 {
		t.Fatalf("dead letters kept: victim %d, hostile %d; want 1 and 10", v, h)
	}
}
