package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Facts are what the receiver last knew of a cabin, one value per name,
// each with the time it speaks for (At) and since when it has held that
// value (Since): the raw material of a cabin's situation (package
// receiver/situation). Events and state snapshots both bring them, in any
// order; a value only replaces one that speaks for an earlier time. They
// live in one table of (site, cabin, name), so a new fact needs no new
// column in either engine.
type Fact struct {
	Site, Cabin string
	Name        string
	Value       string
	At          time.Time // the time the value speaks for
	Since       time.Time // when the value began, as far as known
}

// Fact names and their values.
const (
	FactAlarm       = "alarm"        // "true", "false"
	FactEntrapment  = "entrapment"   // "true", "false"
	FactInService   = "in_service"   // "true", "false"
	FactLink        = "link"         // "ok", "lost"
	FactHeartbeat   = "heartbeat"    // the newest heartbeat or health event; the value is empty
	FactOutboxDepth = "outbox_depth" // from health events: entries not yet confirmed
	FactOldestAge   = "oldest_pending_s"
	FactLoss        = "loss" // sequences accounted for as lost by the newest loss; at: when received
	// FactConfigApplied is the configuration set from a distance the
	// cabin runs (ConfigApplied, JSON), from config_applied and
	// config_rolled_back events; FactConfigRefused its newest refusal
	// (wire.ConfigRefusedData, JSON).
	FactConfigApplied = "config_applied"
	FactConfigRefused = "config_refused"
)

// ConfigApplied is the value of FactConfigApplied: the site and cabin
// versions a cabin runs, and why it went back to them if it rolled back.
type ConfigApplied struct {
	SiteVersion  uint64 `json:"site_version"`
	CabinVersion uint64 `json:"cabin_version"`
	RolledBack   string `json:"rolled_back,omitempty"`
}

// FactsOf returns the facts events of batches bring, received at
// received: at most one per cabin and name, the newest by event time.
// Events dated beyond MaxClockSkew speak for nothing.
func FactsOf(batches []wire.Batch, received time.Time) []Fact {
	type key struct{ site, cabin, name string }
	newest := map[key]Fact{}
	var order []key
	put := func(b *wire.Batch, name, value string, at time.Time) {
		k := key{b.Site, b.Cabin, name}
		f, ok := newest[k]
		if !ok {
			order = append(order, k)
		} else if at.Before(f.At) {
			return
		}
		newest[k] = Fact{Site: b.Site, Cabin: b.Cabin, Name: name, Value: value, At: at, Since: at}
	}
	eachTrusted(batches, received, func(b *wire.Batch, e *wire.Event) {
		if name, value, ok := stateOfEvent(e); ok {
			put(b, name, value, e.Time)
			return
		}
		switch e.Type {
		case wire.TypeHeartbeat:
			put(b, FactHeartbeat, "", e.Time)
		case wire.TypeHealth:
			put(b, FactHeartbeat, "", e.Time)
			var d wire.HealthData
			if json.Unmarshal(e.Data, &d) == nil {
				put(b, FactOutboxDepth, strconv.FormatUint(d.OutboxDepth, 10), e.Time)
				put(b, FactOldestAge, strconv.FormatFloat(d.OldestPendingAgeS, 'f', -1, 64), e.Time)
			}
		case wire.TypeLost:
			var d wire.LostData
			if json.Unmarshal(e.Data, &d) == nil {
				put(b, FactLoss, strconv.FormatUint(d.Count, 10), received)
			}
		case wire.TypeConfigApplied:
			var d wire.ConfigAppliedData
			if json.Unmarshal(e.Data, &d) == nil {
				v, _ := json.Marshal(ConfigApplied{SiteVersion: d.SiteVersion, CabinVersion: d.CabinVersion})
				put(b, FactConfigApplied, string(v), e.Time)
			}
		case wire.TypeConfigRolledBack:
			var d wire.ConfigRolledBackData
			if json.Unmarshal(e.Data, &d) == nil {
				v, _ := json.Marshal(ConfigApplied{SiteVersion: d.SiteVersion, CabinVersion: d.CabinVersion, RolledBack: d.Reason})
				put(b, FactConfigApplied, string(v), e.Time)
			}
		case wire.TypeConfigRefused:
			var d wire.ConfigRefusedData
			if json.Unmarshal(e.Data, &d) == nil {
				v, _ := json.Marshal(d)
				put(b, FactConfigRefused, string(v), e.Time)
			}
		}
	})
	out := make([]Fact, 0, len(order))
	for _, k := range order {
		out = append(out, newest[k])
	}
	return out
}

