package receiver

import (
	"context"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/receiver/store/postgres"
	"github.com/palier-lifts/palier/receiver/store/sqlite"
)

// OpenStore opens (and migrates) the store cfg names, as Run does: for
// commands that work on the store beside or without a running receiver,
// such as "receiver accounts".
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	cfg = cfg.withPaths()
	if cfg.Store.Driver == "postgres" {
		return postgres.Open(ctx, cfg.Store.URL)
	}
	return sqlite.Open(ctx, cfg.Store.Path, sqlite.Options{Synchronous: cfg.Store.Synchronous})
}
