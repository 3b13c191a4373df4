package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// byteOrderIDs are ids in the order every list must follow: bytes compared
// column by column. Joined strings would put "a-b/…" before "a/…" ('-' <
// '/'), and a collation that skips punctuation "ab" before "a-c".
var byteOrderIDs = []string{"a", "a-b", "a-c", "ab", "b"}

func reversed(ids []string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

// epochsInOrder returns batches of one event for epochs whose ids disagree
// between orders, delivered in the reverse of the order a Store lists them
// in (so that neither arrival nor insertion order can pass for it), and
// their contiguous sequences in that order.
func epochsInOrder() ([]wire.Batch, []store.Contiguous) {
	sites, epochs := []string{"a", "a-b"}, []string{"e", "e-1", "e1"}
	var want []store.Contiguous
	for _, site := range sites {
		for _, cabin := range byteOrderIDs {
			for _, epoch := range epochs {
				want = append(want, store.Contiguous{Site: site, Cabin: cabin, Epoch: epoch, Seq: 1})
			}
		}
	}
	var bs []wire.Batch
	for _, site := range reversed(sites) {
		for _, cabin := range reversed(byteOrderIDs) {
			for _, epoch := range reversed(epochs) {
				bs = append(bs, Batch(site, cabin, epoch, 1))
			}
		}
	}
	return bs, want
}

func testOrderContiguous(t *testing.T, s store.Store) {
	bs, want := epochsInOrder()
	for i := range want {
		want[i].Advanced = true
	}
	res := mustInsert(t, s, bs...)
	if !slices.Equal(res.Contiguous, want) {
		t.Fatalf("InsertResult.Contiguous:\n got %v\nwant %v (by site, cabin, epoch, as bytes)", res.Contiguous, want)
	}
}

func testOrderRecentAcks(t *testing.T, s store.Store) {
	bs, want := epochsInOrder()
	for _, b := range bs { // one call each, in reverse order
		mustInsert(t, s, b)
	}
	acks, err := s.RecentAcks(context.Background(), time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(acks, want) {
		t.Fatalf("RecentAcks:\n got %v\nwant %v (by site, cabin, epoch, as bytes)", acks, want)
	}
}

func testOrderCabins(t *testing.T, s store.Store) {
	ctx := context.Background()
	sites := []string{"a", "a-b"}
	for _, site := range reversed(sites) {
		for _, cabin := range reversed(byteOrderIDs) {
			if err := s.UpdateStatus(ctx, site, cabin, true, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	for _, site := range sites {
		for _, cabin := range byteOrderIDs {
			want = append(want, site+" "+cabin)
		}
	}
	all, err := s.Cabins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(all))
	for i, c := range all {
		got[i] = c.Site + " " + c.Cabin
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Cabins:\n got %q\nwant %q (by site, cabin, as bytes)", got, want)
	}
}

func testOrderEvents(t *testing.T, s store.Store) {
	// Every event at one time, so that only the order the store took them
	// in tells them apart: by epoch then sequence within a call, whatever
	// the batches' order, and a later call after an earlier one.
	at := func(b wire.Batch) wire.Batch {
		for i := range b.Events {
			b.Events[i].Time = T0
		}
		return b
	}
	mustInsert(t, s, at(Batch("s", "c", "e-1", 3, 1, 2)), at(Batch("s", "c", "e", 2)), at(Batch("s", "c", "e", 1)))
	mustInsert(t, s, at(Batch("s", "c", "a", 1)))
	// One event earlier than all, stored last: time comes first.
	early := Batch("s", "c", "z", 1)
	early.Events[0].Time = T0.Add(-time.Second)
	mustInsert(t, s, early)
	want := []string{"z#1", "e#1", "e#2", "e-1#1", "e-1#2", "e-1#3", "a#1"}
	for _, limit := range []int{store.MaxLimit, 2} { // in one page and across pages
		var got []string
		cursor := ""
		for {
			p, err := s.Events(context.Background(), store.EventQuery{Site: "s", Cabin: "c", Cursor: cursor, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				got = append(got, fmt.Sprintf("%s#%d", e.Epoch, e.Seq))
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Events (limit %d):\n got %q\nwant %q (by time, then epoch and sequence within a call, then call)", limit, got, want)
		}
	}
}

func testOrderNoticeSets(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, site := range reversed(byteOrderIDs) {
		if err := s.PutNoticeSet(ctx, wire.NoticeSet{V: 1, Site: site, Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.NoticeSets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(all))
	for i, set := range all {
		got[i] = set.Site
	}
	if !slices.Equal(got, byteOrderIDs) {
		t.Fatalf("NoticeSets:\n got %q\nwant %q (by site, as bytes)", got, byteOrderIDs)
	}
}
