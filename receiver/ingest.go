package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Dead-letter headers.
const (
	HeaderReason  = "Palier-Reason"  // why the batch was refused
	HeaderSubject = "Palier-Subject" // the subject it arrived on
	HeaderSeq     = "Palier-Stream-Seq"
	// HeaderTruncated is set on a copy cut to fit the server's payload
	// limit: the original's size and SHA-256.
	HeaderTruncated = "Palier-Truncated"
)

// deadLetterHeadroom is what a dead-letter copy leaves of the server's
// payload limit for its headers (the reason is cut at 1 KiB).
const deadLetterHeadroom = 8 << 10

// IngestOptions configure an Ingester; zero fields take DefaultConfig's.
type IngestOptions struct {
	Stream StreamConfig
	// CollectWait is how long a fetch waits for more messages once it has
	// one, to fill a transaction; default 20ms.
	CollectWait time.Duration
	// RetryDelay is how long a message whose store failed waits before it
	// is redelivered; default 1s.
	RetryDelay time.Duration
	// Clock gives the received time of events; default time.Now.
	Clock func() time.Time
}

// Ingester moves event batches from JetStream to the store and acks them,
// to JetStream after the commit and to the devices after that.
type Ingester struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	st      store.Store
	opts    IngestOptions
	log     *slog.Logger
	metrics *Metrics
	acks    *Acker
}

// NewIngester makes an Ingester; Setup must run before Run.
func NewIngester(nc *nats.Conn, st store.Store, opts IngestOptions, acks *Acker, metrics *Metrics, logger *slog.Logger) (*Ingester, error) {
	def := DefaultConfig().Stream
	s := &opts.Stream
	if s.Name == "" {
		s.Name = def.Name
	}
	if s.DeadLetter == "" {
		s.DeadLetter = def.DeadLetter
	}
	if s.Durable == "" {
		s.Durable = def.Durable
	}
	if s.MaxAge == 0 {
		s.MaxAge = def.MaxAge
	}
	if s.DeadLetterMaxAge == 0 {
		s.DeadLetterMaxAge = def.DeadLetterMaxAge
	}
	if s.MaxBytes == 0 {
		s.MaxBytes = def.MaxBytes
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	if s.FetchBatch == 0 {
		s.FetchBatch = def.FetchBatch
	}
	if s.FetchMaxBytes == 0 {
		s.FetchMaxBytes = def.FetchMaxBytes
	}
	if s.DeadLetterPerCabin == 0 {
		s.DeadLetterPerCabin = def.DeadLetterPerCabin
	}
	if s.AckWait == 0 {
		s.AckWait = def.AckWait
	}
	if opts.CollectWait == 0 {
		opts.CollectWait = 20 * time.Millisecond
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("new ingester: jetstream: %w", err)
	}
	return &Ingester{nc: nc, js: js, st: st, opts: opts, log: logger, metrics: metrics, acks: acks}, nil
}

// Setup creates or updates the events and dead-letter streams and the
// durable consumer. Every receiver runs it; the result is the same.
func (in *Ingester) Setup(ctx context.Context) error {
	s := in.opts.Stream
	if _, err := in.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        s.Name,
		Description: "Palier event batches from the cabins",
		Subjects:    []string{wire.EventsSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.MaxAge,
		MaxBytes:    s.MaxBytes,
		MaxMsgSize:  1 << 20,
		Replicas:    s.Replicas,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return fmt.Errorf("create stream %s: %w", s.Name, err)
	}
	if _, err := in.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        s.DeadLetter,
		Description: "Palier event batches the receiver could not store, with the reason in the " + HeaderReason + " header",
		Subjects:    []string{wire.DeadLetterPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      s.DeadLetterMaxAge,
		MaxBytes:    s.MaxBytes / 8,
		// Per cabin (palier.deadletter.{site}.{cabin}): one device's junk
		// rotates out its own evidence, never the others'.
		MaxMsgsPerSubject: s.DeadLetterPerCabin,
		Replicas:          s.Replicas,
	}); err != nil {
		return fmt.Errorf("create stream %s: %w", s.DeadLetter, err)
	}
	if _, err := in.js.CreateOrUpdateConsumer(ctx, s.Name, in.consumerConfig()); err != nil {
		return fmt.Errorf("create consumer %s on %s: %w", s.Durable, s.Name, err)
	}
	return nil
}

