package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// An alarm is the life of one alarm or entrapment of a cabin: raised (the
// event at the cabin), delivered (stored here), acknowledged (by an
// operator), shown (the cabin says its screen tells passengers so), closed
// (cleared at the cabin, or by an operator with a reason). It is keyed by
// the event that raised it. An agent that raises it again while it is open
// (after a restart, under a new sequence) continues it: Last names the
// newest raising event, which an acknowledgement must name too.
type Alarm struct {
	Site, Cabin string
	Raise       wire.AlarmRef // the event that raised it
	Last        wire.AlarmRef // the newest raising event while it was open
	Kind        string        // AlarmKindAlarm or AlarmKindEntrapment
	Raised      time.Time     // the raising event's time, at the cabin
	Delivered   time.Time     // when the receiver stored it
	Acked       time.Time     // zero until acknowledged
	AckedBy     string
	AckMessage  string
	Shown       time.Time // zero until the cabin says it shows the acknowledgement
	Closed      time.Time // zero while open
	ClosedBy    string    // AlarmClosedByCabin, or the operator
	CloseReason string
}

// Kinds of alarms, the event types that raise them.
const (
	AlarmKindAlarm      = wire.TypeAlarm
	AlarmKindEntrapment = wire.TypeEntrapment
)

// AlarmClosedByCabin is Alarm.ClosedBy when the cabin cleared it.
const AlarmClosedByCabin = "cabin"

// Alarm states, from the lifecycle's times.
const (
	AlarmRaised       = "raised"
	AlarmDelivered    = "delivered"
	AlarmAcknowledged = "acknowledged"
	AlarmClosed       = "closed"
)

// State is how far the alarm got.
func (a Alarm) State() string {
	switch {
	case !a.Closed.IsZero():
		return AlarmClosed
	case !a.Acked.IsZero():
		return AlarmAcknowledged
	case !a.Delivered.IsZero():
		return AlarmDelivered
	}
	return AlarmRaised
}

// ID names the alarm in the API: its raising event, "{epoch}.{seq}".
func (a Alarm) ID() string { return AlarmID(a.Raise) }

// AlarmID is the API id of the alarm raised by r.
func AlarmID(r wire.AlarmRef) string { return r.Epoch + "." + strconv.FormatUint(r.Seq, 10) }

// ParseAlarmID reads an id made by AlarmID, saying what is wrong.
func ParseAlarmID(id string) (wire.AlarmRef, error) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return wire.AlarmRef{}, fmt.Errorf("alarm id %q is not {epoch}.{seq}", id)
	}
	seq, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return wire.AlarmRef{}, fmt.Errorf("alarm id %q: sequence %q is not a positive integer", id, id[i+1:])
	}
	if err := wire.ValidateEpoch(id[:i]); err != nil {
		return wire.AlarmRef{}, fmt.Errorf("alarm id %q: epoch %w", id, err)
	}
	return wire.AlarmRef{Epoch: id[:i], Seq: seq}, nil
}

// Refs are the raising events an acknowledgement of a must name.
func (a Alarm) Refs() []wire.AlarmRef {
	if a.Last == a.Raise || a.Last.Seq == 0 {
		return []wire.AlarmRef{a.Raise}
	}
	return []wire.AlarmRef{a.Raise, a.Last}
}

// AlarmAckOf is the acknowledgement to publish for a cabin's open
// acknowledged alarms: it names every raising event of each, and speaks
// with the newest acknowledgement's words.
func AlarmAckOf(site, cabin string, open []Alarm) wire.AlarmAck {
	ack := wire.AlarmAck{V: wire.Version, Site: site, Cabin: cabin}
	for _, x := range open {
		if x.Acked.IsZero() {
			continue
		}
		if x.Acked.After(ack.At) {
			ack.At, ack.By, ack.Message = x.Acked.UTC(), x.AckedBy, x.AckMessage
		}
		for _, ref := range x.Refs() {
			if len(ack.Alarms) < wire.MaxAlarmRefs {
				ack.Alarms = append(ack.Alarms, ref)
			}
		}
	}
	return ack
}

// Errors of the operators' alarm calls.
var (
	// ErrNoOpenAlarm: the cabin has no open alarm or entrapment to acknowledge.
	ErrNoOpenAlarm = errors.New("no open alarm or entrapment")
	// ErrAlarmClosed: the alarm was closed already.
	ErrAlarmClosed = errors.New("alarm already closed")
)

