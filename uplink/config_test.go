package uplink_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// The site's and the cabin's desired configurations, retained before the
// agent connects, both reach OnDesiredConfig; one for another cabin, one on
// the wrong topic and a malformed one are refused and counted.
func TestDesiredConfigsReachTheAgent(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	up, err := uplink.New(testConfig(b), site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]uint64{}
	up.OnDesiredConfig = func(d wire.DesiredConfig) { mu.Lock(); got[d.Scope()] = d.Version; mu.Unlock() }

	pub := mqttClient(t, b, "receiver-downlink")
	defer pub.Disconnect(0)
	publish := func(topic string, retain bool, v any) {
		t.Helper()
		raw, ok := v.([]byte)
		if !ok {
			raw, _ = json.Marshal(v)
		}
		if tok := pub.Publish(topic, 1, retain, raw); tok.Wait() && tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	at := time.Now().UTC().Truncate(time.Second)
	lvl := "debug"
	siteCfg := wire.DesiredConfig{V: wire.Version, Site: site, Version: 4, At: at, Config: wire.ConfigOverlay{LogLevel: &lvl}}
	cabinCfg := wire.DesiredConfig{V: wire.Version, Site: site, Cabin: cabin, Version: 2, At: at}
	publish(wire.SiteConfigTopic(site), true, siteCfg)
	publish(wire.ConfigTopic(site, cabin), true, cabinCfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "both retained configurations", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[wire.ConfigScopeSite] == 4 && got[wire.ConfigScopeCabin] == 2
	})
	other := cabinCfg
	other.Cabin, other.Version = "someone-else", 9
	publish(wire.ConfigTopic(site, cabin), false, other)
	wrongTopic := siteCfg
	wrongTopic.Version = 9
	publish(wire.ConfigTopic(site, cabin), false, wrongTopic)
	publish(wire.SiteConfigTopic(site), false, []byte(`{"v":1,"site":"test-site","version":9,"at":"2026-12-01T09:00:00Z","config":{"events":{"tirp_too_long":"1m"}}}`))
	eventually(t, "three refusals", func() bool { return up.Stats().BadConfigs == 3 })
	mu.Lock()
	defer mu.Unlock()
	if got[wire.ConfigScopeSite] != 4 || got[wire.ConfigScopeCabin] != 2 {
		t.Fatalf("a refused configuration reached the agent: %v", got)
	}
}

// SetRateLimit changes a running drain's pace: at 5 events per second,
// far fewer than 60 leave within a second; lifted, the rest follow.
func TestSetRateLimitAppliesLive(t *testing.T) {
	b := startBroker(t)
	ob := openOutbox(t)
	cfg := testConfig(b)
	cfg.BatchEvents = 10
	up, err := uplink.New(cfg, site, cabin, ob, discard())
	if err != nil {
		t.Fatal(err)
	}
	up.SetRateLimit(5)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	defer stopRun(t, cancel, done)
	eventually(t, "connected", up.Connected)
	appendArrivals(t, ob, 60)
	time.Sleep(time.Second)
	// The burst (10) and ~5/s: far from 60 within a second.
	if n := up.Stats().Events; n >= 40 {
		t.Fatalf("%d events within a second at 5 per second", n)
	}
	up.SetRateLimit(0)
	eventually(t, "every event once the limit is lifted", func() bool { return up.Stats().Events == 60 })
}
