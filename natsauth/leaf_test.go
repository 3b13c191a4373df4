package natsauth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

const guard = 20 * time.Second // failure guard only, never a timing assertion

// testFleet has cabins a and b of les-pins, one cabin of another site,
// and the receiver as a service allowed on NATS and MQTT.
func testFleet(t *testing.T) Fleet {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost) // fast; the cost is not under test
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	f := Fleet{
		Services: []Service{{User: "palier-receiver", PasswordHash: hash("pw-receiver"), Clients: []string{"STANDARD", "MQTT"}}},
		Devices: []Device{
			{Site: "les-pins", Cabin: "a", PasswordHash: hash("pw-les-pins-a")},
			{Site: "les-pins", Cabin: "b", PasswordHash: hash("pw-les-pins-b")},
			{Site: "villa", Cabin: "main", PasswordHash: hash("pw-villa-main")},
		},
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

type leaf struct {
	ns       *server.Server
	mqttAddr string
	pool     *x509.CertPool
}

// startLeaf runs nats-server in-process from the shipped
// packaging/nats/leaf.conf and the accounts block rendered from f. Only
// the listening ports change (free ones), and the hub is unreachable: the
// leaf keeps retrying it, which is what a leaf does when the hub is down.
func startLeaf(t *testing.T, f Fleet) *leaf {
	t.Helper()
	dir := t.TempDir()
	conf, err := os.ReadFile(filepath.Join("..", "packaging", "nats", "leaf.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "leaf.conf"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Render(out, f, "test fleet"); err != nil {
		t.Fatal(err)
	}
	out.Close()
	cert, key, pool := nettest.WriteCert(t, dir)
	t.Setenv("PALIER_LEAF_NAME", "leaf-test")
	t.Setenv("PALIER_STORE_DIR", filepath.Join(dir, "js"))
	t.Setenv("PALIER_MQTT_CERT", cert)
	t.Setenv("PALIER_MQTT_KEY", key)
	t.Setenv("PALIER_HUB_URL", "tls://palier-leaf:nope@127.0.0.1:1")
	t.Setenv("PALIER_HUB_CA", cert)

	opts, err := server.ProcessConfigFile(filepath.Join(dir, "leaf.conf"))
	if err != nil {
		t.Fatalf("leaf.conf with generated accounts: %v", err)
	}
	if !opts.JetStream || opts.SyncInterval != 0 && !opts.SyncAlways {
		t.Fatalf("leaf.conf: JetStream %v, sync always %v; want both", opts.JetStream, opts.SyncAlways)
	}
	if !opts.SyncAlways {
		t.Fatal("leaf.conf: JetStream must fsync every write (sync_interval: always)")
	}
	// Three QoS 1 subscriptions, so three consumers on one stream, per
	// cabin: nats-server's default bound of 1,000 takes about 330 cabins.
	if n := opts.JetStreamLimits.DefaultMaxConsumers; n < natsembed.DefaultMaxConsumers {
		t.Fatalf("leaf.conf: default_max_consumers %d, want at least %d (natsembed's)", n, natsembed.DefaultMaxConsumers)
	}
	if !opts.MQTT.ConsumerMemoryStorage {
		t.Fatal("leaf.conf: MQTT consumers in files (want consumer_memory_storage: true, as natsembed)")
	}
	if opts.MQTT.AuthTimeout != natsembed.MQTTAuthTimeout.Seconds() {
		t.Fatalf("leaf.conf: MQTT authorization timeout %g s, want %g (natsembed's)", opts.MQTT.AuthTimeout, natsembed.MQTTAuthTimeout.Seconds())
	}
	if opts.MQTT.JSAPITimeout != natsembed.MQTTJSAPITimeout {
		t.Fatalf("leaf.conf: MQTT js_api_timeout %s, want %s (natsembed's)", opts.MQTT.JSAPITimeout, natsembed.MQTTJSAPITimeout)
	}
	opts.Port = -1
	opts.HTTPPort = 0
	opts.MQTT.Host = "127.0.0.1"
	opts.MQTT.Port = -1
	opts.NoSigs = true
	opts.NoLog = true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(guard) {
		t.Fatal("leaf node not ready")
	}
	return &leaf{ns: ns, mqttAddr: net.JoinHostPort(opts.MQTT.Host, strconv.Itoa(opts.MQTT.Port)), pool: pool}
}

func (l *leaf) mqttConnect(t *testing.T, user, password, clientID string, onMsg mqtt.MessageHandler) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().
		AddBroker("ssl://" + l.mqttAddr).
		SetTLSConfig(&tls.Config{RootCAs: l.pool, ServerName: "127.0.0.1"}).
		SetClientID(clientID).
		SetUsername(user).
		SetPassword(password).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(guard).
		SetWriteTimeout(guard).
		SetDefaultPublishHandler(onMsg)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(guard) {
		t.Fatal("MQTT connect: no answer")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func publish(t *testing.T, c mqtt.Client, topic string, retained bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(guard) {
		t.Fatalf("publish %s: no PUBACK", topic)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// TestDeviceCannotPublishAsAnotherCabin is the point of per-device users:
// cabin les-pins/a, connected over MQTT with TLS to the shipped leaf
// configuration, has its publishes to other cabins' topics (and to its
// own ack) dropped, while its own events, state and status go through.
func TestDeviceCannotPublishAsAnotherCabin(t *testing.T) {
	f := testFleet(t)
	l := startLeaf(t, f)

	// The receiver's view: everything under palier.v1 in the account.
	nc, err := nats.Connect(l.ns.ClientURL(), nats.UserInfo("palier-receiver", "pw-receiver"))
	if err != nil {
		t.Fatalf("receiver over NATS: %v", err)
	}
	defer nc.Close()
	seen := make(chan *nats.Msg, 100)
	if _, err := nc.ChanSubscribe("palier.v1.>", seen); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	a, err := l.mqttConnect(t, "les-pins-a", "pw-les-pins-a", wire.ClientID("les-pins", "a"), nil)
	if err != nil {
		t.Fatalf("cabin a connects with its own password: %v", err)
	}
	forged := []string{
		wire.TopicsFor("les-pins", "b").Events,
		wire.TopicsFor("les-pins", "b").State,
		wire.TopicsFor("les-pins", "b").Status,
		wire.TopicsFor("villa", "main").Events,
		wire.TopicsFor("les-pins", "a").Ack,     // forging its own acks
		wire.TopicsFor("les-pins", "a").Notices, // and its site's notices
		"palier/v1/les-pins/a/events/extra",
		"other/topic",
	}
	for _, topic := range forged {
		// nats-server still PUBACKs a refused QoS 1 publish; it drops it.
		publish(t, a, topic, topic == forged[1], "forged")
	}
	own := wire.TopicsFor("les-pins", "a")
	publish(t, a, own.Events, false, "own events")
	publish(t, a, own.State, true, "own state")
	publish(t, a, own.Status, true, "online")

	// Messages of one connection arrive in order: the three own messages
	// arriving first proves no forged one was delivered before them.
	want := []string{"palier.v1.les-pins.a.events", "palier.v1.les-pins.a.state", "palier.v1.les-pins.a.status"}
	for _, subj := range want {
		select {
		case m := <-seen:
			if m.Subject != subj {
				t.Fatalf("receiver got %q on %s, want the own message on %s", m.Data, m.Subject, subj)
			}
		case <-time.After(guard):
			t.Fatalf("own message on %s never arrived", subj)
		}
	}
	// The server also refused to retain the forged state: a fresh
	// subscriber of cabin b's state (the receiver over MQTT) gets nothing
	// retained there, while a's own retained state is there.
	got := make(chan mqtt.Message, 10)
	r, err := l.mqttConnect(t, "palier-receiver", "pw-receiver", "palier-receiver-test", func(_ mqtt.Client, m mqtt.Message) { got <- m })
	if err != nil {
		t.Fatalf("receiver over MQTT: %v", err)
	}
	tok := r.SubscribeMultiple(map[string]byte{"palier/v1/+/+/state": 1}, nil)
	if !tok.WaitTimeout(guard) || tok.Error() != nil {
		t.Fatalf("receiver subscribe: %v", tok.Error())
	}
	select {
	case m := <-got:
		if m.Topic() != own.State || string(m.Payload()) != "own state" || !m.Retained() {
			t.Fatalf("retained state: got %q on %s (retained %v), want a's own", m.Payload(), m.Topic(), m.Retained())
		}
	case <-time.After(guard):
		t.Fatal("a's retained state missing")
	}
	// A marker after the retained set: anything forged would have come first.
	publish(t, a, own.State, true, "marker")
	select {
	case m := <-got:
		if string(m.Payload()) != "marker" {
			t.Fatalf("after the retained set, got %q on %s, want the marker", m.Payload(), m.Topic())
		}
	case <-time.After(guard):
		t.Fatal("marker never arrived")
	}
}

// TestDeviceSubscriptions: a cabin gets its own acks (QoS 1, which needs
// $MQTT.sub.>) and its site's notices, and is refused anything else.
func TestDeviceSubscriptions(t *testing.T) {
	f := testFleet(t)
	l := startLeaf(t, f)

	got := make(chan mqtt.Message, 10)
	a, err := l.mqttConnect(t, "les-pins-a", "pw-les-pins-a", wire.ClientID("les-pins", "a"), func(_ mqtt.Client, m mqtt.Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	own := wire.TopicsFor("les-pins", "a")
	filters := map[string]byte{
		own.Ack:                                 1,
		own.Notices:                             1,
		own.Config:                              1,
		own.SiteConfig:                          1,
		wire.TopicsFor("les-pins", "b").Config:  1,
		wire.SiteConfigTopic("villa"):           1,
		wire.TopicsFor("les-pins", "b").Ack:     1,
		wire.TopicsFor("villa", "main").Notices: 1,
		"palier/v1/#":                           1,
		"palier/v1/les-pins/+/ack":              1,
	}
	tok := a.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(guard) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	granted := tok.(*mqtt.SubscribeToken).Result()
	for topic := range filters {
		allowed := topic == own.Ack || topic == own.Notices || topic == own.Config || topic == own.SiteConfig
		if refused := granted[topic] == 0x80; refused == allowed {
			t.Errorf("subscribe %s: SUBACK %#x, want allowed=%v", topic, granted[topic], allowed)
		}
	}

	// The receiver sends an ack and a notice set over MQTT at QoS 1: they
	// reach cabin a through the JetStream-backed QoS 1 delivery.
	r, err := l.mqttConnect(t, "palier-receiver", "pw-receiver", "palier-receiver-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r, wire.TopicsFor("les-pins", "b").Ack, false, "for b")
	publish(t, r, own.Ack, false, "stored up to 7")
	publish(t, r, own.Notices, true, "notices v3")
	publish(t, r, wire.TopicsFor("les-pins", "b").Config, true, "config of b")
	publish(t, r, own.SiteConfig, true, "site config v2")
	publish(t, r, own.Config, true, "cabin config v5")
	// Each subscription delivers in order; across them, any order.
	want := map[string]bool{"stored up to 7": true, "notices v3": true, "site config v2": true, "cabin config v5": true}
	for len(want) > 0 {
		select {
		case m := <-got:
			if !want[string(m.Payload())] {
				t.Fatalf("cabin a got %q on %s, want one of %v", m.Payload(), m.Topic(), want)
			}
			delete(want, string(m.Payload()))
			// QoS 1 means it came through JetStream to $MQTT.sub.<nuid>.
			if m.Qos() != 1 {
				t.Fatalf("cabin a got %q at QoS %d, want 1", m.Payload(), m.Qos())
			}
		case <-time.After(guard):
			t.Fatalf("cabin a never got %v", want)
		}
	}
}

// TestDeviceAuthentication: wrong passwords and other cabins' passwords
// are refused, and device users cannot use plain NATS.
func TestDeviceAuthentication(t *testing.T) {
	f := testFleet(t)
	l := startLeaf(t, f)
	for _, c := range []struct{ user, pw string }{
		{"les-pins-a", "wrong"},
		{"les-pins-a", "pw-les-pins-b"},
		{"nobody", "pw-les-pins-a"},
	} {
		if _, err := l.mqttConnect(t, c.user, c.pw, "palier-test-"+c.user, nil); err == nil {
			t.Errorf("MQTT %s with %q: connected, want refused", c.user, c.pw)
		}
	}
	if nc, err := nats.Connect(l.ns.ClientURL(), nats.UserInfo("les-pins-a", "pw-les-pins-a"), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("device user over plain NATS: connected, want refused (MQTT only)")
	}
}

// TestShippedConfigsParse loads the shipped hub configuration and the leaf
// with the example fleet the way nats-server does.
func TestShippedConfigsParse(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := nettest.WriteCert(t, dir)
	f, err := ParseFile(filepath.Join("..", "packaging", "nats", "fleet.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Devices) == 0 {
		t.Fatal("example fleet has no devices")
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	for k, v := range map[string]string{
		"PALIER_HUB_NAME": "hub-0", "PALIER_STORE_DIR": filepath.Join(dir, "js"),
		"PALIER_TLS_CERT": cert, "PALIER_TLS_KEY": key, "PALIER_TLS_CA": cert,
		"PALIER_RECEIVER_HASH": string(hash), "PALIER_LEAF_HASH": string(hash), "PALIER_SYS_HASH": string(hash),
	} {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "packaging", "nats", "hub.conf"))
	if err != nil {
		t.Fatalf("hub.conf: %v", err)
	}
	if !opts.SyncAlways || opts.JetStreamDomain != "palier-hub" || opts.Cluster.Name != "palier-hub" || len(opts.Routes) != 3 {
		t.Fatalf("hub.conf: sync always %v, domain %q, cluster %q, %d routes", opts.SyncAlways, opts.JetStreamDomain, opts.Cluster.Name, len(opts.Routes))
	}
	var users []string
	for _, u := range opts.Users {
		users = append(users, u.Username)
		if u.Password != string(hash) {
			t.Errorf("hub user %s: password %q did not come from the environment", u.Username, u.Password)
		}
	}
	sort.Strings(users)
	if fmt.Sprint(users) != "[palier-leaf palier-receiver palier-sys]" {
		t.Errorf("hub users %v", users)
	}
}
