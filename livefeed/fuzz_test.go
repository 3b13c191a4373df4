package livefeed

import (
	"bytes"
	"testing"
)

// FuzzDecodeMessage feeds arbitrary lines to the decoder: it must never
// panic, and whatever it accepts must encode again into a line it accepts.
func FuzzDecodeMessage(f *testing.F) {
	st := state(3)
	ns := notices(2, "Réunion à 18h, salle du rez-de-chaussée.")
	p := play("ag-2026", 18)
	for _, m := range []Message{{Type: TypeState, State: &st}, {Type: TypeNotices, Notices: &ns}, {Type: TypeKeepalive, Time: t0}, {Type: TypePlayed, Played: &p}} {
		line, err := EncodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := DecodeMessage(line)
		if err != nil {
			return
		}
		again, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it again: %v", line, err)
		}
		if bytes.Count(again, []byte("\n")) != 1 {
			t.Fatalf("re-encoded line %q is not one line", again)
		}
		m2, err := DecodeMessage(again)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
		if m2.Type != m.Type {
			t.Fatalf("type %q became %q", m.Type, m2.Type)
		}
	})
}
