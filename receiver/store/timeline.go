package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// TimelineEntry is one row of a cabin's timeline: from At on, the value
// of Name is Value, until the next entry of that name. The timeline holds
// what availability needs over any period, where the facts (Fact) hold
// only the newest value. Site and Cabin are not encoded: the API shows a
// cabin's entries under its own site and cabin.
type TimelineEntry struct {
	Site  string    `json:"-"`
	Cabin string    `json:"-"`
	Name  string    `json:"name"`
	Value string    `json:"value"`
	At    time.Time `json:"at"`
}

// Timeline names besides those of the facts (FactInService,
// FactEntrapment, FactAlarm, FactLink), and their values.
const (
	TimelinePresence = "presence" // the agent's status: PresenceOnline or PresenceOffline
	PresenceOnline   = "online"
	PresenceOffline  = "offline"
)

// TimelineNames are the names a timeline records, in byte order.
func TimelineNames() []string {
	return []string{FactAlarm, FactEntrapment, FactInService, FactLink, TimelinePresence}
}

// TimelineOf returns every timeline value the events of batches bring
// (service, entrapment and alarm events), ordered by site, cabin, name
// then time: where FactsOf keeps the newest, a timeline keeps each
// transition. Events dated beyond MaxClockSkew after received speak for
// nothing, as in FactsOf.
func TimelineOf(batches []wire.Batch, received time.Time) []TimelineEntry {
	var out []TimelineEntry
	eachTrusted(batches, received, func(b *wire.Batch, e *wire.Event) {
		if name, value, ok := stateOfEvent(e); ok {
			out = append(out, TimelineEntry{Site: b.Site, Cabin: b.Cabin, Name: name, Value: value, At: e.Time})
		}
	})
	sortTimeline(out)
	return out
}

// TimelineOfState returns the timeline values a state snapshot brings:
// those of its facts (FactsOfState), link included.
func TimelineOfState(s wire.State) []TimelineEntry {
	facts := FactsOfState(s)
	out := make([]TimelineEntry, len(facts))
	for i, f := range facts {
		out[i] = TimelineEntry{Site: f.Site, Cabin: f.Cabin, Name: f.Name, Value: f.Value, At: f.At}
	}
	return out
}

// TimelineOfStatus is the timeline value of a status message that the
// broker took at at.
func TimelineOfStatus(site, cabin string, online bool, at time.Time) TimelineEntry {
	v := PresenceOffline
	if online {
		v = PresenceOnline
	}
	return TimelineEntry{Site: site, Cabin: cabin, Name: TimelinePresence, Value: v, At: at}
}

// sortTimeline orders entries by site, cabin, name then time, the order
// engines record them in.
func sortTimeline(es []TimelineEntry) {
	slices.SortStableFunc(es, func(a, b TimelineEntry) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Cabin, b.Cabin), cmp.Compare(a.Name, b.Name), a.At.Compare(b.At))
	})
}

// How a timeline value is recorded. Arguments: site, cabin, name, at_us,
// value, with the engine's placeholder mark ($ in PostgreSQL, ? in SQLite;
// both bind $n/?n to the nth argument). Two receivers recording the same
// value at the same time meet on the primary key.
//
// Values that state snapshots and status messages bring are said again and
// again (the agent's online every minute, every snapshot's in_service): one
// is stored only if it differs from the row just before it in time, so
// the table grows with changes, not with repetition. Values from events
// are stored whatever comes before them: the agent sends an event only
// when the value changes, and one that arrives late (a backlog, a resend,
// two receivers taking batches of one cabin at once) must find the events
// after it still there. Had an out of service at 30 been dropped as a
// repetition of one at 10, a return to service at 20 that arrives last
// would read as in service for good. Repetitions that remain (a snapshot
// stored before the event it repeats arrived) are few, and the read
// (QueryTimeline) leaves them out.
const (
	timelineInsertSQL = `INSERT INTO cabin_timeline (site, cabin, name, at_us, value)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (site, cabin, name, at_us) DO NOTHING`
	timelineChangeSQL = `INSERT INTO cabin_timeline (site, cabin, name, at_us, value)
		SELECT $1, $2, $3, $4, $5
		WHERE NOT EXISTS (SELECT 1 FROM (
			SELECT value FROM cabin_timeline WHERE site = $1 AND cabin = $2 AND name = $3 AND at_us < $4
			ORDER BY at_us DESC LIMIT 1) AS before WHERE before.value = $5)
		ON CONFLICT (site, cabin, name, at_us) DO NOTHING`
)

// TimelineStatements returns the statements recording a timeline value,
// with mark ("$" or "?") before each argument number: event for values of
// events, stored whatever precedes them, and change for values of
// snapshots and status messages, stored only when they differ from the
// row before them. Both take TimelineArgs; run a call's values of one
// cabin in time order.
func TimelineStatements(mark string) (event, change string) {
	return strings.ReplaceAll(timelineInsertSQL, "$", mark), strings.ReplaceAll(timelineChangeSQL, "$", mark)
}

// TimelineArgs are the arguments of both TimelineStatements for e.
func TimelineArgs(e TimelineEntry) []any {
	return []any{e.Site, e.Cabin, e.Name, Micros(e.At), e.Value}
}

// TimelineTable is the table of migration "cabin timeline", the same in
// both engines but for the integer type. The key serves both reads: a
// name's rows in a period, and its last row before the period.
func TimelineTable(bigint string) string {
	return `CREATE TABLE cabin_timeline (
		site   TEXT NOT NULL,
		cabin  TEXT NOT NULL,
		name   TEXT NOT NULL,
		at_us  ` + bigint + ` NOT NULL,
		value  TEXT NOT NULL,
		PRIMARY KEY (site, cabin, name, at_us)
	);`
}

// QueryTimeline reads the timeline of one cabin over [since, until), with
// the last row of each name before since (the state when the period
// begins), ordered by time then name. mark is the engine's placeholder
// mark, as for TimelineStatements.
func QueryTimeline(ctx context.Context, db Querier, mark, site, cabin string, since, until time.Time) ([]TimelineEntry, error) {
	args := []any{site, cabin, Micros(since), Micros(until)}
	var parts []string
	for _, name := range TimelineNames() {
		args = append(args, name)
		n := strconv.Itoa(len(args))
		// One index range per name, starting at its last row before since
		// (found by one descent of the key), so the read costs the rows
		// returned, not the cabin's history.
		parts = append(parts, `SELECT name, value, at_us FROM cabin_timeline
			WHERE site = $1 AND cabin = $2 AND name = $`+n+` AND at_us < $4 AND at_us >= COALESCE(
				(SELECT MAX(at_us) FROM cabin_timeline WHERE site = $1 AND cabin = $2 AND name = $`+n+` AND at_us < $3), $3)`)
	}
	query := strings.ReplaceAll(strings.Join(parts, "\nUNION ALL\n"), "$", mark)
	var out []TimelineEntry
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		e := TimelineEntry{Site: site, Cabin: cabin}
		var at int64
		if err := rows.Scan(&e.Name, &e.Value, &at); err != nil {
			return err
		}
		e.At = FromMicros(at)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s/%s: %w", site, cabin, err)
	}
	slices.SortFunc(out, func(a, b TimelineEntry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Name, b.Name))
	})
	// Leave out what repeats the value before it: the changes only.
	last := map[string]string{}
	changes := []TimelineEntry{} // encodes as [], not null
	for _, e := range out {
		if v, ok := last[e.Name]; ok && v == e.Value {
			continue
		}
		last[e.Name] = e.Value
		changes = append(changes, e)
	}
	return changes, nil
}
