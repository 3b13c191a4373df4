package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// mqtt5Conn is the MQTT 5 adapter, on github.com/eclipse/paho.golang.
//
// It uses the plain paho.Client over a connection dialled here rather than
// autopaho: the uplink already runs its own reconnect loop with backoff and
// the outbox is the queue, so autopaho's second reconnect loop and its
// in-memory queue would only duplicate them and hide the dial, TLS and
// CONNACK errors that explainConnect turns into advice for installers.
type mqtt5Conn struct {
	c    *paho.Client
	raw  net.Conn // to bound the DISCONNECT write on a dead link
	tcp  net.Conn // under raw (the same when there is no TLS): the hard stop
	lost chan struct{}
	once sync.Once

	mu   sync.Mutex
	err  error
	subs map[string]func(topic string, payload []byte)
}

var _ Conn = (*mqtt5Conn)(nil)

// packetTimeout bounds the wait for a PUBACK or SUBACK on a live session. A
// dead link is noticed sooner by the keep-alive; this only stops a broker
// that answers pings but never acknowledges from holding a batch forever.
const packetTimeout = time.Minute

// disconnectTimeout bounds the DISCONNECT write, so Close stays prompt when
// the link is a black hole with a full send buffer.
const disconnectTimeout = time.Second

// dialMQTT5 connects, or fails with an error that says why.
func dialMQTT5(ctx context.Context, o DialOptions) (Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout(ctx))
	defer cancel()
	var certAsked atomic.Bool
	raw, tcp, err := dialBroker(ctx, o, &certAsked)
	if err != nil {
		return nil, explainConnect(o.Broker, Protocol5, err)
	}
	rec := &recordingConn{Conn: raw}
	m := &mqtt5Conn{raw: raw, tcp: tcp, lost: make(chan struct{}), subs: map[string]func(string, []byte){}}
	m.c = paho.NewClient(paho.ClientConfig{
		ClientID:          o.ClientID,
		Conn:              packets.NewThreadSafeConn(rec),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){m.route},
		OnClientError:     m.drop,
		OnServerDisconnect: func(d *paho.Disconnect) {
			reason := ""
			if d.Properties != nil {
				reason = d.Properties.ReasonString
			}
			m.drop(fmt.Errorf("broker sent DISCONNECT, reason code 0x%02x %s", d.ReasonCode, reason))
		},
		PacketTimeout: packetTimeout,
	})
	cp := &paho.Connect{
		ClientID:   o.ClientID,
		KeepAlive:  uint16(min(o.KeepAlive/time.Second, 65535)),
		CleanStart: true, // the outbox, not the MQTT session, holds what is unsent
	}
	if o.Username != "" {
		cp.Username, cp.UsernameFlag = o.Username, true
		cp.Password, cp.PasswordFlag = []byte(o.Password), o.Password != ""
	}
	if o.WillTopic != "" {
		cp.WillMessage = &paho.WillMessage{Retain: true, QoS: 1, Topic: o.WillTopic, Payload: o.WillPayload}
	}
	ca, err := m.c.Connect(ctx, cp)
	if err != nil {
		// Connect has closed the connection.
		if ca != nil {
			reason := ""
			if ca.Properties != nil {
				reason = ca.Properties.ReasonString
			}
			err = &ConnackError{Code: ca.ReasonCode, Reason: reason, Err: err}
		} else if ans := rec.answer(); len(ans) >= 4 && ans[0] == 0x20 && ans[1] == 0x02 {
			// A 3.1.1 CONNACK (no properties) that paho.golang cannot parse
			// as MQTT 5: this is what NATS answers.
			err = &ConnackError{Code: ans[3], V311: true, Err: err}
		}
		if certAsked.Load() && !errors.As(err, new(*ConnackError)) {
			// With TLS 1.3 the broker judges the client certificate after
			// the handshake; its alert is lost behind a failed write.
			err = &clientCertError{sent: len(o.TLS.Certificates) > 0, err: err}
		}
		return nil, explainConnect(o.Broker, Protocol5, err)
	}
	rec.stop()
	return m, nil
}

