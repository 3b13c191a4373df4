package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
)

var _ store.Rollouts = (*Store)(nil)

// CreateWave implements store.Rollouts.
func (s *Store) CreateWave(ctx context.Context, w store.Wave, targets []store.CabinKey) (store.Wave, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Wave{}, fmt.Errorf("create wave: begin: %w", err)
	}
	defer tx.Rollback()
	w.State = store.WaveRunning
	w.Updated = w.Created
	if err := tx.QueryRowContext(ctx, store.InsertWaveSQL, w.Version, w.Channel, w.MaxFailures, w.Step, w.State, w.CreatedBy,
		store.Micros(w.Created), store.Micros(w.Created)).Scan(&w.ID); err != nil {
		return store.Wave{}, fmt.Errorf("create wave: %w", err)
	}
	for _, k := range targets {
		if _, err := tx.ExecContext(ctx, store.InsertTargetSQL, w.ID, k.Site, k.Cabin); err != nil {
			return store.Wave{}, fmt.Errorf("create wave: cabin %s/%s: %w", k.Site, k.Cabin, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return store.Wave{}, fmt.Errorf("create wave: commit: %w", err)
	}
	return w, nil
}

// Waves implements store.Rollouts.
func (s *Store) Waves(ctx context.Context, limit int) ([]store.Wave, error) {
	return store.QueryWaves(ctx, reader{s.r}, store.WavesSQL(), limit)
}

// Wave implements store.Rollouts.
func (s *Store) Wave(ctx context.Context, id int64) (store.Wave, []store.WaveTarget, error) {
	ws, err := store.QueryWaves(ctx, reader{s.w}, store.WaveSQL, id)
	if err != nil {
		return store.Wave{}, nil, err
	}
	if len(ws) == 0 {
		return store.Wave{}, nil, fmt.Errorf("wave %d: %w", id, store.ErrNotFound)
	}
	ts, err := store.QueryTargets(ctx, reader{s.w}, store.TargetsSQL(""), id)
	return ws[0], ts, err
}

// SetWaveState implements store.Rollouts.
func (s *Store) SetWaveState(ctx context.Context, id int64, state, reason string, at time.Time) (bool, error) {
	n, err := changedRows(s.w.ExecContext(ctx, store.SetWaveStateSQL, state, reason, store.Micros(at), id))
	if err != nil {
		return false, fmt.Errorf("wave %d to %s: %w", id, state, err)
	}
	return n > 0, nil
}

// SetTarget implements store.Rollouts.
func (s *Store) SetTarget(ctx context.Context, id int64, k store.CabinKey, status, reason string, at time.Time) (bool, error) {
	n, err := changedRows(s.w.ExecContext(ctx, store.SetTargetSQL(status), status, reason, store.Micros(at), id, k.Site, k.Cabin))
	if err != nil {
		return false, fmt.Errorf("wave %d cabin %s/%s to %s: %w", id, k.Site, k.Cabin, status, err)
	}
	return n > 0, nil
}
