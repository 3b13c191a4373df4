package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
)

// BenchmarkInsertBatches measures ingestion into SQLite with both
// synchronous settings (storetest.BenchInsertBatches).
func BenchmarkInsertBatches(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("sync="+sync, func(b *testing.B) {
			storetest.BenchInsertBatches(b, func(tb testing.TB) store.Store {
				s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "bench.db"), Options{Synchronous: sync})
				if err != nil {
					tb.Fatal(err)
				}
				return s
			})
		})
	}
}
