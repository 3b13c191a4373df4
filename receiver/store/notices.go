package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// scanNoticeSet reads a notice set from a row of one column, its stored
// body.
func scanNoticeSet(row scanner) (wire.NoticeSet, error) {
	var body string
	if err := row.Scan(&body); err != nil {
		return wire.NoticeSet{}, err
	}
	var set wire.NoticeSet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		return wire.NoticeSet{}, fmt.Errorf("stored body: %w", err)
	}
	return set, nil
}

// QueryNoticeSet runs query, which selects the body of site's notice set
// (its one argument), or returns ErrNotFound.
func QueryNoticeSet(ctx context.Context, db Querier, query, site string) (wire.NoticeSet, error) {
	var set wire.NoticeSet
	err := queryOne(ctx, db, query, []any{site}, func(rows Rows) (err error) {
		set, err = scanNoticeSet(rows)
		return err
	})
	if err != nil {
		return wire.NoticeSet{}, fmt.Errorf("notice set %s: %w", site, err)
	}
	return set, nil
}

// QueryNoticeSets runs query, which selects the body of every notice set,
// ordered by site.
func QueryNoticeSets(ctx context.Context, db Querier, query string) ([]wire.NoticeSet, error) {
	var out []wire.NoticeSet
	err := queryEach(ctx, db, query, nil, func(rows Rows) error {
		set, err := scanNoticeSet(rows)
		out = append(out, set)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list notice sets: %w", err)
	}
	return out, nil
}

// NoticeSetWriter runs an engine's statements behind PutNoticeSet. Each
// says whether it changed a row; body is the set's JSON and updatedUS the
// time of the change (Micros).
type NoticeSetWriter interface {
	// CreateNoticeSet stores version 1 of site's set unless a set is stored.
	CreateNoticeSet(ctx context.Context, site, body string, updatedUS int64) (bool, error)
	// ReplaceNoticeSet stores version of site's set if version-1 is stored.
	ReplaceNoticeSet(ctx context.Context, site string, version int64, body string, updatedUS int64) (bool, error)
}

// PutNoticeSet is Store.PutNoticeSet over w: the version rules are the
// same in every engine, only the statements differ.
func PutNoticeSet(ctx context.Context, w NoticeSetWriter, set wire.NoticeSet, now time.Time) error {
	if set.Version == 0 {
		return fmt.Errorf("put notice set %s: version 0 (versions start at 1)", set.Site)
	}
	body, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("put notice set %s: %w", set.Site, err)
	}
	var changed bool
	if set.Version == 1 {
		changed, err = w.CreateNoticeSet(ctx, set.Site, string(body), Micros(now))
	} else {
		changed, err = w.ReplaceNoticeSet(ctx, set.Site, int64(set.Version), string(body), Micros(now))
	}
	if err != nil {
		return fmt.Errorf("put notice set %s: %w", set.Site, err)
	}
	if !changed {
		return fmt.Errorf("put notice set %s version %d: %w", set.Site, set.Version, ErrVersionConflict)
	}
	return nil
}
