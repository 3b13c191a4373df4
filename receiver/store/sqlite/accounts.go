package sqlite

import (
	"context"
	"database/sql"

	"github.com/palier-lifts/palier/receiver/store"
)

var _ store.Accounts = (*Store)(nil)

// execer runs store.SQLAccounts' writes, and its RETURNING statements, on
// the writer connection.
type execer struct{ db *sql.DB }

func (e execer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return changedRows(e.db.ExecContext(ctx, query, args...))
}

func (e execer) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	return reader(e).Query(ctx, query, args...)
}
