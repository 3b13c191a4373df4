package agentcred_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// TestMigrateFromPasswords is a fleet moving from passwords to
// credentials without a site visit: on a broker that still takes
// passwords, the cabin receives its first credential, finds it refused,
// keeps its password and stages the credential; the broker is then
// replaced on the same address by the operator-mode leaf, the password is
// refused, and the cabin comes back with the staged credential and reports
// it. Every event, before, during and after, is stored.
func TestMigrateFromPasswords(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const password, recvPassword = "a-device-password-of-32-chars-xx", "receiver-password"
	dev := natsauth.Device{Site: site, Cabin: "a"}
	old, err := natsembed.Start(natsembed.Config{
		Port: -1, MQTTPort: -1, StoreDir: t.TempDir(), GuardInterval: time.Hour,
		Users: []natsembed.User{
			{Name: dev.UserName(), Password: password, Publish: dev.Publish(), Subscribe: dev.Subscribe(), Clients: []string{"MQTT"}},
			{Name: "palier-receiver", Password: recvPassword, Clients: []string{"MQTT", "STANDARD"}},
		},
	}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	stopOld := sync.OnceFunc(old.Shutdown)
	defer stopOld()
	oldNC, err := nats.Connect(old.ClientURL(), nats.UserInfo("palier-receiver", recvPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer oldNC.Close()
	r := &receiver{t: t, nc: oldNC, stored: map[string]map[uint64]bool{}, rotated: map[string]wire.CredentialRotatedData{}}
	if _, err := oldNC.Subscribe(wire.EventsSubject, r.handle); err != nil {
		t.Fatal(err)
	}

	// The cabin, on its password.
	dir := t.TempDir()
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{Logger: quiet(), ResendAfter: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	pwFile := filepath.Join(dir, "mqtt.password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := uplink.DefaultConfig()
	cfg.Broker = "tcp://" + old.MQTTAddr()
	cfg.Protocol = uplink.Protocol311
	cfg.Username = dev.UserName()
	cfg.PasswordFile = pwFile
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 500*time.Millisecond
	up, err := uplink.New(cfg, site, "a", ob, quiet())
	if err != nil {
		t.Fatal(err)
	}
	c := &cabin{name: "a", ob: ob, up: up}
	const grace = 2 * time.Second
	c.cred, err = agentcred.Open(agentcred.Options{
		Path: filepath.Join(dir, "credential.jwt"), Site: site, Cabin: "a", Password: up.Password(), Grace: grace, Logger: quiet(),
		Append: func(ctx context.Context, ev wire.Event) error {
			b, _ := json.Marshal(ev)
			if _, err := ob.Append(context.Background(), outbox.ClassOf(ev.Type), b); err != nil {
				return err
			}
			c.appended.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	up.OnCredential, up.OnSession = c.cred.Deliver, c.cred.SessionUp
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(3)
	go func() { defer wg.Done(); up.Run(ctx) }()
	go func() { defer wg.Done(); c.cred.Run(ctx, up) }()
	sendCtx, stopSending := context.WithCancel(ctx)
	go func() { defer wg.Done(); c.send(sendCtx, 50*time.Millisecond) }()
	waitFor(t, "connected with the password", up.Connected)

	// The first credential, delivered over the password broker.
	auth, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	first, err := auth.IssueDevice(dev, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + old.MQTTAddr()).SetClientID("palier_receiver_test").
		SetUsername("palier-receiver").SetPassword(recvPassword).SetConnectTimeout(guard))
	if tok := pub.Connect(); !tok.WaitTimeout(guard) || tok.Error() != nil {
		t.Fatalf("receiver's MQTT connection: %v", tok.Error())
	}
	b, _ := json.Marshal(first.Delivery())
	staged := filepath.Join(dir, "credential.jwt.staged")
	waitFor(t, "the credential staged, the password back", func() bool {
		if _, err := os.Stat(staged); err != nil {
			// Delivered again until the cabin has it, as the receiver does.
			pub.Publish(wire.CredentialTopic(site, "a"), 1, false, b).WaitTimeout(guard)
			time.Sleep(200 * time.Millisecond)
			return false
		}
		return up.Connected() && up.Password() == password
	})
	pub.Disconnect(0)
	if c.cred.Current() != "" {
		t.Fatalf("current credential %s on the password broker", c.cred.Current())
	}

	// Cutover: the operator-mode leaf on the same address.
	_, port, _ := net.SplitHostPort(old.MQTTAddr())
	mqttPort, _ := strconv.Atoi(port)
	oldNC.Close()
	stopOld()
	l := devcredtest.StartLeafWith(t, auth, devcredtest.Options{MQTTPort: mqttPort, PlainMQTT: true})
	leafNC := l.Service(t)
	r.ack.Store(leafNC)
	if _, err := leafNC.Subscribe(wire.EventsSubject, r.handle); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "credential_rotated from the staged credential", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.rotated["a"]
		return ok
	})
	r.mu.Lock()
	d := r.rotated["a"]
	r.mu.Unlock()
	if d.ID != first.ID || d.Previous != "" {
		t.Errorf("reported %+v, want %s after the password", d, first.ID)
	}
	if _, err := os.Stat(staged); err == nil {
		t.Error("staged credential still there once in use")
	}
	stopSending()
	stored := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.stored["a/"+ob.Epoch()])
	}
	// What the cutover left unconfirmed is sent again by the outbox.
	waitFor(t, "every event stored", func() bool { return int64(stored()) == c.appended.Load() })
	if st := ob.Stats(); st.Evicted+st.Dropped != 0 {
		t.Errorf("events lost: %+v", st)
	}
	t.Logf("%d events stored across the cutover", c.appended.Load())
}
