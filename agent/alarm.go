package agent

import (
	"slices"
	"sync"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// alarmTracker follows the cabin's current alarm from the event that
// raised it to an operator's acknowledgement, so that the screen tells
// passengers only what is true: registered here, delivered to the
// receiver (the end-to-end ack covers the raising event), acknowledged by
// a person. The poll loop, the uplink's handlers and the state publisher
// all touch it; it never blocks.
type alarmTracker struct {
	mu       sync.Mutex
	active   bool
	epoch    string
	seq      uint64 // of the raising event in epoch
	progress string
	lastAck  *wire.AlarmAck               // the newest acknowledgement taken, which may precede the alarm's seq
	pending  []wire.AlarmAcknowledgedData // alarm_acknowledged events to record
	// lastShown is the time of the acknowledgement last recorded as shown.
	lastShown time.Time
	version   uint64 // bumped on every change of progress
}

// raised records that event seq of epoch raised the alarm.
func (t *alarmTracker) raised(epoch string, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active, t.epoch, t.seq = true, epoch, seq
	t.set(wire.AlarmRegistered)
	if t.lastAck != nil && t.lastAck.Covers(epoch, seq) {
		t.acknowledge(*t.lastAck)
	}
}

// cleared records that the alarm ended at the cabin.
func (t *alarmTracker) cleared() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active, t.epoch, t.seq = false, "", 0
	t.set("")
}

// confirmed applies an end-to-end ack: the raising event reached the
// receiver when the ack covers it.
func (t *alarmTracker) confirmed(epoch string, upTo uint64, stored []wire.Range) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.active || t.progress != wire.AlarmRegistered || epoch != t.epoch {
		return
	}
	if t.seq <= upTo || slices.ContainsFunc(stored, func(r wire.Range) bool { return r.Contains(t.seq) }) {
		t.set(wire.AlarmDelivered)
	}
}

// acknowledged applies an operator's acknowledgement (the uplink checked
// it is this cabin's). One that names another alarm is kept: the
// raising event's sequence may not be known yet.
func (t *alarmTracker) acknowledged(a wire.AlarmAck) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastAck != nil && a.At.Before(t.lastAck.At) {
		return // an older one, repeated
	}
	t.lastAck = &a
	if t.active && a.Covers(t.epoch, t.seq) {
		t.acknowledge(a)
	}
}

// acknowledge moves to acknowledged and queues the event that says the
// cabin shows it, once per acknowledgement. t.mu is held.
func (t *alarmTracker) acknowledge(a wire.AlarmAck) {
	if t.progress == wire.AlarmAcknowledged && t.lastShown.Equal(a.At) {
		return
	}
	t.lastShown = a.At
	t.pending = append(t.pending, wire.AlarmAcknowledgedData{Epoch: t.epoch, Seq: t.seq, By: a.By, At: a.At})
	t.set(wire.AlarmAcknowledged)
}

func (t *alarmTracker) set(progress string) {
	if t.progress != progress {
		t.progress = progress
		t.version++
	}
}

// snapshot returns the progress to show and its version.
func (t *alarmTracker) snapshot() (progress string, version uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progress, t.version
}

// takePending returns the alarm_acknowledged events to record.
func (t *alarmTracker) takePending() []wire.AlarmAcknowledgedData {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pending
	t.pending = nil
	return p
}
