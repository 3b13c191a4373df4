package uplink_test

import (
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/internal/nettest"
)

func discard() *slog.Logger {
	if os.Getenv("UPLINK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// mqtt5Broker is a mochi-mqtt server embedded in the test: it speaks MQTT 5
// (and 3.1.1), keeps retained messages and publishes wills.
type mqtt5Broker struct {
	srv   *mochi.Server
	addr  string
	subID atomic.Int64
}

// startMQTT5Broker starts a broker; with users, only they may connect.
func startMQTT5Broker(t *testing.T, users map[string]string) *mqtt5Broker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: discard()})
	if users == nil {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatal(err)
		}
	} else {
		var rules auth.AuthRules
		for u, p := range users {
			rules = append(rules, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(p), Allow: true})
		}
		if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: rules, ACL: auth.ACLRules{{Filters: auth.Filters{"#": auth.ReadWrite}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return &mqtt5Broker{srv: srv, addr: serveMochi(t, srv)}
}

// serveMochi serves an MQTT 5 broker on a loopback port until the test
// ends and returns its address.
func serveMochi(t testing.TB, srv *mochi.Server) string {
	t.Helper()
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return l.Address()
}

// watchEvents counts the sequences published on the cabin's events subject.
func watchEvents(t testing.TB, nc *nats.Conn) *seqCounter {
	t.Helper()
	count := newSeqCounter()
	sub, err := nc.Subscribe("palier.v1."+site+"."+cabin+".events", func(m *nats.Msg) { count.add(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return count
}

// retained returns the retained payload on topic, or "" if none.
func (b *mqtt5Broker) retained(topic string) string {
	msgs := b.srv.Topics.Messages(topic)
	if len(msgs) == 0 {
		return ""
	}
	return string(msgs[0].Payload)
}

// subscribe calls h for each message on topic, from the broker's inline client.
func (b *mqtt5Broker) subscribe(t *testing.T, topic string, h func(payload []byte)) {
	t.Helper()
	id := int(b.subID.Add(1))
	if err := b.srv.Subscribe(topic, id, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) { h(pk.Payload) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.srv.Unsubscribe(topic, id) })
}

// proxy is a TCP proxy between the uplink and a broker that can drop every
// connection, black-hole them (bytes stop flowing, sockets stay open), or
// slow the broker's answers down. It is a few lines rather than toxiproxy:
// it needs no extra module and no separate server process, and these three
// behaviours are all the tests need.
type proxy struct {
	t        *testing.T
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []net.Conn
	blackout bool
	held     []net.Conn    // accepted during a blackout, never connected upstream
	delay    time.Duration // added before each chunk from the broker
	accepted atomic.Int64
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln := nettest.Listen(t)
	p := &proxy{t: t, ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.drop() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		p.conns = append(p.conns, c)
		black := p.blackout
		if black {
			p.held = append(p.held, c) // accepted, never answered
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, up)
		p.mu.Unlock()
		go p.pipe(c, up, false)
		go p.pipe(up, c, true)
	}
}

// pipe copies src to dst until either closes, stalling while black-holed.
func (p *proxy) pipe(src, dst net.Conn, fromBroker bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for {
				p.mu.Lock()
				black, delay := p.blackout, p.delay
				p.mu.Unlock()
				if !black {
					if fromBroker && delay > 0 {
						time.Sleep(delay)
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			dst.Close()
			return
		}
	}
}

// drop closes every connection through the proxy (a cut link with resets).
func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// setBlackout stops all traffic without closing anything. Ending it lets
// the stalled bytes through and closes the connections accepted meanwhile
// (they were never connected to the broker), as a link coming back would
// reset them.
func (p *proxy) setBlackout(on bool) {
	p.mu.Lock()
	p.blackout = on
	if !on {
		for _, c := range p.held {
			c.Close()
		}
		p.held = nil
	}
	p.mu.Unlock()
}

func (p *proxy) setDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}
