package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// AlarmAckPublisher sends an operator's acknowledgement to the cabin,
// retained.
type AlarmAckPublisher interface {
	PublishAlarmAck(ctx context.Context, ack wire.AlarmAck) error
}

// AlarmJSON is an alarm as the API shows it.
type AlarmJSON struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	State          string     `json:"state"`
	RaisedAt       time.Time  `json:"raised_at"`
	DeliveredAt    time.Time  `json:"delivered_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	AckMessage     string     `json:"ack_message,omitempty"`
	ShownAt        *time.Time `json:"shown_at,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	ClosedBy       string     `json:"closed_by,omitempty"`
	CloseReason    string     `json:"close_reason,omitempty"`
}

func alarmJSON(a store.Alarm) AlarmJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return AlarmJSON{
		ID: a.ID(), Kind: a.Kind, State: a.State(), RaisedAt: a.Raised.UTC(), DeliveredAt: a.Delivered.UTC(),
		AcknowledgedAt: opt(a.Acked), AcknowledgedBy: a.AckedBy, AckMessage: a.AckMessage,
		ShownAt: opt(a.Shown), ClosedAt: opt(a.Closed), ClosedBy: a.ClosedBy, CloseReason: a.CloseReason,
	}
}

// maxAlarmList bounds GET .../alarms.
const maxAlarmList = 200

func (a *API) listAlarms(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	if _, ok := strictQuery(w, r); !ok {
		return
	}
	if _, err := a.o.Store.Cabin(r.Context(), id[0], id[1]); err != nil {
		a.storeError(w, r, err)
		return
	}
	got, err := a.o.Store.Alarms(r.Context(), id[0], id[1], false, maxAlarmList)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]AlarmJSON, 0, len(got))
	for _, x := range got {
		out = append(out, alarmJSON(x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"site": id[0], "cabin": id[1], "alarms": out})
}

// maxOperatorBody bounds an acknowledgement's or a closing's body.
const maxOperatorBody = 4 << 10

// readOperatorBody decodes a small JSON body strictly into v, answering
// the error itself.
func readOperatorBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOperatorBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes", maxOperatorBody)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "", "body: %v", err)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "", "body: trailing data after the JSON object")
		return false
	}
	return true
}

// checkPerson checks text an operator typed, answering the error itself.
func checkPerson(w http.ResponseWriter, field, s string, limit int, required bool) bool {
	if required && s == "" {
		writeError(w, http.StatusBadRequest, field, "%s: missing", field)
		return false
	}
	if err := wire.CheckPersonText(s, limit); err != nil {
		writeError(w, http.StatusBadRequest, field, "%s: %v", field, err)
		return false
	}
	return true
}

// Acknowledgement is what POST .../acknowledgements answers.
type Acknowledgement struct {
	Site    string    `json:"site"`
	Cabin   string    `json:"cabin"`
	By      string    `json:"by"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
	Alarms  []string  `json:"alarms"`
	// Published says the cabin's alarm_ack topic has it; when false, the
	// receiver publishes it again within its republish interval.
	Published bool   `json:"published"`
	Error     string `json:"error,omitempty"`
}

func (a *API) acknowledge(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	var body struct {
		By      string `json:"by"`
		Message string `json:"message"`
	}
	if !readOperatorBody(w, r, &body) ||
		!checkPerson(w, "by", body.By, wire.MaxAckByLen, true) ||
		!checkPerson(w, "message", body.Message, wire.MaxAckMessageLen, false) {
		return
	}
	at := a.o.Clock().UTC().Truncate(time.Millisecond)
	acked, err := a.o.Store.AcknowledgeAlarms(r.Context(), id[0], id[1], body.By, body.Message, at)
	if errors.Is(err, store.ErrNoOpenAlarm) {
		writeError(w, http.StatusConflict, "", "%s/%s has no open alarm or entrapment to acknowledge", id[0], id[1])
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	res := Acknowledgement{Site: id[0], Cabin: id[1], By: body.By, Message: body.Message, At: at, Alarms: []string{}}
	for _, x := range acked {
		res.Alarms = append(res.Alarms, x.ID())
	}
	a.o.Logger.Info("alarm acknowledged", "site", id[0], "cabin", id[1], "by", body.By, "alarms", res.Alarms)
	a.auditSite(r, AuditAlarmAck, id[0], id[1], fmt.Sprintf("alarms %s, signed %q: %s", strings.Join(res.Alarms, ", "), body.By, body.Message))
	if a.o.AlarmAcks != nil {
		if err := a.o.AlarmAcks.PublishAlarmAck(r.Context(), store.AlarmAckOf(id[0], id[1], acked)); err != nil {
			a.o.Logger.Error("publish alarm acknowledgement; it is published again later", "site", id[0], "cabin", id[1], "err", err)
			res.Error = fmt.Sprintf("stored, not yet published: %v", err)
		} else {
			res.Published = true
		}
	}
	writeJSON(w, http.StatusCreated, res)
}

func (a *API) closeAlarm(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	ref, err := store.ParseAlarmID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "id", "%v", err)
		return
	}
	var body struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	}
	if !readOperatorBody(w, r, &body) ||
		!checkPerson(w, "by", body.By, wire.MaxAckByLen, true) ||
		!checkPerson(w, "reason", body.Reason, wire.MaxAckMessageLen, true) {
		return
	}
	closed, err := a.o.Store.CloseAlarm(r.Context(), id[0], id[1], ref, body.By, body.Reason, a.o.Clock().UTC().Truncate(time.Millisecond))
	if errors.Is(err, store.ErrAlarmClosed) {
		writeError(w, http.StatusConflict, "id", "alarm %s was closed already by %s", store.AlarmID(ref), closed.ClosedBy)
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.o.Logger.Info("alarm closed by an operator", "site", id[0], "cabin", id[1], "alarm", closed.ID(), "by", body.By, "reason", body.Reason)
	a.auditSite(r, AuditAlarmClose, id[0], id[1]+"/"+closed.ID(), fmt.Sprintf("signed %q: %s", body.By, body.Reason))
	writeJSON(w, http.StatusOK, alarmJSON(closed))
}
