package receiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/palier-lifts/palier/receiver/store/sqlite"
	"github.com/palier-lifts/palier/wire"
)

// The desired configurations in the store are published retained when the
// receiver starts, so that a broker that lost its retained messages (a new
// one here: nothing was ever published on it) still hands every cabin its
// configuration.
func TestDesiredConfigsRepublishedOnStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Store.Path = filepath.Join(t.TempDir(), "receiver.db")
	st, err := sqlite.Open(context.Background(), cfg.Store.Path, sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	lvl := "debug"
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, d := range []wire.DesiredConfig{
		{V: 1, Site: "s1", Version: 1, At: at},
		{V: 1, Site: "s1", Version: 2, At: at, Config: wire.ConfigOverlay{LogLevel: &lvl}},
		{V: 1, Site: "s1", Cabin: "c1", Version: 1, At: at},
	} {
		if err := st.PutDesiredConfig(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	got := make(chan wire.DesiredConfig, 4)
	c := dial(t, r.MQTTAddr(), "palier_s1_c1")
	for _, topic := range []string{wire.SiteConfigTopic("s1"), wire.ConfigTopic("s1", "c1")} {
		if err := wait(context.Background(), c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			d, err := wire.DecodeDesiredConfig(m.Payload())
			if err != nil {
				t.Errorf("retained configuration: %v", err)
				return
			}
			got <- d
		})); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]uint64{}
	for len(seen) < 2 {
		select {
		case d := <-got:
			seen[d.Scope()] = d.Version
		case <-time.After(guard):
			t.Fatalf("retained configurations after the start: %v", seen)
		}
	}
	if seen[wire.ConfigScopeSite] != 2 || seen[wire.ConfigScopeCabin] != 1 {
		t.Fatalf("retained %v, want site v2 (the newest) and cabin v1", seen)
	}
}
