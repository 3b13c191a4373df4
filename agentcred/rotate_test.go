package agentcred_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/devcred/devcredtest"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

var cabins = flag.Int("rotate.cabins", 100, "cabins in TestRotateFleet")

const guard = devcredtest.Guard

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// cabin is a cabin's real outbox, uplink and credential store.
type cabin struct {
	name     string
	ob       *outbox.Outbox
	up       *uplink.Uplink
	cred     *agentcred.Store
	appended atomic.Int64
}

const site = "les-pins"

func startCabin(t *testing.T, ctx context.Context, l *devcredtest.Leaf, dir, name string, first devcred.Credential) *cabin {
	t.Helper()
	return startCabinGrace(t, ctx, l, dir, name, first, time.Minute)
}

func startCabinGrace(t *testing.T, ctx context.Context, l *devcredtest.Leaf, dir, name string, first devcred.Credential, grace time.Duration) *cabin {
	t.Helper()
	ob, err := outbox.Open(ctx, filepath.Join(dir, name, "outbox.db"), outbox.Options{Logger: quiet(), ResendAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	path := filepath.Join(dir, name, "credential.jwt")
	if err := os.WriteFile(path, []byte(first.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := uplink.DefaultConfig()
	cfg.Broker = "ssl://" + l.MQTTAddr
	cfg.Protocol = uplink.Protocol311
	cfg.Username = site + "-" + name
	cfg.TLS.CAFile = l.CAFile
	cfg.TLS.ServerName = "127.0.0.1"
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, time.Second
	up, err := uplink.New(cfg, site, name, ob, quiet())
	if err != nil {
		t.Fatal(err)
	}
	c := &cabin{name: name, ob: ob, up: up}
	c.cred, err = agentcred.Open(agentcred.Options{
		Path: path, Site: site, Cabin: name, Logger: quiet(), Grace: grace,
		Append: func(ctx context.Context, ev wire.Event) error {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
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
	if c.cred.Current() != first.ID {
		t.Fatalf("cabin %s: credential %q on disk, want %s", name, c.cred.Current(), first.ID)
	}
	up.SwitchPassword(c.cred.Password())
	up.OnCredential = c.cred.Deliver
	up.OnSession = c.cred.SessionUp
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); up.Run(ctx) }()
	go func() { defer wg.Done(); c.cred.Run(ctx, up) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// send appends an arrival every interval until ctx is done.
func (c *cabin) send(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for floor := 0; ; floor = (floor + 1) % 8 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ev, _ := wire.NewEvent(time.Now(), wire.TypeArrival, wire.ArrivalData{Floor: floor})
		b, _ := json.Marshal(ev)
		if _, err := c.ob.Append(context.Background(), outbox.ClassEvents, b); err == nil {
			c.appended.Add(1)
		}
	}
}

// receiver stands in for the receiver's part: it stores every event once
// per (cabin, epoch, seq), acknowledges cumulatively, and notes each
// cabin's first credential_rotated.
type receiver struct {
	t       *testing.T
	auth    *devcred.Authority
	nc, sys *nats.Conn
	mu      sync.Mutex
	stored  map[string]map[uint64]bool // cabin/epoch → seqs
	rotated map[string]wire.CredentialRotatedData
	errs    atomic.Int64
	ack     atomic.Pointer[nats.Conn] // acknowledges on this one when set (after a cutover)
}

func (r *receiver) handle(m *nats.Msg) {
	b, err := wire.DecodeBatchForward(m.Data)
	if err != nil {
		r.errs.Add(1)
		return
	}
	key := b.Cabin + "/" + b.Epoch
	r.mu.Lock()
	if r.stored[key] == nil {
		r.stored[key] = map[uint64]bool{}
	}
	for _, ev := range b.Events {
		r.stored[key][ev.Seq] = true
		if ev.Type == wire.TypeCredentialRotated {
			var d wire.CredentialRotatedData
			if json.Unmarshal(ev.Data, &d) != nil {
				r.errs.Add(1)
				continue
			}
			// A report made again (a delivery repeated before the first
			// report arrived) changes nothing.
			if _, seen := r.rotated[b.Cabin]; !seen {
				r.rotated[b.Cabin] = d
			}
		}
	}
	var upTo uint64
	for upTo+1 > 0 && r.stored[key][upTo+1] {
		upTo++
	}
	r.mu.Unlock()
	if upTo > 0 {
		ack, _ := json.Marshal(wire.Ack{V: wire.Version, Epoch: b.Epoch, Seq: upTo})
		nc := r.nc
		if c := r.ack.Load(); c != nil {
			nc = c
		}
		_ = nc.Publish(wire.AckSubject(b.Site, b.Cabin), ack)
	}
}

// TestRotateFleet rotates every cabin's credential while the cabins send
// events: each receives its new credential over MQTT (QoS 1, not
// retained), stores it, reconnects with it and reports credential_rotated;
// the receiver revokes the previous one. No event is lost, every cabin
// ends on its new credential, the old ones are refused.
func TestRotateFleet(t *testing.T) {
	began := time.Now()
	l := devcredtest.StartLeaf(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &receiver{t: t, auth: l.Auth, nc: l.Service(t), sys: l.System(t),
		stored: map[string]map[uint64]bool{}, rotated: map[string]wire.CredentialRotatedData{}}
	if _, err := r.nc.Subscribe(wire.EventsSubject, r.handle); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	fleet := make([]*cabin, *cabins)
	first := make([]devcred.Credential, *cabins)
	for i := range fleet {
		name := fmt.Sprintf("c%03d", i)
		var err error
		first[i], err = l.Auth.IssueDevice(natsauth.Device{Site: site, Cabin: name}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		fleet[i] = startCabin(t, ctx, l, dir, name, first[i])
	}
	sendCtx, stopSending := context.WithCancel(ctx)
	var senders sync.WaitGroup
	for _, c := range fleet {
		senders.Add(1)
		go func() { defer senders.Done(); c.send(sendCtx, 500*time.Millisecond) }()
	}
	waitFor(t, "every cabin connected", func() bool {
		for _, c := range fleet {
			if !c.up.Connected() {
				return false
			}
		}
		return true
	})

	t.Logf("%s: %d cabins connected", time.Since(began).Round(time.Millisecond), len(fleet))
	// The receiver's MQTT connection delivers the new credentials.
	svc, err := l.Auth.IssueService("palier-receiver", []string{"MQTT"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o := mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID("palier_receiver_test").SetUsername(svc.Name).SetPassword(svc.JWT).
		SetCleanSession(true).SetConnectTimeout(guard).SetWriteTimeout(guard)
	pub := mqtt.NewClient(o)
	if tok := pub.Connect(); !tok.WaitTimeout(guard) || tok.Error() != nil {
		t.Fatalf("receiver's MQTT connection: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	defer func() {
		if !t.Failed() {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range fleet {
			if _, ok := r.rotated[c.name]; !ok {
				t.Logf("cabin %s not reported: credential %s, uplink %+v, outbox %+v, %d appended, %d stored",
					c.name, c.cred.Current(), c.up.Stats(), c.ob.Stats(), c.appended.Load(), len(r.stored[c.name+"/"+c.ob.Epoch()]))
			}
		}
	}()
	// The rotation as the operator runs it (receiver credentials rotate):
	// issue, deliver, deliver again to the silent, revoke the previous
	// credentials of those that report.
	devices := make([]natsauth.Device, len(fleet))
	for i, c := range fleet {
		devices[i] = natsauth.Device{Site: site, Cabin: c.name}
	}
	var nextMu sync.Mutex
	next := map[string]string{} // cabin → new credential id, as reported
	rctx, rcancel := context.WithTimeout(ctx, 6*guard)
	defer rcancel()
	res, err := l.Auth.Rotate(rctx, devcred.RotateOptions{
		Devices: devices, TTL: 2 * time.Hour, Resend: 5 * time.Second,
		Events: l.Service(t), System: r.sys,
		Publish: func(ctx context.Context, topic string, payload []byte) error {
			tok := pub.Publish(topic, 1, false, payload)
			if !tok.WaitTimeout(6 * guard) {
				return fmt.Errorf("publish %s: no PUBACK", topic)
			}
			return tok.Error()
		},
		OnReport: func(d natsauth.Device, rep wire.CredentialRotatedData) {
			nextMu.Lock()
			next[d.Cabin] = rep.ID
			nextMu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("rotate: %v (%+v)", err, res)
	}
	if res.Issued != len(fleet) || res.Reported != len(fleet) || res.Revoked != len(fleet) || len(res.Pending) != 0 {
		t.Fatalf("rotation %+v, want all %d issued, reported and revoked", res, len(fleet))
	}
	t.Logf("%s: every cabin rotated", time.Since(began).Round(time.Millisecond))
	stopSending()
	senders.Wait()
	waitFor(t, "every event stored", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range fleet {
			if int64(len(r.stored[c.name+"/"+c.ob.Epoch()])) != c.appended.Load() {
				return false
			}
		}
		return true
	})
	t.Logf("%s: every event stored", time.Since(began).Round(time.Millisecond))
	cancel()

	var events int64
	for i, c := range fleet {
		d := r.rotated[c.name]
		if d.ID != next[c.name] || d.Previous != first[i].ID {
			t.Errorf("cabin %s reported %s after %s, want %s after %s", c.name, d.ID, d.Previous, next[c.name], first[i].ID)
		}
		if c.cred.Current() != d.ID {
			t.Errorf("cabin %s uses %s, want %s", c.name, c.cred.Current(), d.ID)
		}
		b, err := os.ReadFile(filepath.Join(dir, c.name, "credential.jwt"))
		if err != nil || strings.TrimSpace(string(b)) != c.up.Password() {
			t.Errorf("cabin %s's credential file is not what it connects with (%v)", c.name, err)
		}
		if st, err := os.Stat(filepath.Join(dir, c.name, "credential.jwt")); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("cabin %s's credential file mode: %v %v, want 0600", c.name, st.Mode(), err)
		}
		if p, err := devcred.Parse(c.up.Password()); err != nil || p.ID != d.ID {
			t.Errorf("cabin %s's uplink connects with another password (%v)", c.name, err)
		}
		if st := c.ob.Stats(); st.Evicted+st.Dropped != 0 {
			t.Errorf("cabin %s lost events: %+v", c.name, st)
		}
		events += c.appended.Load()
	}
	if r.errs.Load() != 0 {
		t.Errorf("%d undecodable batches", r.errs.Load())
	}
	// The old credentials are refused now.
	o = mqtt.NewClientOptions().AddBroker("ssl://" + l.MQTTAddr).SetTLSConfig(l.TLS).
		SetClientID(wire.ClientID(site, "c000") + "_old").SetUsername("old").SetPassword(first[0].JWT).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(guard)
	old := mqtt.NewClient(o)
	if tok := old.Connect(); tok.WaitTimeout(guard) && tok.Error() == nil {
		old.Disconnect(0)
		t.Error("a revoked credential connected")
	}
	t.Logf("%d cabins rotated, %d events stored, none lost", len(fleet), events)
}

// waitFor waits for ok, bounded: the bound fails the test, it does not
// measure anything.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(6 * guard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRefusedCredentialFallsBack: a delivered credential the broker
// refuses (signed by keys it does not trust) is given up after the grace
// period: the cabin goes back to its previous credential, file and
// session, reports no rotation, and its events keep flowing.
func TestRefusedCredentialFallsBack(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &receiver{t: t, auth: l.Auth, nc: l.Service(t), sys: l.System(t),
		stored: map[string]map[uint64]bool{}, rotated: map[string]wire.CredentialRotatedData{}}
	if _, err := r.nc.Subscribe(wire.EventsSubject, r.handle); err != nil {
		t.Fatal(err)
	}
	first, err := l.Auth.IssueDevice(natsauth.Device{Site: site, Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := startCabinGrace(t, ctx, l, dir, "a", first, time.Second)
	waitFor(t, "cabin connected", c.up.Connected)
	connects := c.up.Stats().Connects

	other, err := devcred.NewAuthority("PALIER")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := other.IssueDevice(natsauth.Device{Site: site, Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(bad.Delivery())
	c.cred.Deliver(b)
	waitFor(t, "the cabin back on its previous credential", func() bool {
		return c.up.Stats().Connects > connects && c.up.Connected() && c.up.Password() == first.JWT
	})
	if c.cred.Current() != first.ID {
		t.Errorf("current credential %s, want the previous %s", c.cred.Current(), first.ID)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "a", "credential.jwt")); err != nil || string(got) != first.JWT+"\n" {
		t.Errorf("credential file not restored (%v)", err)
	}
	sctx, stop := context.WithTimeout(ctx, time.Second)
	c.send(sctx, 100*time.Millisecond)
	stop()
	waitFor(t, "events stored", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return int64(len(r.stored["a/"+c.ob.Epoch()])) == c.appended.Load() && c.appended.Load() > 0
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rotated) != 0 {
		t.Errorf("rotation reported: %+v", r.rotated)
	}
}

// TestRevokedCabinKeepsItsEvents: a cabin revoked while it sends is cut
// off at once and refused while it keeps appending; re-provisioned (a new
// credential on disk, the agent restarted on the same outbox, as agent
// provision does), it delivers every event it queued meanwhile.
func TestRevokedCabinKeepsItsEvents(t *testing.T) {
	l := devcredtest.StartLeaf(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &receiver{t: t, auth: l.Auth, nc: l.Service(t), sys: l.System(t),
		stored: map[string]map[uint64]bool{}, rotated: map[string]wire.CredentialRotatedData{}}
	if _, err := r.nc.Subscribe(wire.EventsSubject, r.handle); err != nil {
		t.Fatal(err)
	}
	first, err := l.Auth.IssueDevice(natsauth.Device{Site: site, Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cctx, stopCabin := context.WithCancel(ctx)
	c := startCabin(t, cctx, l, dir, "a", first)
	sctx, stopSending := context.WithCancel(ctx)
	sent := make(chan struct{})
	go func() { defer close(sent); c.send(sctx, 20*time.Millisecond) }()
	stored := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.stored["a/"+c.ob.Epoch()])
	}
	waitFor(t, "events flowing", func() bool { return stored() >= 10 })

	rctx, rcancel := context.WithTimeout(ctx, guard)
	defer rcancel()
	if err := l.Auth.Revoke(rctx, r.sys, []string{first.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked cabin disconnected", func() bool { return !c.up.Connected() })
	// Revoked: the cabin keeps appending while its uplink is refused.
	before := stored()
	queued := c.appended.Load()
	waitFor(t, "events queued while revoked", func() bool { return c.appended.Load() >= queued+50 })
	stopSending()
	<-sent
	if got := stored(); got > before {
		// Only what was in flight at the revocation may still arrive.
		t.Logf("%d events arrived after the revocation (in flight)", got-before)
	}
	if c.up.Connected() {
		t.Fatal("revoked cabin reconnected")
	}
	if st := c.up.Stats(); st.Connects != 1 {
		t.Errorf("revoked cabin connected %d times, want once", st.Connects)
	}
	epoch, appended := c.ob.Epoch(), c.appended.Load()
	stopCabin()
	// Close the outbox the way the agent does on exit, then re-provision.
	if err := c.ob.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := l.Auth.IssueDevice(natsauth.Device{Site: site, Cabin: "a"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c2 := startCabin(t, ctx, l, dir, "a", second)
	if c2.ob.Epoch() != epoch {
		t.Fatalf("outbox epoch %s after re-provisioning, want %s (the same file)", c2.ob.Epoch(), epoch)
	}
	waitFor(t, "every event queued while revoked stored", func() bool { return int64(stored()) == appended })
	if st := c2.ob.Stats(); st.Evicted+st.Dropped != 0 {
		t.Errorf("events lost: %+v", st)
	}
}
