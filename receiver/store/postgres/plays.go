package postgres

import (
	"context"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

var insertPlaySQL = store.Numbered(store.InsertPlaySQL)

// NoticePlays implements store.Store.
func (s *Store) NoticePlays(ctx context.Context, site, notice string, since, until time.Time) ([]store.NoticePlays, error) {
	return store.QueryNoticePlays(ctx, reader{s.pool}, store.Numbered(store.NoticePlaysSQL), site, notice, since, until)
}
