package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Alarms implements store.Store.
func (s *Store) Alarms(ctx context.Context, site, cabin string, open bool, limit int) ([]store.Alarm, error) {
	q, args := store.AlarmsSQL(site, cabin, open, limit, byteOrder)
	return store.QueryAlarms(ctx, reader{s.pool}, store.Numbered(q), args...)
}

// AlarmsRaised implements store.Store.
func (s *Store) AlarmsRaised(ctx context.Context, site, cabin string, since, until time.Time, limit int) ([]store.Alarm, error) {
	q, args := store.AlarmsRaisedSQL(site, cabin, since, until, limit, byteOrder)
	return store.QueryAlarms(ctx, reader{s.pool}, store.Numbered(q), args...)
}

// AcknowledgeAlarms implements store.Store.
func (s *Store) AcknowledgeAlarms(ctx context.Context, site, cabin, by, message string, at time.Time) ([]store.Alarm, error) {
	tag, err := s.pool.Exec(ctx, store.Numbered(store.AckAlarmsSQL), store.Micros(at), by, message, site, cabin)
	if err != nil {
		return nil, fmt.Errorf("acknowledge alarms of %s/%s: %w", site, cabin, refused(err))
	}
	if tag.RowsAffected() == 0 {
		return nil, fmt.Errorf("acknowledge alarms of %s/%s: %w", site, cabin, store.ErrNoOpenAlarm)
	}
	return s.Alarms(ctx, site, cabin, true, wire.MaxAlarmRefs)
}

// CloseAlarm implements store.Store.
func (s *Store) CloseAlarm(ctx context.Context, site, cabin string, id wire.AlarmRef, by, reason string, at time.Time) (store.Alarm, error) {
	tag, err := s.pool.Exec(ctx, store.Numbered(store.CloseAlarmSQL), store.Micros(at), by, reason, site, cabin, id.Epoch, int64(id.Seq))
	if err != nil {
		return store.Alarm{}, fmt.Errorf("close alarm %s of %s/%s: %w", store.AlarmID(id), site, cabin, refused(err))
	}
	got, err := store.QueryAlarms(ctx, reader{s.pool}, `SELECT `+store.AlarmColumns+` FROM alarms WHERE site = $1 AND cabin = $2 AND epoch = $3 AND seq = $4`,
		site, cabin, id.Epoch, int64(id.Seq))
	switch {
	case err != nil:
		return store.Alarm{}, err
	case len(got) == 0:
		return store.Alarm{}, fmt.Errorf("alarm %s of %s/%s: %w", store.AlarmID(id), site, cabin, store.ErrNotFound)
	case tag.RowsAffected() == 0:
		return got[0], fmt.Errorf("alarm %s of %s/%s, closed by %s: %w", store.AlarmID(id), site, cabin, got[0].ClosedBy, store.ErrAlarmClosed)
	}
	return got[0], nil
}
