package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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

func TestCredentialsInitAndTrust(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority.yaml")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"credentials", "init", "--out", auth}, &stdout, &stderr); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr.String())
	}
	st, err := os.Stat(auth)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("authority file: %v %v, want mode 0600", st.Mode(), err)
	}
	a, err := devcred.LoadAuthority(auth)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), a.AccountPublicKey()) {
		t.Errorf("init did not print the account's public key: %s", stdout.String())
	}
	if code := run([]string{"credentials", "init", "--out", auth}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "exists") {
		t.Errorf("init over an existing authority: exit %d, %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"credentials", "trust", "--authority", auth}, &stdout, &stderr); code != 0 {
		t.Fatalf("trust: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"operator: ", "system_account: \"" + a.SystemPublicKey(), a.AccountPublicKey() + ": "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("trust.conf lacks %q:\n%s", want, stdout.String())
		}
	}
	// A readable authority is refused: its keys admit anyone.
	if err := os.Chmod(auth, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"credentials", "trust", "--authority", auth}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "chmod 600") {
		t.Errorf("trust with a readable authority: exit %d, %s", code, stderr.String())
	}
	if code := run([]string{"credentials", "frobnicate"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
}

// TestCredentialsIssueAndRevoke: a cabin's credential issued by the
// command connects to the operator-mode leaf; revoked by the command, its
// session closes and it is refused.
func TestCredentialsIssueAndRevoke(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority.yaml")
	if err := l.Auth.WriteFile(auth); err != nil {
		t.Fatal(err)
	}
	cred := filepath.Join(dir, "credential.jwt")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"credentials", "issue", "--authority", auth, "--site", "les-pins", "--cabin", "a", "--ttl", "1h", "--out", cred}, &stdout, &stderr); code != 0 {
		t.Fatalf("issue: exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	c, err := devcred.Parse(string(b))
	if err != nil || c.Site != "les-pins" || c.Cabin != "a" {
		t.Fatalf("issued %+v, %v", c, err)
	}
	if code := run([]string{"credentials", "issue", "--authority", auth, "--site", "Les Pins", "--cabin", "a", "--out", cred}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "site") {
		t.Errorf("issue for a bad site id: exit %d, %s", code, stderr.String())
	}

	lost := make(chan struct{}, 1)
	o := mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID(wire.ClientID("les-pins", "a")).SetUsername("les-pins-a").SetPassword(c.JWT).
		SetAutoReconnect(false).SetConnectTimeout(devcredtest.Guard).
		SetConnectionLostHandler(func(mqtt.Client, error) { lost <- struct{}{} })
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(devcredtest.Guard) || tok.Error() != nil {
		t.Fatalf("connect with the issued credential: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	stdout.Reset()
	if code := run([]string{"credentials", "revoke", "--authority", auth, "--leaf", l.ClientURL, "--ca", l.CAFile, c.ID}, &stdout, &stderr); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr.String())
	}
	select {
	case <-lost:
	case <-time.After(devcredtest.Guard):
		t.Fatal("revoked cabin still connected")
	}
	cl2 := mqtt.NewClient(o)
	if tok := cl2.Connect(); tok.WaitTimeout(devcredtest.Guard) && tok.Error() == nil {
		cl2.Disconnect(0)
		t.Fatal("revoked credential connected again")
	}
	if code := run([]string{"credentials", "revoke", "--authority", auth, "--leaf", l.ClientURL, "not-an-id"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not a credential id") {
		t.Errorf("revoke a bad id: exit %d, %s", code, stderr.String())
	}
}

// TestCredentialsRotate: the command rotates a real cabin (outbox, uplink,
// credential store) on the operator-mode leaf and revokes its previous
// credential; a cabin that never reports is named when it gives up.
func TestCredentialsRotate(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "authority.yaml")
	if err := l.Auth.WriteFile(auth); err != nil {
		t.Fatal(err)
	}
	dev := natsauth.Device{Site: "les-pins", Cabin: "a"}
	first, err := l.Auth.IssueDevice(dev, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	credPath := filepath.Join(dir, "credential.jwt")
	if err := os.WriteFile(credPath, []byte(first.JWT), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := uplink.DefaultConfig()
	cfg.Broker, cfg.Protocol = "ssl://"+l.MQTTAddr, uplink.Protocol311
	cfg.TLS.CAFile, cfg.TLS.ServerName = l.CAFile, "127.0.0.1"
	up, err := uplink.New(cfg, dev.Site, dev.Cabin, ob, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	store, err := agentcred.Open(agentcred.Options{Path: credPath, Site: dev.Site, Cabin: dev.Cabin,
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
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); up.Run(ctx) }()
	go func() { defer wg.Done(); store.Run(ctx, up) }()

	// A fleet file after the move to credentials: no password hashes.
	fleet := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(fleet, []byte("devices:\n  - site: les-pins\n    cabin: a\n  - site: les-pins\n    cabin: ghost\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"credentials", "rotate", "--authority", auth, "--leaf", l.ClientURL, "--mqtt", "ssl://" + l.MQTTAddr,
		"--ca", l.CAFile, "--fleet", fleet, "--resend", "1s", "--timeout", "4s"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "les-pins/ghost") || strings.Contains(stderr.String(), "les-pins/a ") {
		t.Fatalf("rotate: exit %d, %s\n%s; want exit 1 naming only the ghost cabin", code, stdout.String(), stderr.String())
	}
	if code := run([]string{"credentials", "rotate", "--authority", auth, "--leaf", l.ClientURL, "--mqtt", "ssl://" + l.MQTTAddr,
		"--cabin", "les-pins"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("--cabin without a slash: exit %d, want 2 (usage)", code)
	}
	if !strings.Contains(stdout.String(), "2 issued, 1 reported, 1 previous revoked") {
		t.Errorf("rotate said:\n%s", stdout.String())
	}
	if store.Current() == first.ID || store.Current() == "" {
		t.Errorf("the cabin still uses %q", store.Current())
	}
	o := mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID("palier_les-pins_a_old").SetUsername("x").SetPassword(first.JWT).
		SetAutoReconnect(false).SetConnectTimeout(devcredtest.Guard)
	if cl := mqtt.NewClient(o); cl.Connect().WaitTimeout(devcredtest.Guard) && cl.IsConnected() {
		cl.Disconnect(0)
		t.Error("the previous credential still connects")
	}
}
