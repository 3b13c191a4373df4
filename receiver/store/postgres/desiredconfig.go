package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// DesiredConfig implements store.Store.
func (s *Store) DesiredConfig(ctx context.Context, site, cabin string) (wire.DesiredConfig, error) {
	return store.QueryDesiredConfig(ctx, reader{s.pool}, `SELECT body FROM desired_configs WHERE site = $1 AND cabin = $2 ORDER BY version DESC LIMIT 1`, site, cabin)
}

// DesiredConfigs implements store.Store.
func (s *Store) DesiredConfigs(ctx context.Context) ([]wire.DesiredConfig, error) {
	return store.QueryDesiredConfigs(ctx, reader{s.pool}, `SELECT body FROM desired_configs d
		WHERE version = (SELECT MAX(version) FROM desired_configs WHERE site = d.site AND cabin = d.cabin)
		ORDER BY site`+byteOrder+`, cabin`+byteOrder)
}

// DesiredConfigHistory implements store.Store.
func (s *Store) DesiredConfigHistory(ctx context.Context, site, cabin string, limit int) ([]wire.DesiredConfig, error) {
	return store.QueryDesiredConfigs(ctx, reader{s.pool}, `SELECT body FROM desired_configs WHERE site = $1 AND cabin = $2 ORDER BY version DESC LIMIT $3`, site, cabin, limit)
}

// PutDesiredConfig implements store.Store.
func (s *Store) PutDesiredConfig(ctx context.Context, d wire.DesiredConfig) error {
	return store.PutDesiredConfig(ctx, desiredWriter{s.pool}, d, time.Now())
}

// desiredWriter runs PutDesiredConfig's statement.
type desiredWriter struct{ pool *pgxpool.Pool }

func (w desiredWriter) InsertDesiredConfig(ctx context.Context, site, cabin string, version int64, body string, createdUS int64) (bool, error) {
	// The version must follow the newest; two writers of one version: the
	// key keeps one, the other changes nothing.
	tag, err := w.pool.Exec(ctx, `INSERT INTO desired_configs (site, cabin, version, body, created_us)
		SELECT $1::text, $2::text, $3::bigint, $4::text, $5::bigint WHERE (SELECT COALESCE(MAX(version), 0) FROM desired_configs WHERE site = $1 AND cabin = $2) = $6
		ON CONFLICT DO NOTHING`, site, cabin, version, body, createdUS, version-1)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}
