package wire

import "fmt"

// Range is an inclusive range of sequences [first, last], encoded as a
// two-element JSON array.
type Range [2]uint64

// First and Last name the bounds.
func (r Range) First() uint64 { return r[0] }
func (r Range) Last() uint64  { return r[1] }

// Len is the number of sequences the range holds.
func (r Range) Len() uint64 { return r[1] - r[0] + 1 }

// Contains reports whether seq is in the range.
func (r Range) Contains(seq uint64) bool { return seq >= r[0] && seq <= r[1] }

// MaxRanges bounds the ranges of one acknowledgement or loss report, so
// that either stays a few kilobytes whatever the gaps.
const MaxRanges = 1000

// MaxLostPerReport bounds the sequences one loss report accounts for, so
// that a receiver expands it in bounded memory; an agent splits larger
// losses over several reports.
const MaxLostPerReport = 1 << 20

// checkRanges checks that ranges are well formed: each first >= 1 and
// first <= last, ascending and disjoint, at most MaxRanges, every sequence
// below limit (0: no limit). It returns how many sequences they hold.
func checkRanges(field string, ranges []Range, limit uint64) (uint64, error) {
	if len(ranges) > MaxRanges {
		return 0, fieldErr(field, "%d ranges (at most %d)", len(ranges), MaxRanges)
	}
	var n, prev uint64
	for i, r := range ranges {
		f := fmt.Sprintf("%s[%d]", field, i)
		if r[0] == 0 {
			return 0, fieldErr(f, "starts at 0 (sequences start at 1)")
		}
		if r[0] > r[1] {
			return 0, fieldErr(f, "[%d,%d] ends before it starts", r[0], r[1])
		}
		if i > 0 && r[0] <= prev {
			return 0, fieldErr(f, "[%d,%d] overlaps or precedes the range before it (ranges ascend and are disjoint)", r[0], r[1])
		}
		if limit != 0 && r[1] >= limit {
			return 0, fieldErr(f, "[%d,%d] reaches %d (must stay below %d)", r[0], r[1], r[1], limit)
		}
		prev = r[1]
		n += r.Len()
	}
	return n, nil
}

// AppendRange adds seq to ranges, which ascend: it extends the last range
// when seq follows it and starts a new one otherwise. seq must be above
// every sequence already in ranges.
func AppendRange(ranges []Range, seq uint64) []Range {
	if n := len(ranges); n > 0 && ranges[n-1][1]+1 == seq {
		ranges[n-1][1] = seq
		return ranges
	}
	return append(ranges, Range{seq, seq})
}
