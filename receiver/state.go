package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Subjects of the state snapshots and status messages of every cabin.
const (
	StateSubject  = "palier.v1.*.*.state"
	StatusSubject = "palier.v1.*.*.status"
)

// StateWatcher keeps the cabins table current from state and status
// messages (core NATS: the latest one is all that matters, and retained MQTT
// messages are delivered again when the agent reconnects).
type StateWatcher struct {
	nc      *nats.Conn
	st      store.Store
	log     *slog.Logger
	metrics *Metrics
	clock   func() time.Time
}

// NewStateWatcher makes a StateWatcher; clock may be nil (time.Now).
func NewStateWatcher(nc *nats.Conn, st store.Store, metrics *Metrics, logger *slog.Logger, clock func() time.Time) *StateWatcher {
	if clock == nil {
		clock = time.Now
	}
	return &StateWatcher{nc: nc, st: st, log: logger, metrics: metrics, clock: clock}
}

// Run subscribes and handles messages until ctx is done.
func (w *StateWatcher) Run(ctx context.Context) error {
	ss, err := w.nc.Subscribe(StateSubject, func(m *nats.Msg) { w.handleState(ctx, m) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", StateSubject, err)
	}
	defer ss.Unsubscribe()
	su, err := w.nc.Subscribe(StatusSubject, func(m *nats.Msg) { w.handleStatus(ctx, m) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", StatusSubject, err)
	}
	defer su.Unsubscribe()
	if err := w.nc.FlushTimeout(10 * time.Second); err != nil && ctx.Err() == nil {
		return fmt.Errorf("subscribe state and status: %w", err)
	}
	<-ctx.Done()
	return nil
}

// subjectIDs returns the site and cabin of palier.v1.{site}.{cabin}.{kind}.
func subjectIDs(subject, kind string) (site, cabin string, err error) {
	tok := strings.Split(subject, ".")
	if len(tok) != 5 || tok[0] != "palier" || tok[1] != "v1" || tok[4] != kind {
		return "", "", fmt.Errorf("subject %q is not palier.v1.{site}.{cabin}.%s", subject, kind)
	}
	if err := wire.ValidateID(tok[2]); err != nil {
		return "", "", fmt.Errorf("subject %q: site %w", subject, err)
	}
	if err := wire.ValidateID(tok[3]); err != nil {
		return "", "", fmt.Errorf("subject %q: cabin %w", subject, err)
	}
	return tok[2], tok[3], nil
}

func (w *StateWatcher) handleState(ctx context.Context, m *nats.Msg) {
	if err := w.applyState(ctx, m.Subject, m.Data); err != nil {
		w.metrics.StateMessages.WithLabelValues("state", "bad").Inc()
		w.log.Warn("state message refused", "subject", m.Subject, "err", err)
		return
	}
	w.metrics.StateMessages.WithLabelValues("state", "ok").Inc()
}

func (w *StateWatcher) applyState(ctx context.Context, subject string, data []byte) error {
	site, cabin, err := subjectIDs(subject, "state")
	if err != nil {
		return err
	}
	s, err := wire.DecodeState(data)
	if err != nil {
		return err
	}
	if s.Site != site || s.Cabin != cabin {
		return fmt.Errorf("state of %s/%s published on %s/%s's subject", s.Site, s.Cabin, site, cabin)
	}
	now := w.clock()
	if s.Time.After(now.Add(store.MaxClockSkew)) {
		// Newest wins in the store: a snapshot from the future would pin
		// the cabin's state until that date.
		return fmt.Errorf("state dated %s, more than %s after its arrival (%s): the cabin's clock is wrong", s.Time.Format(time.RFC3339), store.MaxClockSkew, now.Format(time.RFC3339))
	}
	return w.st.UpdateState(ctx, s, now)
}

func (w *StateWatcher) handleStatus(ctx context.Context, m *nats.Msg) {
	if err := w.applyStatus(ctx, m.Subject, m.Data); err != nil {
		w.metrics.StateMessages.WithLabelValues("status", "bad").Inc()
		w.log.Warn("status message refused", "subject", m.Subject, "err", err)
		return
	}
	w.metrics.StateMessages.WithLabelValues("status", "ok").Inc()
}

// ErrBadStatus is returned for a status payload other than online/offline.
var ErrBadStatus = errors.New("status is not online or offline")

// ParseStatus reads a status payload: online or offline, optionally quoted
// as a JSON string, surrounding white space ignored.
func ParseStatus(b []byte) (online bool, err error) {
	s := string(bytes.Trim(bytes.TrimSpace(b), `"`))
	switch s {
	case "online":
		return true, nil
	case "offline":
		return false, nil
	}
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return false, fmt.Errorf("%w: %q", ErrBadStatus, s)
}

func (w *StateWatcher) applyStatus(ctx context.Context, subject string, data []byte) error {
	site, cabin, err := subjectIDs(subject, "status")
	if err != nil {
		return err
	}
	online, err := ParseStatus(data)
	if err != nil {
		return err
	}
	return w.st.UpdateStatus(ctx, site, cabin, online, w.clock())
}
