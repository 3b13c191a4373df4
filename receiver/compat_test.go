package receiver

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// TestAgentsOfEitherVersionAreAcknowledged: within a major version, a newer
// agent's payload (recorded in testdata/compat/next-agent.json: a field in
// the envelope, fields added to known events, event types this receiver
// does not know) is stored and acknowledged, not dead-lettered, so that an
// upgraded cabin never stalls on an older receiver (issue 14); today's
// agent's payload is acknowledged as well. The unknown events keep their
// type and data as they came, and are counted.
func TestAgentsOfEitherVersionAreAcknowledged(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	ctx := context.Background()
	acksNext := watchAcks(t, nc, "s1", "c1")
	acksNow := watchAcks(t, nc, "s1", "c2")
	for _, f := range []struct{ file, subject string }{
		{"testdata/compat/next-agent.json", "palier.v1.s1.c1.events"},
		{"testdata/compat/current-agent.json", "palier.v1.s1.c2.events"},
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, f.subject, b); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the newer agent's 4 events acknowledged", func() bool { return acksNext.get("next-1") == 4 })
	eventually(t, "today's agent's 3 events acknowledged", func() bool { return acksNow.get("now-1") == 3 })
	if n := counter(t, r, "palier_receiver_dead_letters_total"); n != 0 {
		t.Fatalf("%v batches dead-lettered", n)
	}
	if n := counter(t, r, "palier_receiver_events_unknown_type_total"); n != 2 {
		t.Fatalf("%v events of unknown type counted, want 2", n)
	}
	page, err := r.Store().Events(ctx, store.EventQuery{Site: "s1", Cabin: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]json.RawMessage{}
	for _, e := range page.Events {
		byType[e.Type] = e.Data
	}
	if d := string(byType["door_obstruction"]); !strings.Contains(d, `"duration_ms":1800`) {
		t.Errorf("unknown event stored as %q, want its data as it came", d)
	}
	if d := string(byType[wire.TypeTrip]); !strings.Contains(d, `"energy_wh":12.5`) {
		t.Errorf("trip stored as %q, want the newer agent's added field kept", d)
	}
	if c, err := r.Store().Cabin(ctx, "s1", "c1"); err != nil || c.Floor == nil || *c.Floor != 3 {
		t.Errorf("cabin %+v, %v: the known arrival still sets the floor", c, err)
	}
}
