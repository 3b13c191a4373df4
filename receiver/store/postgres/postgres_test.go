package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store/postgres/pgtest"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

func testURL(t testing.TB) string { return pgtest.URL(t) }

// open opens a store on a new, empty schema.
func open(tb testing.TB) store.Store {
	s, err := Open(context.Background(), testURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testURL(t) // skip early without a database
	storetest.Run(t, open)
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

// Calls large enough to go through COPY must drop the same duplicates and
// compute the same contiguous sequence as the small ones the suite makes.
func TestLargeInsertsDropDuplicates(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var odd, all []uint64
	for i := uint64(1); i <= 4*copyMin; i++ {
		if i%2 == 1 {
			odd = append(odd, i)
		}
		all = append(all, i)
	}
	res, err := s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", odd...)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != len(odd) || res.Contiguous[0].Seq != 1 {
		t.Fatalf("odd half: %+v, want %d inserted and contiguous 1", res, len(odd))
	}
	// Every sequence, twice over and shuffled into two batches.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	res, err = s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", rev...), storetest.Batch("s", "c", "e", all...)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := len(all) - len(odd)
	if res.Inserted != want || res.Duplicates != 2*len(all)-want {
		t.Fatalf("inserted %d duplicates %d, want %d and %d", res.Inserted, res.Duplicates, want, 2*len(all)-want)
	}
	if c := res.Contiguous[0]; c.Seq != uint64(len(all)) || !c.Advanced {
		t.Fatalf("contiguous %+v, want %d advanced", c, len(all))
	}
	c, err := s.Cabin(ctx, "s", "c")
	if err != nil || c.Events != int64(len(all)) {
		t.Fatalf("cabin %+v (%v), want %d events", c, err, len(all))
	}
}

// Sequence 0 is not covered by the contiguous sequence: it is checked
// apart, and stored once.
func TestSeqZeroStoredOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []int{2, 0} {
		res, err := s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", 0, 1, 0)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != want || res.Contiguous[0].Seq != 1 {
			t.Fatalf("call %d: %+v, want %d inserted, contiguous 1", i, res, want)
		}
	}
}

func TestContiguousAfter(t *testing.T) {
	for _, c := range []struct {
		current       int64
		stored, fresh []int64
		lost          []wire.Range
		want          int64
	}{
		{0, nil, nil, nil, 0},
		{0, nil, []int64{2, 3}, nil, 0},
		{0, []int64{2, 3}, []int64{1, 5}, nil, 3},
		{3, []int64{5, 6, 9}, []int64{4, 7}, nil, 7},
		{0, nil, []int64{0, 1, 2}, nil, 2},
		{10, []int64{11}, nil, nil, 11},
		// Accounted ranges fill gaps, wherever they lie.
		{0, []int64{4, 5}, nil, []wire.Range{{1, 3}}, 5},
		{3, []int64{5, 6, 9}, []int64{4}, []wire.Range{{7, 8}, {10, 20}}, 20},
		{0, []int64{1}, nil, []wire.Range{{3, 4}}, 1},
		{5, nil, nil, []wire.Range{{1, 7}}, 7},
	} {
		if got := contiguousAfter(c.current, c.stored, c.fresh, c.lost); got != c.want {
			t.Errorf("contiguousAfter(%d, %v, %v, %v) = %d, want %d", c.current, c.stored, c.fresh, c.lost, got, c.want)
		}
	}
}
