package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// DesiredConfigsTable is the migration that creates the desired
// configurations of sites and cabins (wire.DesiredConfig), every version
// kept: the history an operator reads, and the newest the receiver
// publishes. cabin is empty for a site's configuration. bigint is the
// engine's 64-bit integer type.
func DesiredConfigsTable(bigint string) string {
	return `CREATE TABLE desired_configs (
		site       TEXT NOT NULL,
		cabin      TEXT NOT NULL,
		version    ` + bigint + ` NOT NULL,
		body       TEXT NOT NULL,
		created_us ` + bigint + ` NOT NULL,
		PRIMARY KEY (site, cabin, version)
	);`
}

// scanDesiredConfig reads a desired configuration from a row of one
// column, its stored body.
func scanDesiredConfig(row scanner) (wire.DesiredConfig, error) {
	var body string
	if err := row.Scan(&body); err != nil {
		return wire.DesiredConfig{}, err
	}
	var d wire.DesiredConfig
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return wire.DesiredConfig{}, fmt.Errorf("stored body: %w", err)
	}
	return d, nil
}

// QueryDesiredConfigs runs query, which selects bodies of desired
// configurations, and returns them in its order.
func QueryDesiredConfigs(ctx context.Context, db Querier, query string, args ...any) ([]wire.DesiredConfig, error) {
	var out []wire.DesiredConfig
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		d, err := scanDesiredConfig(rows)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list desired configurations: %w", err)
	}
	return out, nil
}

// QueryDesiredConfig runs query, which selects the body of one scope's
// newest configuration, or returns ErrNotFound.
func QueryDesiredConfig(ctx context.Context, db Querier, query, site, cabin string) (wire.DesiredConfig, error) {
	var d wire.DesiredConfig
	err := queryOne(ctx, db, query, []any{site, cabin}, func(rows Rows) (err error) {
		d, err = scanDesiredConfig(rows)
		return err
	})
	if err != nil {
		return wire.DesiredConfig{}, fmt.Errorf("desired configuration of %s: %w", scopeName(site, cabin), err)
	}
	return d, nil
}

func scopeName(site, cabin string) string {
	if cabin == "" {
		return "site " + site
	}
	return "cabin " + site + "/" + cabin
}

// DesiredConfigWriter runs an engine's statement behind PutDesiredConfig.
type DesiredConfigWriter interface {
	// InsertDesiredConfig stores version of the scope (site, cabin) if
	// the newest stored is version-1 (none stored for 1), and says whether
	// it did.
	InsertDesiredConfig(ctx context.Context, site, cabin string, version int64, body string, createdUS int64) (bool, error)
}

// PutDesiredConfig is Store.PutDesiredConfig over w: the version rules
// are the same in every engine, only the statement differs.
func PutDesiredConfig(ctx context.Context, w DesiredConfigWriter, d wire.DesiredConfig, now time.Time) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("put desired configuration of %s: %w", scopeName(d.Site, d.Cabin), err)
	}
	if d.Version > MaxSeq {
		return fmt.Errorf("put desired configuration of %s: version %d beyond what a store keeps", scopeName(d.Site, d.Cabin), d.Version)
	}
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("put desired configuration of %s: %w", scopeName(d.Site, d.Cabin), err)
	}
	ok, err := w.InsertDesiredConfig(ctx, d.Site, d.Cabin, int64(d.Version), string(body), Micros(now))
	if err != nil {
		return fmt.Errorf("put desired configuration of %s: %w", scopeName(d.Site, d.Cabin), err)
	}
	if !ok {
		return fmt.Errorf("put desired configuration of %s version %d: %w", scopeName(d.Site, d.Cabin), d.Version, ErrVersionConflict)
	}
	return nil
}
