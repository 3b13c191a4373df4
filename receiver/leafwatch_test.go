package receiver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

// TestLeafTakeoverIsReported: on a leaf node the receiver does not run,
// it cannot cut an impostor, but it sees one through the leaf's monitoring
// endpoint and counts it, naming the user (issue 20, finding 8, for the
// production topology).
func TestLeafTakeoverIsReported(t *testing.T) {
	dir := t.TempDir()
	hash := func(pw string) string { return testHash(t, pw) }
	fleet := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(fleet, []byte(`services:
  - user: palier-receiver
    password_hash: "`+hash("receiver-password-xyz")+`"
    clients: [STANDARD, MQTT]
devices:
  - site: s1
    cabin: c1
    password_hash: "`+hash("device-password-c1")+`"
  - site: s1
    cabin: c2
    password_hash: "`+hash("device-password-c2")+`"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	users, _, err := embeddedUsers(fleet)
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		users[i].ClientID = "" // a leaf we do not run: it lets the impostor be
	}
	leaf, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, MonitorPort: -1,
		StoreDir: filepath.Join(dir, "leaf"), ServerName: "leaf", Users: users}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	pwFile := filepath.Join(dir, "mqtt-password")
	if err := os.WriteFile(pwFile, []byte("receiver-password-xyz"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	// The receiver's user, from nats.username and nats.password_file.
	cfg.NATS.URL = leaf.ClientURL()
	cfg.NATS.Username, cfg.NATS.PasswordFile = "palier-receiver", pwFile
	cfg.NATS.MQTTURL = "tcp://" + leaf.MQTTAddr()
	cfg.NATS.MQTTUsername = "palier-receiver"
	cfg.NATS.MQTTPasswordFile = pwFile
	cfg.NATS.LeafMonitor = LeafMonitorConfig{URLs: []string{leaf.MonitorURL()}, Fleet: fleet, Interval: time.Second}
	r := start(t, cfg)

	dial := func(id, user, pw string) mqtt.Client {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + leaf.MQTTAddr()).SetClientID(id).
			SetUsername(user).SetPassword(pw).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).
			SetAutoReconnect(false) // one connection each: the impostor is not taken back
		c := mqtt.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s as %s: %v", id, user, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	dial(wire.ClientID("s1", "c1"), "s1-c1", "device-password-c1")
	time.Sleep(2500 * time.Millisecond) // two polls: the real cabin is no takeover
	if n := counter(t, r, "palier_receiver_client_id_takeovers_total"); n != 0 {
		t.Fatalf("%v takeovers counted for a cabin under its own id", n)
	}
	dial(wire.ClientID("s1", "c1"), "s1-c2", "device-password-c2")
	eventually(t, "the takeover on the leaf counted", func() bool {
		return counter(t, r, "palier_receiver_client_id_takeovers_total") == 1
	})
	time.Sleep(2500 * time.Millisecond) // still open: counted once, not at every poll
	if n := counter(t, r, "palier_receiver_client_id_takeovers_total"); n != 1 {
		t.Fatalf("%v takeovers counted for one impostor connection", n)
	}
}
