package simulator

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParseScenario(f *testing.F) {
	paths, _ := filepath.Glob("scenarios/*.yaml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseScenario("fuzz.yaml", bytes.NewReader(b))
		if err != nil {
			return
		}
		s, err := New(Config{Scenario: sc}, nil)
		if err != nil {
			return
		}
		// A valid scenario plays without panicking and keeps the car in
		// the shaft.
		for i := 0; i < 200; i++ {
			s.advance(500 * time.Millisecond)
		}
		if pos := s.car.pos; pos < 0 || pos > float64((s.cfg.Floors-1)*s.cfg.FloorHeightMM) {
			t.Fatalf("car at %g mm, outside the shaft", pos)
		}
	})
}
