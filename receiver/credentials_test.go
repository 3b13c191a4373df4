package receiver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/wire"
)

func TestCredentialsConfigNamesTheField(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority.yaml")
	if err := os.WriteFile(auth, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  CredentialsConfig
		want string
	}{
		{CredentialsConfig{LeafURL: "tls://leaf:4222"}, "credentials.authority_file"},
		{CredentialsConfig{AuthorityFile: filepath.Join(dir, "none")}, "credentials.authority_file"},
		{CredentialsConfig{AuthorityFile: auth, LeafURL: "nats://leaf:4222", LeafMQTTURL: "ssl://leaf:8883"}, "credentials.leaf_url"},
		{CredentialsConfig{AuthorityFile: auth, LeafURL: "tls://leaf:4222", LeafMQTTURL: "tcp://leaf:1883"}, "credentials.leaf_mqtt_url"},
		{CredentialsConfig{AuthorityFile: auth, LeafURL: "tls://leaf:4222", LeafMQTTURL: "ssl://leaf:8883", TTL: time.Minute}, "credentials.ttl"},
	} {
		cfg := testConfig(t)
		cfg.Credentials = c.cfg
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
	cfg := testConfig(t)
	cfg.Credentials = CredentialsConfig{AuthorityFile: auth, LeafURL: "tls://leaf:4222", LeafMQTTURL: "ssl://leaf:8883"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("good credentials section: %v", err)
	}
}

// TestReceiverRevokesThroughItsAPI: a receiver configured with the
// authority and the operator-mode leaf revokes a cabin through its HTTP
// API: the cabin's session on the leaf closes.
func TestReceiverRevokesThroughItsAPI(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority.yaml")
	if err := l.Auth.WriteFile(auth); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "admin.token")
	const adminToken = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(token, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.HTTP.Tokens = []TokenConfig{{Name: "ops", Role: RoleAdmin, File: token}}
	cfg.Credentials = CredentialsConfig{AuthorityFile: auth, LeafURL: l.ClientURL, LeafMQTTURL: "ssl://" + l.MQTTAddr, CAFile: l.CAFile}
	r := start(t, cfg)

	c, err := l.Auth.IssueDevice(natsauth.Device{Site: "les-pins", Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan struct{}, 1)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID(wire.ClientID("les-pins", "a")).SetUsername("les-pins-a").SetPassword(c.JWT).
		SetAutoReconnect(false).SetConnectTimeout(devcredtest.Guard).
		SetConnectionLostHandler(func(mqtt.Client, error) { lost <- struct{}{} }))
	if tok := cl.Connect(); !tok.WaitTimeout(devcredtest.Guard) || tok.Error() != nil {
		t.Fatalf("cabin: %v", tok.Error())
	}
	defer cl.Disconnect(0)

	req, _ := http.NewRequest("POST", "http://"+r.httpLn.Addr().String()+"/api/v1/credentials/revoke", strings.NewReader(`{"ids":["`+c.ID+`"]}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}
	select {
	case <-lost:
	case <-time.After(devcredtest.Guard):
		t.Fatal("revoked cabin still connected")
	}
}

// TestLeafTakeoverWithCredentialsIsReported: on an operator-mode leaf a
// cabin's connection is listed by its credential's public key; the watch
// names it by the credential's site and cabin tags, so a cabin holding
// another's client id is still counted, and one under its own is not.
func TestLeafTakeoverWithCredentialsIsReported(t *testing.T) {
	l := devcredtest.StartLeafWith(t, mustAuthority(t), devcredtest.Options{MQTTPort: -1, Monitor: true})
	devs := []natsauth.Device{{Site: "s1", Cabin: "c1"}, {Site: "s1", Cabin: "c2"}}
	var users []natsembed.User
	for _, d := range devs {
		users = append(users, natsembed.User{Name: d.UserName(), ClientID: wire.ClientID(d.Site, d.Cabin)})
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w := NewLeafWatch([]string{l.MonitorURL()}, users, time.Hour, m, testLogger(t))
	dial := func(d natsauth.Device, clientID string) {
		c, err := l.Auth.IssueDevice(d, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
			SetClientID(clientID).SetUsername(c.Name).SetPassword(c.JWT).SetAutoReconnect(false).SetConnectTimeout(devcredtest.Guard))
		if tok := cl.Connect(); !tok.WaitTimeout(devcredtest.Guard) || tok.Error() != nil {
			t.Fatalf("%s as %s: %v", clientID, d.UserName(), tok.Error())
		}
		t.Cleanup(func() { cl.Disconnect(0) })
	}
	takeovers := func() float64 {
		var d dto.Metric
		if err := m.ClientIDTakeovers.Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetCounter().GetValue()
	}
	ctx := context.Background()
	dial(devs[0], wire.ClientID("s1", "c1"))
	if err := w.check(ctx, l.MonitorURL()); err != nil {
		t.Fatal(err)
	}
	if n := takeovers(); n != 0 {
		t.Fatalf("%v takeovers counted for a cabin under its own id", n)
	}
	dial(devs[1], wire.ClientID("s1", "c1")+"_x") // c2's credential, c1's id
	if err := w.check(ctx, l.MonitorURL()); err != nil {
		t.Fatal(err)
	}
	if n := takeovers(); n != 1 {
		t.Fatalf("%v takeovers counted, want 1 (c2's credential under c1's id)", n)
	}
}

func mustAuthority(t *testing.T) *devcred.Authority {
	t.Helper()
	a, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	return a
}
