package uplink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// ErrNoAck means the broker took a batch but no end-to-end acknowledgement
// came back: the receiver is not running, not subscribed, or cannot store.
var ErrNoAck = errors.New("no end-to-end acknowledgement")

// RoundTrip is what an installer's check learned of the whole path.
type RoundTrip struct {
	Protocol string        // the MQTT version the broker accepted
	Epoch    string        // the epoch of the test event ("doctor-…")
	Latency  time.Duration // from publishing to the receiver's acknowledgement
}

// CheckRoundTrip publishes one health event under a fresh epoch of its own
// and waits for the receiver's acknowledgement of it, for agent doctor. It
// uses its own client id and no last will, so a running agent is left
// alone. The receiver keeps the event, marked by its "doctor-" epoch.
func CheckRoundTrip(ctx context.Context, cfg Config, site, cabin string) (RoundTrip, error) {
	o, err := cfg.dialOptions(site, cabin)
	if err != nil {
		return RoundTrip{}, err
	}
	o.ClientID += "_doctor" // '_' again: no cabin's id can end so
	o.WillTopic, o.WillPayload = "", nil
	u := &Uplink{cfg: cfg, logger: slog.New(slog.DiscardHandler), dialers: defaultDialers()}
	c, err := u.connect(ctx, o)
	if err != nil {
		return RoundTrip{}, err
	}
	defer c.Close()
	rt := RoundTrip{Protocol: c.Protocol()}
	var rnd [6]byte
	rand.Read(rnd[:])
	rt.Epoch = "doctor-" + hex.EncodeToString(rnd[:])

	topics := wire.TopicsFor(site, cabin)
	acked := make(chan struct{}, 1)
	err = c.Subscribe(ctx, topics.Ack, 1, func(_ string, payload []byte) {
		if a, err := wire.DecodeAck(payload); err == nil && a.Epoch == rt.Epoch && a.Seq >= 1 {
			select {
			case acked <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return rt, err
	}
	ev, err := wire.NewEvent(time.Now(), wire.TypeHealth, wire.HealthData{})
	if err != nil {
		return rt, err
	}
	ev.Seq = 1
	b, err := json.Marshal(wire.Batch{V: wire.Version, Site: site, Cabin: cabin, Epoch: rt.Epoch, Events: []wire.Event{ev}})
	if err != nil {
		return rt, err
	}
	start := time.Now()
	if err := c.Publish(ctx, topics.Events, 1, false, b); err != nil {
		return rt, fmt.Errorf("publish a test event: %w", err)
	}
	select {
	case <-acked:
		rt.Latency = time.Since(start)
		return rt, nil
	case <-ctx.Done():
		return rt, fmt.Errorf("%w for the test event of epoch %s within the time allowed: the broker took it, so check that the receiver runs, consumes palier.v1.*.*.events and can write to its store", ErrNoAck, rt.Epoch)
	}
}
