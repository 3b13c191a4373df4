package sensors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseProfile(f *testing.F) {
	for _, glob := range []string{"profiles/*.yaml", "testdata/profiles/*.yaml"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile("fuzz.yaml", bytes.NewReader(b))
		if err != nil {
			if p != nil {
				t.Fatal("profile returned with an error")
			}
			return
		}
		// An accepted profile is usable: valid requests covering every
		// signal, none over the protocol's limits.
		if p.Signals[SigFloor] == nil {
			t.Fatal("accepted without a floor")
		}
		reqs := p.Requests()
		for _, r := range reqs {
			if err := r.Validate(); err != nil {
				t.Fatalf("request %+v: %v", r, err)
			}
		}
		for name, s := range p.Signals {
			r := reqs[s.req]
			w := 1
			if !s.Table.bits() {
				w = s.Type.words()
			}
			if r.Slave != s.Slave || r.Function != s.Table.function() || int(s.Address) < int(r.Address) || int(s.Address)+w > int(r.Address)+int(r.Count) || s.off != int(s.Address)-int(r.Address) {
				t.Fatalf("signal %s (%+v) not inside its request %+v", name, s, r)
			}
		}
	})
}
