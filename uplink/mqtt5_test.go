package uplink_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

func mqtt5Config(addr string) uplink.Config {
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + addr
	cfg.Protocol = uplink.Protocol5
	cfg.BackoffMin = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.BatchEvents = 50
	return cfg
}

// seqCounter counts how often each sequence arrived in event batches.
type seqCounter struct {
	mu    sync.Mutex
	seqs  map[uint64]int
	types map[uint64]string
	bad   int
}

func newSeqCounter() *seqCounter {
	return &seqCounter{seqs: map[uint64]int{}, types: map[uint64]string{}}
}

func (c *seqCounter) add(payload []byte) {
	batch, err := wire.DecodeBatch(payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad++
		return
	}
	for _, e := range batch.Events {
		c.seqs[e.Seq]++
		c.types[e.Seq] = e.Type
	}
}

func (c *seqCounter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

func (c *seqCounter) count(seq uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seqs[seq]
}

func TestMQTT5DrainsConfirmsAndReceivesNotices(t *testing.T) {
	b := startMQTT5Broker(t, nil)
	topics := wire.TopicsFor(site, cabin)
	got := newSeqCounter()
	b.subscribe(t, topics.Events, got.add)
	ob := openOutbox(t)
	const n = 230
	appendArrivals(t, ob, n)

	up, err := uplink.New(mqtt5Config(b.addr), site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	notices := make(chan wire.NoticeSet, 4)
	up.OnNotices = func(s wire.NoticeSet) { notices <- s }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)

	eventually(t, "all events published", func() bool { return got.distinct() == n })
	eventually(t, "PUBACKs counted", func() bool { return up.Stats().Events == n })
	if up.Protocol() != uplink.Protocol5 {
		t.Fatalf("protocol %q, want 5", up.Protocol())
	}
	if d := ob.Stats().Depth(); d != n {
		t.Fatalf("depth after PUBACKs = %d, want %d: a PUBACK must not confirm", d, n)
	}
	if s := b.retained(topics.Status); s != uplink.StatusOnline {
		t.Fatalf("retained status %q, want online", s)
	}

	ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: ob.Epoch(), Seq: 120})
	if err := b.srv.Publish(topics.Ack, ack, false, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "120 confirmed", func() bool { return ob.Stats().Depth() == n-120 })

	set := wire.NoticeSet{V: wire.Version, Site: site, Version: 7, Notices: []wire.Notice{{
		ID: "ag", Category: wire.CategoryWater, Priority: wire.PriorityUrgent,
		Title: wire.Text{FR: "Coupure d'eau"}, Body: wire.Text{FR: "De 9h à 12h."},
		ValidFrom: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	}}}
	raw, _ := json.Marshal(set)
	b.srv.Publish(topics.Notices, []byte(`{"v":1,"site":"test-site"`), false, 1) // truncated: counted, ignored
	if err := b.srv.Publish(topics.Notices, raw, true, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-notices:
		if s.Version != 7 {
			t.Fatalf("notice set version %d, want 7", s.Version)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("notice set not delivered over MQTT 5")
	}
	if n := up.Stats().BadNotices; n != 1 {
		t.Fatalf("bad notices %d, want 1", n)
	}

	// A clean stop says offline itself (a DISCONNECT does not fire the will).
	if err := stopRun(t, cancel, done); err != nil {
		t.Fatal(err)
	}
	done <- nil
	if s := b.retained(topics.Status); s != uplink.StatusOffline {
		t.Fatalf("retained status after stop %q, want offline", s)
	}
}

func TestAutoPicksMQTT5WhenTheBrokerSpeaksIt(t *testing.T) {
	b := startMQTT5Broker(t, nil)
	cfg := mqtt5Config(b.addr)
	cfg.Protocol = uplink.ProtocolAuto
	p, err := probe(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p != uplink.Protocol5 {
		t.Fatalf("auto against an MQTT 5 broker chose %q", p)
	}
}

// The will, not the uplink, must say offline when the link is cut without
// a DISCONNECT; the uplink then reconnects and says online again.
func TestLastWillOnCutLink(t *testing.T) {
	for _, proto := range []string{uplink.Protocol5, uplink.Protocol311} {
		t.Run("mqtt"+proto, func(t *testing.T) {
			b := startMQTT5Broker(t, nil)
			px := nettest.StartProxy(t, b.addr)
			cfg := mqtt5Config(px.Addr())
			cfg.Protocol = proto
			cfg.KeepAlive = 2 * time.Second // mochi allows 1.5 × keep-alive in whole seconds: 1 s would flap
			ob := openOutbox(t)
			up, _ := runUplink(t, cfg, ob)
			status := wire.TopicsFor(site, cabin).Status
			eventually(t, "online", func() bool { return up.Connected() && b.retained(status) == uplink.StatusOnline })
			statuses := make(chan string, 64)
			b.subscribe(t, status, func(p []byte) { statuses <- string(p) })
			<-statuses // the retained online

			px.Drop()
			// The will's offline comes first, then the reconnected uplink's online.
			var seen []string
			deadline := time.After(20 * time.Second)
			for len(seen) < 2 {
				select {
				case s := <-statuses:
					seen = append(seen, s)
				case <-deadline:
					t.Fatalf("statuses after the cut: %q, want offline (the will) then online", seen)
				}
			}
			if seen[0] != uplink.StatusOffline || seen[1] != uplink.StatusOnline {
				t.Fatalf("statuses after the cut: %q, want offline (the will) then online", seen)
			}
			eventually(t, "reconnected", func() bool { return up.Stats().Connects >= 2 })
		})
	}
}

func TestLastWillOnCutLinkNATS(t *testing.T) {
	nb := startBroker(t)
	px := nettest.StartProxy(t, nb.mqttAddr)
	cfg := testConfig(nb)
	cfg.Broker = "tcp://" + px.Addr()
	ob := openOutbox(t)
	up, _ := runUplink(t, cfg, ob)
	eventually(t, "connected", up.Connected)
	statuses := make(chan string, 16)
	sub, err := nb.nats().Subscribe("palier.v1."+site+"."+cabin+".status", func(m *nats.Msg) { statuses <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nb.nats().Flush()
	px.Drop()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case s := <-statuses:
			if s == uplink.StatusOffline {
				return
			}
		case <-deadline:
			t.Fatal("NATS did not publish the will after the cut")
		}
	}
}
