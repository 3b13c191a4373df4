package uplink_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/uplink"
)

func TestForcedMQTT5AgainstNATSSaysWhatToSet(t *testing.T) {
	b := startBroker(t)
	cfg := testConfig(b)
	cfg.Protocol = uplink.Protocol5
	_, err := probe(t, cfg)
	if !errors.Is(err, uplink.ErrProtocol) {
		t.Fatalf("MQTT 5 against NATS: %v, want ErrProtocol", err)
	}
	var ce *uplink.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint, "3.1.1") {
		t.Fatalf("error %v does not say to set 3.1.1", err)
	}
	t.Logf("installer sees: %v", err)
}

func TestAutoDetectsNATSAsMQTT311AndRemembersIt(t *testing.T) {
	b := startBroker(t)
	px := nettest.StartProxy(t, b.mqttAddr)
	cfg := testConfig(b)
	cfg.Broker = "tcp://" + px.Addr()
	dir := t.TempDir()
	runOnce := func() {
		t.Helper()
		up, err := uplink.New(cfg, site, cabin, openOutbox(t), discard())
		if err != nil {
			t.Fatal(err)
		}
		up.StateDir = dir
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- up.Run(ctx) }()
		eventually(t, "connected", up.Connected)
		if p := up.Protocol(); p != uplink.Protocol311 {
			t.Fatalf("Protocol() = %q, want 3.1.1", p)
		}
		if err := stopRun(t, cancel, done); err != nil {
			t.Fatal(err)
		}
	}

	runOnce()
	if n := px.Accepted(); n != 2 {
		t.Fatalf("first start: %d connections, want 2 (MQTT 5 refused, then 3.1.1)", n)
	}
	raw, err := os.ReadFile(filepath.Join(dir, uplink.ProtocolFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"3.1.1"`) {
		t.Fatalf("remembered %s, want 3.1.1", raw)
	}

	// After a restart the remembered version is used at once.
	runOnce()
	if n := px.Accepted(); n != 3 {
		t.Fatalf("after a restart: %d connections in all, want 3 (3.1.1 straight away)", n)
	}

	// A damaged memory is ignored and detection runs again.
	os.WriteFile(filepath.Join(dir, uplink.ProtocolFile), []byte("{garbage"), 0o600)
	runOnce()
	if n := px.Accepted(); n != 5 {
		t.Fatalf("with a damaged memory: %d connections in all, want 5", n)
	}
}

func FuzzDecodeProtocolMemory(f *testing.F) {
	f.Add([]byte(`{"broker":"tcp://127.0.0.1:1883","protocol":"3.1.1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Must not panic, and what it accepts must be usable as is.
		broker, proto, err := uplink.DecodeProtocolMemory(b)
		if err != nil {
			return
		}
		if broker == "" || (proto != uplink.Protocol311 && proto != uplink.Protocol5) {
			t.Fatalf("accepted broker %q protocol %q", broker, proto)
		}
	})
}

// mqtt5OnlyBroker answers every 3.1.1 CONNECT with return code 1, as a
// broker that speaks MQTT 5 only would, and counts the refusals; MQTT 5
// CONNECTs go on to a real broker.
func mqtt5OnlyBroker(t *testing.T, real string) (addr string, refused *atomic.Int64) {
	t.Helper()
	ln := nettest.Listen(t)
	refused = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				// Fixed header, remaining length (< 128 here), then the
				// variable header: protocol name "MQTT" and the level.
				head := make([]byte, 9)
				if _, err := io.ReadFull(c, head); err != nil {
					c.Close()
					return
				}
				if head[8] != 5 {
					refused.Add(1)
					c.Write([]byte{0x20, 0x02, 0x00, 0x01})
					c.Close()
					return
				}
				up, err := net.Dial("tcp", real)
				if err != nil {
					c.Close()
					return
				}
				up.Write(head)
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), refused
}

func TestForcedMQTT311AgainstAnMQTT5OnlyBroker(t *testing.T) {
	mb := startMQTT5Broker(t, nil)
	addr, refused := mqtt5OnlyBroker(t, mb.addr)
	cfg := mqtt5Config(addr)
	cfg.Protocol = uplink.Protocol311
	probeFails(t, cfg, uplink.ErrProtocol, "set uplink.protocol to 5 or auto")

	// Auto remembering 3.1.1 for this broker falls back to 5 and remembers that.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, uplink.ProtocolFile), []byte(`{"broker":"tcp://`+addr+`","protocol":"3.1.1"}`), 0o600)
	cfg.Protocol = uplink.ProtocolAuto
	up, err := uplink.New(cfg, site, cabin, openOutbox(t), discard())
	if err != nil {
		t.Fatal(err)
	}
	up.StateDir = dir
	before := refused.Load()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	eventually(t, "connected", up.Connected)
	stopRun(t, cancel, done)
	if up.Protocol() != uplink.Protocol5 || refused.Load() != before+1 {
		t.Fatalf("protocol %q after %d refusals, want 5 after one", up.Protocol(), refused.Load()-before)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, uplink.ProtocolFile))
	if !strings.Contains(string(raw), `"protocol":"5"`) {
		t.Fatalf("remembered %s, want 5", raw)
	}
}
