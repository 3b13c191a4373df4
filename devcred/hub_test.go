package devcred_test

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/wire"
)

// TestLeafForwardsToTheHub: the operator-mode leaf (leaf-jwt.conf) binds
// its PALIER account, known by public key, to the shipped hub's PALIER
// account (hub.conf, passwords, unchanged): a cabin's events published
// with its credential reach the receiver on the hub, and the receiver's
// acknowledgements reach the cabin.
func TestLeafForwardsToTheHub(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := nettest.WriteCert(t, dir)
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	t.Setenv("PALIER_HUB_NAME", "hub-test")
	t.Setenv("PALIER_STORE_DIR", filepath.Join(dir, "hub-js"))
	t.Setenv("PALIER_TLS_CERT", cert)
	t.Setenv("PALIER_TLS_KEY", key)
	t.Setenv("PALIER_TLS_CA", cert)
	t.Setenv("PALIER_RECEIVER_HASH", hash("pw-receiver"))
	t.Setenv("PALIER_LEAF_HASH", hash("pw-leaf"))
	t.Setenv("PALIER_SYS_HASH", hash("pw-sys"))
	opts, err := natsserver.ProcessConfigFile(filepath.Join("..", "packaging", "nats", "hub.conf"))
	if err != nil {
		t.Fatalf("hub.conf: %v", err)
	}
	// One node: no cluster, free ports.
	opts.Cluster = natsserver.ClusterOpts{}
	opts.Routes = nil
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.LeafNode.Host, opts.LeafNode.Port = "127.0.0.1", -1
	opts.NoLog, opts.NoSigs = true, true
	hub, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go hub.Start()
	t.Cleanup(func() { hub.Shutdown(); hub.WaitForShutdown() })
	if !hub.ReadyForConnections(guard) {
		t.Fatal("hub not ready")
	}

	auth, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	l := devcredtest.StartLeafWith(t, auth, devcredtest.Options{MQTTPort: -1,
		HubURL: fmt.Sprintf("tls://palier-leaf:pw-leaf@127.0.0.1:%d", opts.LeafNode.Port), HubCA: cert})
	deadline := time.Now().Add(guard)
	for hub.NumLeafNodes() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the leaf never connected to the hub")
		}
		time.Sleep(20 * time.Millisecond)
	}

	recv, err := nats.Connect(fmt.Sprintf("tls://127.0.0.1:%d", opts.Port), nats.UserInfo("palier-receiver", "pw-receiver"),
		nats.Secure(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("receiver on the hub: %v", err)
	}
	defer recv.Close()
	events := make(chan *nats.Msg, 64)
	if _, err := recv.ChanSubscribe(wire.EventsSubject, events); err != nil {
		t.Fatal(err)
	}
	if err := recv.Flush(); err != nil {
		t.Fatal(err)
	}

	c, err := auth.IssueDevice(natsauth.Device{Site: "les-pins", Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	acks := make(chan string, 64)
	cabin, err := connect(t, l, c, wire.ClientID("les-pins", "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok := cabin.Subscribe(wire.TopicsFor("les-pins", "a").Ack, 1, func(_ mqtt.Client, m mqtt.Message) { acks <- string(m.Payload()) }); !tok.WaitTimeout(guard) || tok.Error() != nil {
		t.Fatalf("subscribe ack: %v", tok.Error())
	}
	// Interest crosses the leaf link asynchronously: publish until seen.
	deadline = time.Now().Add(guard)
	for got := false; !got; {
		publish(t, cabin, wire.TopicsFor("les-pins", "a").Events, "events of a")
		select {
		case m := <-events:
			got = m.Subject == wire.EventsSubjectOf("les-pins", "a") && string(m.Data) == "events of a"
		case <-time.After(200 * time.Millisecond):
		}
		if !got && time.Now().After(deadline) {
			t.Fatal("the cabin's events never reached the hub")
		}
	}
	deadline = time.Now().Add(guard)
	for got := false; !got; {
		if err := recv.Publish(wire.AckSubject("les-pins", "a"), []byte("ack of a")); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-acks:
			got = a == "ack of a"
		case <-time.After(200 * time.Millisecond):
		}
		if !got && time.Now().After(deadline) {
			t.Fatal("the receiver's acks never reached the cabin")
		}
	}
}
