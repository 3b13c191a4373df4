package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvVar names the database tests use, e.g.
// postgres://postgres@127.0.0.1:5432/postgres. scripts/test.sh starts a
// throwaway cluster and sets it, so CI never skips these tests.
const EnvVar = "PALIER_TEST_POSTGRES_URL"

// RequireVar, when set (scripts/test.sh sets it), turns a missing EnvVar
// into a failure: CI must never skip the PostgreSQL tests.
const RequireVar = "PALIER_REQUIRE_POSTGRES"

// URL returns the URL of a new, empty schema, dropped when the test ends.
// Without EnvVar the test is skipped, or fails under RequireVar.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		if os.Getenv(RequireVar) != "" {
			t.Fatal(EnvVar + " not set but " + RequireVar + " is: the PostgreSQL tests must run")
		}
		t.Skip(EnvVar + " not set (scripts/test.sh starts a throwaway PostgreSQL and sets it)")
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", base, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "palier_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
