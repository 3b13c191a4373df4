package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/palier-lifts/palier/wire"
)

// Accounting for gaps: every sequence of an epoch ends up stored or
// accounted for as lost, and the contiguous sequence moves over both. An
// agent accounts for what its outbox lost (a "lost" event: evicted,
// missing); the receiver for what its store refused. Losses are kept as
// ranges (table lost), never expanded, so a report of a million sequences
// costs one row.

// LostRange is a range of sequences of one epoch accounted for as lost.
type LostRange struct {
	Range  wire.Range
	Reason string // wire.LostEvicted, wire.LostMissing, wire.LostRefused, or a newer agent's
	Report uint64 // sequence of the lost event that reported it; 0 when the receiver recorded it
}

// LostOf returns the ranges the lost events among events account for.
// The events passed the batch decoder, which checked their ranges.
func LostOf(events []*wire.Event) []LostRange {
	var out []LostRange
	for _, e := range events {
		if e.Type != wire.TypeLost {
			continue
		}
		var d wire.LostData
		if json.Unmarshal(e.Data, &d) != nil {
			continue // cannot happen after the decoder; never account for what is unread
		}
		for _, r := range d.Ranges {
			if r[1] > MaxSeq {
				continue
			}
			out = append(out, LostRange{Range: r, Reason: d.Reason, Report: e.Seq})
		}
	}
	return out
}

// Advance moves a contiguous sequence forward over stored sequences,
// offered in ascending order, and over accounted ranges. It lets an engine
// stop reading stored sequences at the first gap no range covers.
type Advance struct {
	next   uint64
	ranges []wire.Range // sorted by first
	i      int
}

// NewAdvance starts at current with the accounted ranges of the epoch
// (any order; ranges at or below current are harmless).
func NewAdvance(current uint64, ranges []wire.Range) *Advance {
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b wire.Range) int { return cmp.Compare(a[0], b[0]) })
	a := &Advance{next: current, ranges: rs}
	a.skip()
	return a
}

func (a *Advance) skip() {
	for a.i < len(a.ranges) && a.ranges[a.i][0] <= a.next+1 {
		a.next = max(a.next, a.ranges[a.i][1])
		a.i++
	}
}

// Offer takes the next stored sequence (ascending, repeats allowed). It
// returns false once seq lies beyond a gap: nothing after it can move the
// contiguous sequence, so the caller may stop reading.
func (a *Advance) Offer(seq uint64) bool {
	if seq <= a.next {
		return true
	}
	if seq == a.next+1 {
		a.next = seq
		a.skip()
		return true
	}
	return false
}

// Contiguous is the sequence reached.
func (a *Advance) Contiguous() uint64 { return a.next }

// Islands returns the ranges stored or accounted for above after, merged,
// ascending, at most max of them. seqs ascend; ranges may come in any
// order.
func Islands(after uint64, seqs []uint64, ranges []wire.Range, maxRanges int) []wire.Range {
	all := make([]wire.Range, 0, len(ranges)+16)
	for _, r := range ranges {
		if r[1] > after {
			all = append(all, wire.Range{max(r[0], after+1), r[1]})
		}
	}
	for _, s := range seqs {
		if s > after {
			all = append(all, wire.Range{s, s})
		}
	}
	slices.SortFunc(all, func(a, b wire.Range) int { return cmp.Compare(a[0], b[0]) })
	var out []wire.Range
	for _, r := range all {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		if len(out) == maxRanges {
			break
		}
		out = append(out, r)
	}
	return out
}

// EpochSummary is what is known of one epoch of a cabin: how far it is
// acknowledged, what is stored and what is accounted for as lost.
type EpochSummary struct {
	Epoch      string        `json:"epoch"`
	Contiguous uint64        `json:"contiguous"` // acknowledged: 1..contiguous are stored or accounted for
	Highest    uint64        `json:"highest"`    // highest sequence stored or accounted for
	Events     int64         `json:"events"`     // events stored
	Lost       uint64        `json:"lost"`       // sequences accounted for as lost and not stored
	LastSeen   int64         `json:"-"`          // Micros of the last batch; the list's order
	Losses     []LossSummary `json:"losses"`     // by reason
}

// LossSummary is the sequences of an epoch lost for one reason.
type LossSummary struct {
	Reason string       `json:"reason"`
	Count  uint64       `json:"count"`  // sequences accounted for and not stored
	Ranges []wire.Range `json:"ranges"` // as accounted (the first MaxRanges)
}

// SummarizeLosses fills s.Lost and s.Losses from the epoch's accounted
// ranges and its stored sequences within them (inRanges, ascending):
// a sequence both stored and accounted for counts as stored.
func SummarizeLosses(s *EpochSummary, lost []LostRange, inRanges []uint64) {
	slices.SortFunc(lost, func(a, b LostRange) int { return cmp.Compare(a.Range[0], b.Range[0]) })
	byReason := map[string]*LossSummary{}
	var seen uint64 // highest sequence already counted: ranges may overlap
	for _, l := range lost {
		ls := byReason[l.Reason]
		if ls == nil {
			ls = &LossSummary{Reason: l.Reason, Ranges: []wire.Range{}}
			byReason[l.Reason] = ls
		}
		if len(ls.Ranges) < wire.MaxRanges {
			ls.Ranges = append(ls.Ranges, l.Range)
		}
		first := max(l.Range[0], seen+1)
		if first > l.Range[1] {
			continue
		}
		n := l.Range[1] - first + 1
		lo, _ := slices.BinarySearch(inRanges, first)
		hi, _ := slices.BinarySearch(inRanges, l.Range[1]+1)
		n -= uint64(hi - lo)
		ls.Count += n
		s.Lost += n
		seen = l.Range[1]
	}
	s.Losses = []LossSummary{}
	for _, ls := range byReason {
		s.Losses = append(s.Losses, *ls)
	}
	slices.SortFunc(s.Losses, func(a, b LossSummary) int { return cmp.Compare(a.Reason, b.Reason) })
}

