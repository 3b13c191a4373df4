package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/storetest"
	"github.com/palier-lifts/palier/wire"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) store.Store {
		s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "receiver.db"), Options{})
		if err != nil {
			tb.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertBatches(ctx, nil, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", 1, 2)}, storetest.T0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.r.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	res, err := s.InsertBatches(ctx, []wire.Batch{storetest.Batch("s", "c", "e", 2, 3)}, storetest.T0)
	if err != nil || res.Inserted != 1 || res.Contiguous[0].Seq != 3 {
		t.Fatalf("after reopen: %+v, %v; want 1 inserted, contiguous 3", res, err)
	}
	var mode string
	if err := s.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v, want a refusal", err)
	}
}

func TestBadSynchronous(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), Options{Synchronous: "off"})
	if err == nil || !strings.Contains(err.Error(), "full or normal") {
		t.Fatalf("synchronous off: %v, want an error naming the valid values", err)
	}
}
