package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// credCabin runs a real cabin (outbox, uplink, credential store) on the
// operator-mode leaf with a first credential.
type credCabin struct {
	up    *uplink.Uplink
	store *agentcred.Store
}

func startCredCabin(t *testing.T, l *devcredtest.Leaf, dev natsauth.Device, first devcred.Credential) *credCabin {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credential.jwt")
	if err := os.WriteFile(path, []byte(first.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := uplink.DefaultConfig()
	cfg.Broker, cfg.Protocol = "ssl://"+l.MQTTAddr, uplink.Protocol311
	cfg.TLS.CAFile, cfg.TLS.ServerName = l.CAFile, "127.0.0.1"
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 500*time.Millisecond
	up, err := uplink.New(cfg, dev.Site, dev.Cabin, ob, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store, err := agentcred.Open(agentcred.Options{Path: path, Site: dev.Site, Cabin: dev.Cabin,
		Append: func(ctx context.Context, ev wire.Event) error {
			b, _ := json.Marshal(ev)
			_, err := ob.Append(ctx, outbox.ClassOf(ev.Type), b)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	up.SwitchPassword(store.Password())
	up.OnCredential, up.OnSession = store.Deliver, store.SessionUp
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); up.Run(ctx) }()
	go func() { defer wg.Done(); store.Run(ctx, up) }()
	t.Cleanup(func() { cancel(); wg.Wait(); ob.Close() })
	return &credCabin{up: up, store: store}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * devcredtest.Guard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCredentialEndpoints: an admin rotates a real cabin's credential and
// revokes another's through the API, on the operator-mode leaf, through a
// real devcred.Manager; readers may not; bad ids are named.
func TestCredentialEndpoints(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	mgr, err := devcred.Connect(l.Auth, devcred.LeafConfig{NATSURL: l.ClientURL, MQTTURL: "ssl://" + l.MQTTAddr, TLS: l.TLS, Resend: time.Second, Timeout: time.Minute},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	f := newFixture(t, map[string]Role{"r-token": RoleRead, "a-token": RoleAdmin}, func(o *Options) { o.Credentials = mgr })

	a, b := natsauth.Device{Site: "les-pins", Cabin: "a"}, natsauth.Device{Site: "les-pins", Cabin: "b"}
	firstA, _ := l.Auth.IssueDevice(a, time.Now(), time.Hour)
	firstB, _ := l.Auth.IssueDevice(b, time.Now(), time.Hour)
	ca := startCredCabin(t, l, a, firstA)
	cb := startCredCabin(t, l, b, firstB)
	waitUntil(t, "both cabins connected", func() bool { return ca.up.Connected() && cb.up.Connected() })

	f.token = "r-token"
	if code, body, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/a/credential/rotate", "", nil); code != http.StatusForbidden {
		t.Fatalf("reader rotates: %d %s", code, body)
	}
	f.token = "a-token"
	code, body, _ := f.do(t, "POST", "/api/v1/cabins/les-pins/a/credential/rotate", "", nil)
	if code != http.StatusAccepted || !strings.Contains(string(body), `"status":"rotating"`) {
		t.Fatalf("rotate: %d %s", code, body)
	}
	waitUntil(t, "cabin a on a new credential, its previous one revoked", func() bool {
		cur := ca.store.Current()
		return cur != "" && cur != firstA.ID && ca.up.Connected() && mgr.Rotating() == 0
	})
	old := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID("palier_les-pins_a_old").SetUsername("x").SetPassword(firstA.JWT).SetAutoReconnect(false).SetConnectTimeout(devcredtest.Guard))
	if old.Connect().WaitTimeout(devcredtest.Guard) && old.IsConnected() {
		old.Disconnect(0)
		t.Error("cabin a's previous credential still connects")
	}

	for in, want := range map[string]string{
		`{"ids":[]}`:       "ids: 0 given",
		`{"ids":["UABC"]}`: "ids[0]",
		`{"ids":["` + firstB.ID + `"], "why":"x"}`: "unknown field",
	} {
		code, body, _ := f.do(t, "POST", "/api/v1/credentials/revoke", "application/json", []byte(in))
		if code != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("revoke %s: %d %s, want 400 naming %q", in, code, body, want)
		}
	}
	code, body, _ = f.do(t, "POST", "/api/v1/credentials/revoke", "application/json", []byte(`{"ids":["`+firstB.ID+`"]}`))
	if code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	waitUntil(t, "cabin b cut off", func() bool { return !cb.up.Connected() })
	if !ca.up.Connected() {
		t.Error("cabin a lost its session in b's revocation")
	}

	// Without a manager: 503 naming the setting.
	g := newFixture(t, map[string]Role{"a-token": RoleAdmin})
	g.token = "a-token"
	if code, body, _ := g.do(t, "POST", "/api/v1/cabins/les-pins/a/credential/rotate", "", nil); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "credentials.authority_file") {
		t.Errorf("no manager: %d %s", code, body)
	}
}