// AlarmChange is what one event does to a cabin's alarms.
type AlarmChange struct {
	Site, Cabin string
	Kind        string        // for raise and clear
	Op          string        // AlarmOpRaise, AlarmOpClear or AlarmOpShown
	Ref         wire.AlarmRef // raise: the raising event; shown: the alarm's event
	At          time.Time     // the event's time
}

// Alarm change operations.
const (
	AlarmOpRaise = "raise"
	AlarmOpClear = "clear"
	AlarmOpShown = "shown"
)

// AlarmChangesOf returns what the events of batches do to alarms, in the
// order they happened within each cabin's epoch. Events dated beyond
// MaxClockSkew past received are left out, as they are of facts.
func AlarmChangesOf(batches []wire.Batch, received time.Time) []AlarmChange {
	var out []AlarmChange
	eachTrusted(batches, received, func(b *wire.Batch, e *wire.Event) {
		c := AlarmChange{Site: b.Site, Cabin: b.Cabin, Kind: e.Type, At: e.Time}
		switch e.Type {
		case wire.TypeAlarm, wire.TypeEntrapment:
			var d struct {
				Active bool `json:"active"`
			}
			if json.Unmarshal(e.Data, &d) != nil {
				return
			}
			c.Op = AlarmOpClear
			if d.Active {
				c.Op, c.Ref = AlarmOpRaise, wire.AlarmRef{Epoch: b.Epoch, Seq: e.Seq}
			}
		case wire.TypeAlarmAcknowledged:
			var d wire.AlarmAcknowledgedData
			if json.Unmarshal(e.Data, &d) != nil {
				return
			}
			c.Op, c.Kind, c.Ref = AlarmOpShown, "", wire.AlarmRef{Epoch: d.Epoch, Seq: d.Seq}
		default:
			return
		}
		out = append(out, c)
	})
	return out
}

// AlarmStatement is one statement of an alarm change, with "?"
// placeholders (Numbered turns them into PostgreSQL's) and its arguments.
type AlarmStatement struct {
	SQL  string
	Args []any
}

// AlarmStatements are the statements that apply c, in order, the same in
// both engines. Every one is idempotent: a batch delivered twice changes
// nothing the second time.
func AlarmStatements(c AlarmChange, received time.Time) []AlarmStatement {
	at := Micros(c.At)
	switch c.Op {
	case AlarmOpRaise:
		return []AlarmStatement{
			// Raised again while open (an agent restarted): it continues.
			{`UPDATE alarms SET last_epoch = ?, last_seq = ?
				WHERE site = ? AND cabin = ? AND kind = ? AND closed_us = 0 AND NOT (epoch = ? AND seq = ?) AND raised_us <= ?`,
				[]any{c.Ref.Epoch, int64(c.Ref.Seq), c.Site, c.Cabin, c.Kind, c.Ref.Epoch, int64(c.Ref.Seq), at}},
			{`INSERT INTO alarms (site, cabin, epoch, seq, kind, raised_us, delivered_us, last_epoch, last_seq)
				SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT)
				WHERE NOT EXISTS (SELECT 1 FROM alarms WHERE site = ? AND cabin = ? AND kind = ? AND closed_us = 0)
				ON CONFLICT DO NOTHING`,
				[]any{c.Site, c.Cabin, c.Ref.Epoch, int64(c.Ref.Seq), c.Kind, at, Micros(received), c.Ref.Epoch, int64(c.Ref.Seq), c.Site, c.Cabin, c.Kind}},
		}
	case AlarmOpClear:
		return []AlarmStatement{{`UPDATE alarms SET closed_us = ?, closed_by = ?, close_reason = ?
			WHERE site = ? AND cabin = ? AND kind = ? AND closed_us = 0 AND raised_us <= ?`,
			[]any{at, AlarmClosedByCabin, "cleared at the cabin", c.Site, c.Cabin, c.Kind, at}}}
	case AlarmOpShown:
		return []AlarmStatement{{`UPDATE alarms SET shown_us = CASE WHEN shown_us > ? THEN shown_us ELSE ? END
			WHERE site = ? AND cabin = ? AND ((epoch = ? AND seq = ?) OR (last_epoch = ? AND last_seq = ?))`,
			[]any{at, at, c.Site, c.Cabin, c.Ref.Epoch, int64(c.Ref.Seq), c.Ref.Epoch, int64(c.Ref.Seq)}}}
	}
	return nil
}