// storedAboveScan bounds the stored sequences QueryStoredAbove reads above
// a gap: an acknowledgement's ranges need only the first few islands.
const storedAboveScan = 100_000

// QueryStoredAbove runs seqQuery, which selects the seq of the epoch's
// events above after in ascending order (arguments site, cabin, epoch,
// after, limit), and rangeQuery, which selects first_seq and last_seq of
// its lost ranges ending above after (arguments site, cabin, epoch,
// after), and returns the islands above after, at most maxRanges.
func QueryStoredAbove(ctx context.Context, db Querier, seqQuery, rangeQuery string, k EpochKey, after uint64, maxRanges int) ([]wire.Range, error) {
	var seqs []uint64
	err := queryEach(ctx, db, seqQuery, []any{k.Site, k.Cabin, k.Epoch, int64(after), storedAboveScan}, func(rows Rows) error {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return err
		}
		seqs = append(seqs, uint64(s))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stored above %d in %s/%s %s: %w", after, k.Site, k.Cabin, k.Epoch, err)
	}
	ranges, err := queryRanges(ctx, db, rangeQuery, k.Site, k.Cabin, k.Epoch, int64(after))
	if err != nil {
		return nil, fmt.Errorf("lost above %d in %s/%s %s: %w", after, k.Site, k.Cabin, k.Epoch, err)
	}
	return Islands(after, seqs, ranges, maxRanges), nil
}

// QueryLostRanges runs query, which selects first_seq and last_seq of the
// lost ranges of an epoch ending above a sequence (arguments site, cabin,
// epoch, after).
func QueryLostRanges(ctx context.Context, db Querier, query string, k EpochKey, after uint64) ([]wire.Range, error) {
	return queryRanges(ctx, db, query, k.Site, k.Cabin, k.Epoch, int64(after))
}

func queryRanges(ctx context.Context, db Querier, query string, args ...any) ([]wire.Range, error) {
	var out []wire.Range
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		var f, l int64
		if err := rows.Scan(&f, &l); err != nil {
			return err
		}
		out = append(out, wire.Range{uint64(f), uint64(l)})
		return nil
	})
	return out, err
}

// EpochQueries are an engine's statements for QueryEpochs, each taking
// the arguments site and cabin.
type EpochQueries struct {
	// Epochs selects epoch, contiguous, last_seen_us, the number of events
	// stored and their highest seq (0 if none), newest first, then by epoch.
	Epochs string
	// Lost selects epoch, first_seq, last_seq, reason and report_seq.
	Lost string
	// InLost selects epoch and seq of the events within a lost range of
	// their epoch, once each, ordered by epoch then seq.
	InLost string
}

// QueryEpochs returns the epochs of a cabin with what is stored and lost
// in each, newest first, or ErrNotFound when the cabin has none.
func QueryEpochs(ctx context.Context, db Querier, q EpochQueries, site, cabin string) ([]EpochSummary, error) {
	var out []EpochSummary
	idx := map[string]int{}
	err := queryEach(ctx, db, q.Epochs, []any{site, cabin}, func(rows Rows) error {
		var s EpochSummary
		var cont, highest int64
		if err := rows.Scan(&s.Epoch, &cont, &s.LastSeen, &s.Events, &highest); err != nil {
			return err
		}
		s.Contiguous, s.Highest = uint64(cont), uint64(highest)
		idx[s.Epoch] = len(out)
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("epochs of %s/%s: %w", site, cabin, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("epochs of %s/%s: %w", site, cabin, ErrNotFound)
	}
	lost := map[string][]LostRange{}
	err = queryEach(ctx, db, q.Lost, []any{site, cabin}, func(rows Rows) error {
		var epoch, reason string
		var f, l, rep int64
		if err := rows.Scan(&epoch, &f, &l, &reason, &rep); err != nil {
			return err
		}
		lost[epoch] = append(lost[epoch], LostRange{Range: wire.Range{uint64(f), uint64(l)}, Reason: reason, Report: uint64(rep)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("losses of %s/%s: %w", site, cabin, err)
	}
	in := map[string][]uint64{}
	err = queryEach(ctx, db, q.InLost, []any{site, cabin}, func(rows Rows) error {
		var epoch string
		var seq int64
		if err := rows.Scan(&epoch, &seq); err != nil {
			return err
		}
		in[epoch] = append(in[epoch], uint64(seq))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("losses of %s/%s: %w", site, cabin, err)
	}
	for i := range out {
		s := &out[i]
		for _, l := range lost[s.Epoch] {
			s.Highest = max(s.Highest, l.Range[1])
		}
		SummarizeLosses(s, lost[s.Epoch], in[s.Epoch])
	}
	return out, nil
}
