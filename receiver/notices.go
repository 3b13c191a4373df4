package receiver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/wire"
)

// MQTTNotices publishes notice sets, retained at QoS 1, through an MQTT
// client connected to the NATS MQTT listener: only an MQTT publisher's
// retained message is kept for agents that connect later.
type MQTTNotices struct {
	c       mqtt.Client
	log     *slog.Logger
	metrics *Metrics
	configs configRetry // desired configurations to publish again
}

// MQTTOptions say how to reach the MQTT listener.
type MQTTOptions struct {
	URL      string // tcp://host:port or ssl://host:port
	Username string
	Password string
	TLS      *tls.Config
}

// DialNotices connects to the MQTT listener; the client reconnects by itself
// afterwards.
func DialNotices(ctx context.Context, o MQTTOptions, metrics *Metrics, logger *slog.Logger) (*MQTTNotices, error) {
	var rnd [6]byte
	rand.Read(rnd[:])
	opts := mqtt.NewClientOptions().
		AddBroker(o.URL).
		SetClientID("palier-receiver-" + hex.EncodeToString(rnd[:])). // NATS refuses dots in client ids
		SetProtocolVersion(4).                                        // NATS speaks MQTT 3.1.1 only
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(false)
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect MQTT %s for notices: %w", o.URL, err)
	}
	return &MQTTNotices{c: c, log: logger, metrics: metrics}, nil
}

func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PublishNotices publishes a site's whole notice set, retained.
func (p *MQTTNotices) PublishNotices(ctx context.Context, set wire.NoticeSet) error {
	b, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("encode notice set %s: %w", set.Site, err)
	}
	if len(b) > wire.MaxNoticeSetBytes {
		return fmt.Errorf("notice set %s is %d bytes: %w", set.Site, len(b), wire.ErrTooLarge)
	}
	if err := wait(ctx, p.c.Publish(wire.NoticesTopic(set.Site), 1, true, b)); err != nil {
		p.metrics.NoticesPublish.WithLabelValues("error").Inc()
		return fmt.Errorf("publish notice set %s v%d: %w", set.Site, set.Version, err)
	}
	p.metrics.NoticesPublish.WithLabelValues("ok").Inc()
	p.log.Info("notice set published", "site", set.Site, "version", set.Version, "notices", len(set.Notices))
	return nil
}

// Close disconnects, letting a publish in flight finish.
func (p *MQTTNotices) Close() { p.c.Disconnect(250) }

// Republish publishes every stored notice set now and then every interval
// until ctx is done. Retained sets normally survive in the MQTT listener;
// this repairs a change that was stored but failed to publish.
func (p *MQTTNotices) Republish(ctx context.Context, sets func(context.Context) ([]wire.NoticeSet, error), interval time.Duration) {
	for {
		all, err := sets(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("read notice sets to republish", "err", err)
		}
		for _, s := range all {
			if err := p.PublishNotices(ctx, s); err != nil && ctx.Err() == nil {
				p.log.Warn("republish notice set", "site", s.Site, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
