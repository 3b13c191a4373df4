package devcred

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/wire"
)

// RotateOptions say how to reach the cabins being rotated.
type RotateOptions struct {
	Devices []natsauth.Device
	TTL     time.Duration // of the new credentials; default DefaultTTL
	// Publish sends a delivery on a cabin's credential topic over MQTT,
	// QoS 1, not retained (paho, with a service credential).
	Publish func(ctx context.Context, topic string, payload []byte) error
	// Events is a NATS connection to the leaf's PALIER account where the
	// cabins' events pass (an AccountUser), to hear their reports.
	Events *nats.Conn
	// System is a connection to the leaf's system account (a SystemUser),
	// to revoke the previous credentials.
	System *nats.Conn
	// Resend is how often cabins that have not reported are delivered to
	// again (a cabin reconnecting at the moment of a delivery misses it:
	// clean sessions, nothing retained); default 30 s.
	Resend time.Duration
	// OnReport, if set, hears of each cabin's report.
	OnReport func(d natsauth.Device, r wire.CredentialRotatedData)
	// revoke replaces Authority.Revoke on System (a Manager serialises
	// its revocations).
	revoke func(ctx context.Context, ids []string) error
}

// RotateResult is where a rotation stands.
type RotateResult struct {
	Issued   int      // new credentials delivered
	Reported int      // cabins that report using theirs
	Revoked  int      // previous credentials revoked
	Pending  []string // site/cabin not reported yet
}

// Rotate gives each cabin a new credential and revokes its previous one
// once the cabin reports using the new one (credential_rotated). It
// returns when every cabin has reported and its previous credential is
// revoked, or when ctx is done, with where it stands: a cabin still
// pending keeps its old credential, valid until it expires, and a later
// Rotate gives it another.
func (a *Authority) Rotate(ctx context.Context, o RotateOptions) (RotateResult, error) {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Resend <= 0 {
		o.Resend = 30 * time.Second
	}
	type cabin struct {
		dev      natsauth.Device
		next     Credential
		delivery []byte
	}
	cabins := map[string]*cabin{}
	for _, d := range o.Devices {
		c, err := a.IssueDevice(d, time.Now(), o.TTL)
		if err != nil {
			return RotateResult{}, fmt.Errorf("rotate: %w", err)
		}
		b, err := json.Marshal(c.Delivery())
		if err != nil {
			return RotateResult{}, fmt.Errorf("rotate: %w", err)
		}
		cabins[d.Site+"/"+d.Cabin] = &cabin{dev: d, next: c, delivery: b}
	}
	var mu sync.Mutex
	reported := map[string]bool{}
	var toRevoke []string
	// Each cabin's own events subject: not the whole fleet's traffic for
	// the length of a rotation.
	onEvents := func(m *nats.Msg) {
		b, err := wire.DecodeBatchForward(m.Data)
		if err != nil {
			return
		}
		key := b.Site + "/" + b.Cabin
		c := cabins[key]
		if c == nil {
			return
		}
		for _, ev := range b.Events {
			if ev.Type != wire.TypeCredentialRotated {
				continue
			}
			var d wire.CredentialRotatedData
			if json.Unmarshal(ev.Data, &d) != nil || d.ID != c.next.ID {
				continue
			}
			mu.Lock()
			if !reported[key] {
				reported[key] = true
				if d.Previous != "" {
					toRevoke = append(toRevoke, d.Previous)
				}
				if o.OnReport != nil {
					o.OnReport(c.dev, d)
				}
			}
			mu.Unlock()
		}
	}
	for _, c := range cabins {
		sub, err := o.Events.Subscribe(wire.EventsSubjectOf(c.dev.Site, c.dev.Cabin), onEvents)
		if err != nil {
			return RotateResult{}, fmt.Errorf("rotate: watch reports: %w", err)
		}
		defer sub.Unsubscribe()
	}
	if err := o.Events.FlushWithContext(ctx); err != nil {
		return RotateResult{}, fmt.Errorf("rotate: watch reports: %w", err)
	}
	res := RotateResult{Issued: len(cabins)}
	deliver := func() {
		for key, c := range cabins {
			mu.Lock()
			done := reported[key]
			mu.Unlock()
			if done {
				continue
			}
			// A failed delivery is retried at the next round.
			_ = o.Publish(ctx, wire.CredentialTopic(c.dev.Site, c.dev.Cabin), c.delivery)
		}
	}
	revoke := func(ctx context.Context) error {
		mu.Lock()
		ids := toRevoke
		toRevoke = nil
		mu.Unlock()
		if len(ids) == 0 {
			return nil
		}
		do := o.revoke
		if do == nil {
			do = func(ctx context.Context, ids []string) error { return a.Revoke(ctx, o.System, ids, time.Now()) }
		}
		if err := do(ctx, ids); err != nil {
			mu.Lock()
			toRevoke = append(ids, toRevoke...)
			mu.Unlock()
			return err
		}
		res.Revoked += len(ids)
		return nil
	}
	finish := func(err error) (RotateResult, error) {
		mu.Lock()
		defer mu.Unlock()
		res.Reported = len(reported)
		for key := range cabins {
			if !reported[key] {
				res.Pending = append(res.Pending, key)
			}
		}
		return res, err
	}
	deliver()
	resend := time.NewTicker(o.Resend)
	defer resend.Stop()
	check := time.NewTicker(200 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			// Revoke what was reported, even now: those cabins no longer
			// need their old credentials.
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := revoke(rctx)
			cancel()
			if err != nil {
				return finish(fmt.Errorf("rotate: %w", err))
			}
			return finish(ctx.Err())
		case <-resend.C:
			deliver()
		case <-check.C:
		}
		// Whether all have reported is read before revoking, so that the
		// last reports are revoked before Rotate returns.
		mu.Lock()
		all := len(reported) == len(cabins)
		mu.Unlock()
		if err := revoke(ctx); err != nil && ctx.Err() == nil {
			return finish(fmt.Errorf("rotate: %w", err))
		}
		if all {
			return finish(nil)
		}
	}
}
