package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver/store/storetest"
)

// TestDeadLetterOfAMessageAtThePayloadLimit: a message just under the
// server's 1 MiB limit is refused as too large; its dead-letter copy with
// the headers would not fit, so it is cut with a digest instead of looping
// for ever, and ingestion goes on (issue 20, finding 4).
func TestDeadLetterOfAMessageAtThePayloadLimit(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	ctx := context.Background()
	max := int(nc.MaxPayload())
	good, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 1, 2))
	// 16 bytes under the limit: the copy's headers take more than that.
	pad := max - 16 - len(`,"pad":""`) - len(good)
	huge := strings.Replace(string(good), `"s1"`, `"s1","pad":"`+strings.Repeat("x", pad)+`"`, 1)
	if len(huge) != max-16 {
		t.Fatalf("message of %d bytes, want %d", len(huge), max-16)
	}
	if _, err := js.Publish(ctx, "palier.v1.s1.c1.events", []byte(huge)); err != nil {
		t.Fatalf("publish %d bytes (limit %d): %v", len(huge), max, err)
	}
	if _, err := js.Publish(ctx, "palier.v1.s1.c1.events", good); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the good batch stored after the huge one", func() bool {
		c, err := r.Store().Cabin(ctx, "s1", "c1")
		return err == nil && c.Events == 2
	})
	eventually(t, "1 dead letter counted", func() bool { return counter(t, r, "palier_receiver_dead_letters_total") == 1 })
	dl, err := js.Stream(ctx, "PALIER_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dl.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(huge))
	if h := m.Header.Get(HeaderTruncated); !strings.Contains(h, fmt.Sprintf("%d bytes, sha256 %x", len(huge), sum)) {
		t.Fatalf("%s header %q: want the original size and digest", HeaderTruncated, h)
	}
	if len(m.Data) >= len(huge) || !strings.HasPrefix(huge, string(m.Data)) || !strings.Contains(m.Header.Get(HeaderReason), "too large") {
		t.Fatalf("dead letter of %d bytes, reason %q: want a prefix of the original and its reason", len(m.Data), m.Header.Get(HeaderReason))
	}
}

// TestConflictingEventIsKeptAsEvidence: an event under a stored key with
// other content was dropped with only a counter (issue 20, 11). The
// stored one still wins; the other is counted and kept in the dead-letter
// stream with the reason.
func TestConflictingEventIsKeptAsEvidence(t *testing.T) {
	r := start(t, testConfig(t))
	nc := connect(t, r.NATSURL())
	js := jsOf(t, nc)
	ctx := context.Background()
	first, _ := json.Marshal(storetest.Batch("s1", "c1", "e1", 1, 2))
	other := storetest.Batch("s1", "c1", "e1", 2)
	other.Events[0].Data = []byte(`{"floor":7}`)
	second, _ := json.Marshal(other)
	for _, b := range [][]byte{first, first, second} { // a resend, then a conflict
		if _, err := js.Publish(ctx, "palier.v1.s1.c1.events", b); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the conflict counted", func() bool { return counter(t, r, "palier_receiver_events_conflicting_total") == 1 })
	dl, err := js.Stream(ctx, "PALIER_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dl.GetLastMsgForSubject(ctx, "palier.deadletter.s1.c1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Header.Get(HeaderReason), "seq 2 is stored with other content") || !strings.Contains(string(m.Data), `"floor":7`) {
		t.Fatalf("dead letter %q, reason %q", m.Data, m.Header.Get(HeaderReason))
	}
	if counter(t, r, "palier_receiver_dead_letters_total") != 0 {
		t.Fatal("the conflict was counted as a dead-lettered batch")
	}
}
