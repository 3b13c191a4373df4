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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// StateWatcher keeps the cabins table current from state and status
// messages. They are captured by a JetStream stream that keeps the latest
// message of each subject (a last value per cabin and kind), read through
// one durable consumer that every receiver shares: a last will published
// while no receiver runs is there when one starts, each message is handled
// once whichever receiver takes it, and its time is when the stream took
// it, not when a receiver got round to it.
type StateWatcher struct {
	nc      *nats.Conn
	st      store.Store
	log     *slog.Logger
	metrics *Metrics
	clock   func() time.Time
	cfg     StreamConfig
}

// NewStateWatcher makes a StateWatcher; clock may be nil (time.Now).
func NewStateWatcher(nc *nats.Conn, st store.Store, cfg StreamConfig, metrics *Metrics, logger *slog.Logger, clock func() time.Time) *StateWatcher {
	if clock == nil {
		clock = time.Now
	}
	return &StateWatcher{nc: nc, st: st, cfg: cfg, log: logger, metrics: metrics, clock: clock}
}

// Setup creates or updates the state stream and its consumer.
func (w *StateWatcher) Setup(ctx context.Context) error {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              w.cfg.State,
		Description:       "The latest state snapshot and status (online, offline, the last will) of every cabin",
		Subjects:          []string{wire.StateSubject, wire.StatusSubject},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 1,
		MaxAge:            w.cfg.MaxAge, // a cabin gone for good leaves in time
		MaxMsgSize:        64 << 10,
		Replicas:          w.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("create stream %s: %w", w.cfg.State, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, w.cfg.State, jetstream.ConsumerConfig{
		Durable:       w.cfg.StateDurable,
		Description:   "Palier receivers (shared by all of them)",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1000,
	}); err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", w.cfg.StateDurable, w.cfg.State, err)
	}
	return nil
}

// Run handles messages until ctx is done.
func (w *StateWatcher) Run(ctx context.Context) error {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cons, err := js.Consumer(ctx, w.cfg.State, w.cfg.StateDurable)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", w.cfg.StateDurable, w.cfg.State, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { w.handle(ctx, m) })
	if err != nil {
		return fmt.Errorf("consume %s: %w", w.cfg.State, err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
}

func (w *StateWatcher) handle(ctx context.Context, m jetstream.Msg) {
	received := w.clock()
	if md, err := m.Metadata(); err == nil {
		received = md.Timestamp
	}
	kind, apply := "state", w.applyState
	if strings.HasSuffix(m.Subject(), ".status") {
		kind, apply = "status", w.applyStatus
	}
	err := apply(ctx, m.Subject(), m.Data(), received)
	var bad *badMessage
	switch {
	case err == nil:
		w.metrics.StateMessages.WithLabelValues(kind, "ok").Inc()
	case errors.As(err, &bad):
		w.metrics.StateMessages.WithLabelValues(kind, "bad").Inc()
		w.log.Warn(kind+" message refused", "subject", m.Subject(), "err", err)
	default:
		// The store failed, not the message: take it again later.
		w.log.Error("store "+kind+"; it will be redelivered", "subject", m.Subject(), "err", err)
		m.NakWithDelay(time.Second)
		return
	}
	if err := m.Ack(); err != nil {
		w.log.Warn("ack "+kind+" message", "subject", m.Subject(), "err", err)
	}
}

// badMessage is a message refused for its content: acked, never retried.
type badMessage struct{ err error }

func (b *badMessage) Error() string { return b.err.Error() }
func (b *badMessage) Unwrap() error { return b.err }

// applyState stores a state snapshot that the stream took at received.
func (w *StateWatcher) applyState(ctx context.Context, subject string, data []byte, received time.Time) error {
	site, cabin, err := wire.ParseSubject(subject, "state")
	if err != nil {
		return &badMessage{err}
	}
	s, err := wire.DecodeStateForward(data)
	if err != nil {
		return &badMessage{err}
	}
	if s.Site != site || s.Cabin != cabin {
		return &badMessage{fmt.Errorf("state of %s/%s published on %s/%s's subject", s.Site, s.Cabin, site, cabin)}
	}
	if s.Time.After(received.Add(store.MaxClockSkew)) {
		// Newest wins in the store: a snapshot from the future would pin
		// the cabin's state until that date.
		return &badMessage{fmt.Errorf("state dated %s, more than %s after its arrival (%s): the cabin's clock is wrong", s.Time.Format(time.RFC3339), store.MaxClockSkew, received.Format(time.RFC3339))}
	}
	return w.st.UpdateState(ctx, s, received)
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

// applyStatus stores a status that the stream took at received.
func (w *StateWatcher) applyStatus(ctx context.Context, subject string, data []byte, received time.Time) error {
	site, cabin, err := wire.ParseSubject(subject, "status")
	if err != nil {
		return &badMessage{err}
	}
	online, err := ParseStatus(data)
	if err != nil {
		return &badMessage{err}
	}
	return w.st.UpdateStatus(ctx, site, cabin, online, received)
}
