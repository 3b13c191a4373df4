package natsembed_test

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/natsembed"
)

func TestStartServesNATSAndMQTT(t *testing.T) {
	s, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()

	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect NATS at %s: %v", s.ClientURL(), err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}

	addr := s.MQTTAddr()
	if _, port, _ := net.SplitHostPort(addr); port == "0" || port == "-1" {
		t.Fatalf("MQTT address %q has no bound port", addr)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("MQTT listener at %s: %v", addr, err)
	}
	conn.Close()
}

func TestStartNeedsStoreDir(t *testing.T) {
	if _, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("started without a StoreDir; MQTT needs JetStream")
	}
}

// The server stops when its owner says so, and only then; Shutdown may be
// called twice (on an error path and again on the way out).
func TestShutdownStopsTheListeners(t *testing.T) {
	s, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect NATS at %s: %v", s.ClientURL(), err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("server not serving before Shutdown: %v", err)
	}
	s.Shutdown()
	s.Shutdown()
	if _, err := net.DialTimeout("tcp", s.MQTTAddr(), time.Second); err == nil {
		t.Fatalf("MQTT listener %s still accepts after Shutdown", s.MQTTAddr())
	}
	if _, err := nats.Connect(s.ClientURL(), nats.Timeout(time.Second)); err == nil {
		t.Fatalf("NATS listener %s still accepts after Shutdown", s.ClientURL())
	}
}
