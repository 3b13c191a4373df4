package agent

import (
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// The screen's wording follows only what happened: each step below is one
// the cabin can see, in the order a real alarm can meet them.
func TestAlarmProgressSaysOnlyWhatIsTrue(t *testing.T) {
	var tr alarmTracker
	at := time.Date(2026, 11, 24, 9, 2, 10, 0, time.UTC)
	ack := func(epoch string, seq uint64, at time.Time) wire.AlarmAck {
		return wire.AlarmAck{V: 1, Site: "s", Cabin: "c", Alarms: []wire.AlarmRef{{Epoch: epoch, Seq: seq}}, By: "Chiara", At: at}
	}
	want := func(step, progress string, pending int) {
		t.Helper()
		if got, _ := tr.snapshot(); got != progress {
			t.Fatalf("%s: progress %q, want %q", step, got, progress)
		}
		if got := len(tr.takePending()); got != pending {
			t.Fatalf("%s: %d alarm_acknowledged events, want %d", step, got, pending)
		}
	}
	want("no alarm", "", 0)
	tr.raised("e1", 40)
	want("raised", wire.AlarmRegistered, 0)
	tr.confirmed("e0", 100, nil)
	want("an ack of another epoch", wire.AlarmRegistered, 0)
	tr.confirmed("e1", 39, []wire.Range{{42, 50}})
	want("an ack below it, ranges beside it", wire.AlarmRegistered, 0)
	tr.acknowledged(ack("e1", 7, at))
	want("an operator's ack of another alarm", wire.AlarmRegistered, 0)
	tr.confirmed("e1", 39, []wire.Range{{40, 40}})
	want("stored above a gap", wire.AlarmDelivered, 0)
	tr.confirmed("e1", 45, nil)
	want("a later ack", wire.AlarmDelivered, 0)
	tr.acknowledged(ack("e1", 40, at))
	want("acknowledged", wire.AlarmAcknowledged, 1)
	tr.acknowledged(ack("e1", 40, at))
	want("the same retained ack again", wire.AlarmAcknowledged, 0)
	tr.confirmed("e1", 60, nil)
	want("delivery after acknowledgement", wire.AlarmAcknowledged, 0)
	tr.acknowledged(ack("e1", 40, at.Add(time.Minute)))
	want("acknowledged again, a new message", wire.AlarmAcknowledged, 1)
	tr.acknowledged(ack("e1", 40, at))
	want("an older ack repeated", wire.AlarmAcknowledged, 0)
	tr.cleared()
	want("cleared at the cabin", "", 0)

	// A new alarm: the retained acknowledgement of the old one does not
	// speak for it.
	tr.raised("e1", 70)
	want("a new alarm", wire.AlarmRegistered, 0)
	// An acknowledgement that arrived before the agent knew the raising
	// event's sequence (a restart) applies once it does.
	tr.cleared()
	tr.acknowledged(ack("e2", 3, at.Add(time.Hour)))
	want("an ack before the alarm", "", 0)
	tr.raised("e2", 3)
	want("the alarm it names", wire.AlarmAcknowledged, 1)
}
