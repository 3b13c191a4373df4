package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

const goodPlay = `{"notice":"ag-2026","version":12,"lang":"fr","layout":"1024x600","orientation":"landscape","from":"2026-12-05T10:00:00Z","to":"2026-12-05T10:01:00Z","shown_ms":18000,"times":3}`

func TestDecodeNoticeShownNamesTheField(t *testing.T) {
	d, err := wire.DecodeNoticeShown([]byte(goodPlay))
	if err != nil || d.Notice != "ag-2026" || d.ShownMS != 18000 || d.To.Sub(d.From) != time.Minute {
		t.Fatalf("%+v, %v", d, err)
	}
	for _, tc := range []struct{ from, to, field string }{
		{`"notice":"ag-2026"`, `"notice":""`, "notice"},
		{`"version":12`, `"version":0`, "version"},
		{`"lang":"fr"`, `"lang":"FR"`, "lang"},
		{`"layout":"1024x600"`, `"layout":"1024x600x1"`, "layout"},
		{`"layout":"1024x600"`, `"layout":"01024x600"`, "layout"},
		{`"layout":"1024x600"`, `"layout":"big"`, "layout"},
		{`"orientation":"landscape"`, `"orientation":"upside"`, "orientation"},
		{`"to":"2026-12-05T10:01:00Z"`, `"to":"2026-12-05T10:00:00Z"`, "to"},
		{`"to":"2026-12-05T10:01:00Z"`, `"to":"2026-12-05T11:00:01Z"`, "to"},
		{`"shown_ms":18000`, `"shown_ms":60001`, "shown_ms"},
		{`"shown_ms":18000`, `"shown_ms":0`, "shown_ms"},
		{`"times":3`, `"times":0`, "times"},
		{`"times":3`, `"times":3601`, "times"},
		{`"times":3`, `"times":3,"text":"Assemblée"`, "text"},
	} {
		_, err := wire.DecodeNoticeShown([]byte(strings.Replace(goodPlay, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.to, err, tc.field)
		}
	}
	if _, err := wire.DecodeNoticeShown([]byte(goodPlay + strings.Repeat(" ", wire.MaxNoticeShownBytes))); err == nil {
		t.Error("an oversized record was accepted")
	}
}

// FuzzDecodeNoticeShown: a play record from the display either decodes
// into one that validates and survives a round trip, or is refused.
func FuzzDecodeNoticeShown(f *testing.F) {
	f.Add([]byte(goodPlay))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := wire.DecodeNoticeShown(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted %q that does not validate: %v", b, err)
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DecodeNoticeShown(again); err != nil {
			t.Fatalf("round trip of %q: %v", b, err)
		}
	})
}
