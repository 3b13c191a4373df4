package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// DesiredConfig implements store.Store.
func (s *Store) DesiredConfig(ctx context.Context, site, cabin string) (wire.DesiredConfig, error) {
	return store.QueryDesiredConfig(ctx, reader{s.r}, `SELECT body FROM desired_configs WHERE site = ? AND cabin = ? ORDER BY version DESC LIMIT 1`, site, cabin)
}

// DesiredConfigs implements store.Store.
func (s *Store) DesiredConfigs(ctx context.Context) ([]wire.DesiredConfig, error) {
	return store.QueryDesiredConfigs(ctx, reader{s.r}, `SELECT body FROM desired_configs d
		WHERE version = (SELECT MAX(version) FROM desired_configs WHERE site = d.site AND cabin = d.cabin)
		ORDER BY site, cabin`)
}

// DesiredConfigHistory implements store.Store.
func (s *Store) DesiredConfigHistory(ctx context.Context, site, cabin string, limit int) ([]wire.DesiredConfig, error) {
	return store.QueryDesiredConfigs(ctx, reader{s.r}, `SELECT body FROM desired_configs WHERE site = ? AND cabin = ? ORDER BY version DESC LIMIT ?`, site, cabin, limit)
}

// PutDesiredConfig implements store.Store.
func (s *Store) PutDesiredConfig(ctx context.Context, d wire.DesiredConfig) error {
	return store.PutDesiredConfig(ctx, desiredWriter{s.w}, d, time.Now())
}

// desiredWriter runs PutDesiredConfig's statement on the writer connection.
type desiredWriter struct{ db *sql.DB }

func (w desiredWriter) InsertDesiredConfig(ctx context.Context, site, cabin string, version int64, body string, createdUS int64) (bool, error) {
	// The version must follow the newest; two writers of one version: the
	// key keeps one, the other changes nothing.
	return changed(w.db.ExecContext(ctx, `INSERT INTO desired_configs (site, cabin, version, body, created_us)
		SELECT ?, ?, ?, ?, ? WHERE (SELECT COALESCE(MAX(version), 0) FROM desired_configs WHERE site = ? AND cabin = ?) = ?
		ON CONFLICT DO NOTHING`, site, cabin, version, body, createdUS, site, cabin, version-1))
}
