package receiver

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/wire"
)

// An ack read before a concurrent commit (another ingest worker's, the
// resend's) reaches NATS after the newer one: the agent would take the
// sequences the newer one let it delete for lost. The Acker says the
// newer word again instead, and a newer epoch is its own.
func TestAcksNeverGoBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: filepath.Join(dir, "js")}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc := connect(t, srv.ClientURL())
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	var got []wire.Ack
	sub, err := nc.Subscribe(wire.AckSubject("s1", "c1"), func(m *nats.Msg) {
		a, err := wire.DecodeAck(m.Data)
		if err != nil {
			t.Errorf("bad ack %q: %v", m.Data, err)
			return
		}
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	acker := NewAcker(nc, db, NewMetrics(prometheus.NewRegistry()), testLogger(t))
	for _, c := range []store.Contiguous{
		{Site: "s1", Cabin: "c1", Epoch: "e1", Seq: 5},
		{Site: "s1", Cabin: "c1", Epoch: "e1", Seq: 1}, // read before the commit of 2..5
		{Site: "s1", Cabin: "c1", Epoch: "e2", Seq: 1},
	} {
		acker.Publish(ctx, c, false)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three acks", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	mu.Lock()
	defer mu.Unlock()
	want := []wire.Ack{{V: 1, Epoch: "e1", Seq: 5}, {V: 1, Epoch: "e1", Seq: 5}, {V: 1, Epoch: "e2", Seq: 1}}
	for i := range want {
		if got[i].Epoch != want[i].Epoch || got[i].Seq != want[i].Seq {
			t.Fatalf("acks %+v, want %+v", got, want)
		}
	}
}
