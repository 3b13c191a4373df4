package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/postgres/pgtest"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

func testURL(t testing.TB) string { return pgtest.URL(t) }

func TestConformance(t *testing.T) {
	testURL(t) // skip early without a database
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), testURL(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateTwiceAndNewerRefused(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, url) // already migrated: nothing to do
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v, want a refusal", err)
	}
}

// Two stores (two receivers) writing interleaved parts of one epoch at once
// must end with the right contiguous sequence: the epoch lock makes each
// see what the other committed.
func TestConcurrentReceiversAdvanceContiguous(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 400
	errs := make(chan error, 2)
	for w, s := range []store.Store{a, b} {
		go func() {
			for i := uint64(1 + w); i <= n; i += 2 { // a odd, b even
				if _, err := s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", i)}, time.Now()); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	acks, err := a.RecentAcks(ctx, time.Time{})
	if err != nil || len(acks) != 1 || acks[0].Seq != n {
		t.Fatalf("contiguous %+v (%v), want %d without any further insert", acks, err, n)
	}
}