// dialBroker opens the TCP (and TLS) connection to the broker URL, noting
// in certAsked whether the broker asked for a client certificate. It
// returns the connection to speak over and the TCP connection under it.
func dialBroker(ctx context.Context, o DialOptions, certAsked *atomic.Bool) (net.Conn, net.Conn, error) {
	u, err := url.Parse(o.Broker)
	if err != nil {
		return nil, nil, fmt.Errorf("broker URL %q: %w", o.Broker, err)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "1883"
		if o.TLS != nil {
			port = "8883"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if o.TLS == nil {
		return raw, raw, nil
	}
	tc := o.TLS.Clone()
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	certs := tc.Certificates
	tc.Certificates = nil
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		certAsked.Store(true)
		if len(certs) == 0 {
			return &tls.Certificate{}, nil // none: the broker decides
		}
		return &certs[0], nil
	}
	tconn := tls.Client(raw, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, err
	}
	return tconn, raw, nil
}

// route hands a received message to the handler of its topic.
func (m *mqtt5Conn) route(p paho.PublishReceived) (bool, error) {
	m.mu.Lock()
	h := m.subs[p.Packet.Topic]
	m.mu.Unlock()
	if h == nil {
		return false, nil
	}
	h(p.Packet.Topic, p.Packet.Payload)
	return true, nil
}

func (m *mqtt5Conn) drop(err error) {
	m.once.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.lost)
	})
}

func (m *mqtt5Conn) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	_, err := m.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: payload})
	return m.opErr("publish to "+topic, err)
}

func (m *mqtt5Conn) Subscribe(ctx context.Context, topic string, qos byte, h func(string, []byte)) error {
	// Registered first: a retained message may arrive before the SUBACK is handled.
	m.mu.Lock()
	m.subs[topic] = h
	m.mu.Unlock()
	sa, err := m.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: qos}}})
	if err != nil && sa != nil && len(sa.Reasons) > 0 && sa.Reasons[0] >= 0x80 {
		return fmt.Errorf("subscribe to %s: the broker refused it with reason code 0x%02x (no permission?)", topic, sa.Reasons[0])
	}
	return m.opErr("subscribe to "+topic, err)
}

// opErr wraps an operation's error, marking it as a lost connection when
// the session dropped under it.
func (m *mqtt5Conn) opErr(what string, err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-m.lost:
		return fmt.Errorf("%s: %w", what, errors.Join(ErrConnectionLost, m.Err(), err))
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

func (m *mqtt5Conn) Lost() <-chan struct{} { return m.lost }

func (m *mqtt5Conn) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *mqtt5Conn) Close() {
	m.drop(errClosed)
	_ = m.raw.SetWriteDeadline(time.Now().Add(disconnectTimeout))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.c.Disconnect(&paho.Disconnect{ReasonCode: 0}) // normal disconnection: no will
	}()
	// paho's Disconnect waits for its workers; one stuck on the link (a TLS
	// close_notify behind a blocked write, say) must not hold up the
	// uplink's reconnect loop or the agent's shutdown. Closing the TCP
	// connection under them frees every read and write.
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		m.tcp.Close()
		<-done
	}
}

// closeTimeout bounds a clean close before the connection is cut.
const closeTimeout = disconnectTimeout + 2*time.Second

func (m *mqtt5Conn) Protocol() string { return Protocol5 }

// recordingConn keeps the first bytes the broker sends, so that a CONNACK
// the MQTT 5 client cannot parse can still be reported.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	if !r.done && len(r.buf) < 16 {
		r.buf = append(r.buf, p[:min(n, 16-len(r.buf))]...)
	}
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) answer() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf...)
}

func (r *recordingConn) stop() {
	r.mu.Lock()
	r.done = true
	r.buf = nil
	r.mu.Unlock()
}