func (in *Ingester) consumerConfig() jetstream.ConsumerConfig {
	s := in.opts.Stream
	return jetstream.ConsumerConfig{
		Durable:       s.Durable,
		Description:   "Palier receivers (shared by all of them)",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.AckWait,
		MaxDeliver:    -1, // a bad batch goes to the dead letter, never silently dropped
		FilterSubject: wire.EventsSubject,
		MaxAckPending: 20 * s.FetchBatch,
	}
}

// Run consumes until ctx is done. Store failures are retried, bad batches
// dead-lettered: nothing but ctx stops it.
func (in *Ingester) Run(ctx context.Context) error {
	cons, err := in.js.Consumer(ctx, in.opts.Stream.Name, in.opts.Stream.Durable)
	if err != nil {
		return fmt.Errorf("open consumer %s: %w", in.opts.Stream.Durable, err)
	}
	// Prefetch by bytes, not messages: 512 messages of up to 1 MiB each
	// were half a gigabyte held for junk.
	iter, err := cons.Messages(jetstream.PullMaxBytes(in.opts.Stream.FetchMaxBytes / 2))
	if err != nil {
		return fmt.Errorf("consume %s: %w", in.opts.Stream.Name, err)
	}
	stop := sync.OnceFunc(iter.Stop)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	msgs := make([]jetstream.Msg, 0, in.opts.Stream.FetchBatch)
	for {
		msgs = msgs[:0]
		m, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			in.log.Warn("fetch events", "err", err)
			continue
		}
		msgs = append(msgs, m)
		size := len(m.Data())
		for len(msgs) < in.opts.Stream.FetchBatch && size < in.opts.Stream.FetchMaxBytes/2 {
			m, err := iter.Next(jetstream.NextMaxWait(in.opts.CollectWait))
			if err != nil {
				break
			}
			msgs = append(msgs, m)
			size += len(m.Data())
		}
		in.handle(ctx, msgs)
	}
}

// BadBatchError is why a message was dead-lettered.
type BadBatchError struct {
	Class  string // decode, subject, range, store: a metric label
	Reason string
}

func (e *BadBatchError) Error() string { return e.Reason }

// CheckMessage decodes a message's payload and checks it against the
// subject it came on (palier.v1.{site}.{cabin}.events). It decodes as a
// receiver must (wire.DecodeBatchForward): what a newer agent of the same
// major version adds is kept, not refused, so agents and receivers can be
// upgraded in either order.
func CheckMessage(subject string, data []byte) (wire.Batch, error) {
	b, err := wire.DecodeBatchForward(data)
	if err != nil {
		return b, &BadBatchError{Class: "decode", Reason: err.Error()}
	}
	site, cabin, err := wire.ParseSubject(subject, "events")
	if err != nil {
		return b, &BadBatchError{Class: "subject", Reason: err.Error()}
	}
	if site != b.Site || cabin != b.Cabin {
		return b, &BadBatchError{Class: "subject", Reason: fmt.Sprintf("batch of %s/%s published on %s/%s's subject", b.Site, b.Cabin, site, cabin)}
	}
	for i := range b.Events {
		if b.Events[i].Seq > store.MaxSeq {
			return b, &BadBatchError{Class: "range", Reason: fmt.Sprintf("events[%d].seq: %d above %d", i, b.Events[i].Seq, int64(store.MaxSeq))}
		}
	}
	return b, nil
}

func (in *Ingester) handle(ctx context.Context, msgs []jetstream.Msg) {
	good := make([]jetstream.Msg, 0, len(msgs))
	batches := make([]wire.Batch, 0, len(msgs))
	for _, m := range msgs {
		b, err := CheckMessage(m.Subject(), m.Data())
		if err != nil {
			in.deadLetter(ctx, m, err)
			continue
		}
		good = append(good, m)
		batches = append(batches, b)
		in.acks.Saw(&b)
		for _, e := range b.Events {
			if !wire.KnownType(e.Type) {
				in.metrics.EventsUnknownType.Inc()
			}
		}
		for _, l := range store.LostOf(eventPtrs(b.Events)) {
			in.metrics.LostAccounted.WithLabelValues(lostReasonLabel(l.Reason)).Add(float64(l.Range.Len()))
		}
	}
	if len(batches) == 0 {
		return
	}
	in.store(ctx, good, batches)
}

