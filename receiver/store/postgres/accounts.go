package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/palier-lifts/palier/receiver/store"
)

var _ store.Accounts = (*Store)(nil)

// execer runs store.SQLAccounts' writes on the pool.
type execer struct{ pool *pgxpool.Pool }

func (e execer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := e.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, refused(err)
	}
	return tag.RowsAffected(), nil
}
