package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// TestAgentRotatesItsCredential: the agent, with a credential in its state
// directory and no password, connects to the operator-mode leaf with it,
// takes a new one from its credential topic, stores it and reports
// credential_rotated naming both.
func TestAgentRotatesItsCredential(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	cfg := contactsConfig(t)
	cfg.Uplink.Broker = "ssl://" + l.MQTTAddr
	cfg.Uplink.Protocol = uplink.Protocol311
	cfg.Uplink.TLS.CAFile = l.CAFile
	cfg.Uplink.TLS.ServerName = "127.0.0.1"
	dev := natsauth.Device{Site: cfg.Site, Cabin: cfg.Cabin}
	first, err := l.Auth.IssueDevice(dev, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.StateDir, "credential.jwt")
	if err := os.WriteFile(path, []byte(first.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nc := l.Service(t)
	reports := make(chan wire.CredentialRotatedData, 4)
	if _, err := nc.Subscribe(wire.EventsSubjectOf(cfg.Site, cfg.Cabin), func(m *nats.Msg) {
		b, err := wire.DecodeBatch(m.Data)
		if err != nil {
			return
		}
		for _, ev := range b.Events {
			if ev.Type == wire.TypeCredentialRotated {
				var d wire.CredentialRotatedData
				if json.Unmarshal(ev.Data, &d) == nil {
					reports <- d
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.SetGPIOOpener(func(name string) (gpio.PinIn, error) { return &gpiotest.Pin{N: name, L: gpio.High}, nil })
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(devcredtest.Guard)
	for !a.Stats().Uplink.Connected {
		if time.Now().After(deadline) {
			t.Fatal("the agent never connected with its credential")
		}
		time.Sleep(10 * time.Millisecond)
	}

	next, err := l.Auth.IssueDevice(dev, time.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := l.Auth.IssueService("palier-receiver", []string{"MQTT"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID("palier_receiver_test").SetUsername(svc.Name).SetPassword(svc.JWT).SetConnectTimeout(devcredtest.Guard))
	if tok := pub.Connect(); !tok.WaitTimeout(devcredtest.Guard) || tok.Error() != nil {
		t.Fatalf("receiver's MQTT connection: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	b, _ := json.Marshal(next.Delivery())
	var got wire.CredentialRotatedData
	for got.ID == "" {
		if tok := pub.Publish(wire.CredentialTopic(cfg.Site, cfg.Cabin), 1, false, b); !tok.WaitTimeout(devcredtest.Guard) || tok.Error() != nil {
			t.Fatalf("deliver: %v", tok.Error())
		}
		select {
		case got = <-reports:
		case <-time.After(5 * time.Second): // deliver again, as the receiver does
		}
		if time.Now().After(deadline.Add(devcredtest.Guard)) {
			t.Fatal("no credential_rotated")
		}
	}
	if got.ID != next.ID || got.Previous != first.ID {
		t.Fatalf("credential_rotated %+v, want %s after %s", got, next.ID, first.ID)
	}
	if b, err := os.ReadFile(path); err != nil || strings.TrimSpace(string(b)) != next.JWT {
		t.Fatalf("credential file is not the new credential (%v)", err)
	}
}

// TestAgentRefusesAnotherCabinsCredential: a credential file of another
// cabin (the wrong USB stick) stops the agent at start, naming both.
func TestAgentRefusesAnotherCabinsCredential(t *testing.T) {
	cfg := contactsConfig(t)
	auth, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.IssueDevice(natsauth.Device{Site: cfg.Site, Cabin: "other"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "credential.jwt"), []byte(other.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "/other's, not ") {
		t.Fatalf("New = %v, want an error naming the other cabin", err)
	}
}
