package store

import (
	"context"
	"fmt"
)

// Migrator runs an engine's schema migrations.
type Migrator interface {
	// SchemaVersion creates the table of applied migrations if needed and
	// returns the highest version applied (0: none).
	SchemaVersion(ctx context.Context) (int, error)
	// ApplyMigration runs sql and records version, in one transaction.
	ApplyMigration(ctx context.Context, version int, sql string) error
}

// Migrate brings m's schema to version len(migrations), migration i
// bringing it to version i+1, so shipped migrations are never edited, only
// appended to. A schema newer than migrations is refused: an older
// receiver would misread it.
func Migrate(ctx context.Context, m Migrator, migrations []string) error {
	current, err := m.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build knows (%d): refusing to run an older receiver on it", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		if err := m.ApplyMigration(ctx, v, migrations[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return nil
}
