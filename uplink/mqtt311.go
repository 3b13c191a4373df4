package uplink

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mqtt311Conn is the MQTT 3.1.1 adapter, on github.com/eclipse/paho.mqtt.golang.
// NATS's MQTT listener speaks only this version.
type mqtt311Conn struct {
	c        mqtt.Client
	lost     chan struct{}
	lostOnce sync.Once
	mu       sync.Mutex
	err      error
}

var _ Conn = (*mqtt311Conn)(nil)

// dialMQTT311 connects, or fails with an error that says why.
func dialMQTT311(ctx context.Context, o DialOptions) (Conn, error) {
	u, err := url.Parse(o.Broker)
	if err != nil {
		return nil, fmt.Errorf("broker URL %q: %w", o.Broker, err)
	}
	conn := &mqtt311Conn{lost: make(chan struct{})}
	opts := mqtt.NewClientOptions().
		AddBroker(u.String()).
		SetClientID(o.ClientID).
		SetProtocolVersion(4). // 3.1.1, and no fallback to 3.1
		SetCleanSession(true). // the outbox, not the MQTT session, holds what is unsent
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(o.KeepAlive).
		// paho waits 10 s for a PINGRESP by default; on a black-holed link
		// that is 10 s more of believing a dead session is alive.
		SetPingTimeout(min(o.KeepAlive, 10*time.Second)).
		SetOrderMatters(false).
		SetConnectTimeout(connectTimeout(ctx)).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { conn.drop(err) })
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	if o.WillTopic != "" {
		opts.SetBinaryWill(o.WillTopic, o.WillPayload, 1, true)
	}
	conn.c = mqtt.NewClient(opts)
	tok := conn.c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// paho has no way to abandon a connect; disconnecting stops it.
		go conn.c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, explainConnect(o.Broker, "3.1.1", err)
	}
	return conn, nil
}

func (m *mqtt311Conn) drop(err error) {
	m.lostOnce.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.lost)
	})
}

func (m *mqtt311Conn) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	return wait(ctx, m, m.c.Publish(topic, qos, retain, payload), "publish to "+topic)
}

func (m *mqtt311Conn) Subscribe(ctx context.Context, topic string, qos byte, h func(string, []byte)) error {
	tok := m.c.Subscribe(topic, qos, func(_ mqtt.Client, msg mqtt.Message) { h(msg.Topic(), msg.Payload()) })
	if err := wait(ctx, m, tok, "subscribe to "+topic); err != nil {
		return err
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for t, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("subscribe to %s: the broker refused it (no permission?)", t)
			}
		}
	}
	return nil
}

// wait waits for a paho token, the session's loss, or ctx.
func wait(ctx context.Context, m *mqtt311Conn, tok mqtt.Token, what string) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-m.lost:
		return fmt.Errorf("%s: %w", what, errors.Join(ErrConnectionLost, m.Err()))
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

func (m *mqtt311Conn) Lost() <-chan struct{} { return m.lost }

func (m *mqtt311Conn) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *mqtt311Conn) Close() {
	m.c.Disconnect(250)
	m.drop(errClosed)
}

func (m *mqtt311Conn) Protocol() string { return "3.1.1" }