// store commits the batches of msgs in one transaction and acks them. When
// the store refuses the content of one of them, each is stored alone, so
// that the one refused is dead-lettered and holds back no other.
func (in *Ingester) store(ctx context.Context, good []jetstream.Msg, batches []wire.Batch) {
	start := time.Now()
	res, err := in.st.InsertBatches(ctx, batches, in.opts.Clock())
	if errors.Is(err, store.ErrRefused) {
		if len(batches) == 1 {
			if in.deadLetter(ctx, good[0], &BadBatchError{Class: "store", Reason: err.Error()}) {
				in.accountRefused(ctx, &batches[0])
			}
			return
		}
		in.log.Warn("the store refused a batch's content; storing the batches one by one", "messages", len(good), "err", err)
		for i := range batches {
			in.store(ctx, good[i:i+1], batches[i:i+1])
		}
		return
	}
	if err != nil {
		in.metrics.StoreErrors.Inc()
		in.log.Error("store events; they will be redelivered", "messages", len(good), "err", err)
		for _, m := range good {
			m.NakWithDelay(in.opts.RetryDelay)
		}
		return
	}
	in.metrics.CommitSeconds.Observe(time.Since(start).Seconds())
	in.metrics.LastCommit.SetToCurrentTime()
	in.metrics.EventsStored.Add(float64(res.Inserted))
	in.metrics.EventsDup.Add(float64(res.Duplicates))
	in.recordConflicts(ctx, res.Conflicts)
	in.metrics.Messages.WithLabelValues("stored").Add(float64(len(good)))
	// Committed: now JetStream may forget them. A lost ack only means a
	// redelivery, which the store's key drops.
	for _, m := range good {
		if err := m.Ack(); err != nil {
			in.log.Warn("ack JetStream message", "subject", m.Subject(), "err", err)
		}
	}
	// An agent that takes ranges is told of events stored above a gap
	// too, so it stops sending them; only then are the ranges read.
	highest := map[store.EpochKey]uint64{}
	for i := range batches {
		k := store.EpochKey{Site: batches[i].Site, Cabin: batches[i].Cabin, Epoch: batches[i].Epoch}
		for _, e := range batches[i].Events {
			highest[k] = max(highest[k], e.Seq)
		}
	}
	for _, c := range res.Contiguous {
		above := highest[store.EpochKey{Site: c.Site, Cabin: c.Cabin, Epoch: c.Epoch}] > c.Seq
		if c.Advanced || above && in.acks.takesRanges(c.Site, c.Cabin) {
			in.acks.Publish(ctx, c, above)
		}
	}
	in.log.Debug("stored", "messages", len(good), "inserted", res.Inserted, "duplicates", res.Duplicates)
}

