package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// putAlarms applies what the batches' events do to alarms (store.AlarmStatements).
func putAlarms(ctx context.Context, tx *sql.Tx, changes []store.AlarmChange, received time.Time) error {
	for _, c := range changes {
		for _, st := range store.AlarmStatements(c, received) {
			if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
				return fmt.Errorf("record alarm %s of %s/%s: %w", c.Op, c.Site, c.Cabin, err)
			}
		}
	}
	return nil
}

// Alarms implements store.Store.
func (s *Store) Alarms(ctx context.Context, site, cabin string, open bool, limit int) ([]store.Alarm, error) {
	q, args := store.AlarmsSQL(site, cabin, open, limit, "")
	return store.QueryAlarms(ctx, reader{s.r}, q, args...)
}

// AlarmsRaised implements store.Store.
func (s *Store) AlarmsRaised(ctx context.Context, site, cabin string, since, until time.Time, limit int) ([]store.Alarm, error) {
	q, args := store.AlarmsRaisedSQL(site, cabin, since, until, limit, "")
	return store.QueryAlarms(ctx, reader{s.r}, q, args...)
}

// AcknowledgeAlarms implements store.Store.
func (s *Store) AcknowledgeAlarms(ctx context.Context, site, cabin, by, message string, at time.Time) ([]store.Alarm, error) {
	r, err := s.w.ExecContext(ctx, store.AckAlarmsSQL, store.Micros(at), by, message, site, cabin)
	if n, err := changedRows(r, err); err != nil {
		return nil, fmt.Errorf("acknowledge alarms of %s/%s: %w", site, cabin, err)
	} else if n == 0 {
		return nil, fmt.Errorf("acknowledge alarms of %s/%s: %w", site, cabin, store.ErrNoOpenAlarm)
	}
	q, args := store.AlarmsSQL(site, cabin, true, wire.MaxAlarmRefs, "")
	return store.QueryAlarms(ctx, reader{s.w}, q, args...)
}

// CloseAlarm implements store.Store.
func (s *Store) CloseAlarm(ctx context.Context, site, cabin string, id wire.AlarmRef, by, reason string, at time.Time) (store.Alarm, error) {
	r, err := s.w.ExecContext(ctx, store.CloseAlarmSQL, store.Micros(at), by, reason, site, cabin, id.Epoch, int64(id.Seq))
	n, err := changedRows(r, err)
	if err != nil {
		return store.Alarm{}, fmt.Errorf("close alarm %s of %s/%s: %w", store.AlarmID(id), site, cabin, err)
	}
	got, err := store.QueryAlarms(ctx, reader{s.w}, `SELECT `+store.AlarmColumns+` FROM alarms WHERE site = ? AND cabin = ? AND epoch = ? AND seq = ?`,
		site, cabin, id.Epoch, int64(id.Seq))
	switch {
	case err != nil:
		return store.Alarm{}, err
	case len(got) == 0:
		return store.Alarm{}, fmt.Errorf("alarm %s of %s/%s: %w", store.AlarmID(id), site, cabin, store.ErrNotFound)
	case n == 0:
		return got[0], fmt.Errorf("alarm %s of %s/%s, closed by %s: %w", store.AlarmID(id), site, cabin, got[0].ClosedBy, store.ErrAlarmClosed)
	}
	return got[0], nil
}

func changedRows(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, errors.Join(errors.New("rows affected"), err)
	}
	return n, nil
}
