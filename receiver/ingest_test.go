package receiver

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

// flakyStore fails its first InsertBatches calls, as a database that is
// briefly away would: a fake around the real store, not a mock.
type flakyStore struct {
	store.Store
	failures atomic.Int32
}

func (f *flakyStore) InsertBatches(ctx context.Context, b []wire.Batch, at time.Time) (store.InsertResult, error) {
	if f.failures.Add(-1) >= 0 {
		return store.InsertResult{}, errors.New("database is away")
	}
	return f.Store.InsertBatches(ctx, b, at)
}

// A message whose store failed is not acked: JetStream redelivers it and it
// is stored once the store is back.
func TestStoreFailureRedelivers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	st := &flakyStore{Store: db}
	st.failures.Store(3)
	m := NewMetrics(prometheus.NewRegistry())
	acker := NewAcker(nc, st, m, testLogger(t))
	in, err := NewIngester(nc, st, IngestOptions{RetryDelay: 50 * time.Millisecond}, acker, m, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	acks := watchAcks(t, nc, "s1", "c1")
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	publish(t, nc, storetest.Batch("s1", "c1", "e1", 1, 2, 3))
	eventually(t, "stored after the store came back", func() bool {
		c, err := db.Cabin(ctx, "s1", "c1")
		return err == nil && c.Events == 3
	})
	eventually(t, "ack of 3", func() bool { return acks.get("e1") == 3 })
	if st.failures.Load() >= 0 {
		t.Fatalf("the store failed only %d of 3 times: no redelivery happened", 3-st.failures.Load()-1)
	}
	checkOnce(t, db, "s1", "c1", "e1", 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
