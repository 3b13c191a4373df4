package wire_test

import (
	"strings"
	"testing"

	"github.com/palier-lifts/palier/wire"
)

const goodUpdate = `{"v":1,"site":"les-pins","cabin":"a","version":"v1.4.1","channel":"canary","wave":7,"at":"2026-11-24T09:02:10Z"}`

func TestDecodeUpdateNamesTheWrongField(t *testing.T) {
	u, err := wire.DecodeUpdate([]byte(goodUpdate))
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != "v1.4.1" || u.Channel != wire.ChannelCanary || u.Wave != 7 {
		t.Fatalf("decoded %+v", u)
	}
	bad := map[string]string{
		"version": strings.Replace(goodUpdate, `"v1.4.1"`, `"1.4.1"`, 1),
		"channel": strings.Replace(goodUpdate, `"canary"`, `"beta"`, 1),
		"wave":    strings.Replace(goodUpdate, `"wave":7`, `"wave":0`, 1),
		"site":    strings.Replace(goodUpdate, `"les-pins"`, `"Les Pins"`, 1),
		"cabin":   strings.Replace(goodUpdate, `"cabin":"a"`, `"cabin":""`, 1),
		"at":      strings.Replace(goodUpdate, `,"at":"2026-11-24T09:02:10Z"`, ``, 1),
		"v":       strings.Replace(goodUpdate, `"v":1`, `"v":2`, 1),
	}
	for field, msg := range bad {
		_, err := wire.DecodeUpdate([]byte(msg))
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: got %v, want an error naming %s", msg, err, field)
		}
	}
	// A shell-looking version never reaches the helper.
	for _, v := range []string{"v1.4.1;reboot", "v1.4.1 --force", "v1.4", "v01.4.1", "v1.4.1-", strings.Repeat("v1.4.1", 20)} {
		if err := wire.ValidateVersion(v); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	for _, v := range []string{"v0.0.0-dev+abc1234", "v1.4.0+3.gabc1234", "v2.0.0-rc.1"} {
		if err := wire.ValidateVersion(v); err != nil {
			t.Errorf("version %q refused: %v", v, err)
		}
	}
	if _, err := wire.DecodeUpdate([]byte(strings.Replace(goodUpdate, `"at"`, `"extra":1,"at"`, 1))); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestUpdateTopics(t *testing.T) {
	if got := wire.TopicsFor("les-pins", "a").Update; got != "palier/v1/les-pins/a/update" {
		t.Errorf("topic %q", got)
	}
	if got := wire.UpdateSubject("les-pins", "a"); got != "palier.v1.les-pins.a.update" {
		t.Errorf("subject %q", got)
	}
}