// stateOfEvent reads the state an event sets (alarm, entrapment, in
// service): the values both the facts and the timeline record.
func stateOfEvent(e *wire.Event) (name, value string, ok bool) {
	switch e.Type {
	case wire.TypeAlarm:
		var d wire.AlarmData
		if json.Unmarshal(e.Data, &d) == nil {
			return FactAlarm, strconv.FormatBool(d.Active), true
		}
	case wire.TypeEntrapment:
		var d wire.EntrapmentData
		if json.Unmarshal(e.Data, &d) == nil {
			return FactEntrapment, strconv.FormatBool(d.Active), true
		}
	case wire.TypeService:
		var d wire.ServiceData
		if json.Unmarshal(e.Data, &d) == nil {
			return FactInService, strconv.FormatBool(d.InService), true
		}
	}
	return "", "", false
}

// FactsOfState returns the facts a state snapshot brings.
func FactsOfState(s wire.State) []Fact {
	f := func(name, value string) Fact {
		return Fact{Site: s.Site, Cabin: s.Cabin, Name: name, Value: value, At: s.Time, Since: s.Time}
	}
	out := []Fact{
		f(FactAlarm, strconv.FormatBool(s.Alarm)),
		f(FactEntrapment, strconv.FormatBool(s.Entrapment)),
		f(FactInService, strconv.FormatBool(s.InService)),
	}
	if s.Link != "" {
		out = append(out, f(FactLink, s.Link))
	}
	return out
}

// QueryFacts runs query, which selects site, cabin, name, value, at_us and
// since_us of the facts wanted (args as query needs), ordered by site,
// cabin then name.
func QueryFacts(ctx context.Context, db Querier, query string, args ...any) ([]Fact, error) {
	var out []Fact
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		var f Fact
		var at, since int64
		if err := rows.Scan(&f.Site, &f.Cabin, &f.Name, &f.Value, &at, &since); err != nil {
			return err
		}
		f.At, f.Since = FromMicros(at), FromMicros(since)
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read facts: %w", err)
	}
	return out, nil
}

// FactsUpsert is the statement shape both engines use to record a fact:
// a value replaces the stored one only if it speaks for a time no earlier,
// and Since moves only when the value changes. Placeholders are the
// engine's, in the order site, cabin, name, value, at_us, since_us.
func FactsUpsert(values string) string {
	return `INSERT INTO cabin_facts (site, cabin, name, value, at_us, since_us) ` + values + `
		ON CONFLICT (site, cabin, name) DO UPDATE SET
			since_us = CASE WHEN excluded.at_us < cabin_facts.at_us OR excluded.value = cabin_facts.value THEN cabin_facts.since_us ELSE excluded.since_us END,
			value    = CASE WHEN excluded.at_us < cabin_facts.at_us THEN cabin_facts.value ELSE excluded.value END,
			at_us    = CASE WHEN excluded.at_us < cabin_facts.at_us THEN cabin_facts.at_us ELSE excluded.at_us END`
}

// FactsTable is the table of migration "cabin facts", the same in both
// engines but for the integer type.
func FactsTable(bigint string) string {
	return `CREATE TABLE cabin_facts (
		site     TEXT NOT NULL,
		cabin    TEXT NOT NULL,
		name     TEXT NOT NULL,
		value    TEXT NOT NULL,
		at_us    ` + bigint + ` NOT NULL,
		since_us ` + bigint + ` NOT NULL,
		PRIMARY KEY (site, cabin, name)
	);`
}

// eachTrusted calls fn for every event of batches, in order, but those
// dated beyond MaxClockSkew after received: they speak for nothing (a
// cabin's clock run ahead would pin its facts, timeline and alarms).
func eachTrusted(batches []wire.Batch, received time.Time, fn func(*wire.Batch, *wire.Event)) {
	horizon := received.Add(MaxClockSkew)
	for i := range batches {
		b := &batches[i]
		for j := range b.Events {
			if e := &b.Events[j]; !e.Time.After(horizon) {
				fn(b, e)
			}
		}
	}
}
