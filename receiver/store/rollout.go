package store

import (
	"context"
	"time"
)

// A rollout wave tells a set of cabins which agent version to run and
// follows their update_* events (receiver/rollout). Its cabins are fixed
// when it is made; each goes pending, told, then applied, failed or
// rolled_back.

// Wave states.
const (
	WaveRunning = "running" // cabins are being told
	WaveStopped = "stopped" // by an admin, or by too many failures: no more cabins told
	WaveDone    = "done"    // every cabin has a result
)

// Target statuses.
const (
	TargetPending    = "pending"     // not told yet
	TargetTold       = "told"        // the desired version was published to it
	TargetApplied    = "applied"     // update_applied, or it already ran the version
	TargetFailed     = "failed"      // update_failed, or no result in time
	TargetRolledBack = "rolled_back" // update_rolled_back
)

// Wave is one rollout wave.
type Wave struct {
	ID      int64  `json:"id"`
	Version string `json:"version"`
	Channel string `json:"channel"`
	// MaxFailures is how many cabins may fail or roll back before the
	// wave stops: one more stops it.
	MaxFailures int `json:"max_failures"`
	// Step is how many cabins may be told and not yet answered at once.
	Step      int       `json:"step"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"` // why it stopped
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// WaveTarget is one cabin of a wave.
type WaveTarget struct {
	Site   string    `json:"site"`
	Cabin  string    `json:"cabin"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Told   time.Time `json:"told,omitzero"`
	Done   time.Time `json:"done,omitzero"`
}

// CabinKey names a cabin.
type CabinKey struct{ Site, Cabin string }

// Rollouts keeps rollout waves. Both engines implement it beside Store.
type Rollouts interface {
	// CreateWave stores a running wave with its cabins, all pending, and
	// returns it with its id.
	CreateWave(ctx context.Context, w Wave, targets []CabinKey) (Wave, error)
	// Waves lists the newest waves first, at most limit.
	Waves(ctx context.Context, limit int) ([]Wave, error)
	// Wave returns a wave and its cabins (ordered by site then cabin), or
	// ErrNotFound.
	Wave(ctx context.Context, id int64) (Wave, []WaveTarget, error)
	// SetWaveState moves a running wave to state; it reports whether the
	// wave was running.
	SetWaveState(ctx context.Context, id int64, state, reason string, at time.Time) (bool, error)
	// SetTarget moves a cabin of a wave forward (pending to told, told or
	// pending to a result); it reports whether it moved.
	SetTarget(ctx context.Context, id int64, k CabinKey, status, reason string, at time.Time) (bool, error)
}

// RolloutTables is the migration that makes the rollout tables; idColumn
// is the engine's auto-numbered primary key.
func RolloutTables(idColumn, bigint string) string {
	return `CREATE TABLE rollout_waves (
		id           ` + idColumn + `,
		version      TEXT NOT NULL,
		channel      TEXT NOT NULL,
		max_failures INTEGER NOT NULL,
		step         INTEGER NOT NULL,
		state        TEXT NOT NULL,
		reason       TEXT NOT NULL DEFAULT '',
		created_by   TEXT NOT NULL,
		created_us   ` + bigint + ` NOT NULL,
		updated_us   ` + bigint + ` NOT NULL
	);
	CREATE TABLE rollout_targets (
		wave_id  ` + bigint + ` NOT NULL REFERENCES rollout_waves (id),
		site     TEXT NOT NULL,
		cabin    TEXT NOT NULL,
		status   TEXT NOT NULL,
		reason   TEXT NOT NULL DEFAULT '',
		told_us  ` + bigint + ` NOT NULL DEFAULT 0,
		done_us  ` + bigint + ` NOT NULL DEFAULT 0,
		PRIMARY KEY (wave_id, site, cabin)
	);`
}

// Statements of the rollout tables, with ? placeholders (Numbered for
// PostgreSQL).
const (
	InsertWaveSQL = `INSERT INTO rollout_waves (version, channel, max_failures, step, state, created_by, created_us, updated_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	InsertTargetSQL = `INSERT INTO rollout_targets (wave_id, site, cabin, status) VALUES (?, ?, ?, '` + TargetPending + `')`
	SetWaveStateSQL = `UPDATE rollout_waves SET state = ?, reason = ?, updated_us = ? WHERE id = ? AND state = '` + WaveRunning + `'`
	// SetTargetToldSQL and SetTargetDoneSQL only move forward.
	SetTargetToldSQL = `UPDATE rollout_targets SET status = ?, reason = ?, told_us = ? WHERE wave_id = ? AND site = ? AND cabin = ?
		AND status = '` + TargetPending + `'`
	SetTargetDoneSQL = `UPDATE rollout_targets SET status = ?, reason = ?, done_us = ? WHERE wave_id = ? AND site = ? AND cabin = ?
		AND status IN ('` + TargetPending + `', '` + TargetTold + `')`
	waveColumns   = `id, version, channel, max_failures, step, state, reason, created_by, created_us, updated_us`
	targetColumns = `site, cabin, status, reason, told_us, done_us`
)

// SetTargetSQL is the statement that moves a target to status.
func SetTargetSQL(status string) string {
	if status == TargetTold {
		return SetTargetToldSQL
	}
	return SetTargetDoneSQL
}

// WavesSQL lists waves newest first.
func WavesSQL() string {
	return `SELECT ` + waveColumns + ` FROM rollout_waves ORDER BY id DESC LIMIT ?`
}

// WaveSQL selects one wave.
const WaveSQL = `SELECT ` + waveColumns + ` FROM rollout_waves WHERE id = ?`

// TargetsSQL lists a wave's cabins by site then cabin; collate is the
// engine's byte-order clause after each id column ("" for SQLite).
func TargetsSQL(collate string) string {
	return `SELECT ` + targetColumns + ` FROM rollout_targets WHERE wave_id = ? ORDER BY site` + collate + `, cabin` + collate
}

// QueryWaves reads waves.
func QueryWaves(ctx context.Context, db Querier, query string, args ...any) ([]Wave, error) {
	var out []Wave
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		var w Wave
		var created, updated int64
		if err := rows.Scan(&w.ID, &w.Version, &w.Channel, &w.MaxFailures, &w.Step, &w.State, &w.Reason, &w.CreatedBy, &created, &updated); err != nil {
			return err
		}
		w.Created, w.Updated = FromMicros(created), FromMicros(updated)
		out = append(out, w)
		return nil
	})
	return out, err
}

// QueryTargets reads a wave's cabins.
func QueryTargets(ctx context.Context, db Querier, query string, args ...any) ([]WaveTarget, error) {
	var out []WaveTarget
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		var t WaveTarget
		var told, done int64
		if err := rows.Scan(&t.Site, &t.Cabin, &t.Status, &t.Reason, &told, &done); err != nil {
			return err
		}
		t.Told, t.Done = FromMicros(told), FromMicros(done)
		out = append(out, t)
		return nil
	})
	return out, err
}
