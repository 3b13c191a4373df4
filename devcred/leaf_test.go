package devcred_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/wire"
)

const guard = devcredtest.Guard

func issue(t *testing.T, l *devcredtest.Leaf, site, cabin string, now time.Time, ttl time.Duration) devcred.Credential {
	t.Helper()
	c, err := l.Auth.IssueDevice(natsauth.Device{Site: site, Cabin: cabin}, now, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// connect opens an MQTT session with a credential as the password, the
// way the agent's uplink does (user name: the cabin's, which nats-server
// ignores for a JWT).
func connect(t *testing.T, l *devcredtest.Leaf, c devcred.Credential, clientID string, lost chan<- error) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().
		AddBroker("ssl://" + l.MQTTAddr).
		SetTLSConfig(l.TLS).
		SetClientID(clientID).
		SetUsername(c.Name).
		SetPassword(c.JWT).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(guard).
		SetWriteTimeout(guard)
	if lost != nil {
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	}
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(guard) {
		t.Fatal("MQTT connect: no answer")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return cl, nil
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(guard) {
		t.Fatalf("publish %s: no PUBACK", topic)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// TestCredentialAdmitsItsOwnCabinOnly: a cabin's credential, against the
// shipped operator-mode leaf, publishes its own events and nothing of
// another cabin's (nor its own acks), cannot subscribe to another cabin's
// downlinks, and is refused over plain NATS (MQTT only).
func TestCredentialAdmitsItsOwnCabinOnly(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	nc := l.Service(t)
	seen := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("palier.v1.>", seen); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	a := issue(t, l, "les-pins", "a", time.Now(), time.Hour)
	ca, err := connect(t, l, a, wire.ClientID("les-pins", "a"), nil)
	if err != nil {
		t.Fatalf("cabin a with its credential: %v", err)
	}
	forged := []string{
		wire.TopicsFor("les-pins", "b").Events,
		wire.TopicsFor("les-pins", "b").State,
		wire.TopicsFor("villa", "main").Events,
		wire.TopicsFor("les-pins", "a").Ack,
		wire.TopicsFor("les-pins", "a").Notices,
		wire.CredentialTopic("les-pins", "b"),
		wire.CredentialTopic("les-pins", "a"), // only the receiver speaks there
	}
	for _, topic := range forged {
		publish(t, ca, topic, "forged") // nats-server PUBACKs and drops
	}
	own := wire.TopicsFor("les-pins", "a")
	publish(t, ca, own.Events, "own")
	got := map[string]string{}
	deadline := time.After(guard)
	for len(got) < 1 {
		select {
		case m := <-seen:
			got[m.Subject] = string(m.Data)
		case <-deadline:
			t.Fatal("own events never arrived")
		}
	}
	// Anything forged would have arrived before the own publish, which
	// came after it on the same connection.
	for subj, data := range got {
		if subj != wire.EventsSubjectOf("les-pins", "a") || data != "own" {
			t.Errorf("got %s %q: a forged publish went through", subj, data)
		}
	}
	select {
	case m := <-seen:
		t.Errorf("got %s %q after the own events", m.Subject, m.Data)
	default:
	}

	// Subscriptions: its own downlinks are granted, another cabin's are not.
	for topic, want := range map[string]byte{
		wire.CredentialTopic("les-pins", "a"): 1,
		wire.TopicsFor("les-pins", "a").Ack:   1,
		wire.CredentialTopic("les-pins", "b"): 0x80,
		wire.TopicsFor("les-pins", "b").Ack:   0x80,
		wire.NoticesTopic("villa"):            0x80,
	} {
		tok := ca.Subscribe(topic, 1, func(mqtt.Client, mqtt.Message) {})
		if !tok.WaitTimeout(guard) {
			t.Fatalf("subscribe %s: no SUBACK", topic)
		}
		codes := tok.(*mqtt.SubscribeToken).Result()
		if codes[topic] != want {
			t.Errorf("subscribe %s: SUBACK %#x, want %#x", topic, codes[topic], want)
		}
	}

	// The same token over plain NATS: refused.
	if nc2, err := nats.Connect(l.ClientURL, nats.Token(a.JWT), nats.Secure(l.TLS), nats.Timeout(guard)); err == nil {
		nc2.Close()
		t.Error("a cabin's credential connected over NATS")
	}
	if nc2, err := nats.Connect(l.ClientURL, nats.UserJWT(func() (string, error) { return a.JWT, nil }, func([]byte) ([]byte, error) { return nil, nil }), nats.Secure(l.TLS), nats.Timeout(guard)); err == nil {
		nc2.Close()
		t.Error("a cabin's credential connected over NATS as a JWT")
	}
}

// TestExpiredCredential: an expired credential is refused at CONNECT, and
// a session up with one that expires is closed by the server at its
// expiry.
func TestExpiredCredential(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	old := issue(t, l, "les-pins", "a", time.Now().Add(-2*time.Hour), time.Hour)
	if _, err := connect(t, l, old, wire.ClientID("les-pins", "a"), nil); err == nil {
		t.Fatal("an expired credential connected")
	}
	// The same cabin with a valid one: the refusal was the expiry's.
	if _, err := connect(t, l, issue(t, l, "les-pins", "a", time.Now(), time.Hour), wire.ClientID("les-pins", "a"), nil); err != nil {
		t.Fatalf("valid credential: %v", err)
	}

	// Valid for two more seconds (a JWT's expiry is in whole seconds).
	soon := issue(t, l, "les-pins", "b", time.Now().Add(-devcred.MinTTL+2*time.Second), devcred.MinTTL)
	lost := make(chan error, 1)
	if _, err := connect(t, l, soon, wire.ClientID("les-pins", "b"), lost); err != nil {
		t.Fatalf("credential valid two more seconds: %v", err)
	}
	select {
	case <-lost:
	case <-time.After(guard):
		t.Fatal("session outlived its credential's expiry")
	}
	if _, err := connect(t, l, soon, wire.ClientID("les-pins", "b"), nil); err == nil {
		t.Fatal("reconnected with an expired credential")
	}
}

// TestRevokeWhilePublishing: a cabin publishing QoS 1 events is revoked;
// the server closes its session at once, refuses it afterwards, also
// after a restart (the resolver kept the revocation), and the other
// cabins are untouched.
func TestRevokeWhilePublishing(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	sys := l.System(t)
	nc := l.Service(t)
	var stored atomic.Int64
	if _, err := nc.Subscribe(wire.EventsSubjectOf("les-pins", "a"), func(*nats.Msg) { stored.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a := issue(t, l, "les-pins", "a", time.Now(), time.Hour)
	b := issue(t, l, "les-pins", "b", time.Now(), time.Hour)
	lostA, lostB := make(chan error, 1), make(chan error, 1)
	ca, err := connect(t, l, a, wire.ClientID("les-pins", "a"), lostA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, l, b, wire.ClientID("les-pins", "b"), lostB); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	published := make(chan int)
	go func() {
		n := 0
		defer func() { published <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tok := ca.Publish(wire.TopicsFor("les-pins", "a").Events, 1, false, fmt.Sprint(n))
			if !tok.WaitTimeout(guard) || tok.Error() != nil {
				return
			}
			n++
		}
	}()
	// Revoke once events flow.
	deadline := time.Now().Add(guard)
	for stored.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if stored.Load() < 20 {
		t.Fatal("cabin a's events never flowed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := l.Auth.Revoke(ctx, sys, []string{a.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lostA:
	case <-time.After(guard):
		t.Fatal("revoked cabin still connected")
	}
	close(stop)
	n := <-published
	if n == 0 {
		t.Fatal("nothing published before the revocation")
	}
	if _, err := connect(t, l, a, wire.ClientID("les-pins", "a"), nil); err == nil {
		t.Fatal("revoked credential connected again")
	}
	select {
	case err := <-lostB:
		t.Fatalf("cabin b lost its session: %v", err)
	default:
	}

	// A new credential for the same cabin works (re-provisioning).
	a2 := issue(t, l, "les-pins", "a", time.Now(), time.Hour)
	if _, err := connect(t, l, a2, wire.ClientID("les-pins", "a"), nil); err != nil {
		t.Fatalf("new credential after revocation: %v", err)
	}

	// The revocation survives a restart of the leaf.
	l.Restart(t)
	if _, err := connect(t, l, a, wire.ClientID("les-pins", "a"), nil); err == nil {
		t.Fatal("revoked credential connected after a restart")
	}
	if _, err := connect(t, l, a2, wire.ClientID("les-pins", "a"), nil); err != nil {
		t.Fatalf("new credential after a restart: %v", err)
	}
}

// TestForeignCredentialRefused: a credential signed by another
// authority (someone who made their own keys) is refused, even once its
// account JWT sits in the resolver.
func TestForeignCredentialRefused(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	sys := l.System(t)
	other, err := devcred.NewAuthority("PALIER")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := other.AccountJWT(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	// The resolver stores what a system user pushes; trust is checked
	// when a user of it connects.
	if err := devcred.Push(ctx, sys, acc); err != nil {
		t.Fatal(err)
	}
	forged, err := other.IssueDevice(natsauth.Device{Site: "les-pins", Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, l, forged, wire.ClientID("les-pins", "a"), nil); err == nil {
		t.Fatal("a credential of another authority connected")
	}
	own := issue(t, l, "les-pins", "a", time.Now(), time.Hour)
	if _, err := connect(t, l, own, wire.ClientID("les-pins", "a"), nil); err != nil {
		t.Fatalf("own credential: %v", err)
	}
}

// TestManagerComesBackAfterALeafRestart: the manager's connections sign
// their users afresh at each reconnection; after the leaf restarts it
// revokes again.
func TestManagerComesBackAfterALeafRestart(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	m, err := devcred.Connect(l.Auth, devcred.LeafConfig{NATSURL: l.ClientURL, MQTTURL: "ssl://" + l.MQTTAddr, TLS: l.TLS}, slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l.Restart(t)
	a := issue(t, l, "les-pins", "a", time.Now(), time.Hour)
	lost := make(chan error, 1)
	if _, err := connect(t, l, a, wire.ClientID("les-pins", "a"), lost); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(guard)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := m.Revoke(ctx, []string{a.ID})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoke after the leaf's restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-lost:
	case <-time.After(guard):
		t.Fatal("revoked cabin still connected")
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
