package soak_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// api reads the receiver's HTTP API with the admin token.
type api struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// errNotFound is a 404: an unknown cabin, or an endpoint this receiver
// does not have.
var errNotFound = errors.New("404 not found")

// get decodes the JSON answer of path into v.
func (a api) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: read the answer: %w", path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("GET %s: %w: %s", path, errNotFound, strings.TrimSpace(string(body)))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// storedEvent is an event as GET /api/v1/cabins/{site}/{cabin}/events
// serves it (docs/API.md).
type storedEvent struct {
	Epoch string          `json:"epoch"`
	Seq   uint64          `json:"seq"`
	Time  time.Time       `json:"time"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
}

// lostData is the data of a "lost" event: sequences of its epoch that will
// never arrive, and why. Only the fields the accounting needs.
type lostData struct {
	Reason  string            `json:"reason"`
	Ranges  [][2]uint64       `json:"ranges"`
	Count   uint64            `json:"count"`
	Classes map[string]uint64 `json:"classes"`
}

// allEvents reads every stored event of the cabin, page by page.
func (a api) allEvents(ctx context.Context, site, cabin string) ([]storedEvent, error) {
	var all []storedEvent
	cursor := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Events []storedEvent `json:"events"`
			Next   string        `json:"next"`
		}
		if err := a.get(ctx, "/api/v1/cabins/"+site+"/"+cabin+"/events?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
		if page.Next == "" {
			return all, nil
		}
		if page.Next == cursor {
			return nil, fmt.Errorf("events: the cursor %q does not move", cursor)
		}
		cursor = page.Next
	}
}

// cabinEvents is the cabin's events count as GET /api/v1/cabins/{site}/{cabin} serves it.
func (a api) cabinEvents(ctx context.Context, site, cabin string) (uint64, error) {
	var c struct {
		Events uint64 `json:"events"`
	}
	err := a.get(ctx, "/api/v1/cabins/"+site+"/"+cabin, &c)
	return c.Events, err
}

// epochView is one epoch of GET /api/v1/cabins/{site}/{cabin}/epochs.
type epochView struct {
	Epoch      string `json:"epoch"`
	Contiguous uint64 `json:"contiguous"`
	Highest    uint64 `json:"highest"`
	Events     uint64 `json:"events"`
	Lost       uint64 `json:"lost"`
	Losses     []struct {
		Reason string      `json:"reason"`
		Count  uint64      `json:"count"`
		Ranges [][2]uint64 `json:"ranges"`
	} `json:"losses"`
}

// epochAccount is what the events API says of one epoch.
type epochAccount struct {
	epoch      string
	stored     map[uint64]bool
	lost       map[uint64]string // sequence -> reason, for sequences reported lost and not stored
	lostStored uint64            // sequences reported lost that were stored all the same
	lostTwice  uint64            // sequences reported lost by more than one report
	highest    uint64
	resets     int // outbox_reset events: the epoch replaced a damaged or rolled-back one
	types      map[string]int
}

// gaps returns the sequences from 1 to highest neither stored nor reported
// lost, as ranges.
func (e *epochAccount) gaps() [][2]uint64 {
	var out [][2]uint64
	for seq := uint64(1); seq <= e.highest; seq++ {
		if e.stored[seq] {
			continue
		}
		if _, ok := e.lost[seq]; ok {
			continue
		}
		if n := len(out); n > 0 && out[n-1][1]+1 == seq {
			out[n-1][1] = seq
		} else {
			out = append(out, [2]uint64{seq, seq})
		}
	}
	return out
}

// lostByReason counts the sequences lost and not stored, per reason.
func (e *epochAccount) lostByReason() map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range e.lost {
		m[r]++
	}
	return m
}

// account is the whole cabin as the events API shows it.
type account struct {
	events     int // events served
	duplicates []string
	bad        []string // lost events whose data does not decode
	epochs     map[string]*epochAccount
	views      []epochView // the epochs endpoint's answer, for the report
}

// tally builds the account from every stored event: no (epoch, seq) may
// appear twice; "lost" events say which sequences are accounted for.
func tally(events []storedEvent) *account {
	acc := &account{events: len(events), epochs: map[string]*epochAccount{}}
	type report struct {
		epoch string
		seq   uint64
		data  lostData
	}
	var reports []report
	for _, ev := range events {
		e := acc.epochs[ev.Epoch]
		if e == nil {
			e = &epochAccount{epoch: ev.Epoch, stored: map[uint64]bool{}, lost: map[uint64]string{}, types: map[string]int{}}
			acc.epochs[ev.Epoch] = e
		}
		if e.stored[ev.Seq] {
			acc.duplicates = append(acc.duplicates, fmt.Sprintf("%s/%d", ev.Epoch, ev.Seq))
			continue
		}
		e.stored[ev.Seq] = true
		e.highest = max(e.highest, ev.Seq)
		e.types[ev.Type]++
		switch ev.Type {
		case "outbox_reset":
			e.resets++
		case "lost":
			var d lostData
			if err := json.Unmarshal(ev.Data, &d); err != nil || d.Reason == "" {
				acc.bad = append(acc.bad, fmt.Sprintf("%s/%d: %s", ev.Epoch, ev.Seq, ev.Data))
				continue
			}
			reports = append(reports, report{ev.Epoch, ev.Seq, d})
		}
	}
	// Reports after every stored sequence is known: a sequence that was
	// reported lost and arrived all the same counts as stored.
	reported := map[string]map[uint64]bool{}
	for _, r := range reports {
		e := acc.epochs[r.epoch]
		if reported[r.epoch] == nil {
			reported[r.epoch] = map[uint64]bool{}
		}
		// What docs/EVENTS.md promises of a lost event: ranges below its
		// own sequence, a count that is theirs, and safety events never
		// evicted.
		where := fmt.Sprintf("%s/%d (lost, %s)", r.epoch, r.seq, r.data.Reason)
		if n := r.data.Classes["safety"]; n > 0 {
			acc.bad = append(acc.bad, fmt.Sprintf("%s: %d safety events lost", where, n))
		}
		var count uint64
		for _, rg := range r.data.Ranges {
			if rg[0] == 0 || rg[0] > rg[1] || rg[1] >= r.seq || rg[1]-rg[0] > 1<<24 {
				acc.bad = append(acc.bad, fmt.Sprintf("%s: range %v", where, rg))
				continue
			}
			count += rg[1] - rg[0] + 1
			for seq := rg[0]; seq <= rg[1]; seq++ {
				if reported[r.epoch][seq] {
					e.lostTwice++
					continue
				}
				reported[r.epoch][seq] = true
				if e.stored[seq] {
					e.lostStored++
					continue
				}
				e.lost[seq] = r.data.Reason
				e.highest = max(e.highest, seq)
			}
		}
		if count != r.data.Count {
			acc.bad = append(acc.bad, fmt.Sprintf("%s: count %d, its ranges hold %d", where, r.data.Count, count))
		}
	}
	return acc
}

// sortedEpochs lists the epochs by name: an epoch begins with the date it
// was made, so this is roughly their order.
func (acc *account) sortedEpochs() []*epochAccount {
	out := make([]*epochAccount, 0, len(acc.epochs))
	for _, e := range acc.epochs {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].epoch < out[j].epoch })
	return out
}

// totals sums the account over the epochs.
func (acc *account) totals() (stored int, lost map[string]uint64, resets int) {
	lost = map[string]uint64{}
	for _, e := range acc.epochs {
		stored += len(e.stored)
		for r, n := range e.lostByReason() {
			lost[r] += n
		}
		resets += e.resets
	}
	return stored, lost, resets
}

// checkEpochs compares the epochs endpoint with the account: every epoch
// fully acknowledged (contiguous == highest), every sequence stored or
// lost (events + lost == highest), and the same numbers as the events
// show. It returns the problems found.
func checkEpochs(views []epochView, acc *account) []string {
	var probs []string
	seen := map[string]bool{}
	for _, v := range views {
		seen[v.Epoch] = true
		if v.Contiguous != v.Highest {
			probs = append(probs, fmt.Sprintf("epoch %s: contiguous %d, highest %d: the acknowledgement stops short", v.Epoch, v.Contiguous, v.Highest))
		}
		if v.Events+v.Lost != v.Highest {
			probs = append(probs, fmt.Sprintf("epoch %s: events %d + lost %d = %d, highest %d: sequences neither stored nor accounted for", v.Epoch, v.Events, v.Lost, v.Events+v.Lost, v.Highest))
		}
		var byReason uint64
		reasons := map[string]uint64{}
		for _, l := range v.Losses {
			byReason += l.Count
			reasons[l.Reason] += l.Count
		}
		if byReason != v.Lost {
			probs = append(probs, fmt.Sprintf("epoch %s: lost %d, but the losses by reason add up to %d", v.Epoch, v.Lost, byReason))
		}
		e := acc.epochs[v.Epoch]
		if e == nil {
			probs = append(probs, fmt.Sprintf("epoch %s: listed by the epochs endpoint, no event of it served by the events endpoint", v.Epoch))
			continue
		}
		if v.Events != uint64(len(e.stored)) {
			probs = append(probs, fmt.Sprintf("epoch %s: the epochs endpoint counts %d events, the events endpoint serves %d", v.Epoch, v.Events, len(e.stored)))
		}
		if v.Highest != e.highest {
			probs = append(probs, fmt.Sprintf("epoch %s: highest %d, the events (stored and reported lost) reach %d", v.Epoch, v.Highest, e.highest))
		}
		// "refused" is the receiver's own accounting, not in any event.
		mine := e.lostByReason()
		for _, r := range sortedKeys(mine, reasons) {
			if r == "refused" {
				continue
			}
			if mine[r] != reasons[r] {
				probs = append(probs, fmt.Sprintf("epoch %s: the epochs endpoint counts %d sequences lost as %q, the lost events report %d", v.Epoch, reasons[r], r, mine[r]))
			}
		}
	}
	for _, e := range acc.sortedEpochs() {
		if !seen[e.epoch] {
			probs = append(probs, fmt.Sprintf("epoch %s: %d events served, missing from the epochs endpoint", e.epoch, len(e.stored)))
		}
	}
	return probs
}

func sortedKeys(ms ...map[string]uint64) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// formatRanges writes ranges for a message, at most n of them.
func formatRanges(rs [][2]uint64, n int) string {
	var b strings.Builder
	var total uint64
	for i, r := range rs {
		total += r[1] - r[0] + 1
		if i < n {
			if i > 0 {
				b.WriteString(" ")
			}
			if r[0] == r[1] {
				fmt.Fprintf(&b, "%d", r[0])
			} else {
				fmt.Fprintf(&b, "%d-%d", r[0], r[1])
			}
		}
	}
	if len(rs) > n {
		fmt.Fprintf(&b, " and %d more ranges", len(rs)-n)
	}
	return fmt.Sprintf("%d sequences: %s", total, b.String())
}
