package postgres

import (
	"testing"

	"github.com/palier-lifts/palier/receiver/store/storetest"
)

// BenchmarkInsertBatches measures ingestion into PostgreSQL
// (storetest.BenchInsertBatches).
func BenchmarkInsertBatches(b *testing.B) {
	storetest.BenchInsertBatches(b, open)
}
