package e2e_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/nettest"
	"github.com/palier-lifts/palier/natsembed"
	"github.com/palier-lifts/palier/outbox"
	"github.com/palier-lifts/palier/receiver"
)

// TestOfflineWhileNoReceiverRuns is the presence finding of issue 14: the
// cabin's last will, published while no receiver listened, was lost and
// the cabin showed online for ever. Now the broker's state stream keeps it
// for whichever receiver starts next.
func TestOfflineWhileNoReceiverRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	// The broker lives apart from the receiver, as the leaf node does.
	srv, err := natsembed.Start(natsembed.Config{Port: -1, MQTTPort: -1, StoreDir: filepath.Join(dir, "nats"), ServerName: "leaf"}, logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	startRcv := func(ctx context.Context) (*receiver.Receiver, <-chan struct{}) {
		rcfg := receiverConfig(filepath.Join(dir, "receiver"))
		rcfg.NATS.URL = srv.ClientURL()
		rcfg.NATS.MQTTURL = "tcp://" + srv.MQTTAddr()
		return startReceiver(t, ctx, rcfg)
	}
	rctx, rcancel := context.WithCancel(ctx)
	rcv, stopped := startRcv(rctx)

	ob, err := outbox.Open(ctx, filepath.Join(dir, "outbox.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	proxy := nettest.StartProxy(t, srv.MQTTAddr())
	startUplinkTo(t, ctx, "tcp://"+proxy.Addr(), ob, nil)
	waitCabin(t, rcv, func(online bool) bool { return online }, "online")

	// No receiver; then the cabin dies without a word.
	rcancel()
	<-stopped
	proxy.SetBlackout(true) // its reconnections go nowhere
	proxy.Drop()
	time.Sleep(500 * time.Millisecond) // the broker notices and publishes the will

	rcv, _ = startRcv(ctx)
	waitCabin(t, rcv, func(online bool) bool { return !online }, "offline")
}

// waitCabin waits until the receiver's view of the cabin's presence is ok.
func waitCabin(t *testing.T, rcv *receiver.Receiver, ok func(online bool) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := rcv.Store().Cabin(context.Background(), site, cabin)
		if err == nil && ok(c.Online) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cabin never showed %s: %+v, %v", what, c, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
