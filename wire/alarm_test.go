package wire_test

import (
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
)

func TestDecodeAlarmAckNamesTheWrongField(t *testing.T) {
	const good = `{"v":1,"site":"les-pins","cabin":"a","alarms":[{"epoch":"k3v9x2mq7c","seq":4812}],"by":"Chiara","message":"on the way","at":"2026-11-24T09:02:10Z"}`
	a, err := wire.DecodeAlarmAck([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Covers("k3v9x2mq7c", 4812) || a.Covers("k3v9x2mq7c", 4811) || a.Covers("other", 4812) {
		t.Fatalf("Covers is wrong for %+v", a.Alarms)
	}
	bad := map[string]string{
		"alarms":          strings.Replace(good, `[{"epoch":"k3v9x2mq7c","seq":4812}]`, `[]`, 1),
		"alarms[0].seq":   strings.Replace(good, `"seq":4812`, `"seq":0`, 1),
		"alarms[0].epoch": strings.Replace(good, `"epoch":"k3v9x2mq7c"`, `"epoch":"K/3"`, 1),
		"by":              strings.Replace(good, `"by":"Chiara"`, `"by":""`, 1),
		"message":         strings.Replace(good, `"on the way"`, `"bell\u0007"`, 1),
		"site":            strings.Replace(good, `"les-pins"`, `"Les Pins"`, 1),
		"at":              strings.Replace(good, `,"at":"2026-11-24T09:02:10Z"`, ``, 1),
	}
	for field, msg := range bad {
		_, err := wire.DecodeAlarmAck([]byte(msg))
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: got %v, want an error naming %s", msg, err, field)
		}
	}
	long := strings.Replace(good, `"on the way"`, `"`+strings.Repeat("é", wire.MaxAckMessageLen+1)+`"`, 1)
	if _, err := wire.DecodeAlarmAck([]byte(long)); err == nil || !strings.Contains(err.Error(), "at most 280") {
		t.Errorf("a message of %d characters: %v", wire.MaxAckMessageLen+1, err)
	}
}

// A receiver takes a newer agent's state with a field it does not know;
// the agent's own decoder (and the screen's) stays strict.
func TestDecodeStateForwardIgnoresUnknownFields(t *testing.T) {
	const st = `{"v":1,"site":"les-pins","cabin":"a","time":"2026-11-24T09:00:06Z","floor":4,"direction":"none","moving":false,` +
		`"door_zone":true,"doors":["open"],"mode":"normal","faults":[],"alarm":true,"alarm_progress":"delivered","entrapment":false,` +
		`"in_service":true,"link":"ok","uplink":true,"counters":{"trips":1,"door_cycles":1,"direction_changes":1,"running_s":1,"idle_s":1,"standby_s":1}%s}`
	newer := []byte(strings.Replace(st, "%s", `,"cabin_temperature_c":21.5`, 1))
	if _, err := wire.DecodeState(newer); err == nil {
		t.Fatal("the strict decoder took an unknown field")
	}
	s, err := wire.DecodeStateForward(newer)
	if err != nil || s.Floor != 4 || s.AlarmProgress != wire.AlarmDelivered {
		t.Fatalf("forward decoder: %+v, %v", s, err)
	}
	for field, bad := range map[string]string{
		"direction":      strings.Replace(st, `"direction":"none"`, `"direction":"sideways"`, 1),
		"alarm_progress": strings.Replace(st, `"alarm_progress":"delivered"`, `"alarm_progress":"maybe"`, 1),
		"floor":          strings.Replace(st, `"floor":4`, `"floor":"4"`, 1),
	} {
		if _, err := wire.DecodeStateForward([]byte(strings.Replace(bad, "%s", "", 1))); err == nil || !strings.HasPrefix(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming it", field, err)
		}
	}
}