// AlarmsTable is the table of migration "alarms", the same in both
// engines but for the integer type.
func AlarmsTable(bigint string) string {
	return `CREATE TABLE alarms (
		site         TEXT NOT NULL,
		cabin        TEXT NOT NULL,
		epoch        TEXT NOT NULL,
		seq          ` + bigint + ` NOT NULL,
		kind         TEXT NOT NULL,
		raised_us    ` + bigint + ` NOT NULL,
		delivered_us ` + bigint + ` NOT NULL,
		last_epoch   TEXT NOT NULL,
		last_seq     ` + bigint + ` NOT NULL,
		acked_us     ` + bigint + ` NOT NULL DEFAULT 0,
		acked_by     TEXT NOT NULL DEFAULT '',
		ack_message  TEXT NOT NULL DEFAULT '',
		shown_us     ` + bigint + ` NOT NULL DEFAULT 0,
		closed_us    ` + bigint + ` NOT NULL DEFAULT 0,
		closed_by    TEXT NOT NULL DEFAULT '',
		close_reason TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (site, cabin, epoch, seq)
	);
	CREATE INDEX alarms_open ON alarms (closed_us, site, cabin);`
}

// AlarmColumns are the columns QueryAlarms scans, in order.
const AlarmColumns = `site, cabin, epoch, seq, last_epoch, last_seq, kind, raised_us, delivered_us,
	acked_us, acked_by, ack_message, shown_us, closed_us, closed_by, close_reason`

// AlarmsSQL is the query of Store.Alarms with "?" placeholders: a cabin's
// alarms (or every cabin's, with site and cabin empty), only the open ones
// when open is set, newest first, at most limit.
func AlarmsSQL(site, cabin string, open bool, limit int, byteOrder string) (string, []any) {
	q := `SELECT ` + AlarmColumns + ` FROM alarms WHERE 1 = 1`
	var args []any
	if site != "" || cabin != "" {
		q += ` AND site = ? AND cabin = ?`
		args = append(args, site, cabin)
	}
	if open {
		q += ` AND closed_us = 0`
	}
	q += ` ORDER BY raised_us DESC, site` + byteOrder + `, cabin` + byteOrder + `, epoch` + byteOrder + `, seq LIMIT ?`
	return q, append(args, limit)
}

// AlarmsRaisedSQL is the query of Store.AlarmsRaised with "?"
// placeholders.
func AlarmsRaisedSQL(site, cabin string, since, until time.Time, limit int, byteOrder string) (string, []any) {
	return `SELECT ` + AlarmColumns + ` FROM alarms WHERE site = ? AND cabin = ? AND raised_us >= ? AND raised_us < ?
		ORDER BY raised_us, epoch` + byteOrder + `, seq LIMIT ?`, []any{site, cabin, Micros(since), Micros(until), limit}
}

// QueryAlarms runs a query that selects the alarm columns.
func QueryAlarms(ctx context.Context, db Querier, query string, args ...any) ([]Alarm, error) {
	var out []Alarm
	err := queryEach(ctx, db, query, args, func(rows Rows) error {
		var a Alarm
		var seq, lastSeq, raised, delivered, acked, shown, closed int64
		if err := rows.Scan(&a.Site, &a.Cabin, &a.Raise.Epoch, &seq, &a.Last.Epoch, &lastSeq, &a.Kind, &raised, &delivered,
			&acked, &a.AckedBy, &a.AckMessage, &shown, &closed, &a.ClosedBy, &a.CloseReason); err != nil {
			return err
		}
		a.Raise.Seq, a.Last.Seq = uint64(seq), uint64(lastSeq)
		a.Raised, a.Delivered = FromMicros(raised), FromMicros(delivered)
		a.Acked, a.Shown, a.Closed = fromMicrosOrZero(acked), fromMicrosOrZero(shown), fromMicrosOrZero(closed)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read alarms: %w", err)
	}
	return out, nil
}

func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return FromMicros(us)
}

// AckAlarmsSQL acknowledges every open alarm of a cabin: arguments at_us,
// by, message, site, cabin.
const AckAlarmsSQL = `UPDATE alarms SET acked_us = ?, acked_by = ?, ack_message = ? WHERE site = ? AND cabin = ? AND closed_us = 0`

// CloseAlarmSQL closes one open alarm: arguments closed_us, by, reason,
// site, cabin, epoch, seq.
const CloseAlarmSQL = `UPDATE alarms SET closed_us = ?, closed_by = ?, close_reason = ? WHERE site = ? AND cabin = ? AND epoch = ? AND seq = ? AND closed_us = 0`

// Numbered turns "?" placeholders into PostgreSQL's $1, $2...; the
// statements here hold no "?" of their own.
func Numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