func eventPtrs(es []wire.Event) []*wire.Event {
	out := make([]*wire.Event, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}

// lostReasonLabel bounds the metric's label values: a newer agent's
// reason is counted as "other".
func lostReasonLabel(r string) string {
	switch r {
	case wire.LostEvicted, wire.LostMissing, wire.LostRefused:
		return r
	}
	return "other"
}

// recordConflicts keeps, in the dead-letter stream, a copy of each event
// received under a stored key with other content: the stored one wins, and
// the other is evidence (an outbox rolled back, a bug, a forgery).
func (in *Ingester) recordConflicts(ctx context.Context, cs []store.Conflict) {
	for _, c := range cs {
		in.metrics.EventsConflicting.Inc()
		b, err := json.Marshal(wire.Batch{V: wire.Version, Site: c.Key.Site, Cabin: c.Key.Cabin, Epoch: c.Key.Epoch, Events: []wire.Event{c.Event}})
		if err != nil {
			continue
		}
		reason := fmt.Sprintf("conflict: %s/%s epoch %s seq %d is stored with other content; this copy was not stored", c.Key.Site, c.Key.Cabin, c.Key.Epoch, c.Event.Seq)
		in.log.Warn("event received again with other content; kept the stored one", "site", c.Key.Site, "cabin", c.Key.Cabin, "epoch", c.Key.Epoch, "seq", c.Event.Seq, "type", c.Event.Type)
		dl := nats.NewMsg(wire.DeadLetterSubject(c.Key.Site, c.Key.Cabin))
		dl.Data = b
		dl.Header.Set(HeaderReason, reason)
		dl.Header.Set(HeaderSubject, wire.EventsSubjectOf(c.Key.Site, c.Key.Cabin))
		if _, err := in.js.PublishMsg(ctx, dl); err != nil {
			in.log.Warn("keep a conflicting event in the dead-letter stream", "err", err)
		}
	}
}

// accountRefused records the sequences of a batch the store refused as
// lost (refused): the agent would send it again for ever, and the epoch's
// acknowledgement would stop at it. The batch itself is in the dead-letter
// stream for whoever looks into it.
func (in *Ingester) accountRefused(ctx context.Context, b *wire.Batch) {
	seqs := make([]uint64, 0, len(b.Events))
	for _, e := range b.Events {
		if e.Seq != 0 {
			seqs = append(seqs, e.Seq)
		}
	}
	slices.Sort(seqs)
	var ranges []wire.Range
	for i, s := range seqs {
		if i > 0 && s == seqs[i-1] {
			continue
		}
		ranges = wire.AppendRange(ranges, s)
	}
	if len(ranges) == 0 {
		return
	}
	c, err := in.st.AccountLost(ctx, store.EpochKey{Site: b.Site, Cabin: b.Cabin, Epoch: b.Epoch}, ranges, wire.LostRefused, in.opts.Clock())
	if err != nil {
		in.log.Error("account a refused batch as lost; its sequences stay a gap until it comes again", "site", b.Site, "cabin", b.Cabin, "epoch", b.Epoch, "err", err)
		return
	}
	in.metrics.LostAccounted.WithLabelValues(wire.LostRefused).Add(float64(len(seqs)))
	in.log.Warn("refused batch accounted for as lost", "site", b.Site, "cabin", b.Cabin, "epoch", b.Epoch, "events", len(seqs))
	in.acks.Publish(ctx, c, true)
}

// deadLetter copies m to the dead-letter stream and acks it; it reports
// whether the copy is stored (if not, m is redelivered later).
func (in *Ingester) deadLetter(ctx context.Context, m jetstream.Msg, cause error) bool {
	class := "decode"
	var bb *BadBatchError
	if errors.As(cause, &bb) {
		class = bb.Class
	}
	subj := wire.DeadLetterSubject("unknown", "unknown")
	if site, cabin, err := wire.ParseSubject(m.Subject(), "events"); err == nil {
		subj = wire.DeadLetterSubject(site, cabin)
	}
	reason := cause.Error()
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	dl := nats.NewMsg(subj)
	dl.Data = m.Data()
	// A message near the payload limit plus these headers would not fit:
	// its copy could never be published and it would loop for ever. Keep
	// what fits and say what the whole was.
	if room := int(in.nc.MaxPayload()) - deadLetterHeadroom; len(dl.Data) > room {
		sum := sha256.Sum256(dl.Data)
		dl.Header.Set(HeaderTruncated, fmt.Sprintf("%d bytes, sha256 %x; the first %d kept", len(dl.Data), sum, room))
		dl.Data = dl.Data[:room]
	}
	dl.Header.Set(HeaderReason, reason)
	dl.Header.Set(HeaderSubject, m.Subject())
	if md, err := m.Metadata(); err == nil {
		dl.Header.Set(HeaderSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	}
	if _, err := in.js.PublishMsg(ctx, dl); err != nil {
		// Not stored anywhere yet: let JetStream deliver it again.
		in.log.Error("publish to dead letter; will retry", "subject", m.Subject(), "err", err)
		m.NakWithDelay(in.opts.RetryDelay)
		return false
	}
	in.metrics.DeadLetters.WithLabelValues(class).Inc()
	in.metrics.Messages.WithLabelValues("dead_letter").Inc()
	in.log.Warn("batch dead-lettered", "subject", m.Subject(), "reason", reason)
	if err := m.Ack(); err != nil {
		in.log.Warn("ack dead-lettered message", "subject", m.Subject(), "err", err)
	}
	return true
}
