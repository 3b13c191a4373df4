package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

// putPlays stores the batches' notice_shown events (store.PlaysOf).
func putPlays(ctx context.Context, tx *sql.Tx, rows []store.PlayRow) error {
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, store.InsertPlaySQL, store.PlayArgs(r)...); err != nil {
			return fmt.Errorf("record notice play %s/%s %s#%d: %w", r.Site, r.Cabin, r.Epoch, r.Seq, err)
		}
	}
	return nil
}

// NoticePlays implements store.Store.
func (s *Store) NoticePlays(ctx context.Context, site, notice string, since, until time.Time) ([]store.NoticePlays, error) {
	return store.QueryNoticePlays(ctx, reader{s.r}, store.NoticePlaysSQL, site, notice, since, until)
}
