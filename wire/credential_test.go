package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/wire"
)

const credID = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

func TestDecodeCredentialDeliveryNamesTheField(t *testing.T) {
	good := `{"v":1,"id":"` + credID + `","jwt":"aaa.bbb.ccc","expires":"2027-03-01T00:00:00Z"}`
	if _, err := wire.DecodeCredentialDelivery([]byte(good)); err != nil {
		t.Fatalf("good delivery: %v", err)
	}
	for in, want := range map[string]string{
		`{"v":2,"id":"` + credID + `","jwt":"a.b.c","expires":"2027-03-01T00:00:00Z"}`:                  "v 2",
		`{"v":1,"id":"UABC","jwt":"a.b.c","expires":"2027-03-01T00:00:00Z"}`:                            "id:",
		`{"v":1,"id":"` + credID + `","jwt":"secret","expires":"2027-03-01T00:00:00Z"}`:                 "jwt:",
		`{"v":1,"id":"` + credID + `","jwt":"a.b.c"}`:                                                   "expires:",
		`{"v":1,"id":"` + strings.ToLower(credID) + `","jwt":"a.b.c","expires":"2027-03-01T00:00:00Z"}`: "id:",
		`[]`: "credential delivery",
	} {
		_, err := wire.DecodeCredentialDelivery([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", in, err, want)
		}
	}
	if _, err := wire.DecodeCredentialDelivery(make([]byte, wire.MaxCredentialBytes+1)); err == nil {
		t.Error("oversized delivery accepted")
	}
}

func TestCredentialRotatedEvent(t *testing.T) {
	ev, err := wire.NewEvent(time.Now(), wire.TypeCredentialRotated, wire.CredentialRotatedData{ID: credID, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = 1
	b, _ := json.Marshal(wire.Batch{V: wire.Version, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{ev}})
	if _, err := wire.DecodeBatch(b); err != nil {
		t.Fatalf("credential_rotated batch: %v", err)
	}
	ev2, _ := wire.NewEvent(time.Now(), wire.TypeCredentialRotated, wire.CredentialRotatedData{ID: credID, Previous: "nope", Expires: time.Now()})
	ev2.Seq = 1
	b, _ = json.Marshal(wire.Batch{V: wire.Version, Site: "s", Cabin: "c", Epoch: "e", Events: []wire.Event{ev2}})
	if _, err := wire.DecodeBatch(b); err == nil || !strings.Contains(err.Error(), "previous") {
		t.Fatalf("bad previous id: %v, want an error naming previous", err)
	}
}

// FuzzDecodeCredentialDelivery: what the agent takes from its credential
// topic is well formed and round-trips.
func FuzzDecodeCredentialDelivery(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"` + credID + `","jwt":"aaa.bbb.ccc","expires":"2027-03-01T00:00:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"","jwt":"","expires":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := wire.DecodeCredentialDelivery(b)
		if err != nil {
			return
		}
		if len(d.ID) != 56 || strings.Count(d.JWT, ".") != 2 || d.Expires.IsZero() {
			t.Fatalf("accepted %+v", d)
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.DecodeCredentialDelivery(again); err != nil {
			t.Fatalf("round trip refused: %v\n%s", err, again)
		}
	})
}
