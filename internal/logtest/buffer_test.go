package logtest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestBufferTakesConcurrentWrites(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); log.Info("line", "i", i) }()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "msg=line"); n != 8 {
		t.Fatalf("%d lines, want 8:\n%s", n, b.String())
	}
}
