package devcred_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/natsauth"
)

func TestAuthorityRoundTrip(t *testing.T) {
	a, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := devcred.ParseAuthority(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if back.AccountPublicKey() != a.AccountPublicKey() || back.OperatorPublicKey() != a.OperatorPublicKey() || back.SystemPublicKey() != a.SystemPublicKey() || back.AccountName != "PALIER" {
		t.Fatal("authority changed in a round trip")
	}
}

func TestParseAuthorityNamesEveryField(t *testing.T) {
	a, _ := devcred.NewAuthority("")
	seed, _ := a.Account.Seed()
	in := "operator_seed: " + string(seed) + "\nsystem_seed: nope\n"
	_, err := devcred.ParseAuthority(strings.NewReader(in))
	for _, want := range []string{"operator_seed: wrong kind of key", "system_seed: not an NKey seed", "account_seed: missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
	if _, err := devcred.ParseAuthority(strings.NewReader("operator_sed: x\n")); err == nil || !strings.Contains(err.Error(), "operator_sed") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestIssueDeviceBounds(t *testing.T) {
	a, _ := devcred.NewAuthority("")
	if _, err := a.IssueDevice(natsauth.Device{Site: "s", Cabin: "c"}, time.Now(), devcred.MaxTTL+time.Hour); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("ttl over the bound: %v", err)
	}
	if _, err := a.IssueDevice(natsauth.Device{Site: "S", Cabin: "c"}, time.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "site") {
		t.Errorf("bad site id: %v", err)
	}
	c, err := a.IssueDevice(natsauth.Device{Site: "s", Cabin: "c"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := devcred.Parse(c.JWT)
	if err != nil || p.ID != c.ID || p.Site != "s" || p.Cabin != "c" || !p.Expires.Equal(c.Expires) {
		t.Fatalf("parsed %+v, %v; issued %+v", p, err, c)
	}
	// A tool's user proves its key: not a bearer token, not for a cabin.
	tok, _, err := a.AccountUser("tool", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := devcred.Parse(tok); err == nil || !strings.Contains(err.Error(), "bearer") {
		t.Errorf("Parse of a keyed user: %v, want a bearer refusal", err)
	}
	// A tampered token fails its signature.
	if _, err := devcred.Parse(c.JWT[:len(c.JWT)-4] + "AAAA"); err == nil {
		t.Error("tampered credential parsed")
	}
}

// FuzzParseAuthority: an authority file is outside input (typed, copied,
// decrypted by sops); whatever it holds, parsing names a problem or
// yields keys of the right kinds.
func FuzzParseAuthority(f *testing.F) {
	a, _ := devcred.NewAuthority("")
	b, _ := a.Marshal()
	f.Add(b)
	f.Add([]byte("account_name: X\noperator_seed: SOAB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := devcred.ParseAuthority(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p.OperatorPublicKey()[0] != 'O' || p.AccountPublicKey()[0] != 'A' || p.SystemPublicKey()[0] != 'A' {
			t.Fatalf("keys of the wrong kinds accepted")
		}
	})
}

// FuzzParse: a credential arrives from the network (the credential topic)
// and from files; Parse either refuses it or returns a bearer credential
// whose id is a user key.
func FuzzParse(f *testing.F) {
	a, _ := devcred.NewAuthority("")
	c, _ := a.IssueDevice(natsauth.Device{Site: "s", Cabin: "c"}, time.Unix(1_800_000_000, 0), time.Hour)
	f.Add(c.JWT)
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := devcred.Parse(s)
		if err != nil {
			return
		}
		if len(c.ID) != 56 || c.ID[0] != 'U' {
			t.Fatalf("accepted id %q", c.ID)
		}
	})
}
