package natsauth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validHash = "$2a$04$5ZTpChCbjK6vr8vkrBNjDeu9d4DPW2S0Rh5M2tsDOOumzqCuwzA0." // bcrypt of "x", cost 4

func TestParseValidatesEverything(t *testing.T) {
	in := `
account: "bad account"
services:
  - user: palier-receiver
    password_hash: "` + validHash + `"
    clients: [MQTT, TELNET]
devices:
  - site: Les-Pins
    cabin: a
    password_hash: "` + validHash + `"
  - site: les-pins
    cabin: a
    password_hash: "clear-text-password"
  - site: les-pins
    cabin: a
    password_hash: "` + validHash + `"
  - site: les
    cabin: pins-a
    password_hash: ""
  - site: x
    cabin: "y.z"
    user: "palier-receiver"
    password_hash: "` + validHash + `"
`
	_, err := Parse(strings.NewReader(in))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse = %v, want a *ValidationError", err)
	}
	for _, want := range []string{
		`account "bad account"`,
		`services[0].clients: "TELNET"`,
		`devices[0].site "Les-Pins" has 'L'`,
		`devices[1].password_hash is not a bcrypt hash`,
		`devices[2]: cabin les-pins/a is already devices[1]`,
		`devices[3].password_hash is empty`,
		`devices[3]: user "les-pins-a" is already devices[1]`, // site "les" + cabin "pins-a" collides
		`devices[4].cabin "y.z" has '.'`,
		`devices[4]: user "palier-receiver" is already services[0]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	_, err := Parse(strings.NewReader("devices:\n  - site: a\n    cabin: b\n    pasword_hash: x\n"))
	if err == nil || !strings.Contains(err.Error(), "pasword_hash") {
		t.Fatalf("a misspelt key: got %v, want an error naming it", err)
	}
}

func TestDefaults(t *testing.T) {
	f, err := Parse(strings.NewReader("services:\n  - user: hub\n    password_hash: \"" + validHash + "\"\ndevices:\n  - site: s\n    cabin: c\n    password_hash: \"" + validHash + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Account != "PALIER" || f.Services[0].Clients[0] != "STANDARD" || f.Devices[0].UserName() != "s-c" {
		t.Fatalf("defaults: account %q, clients %v, user %q", f.Account, f.Services[0].Clients, f.Devices[0].UserName())
	}
}

func TestRenderPermissions(t *testing.T) {
	f := Fleet{Devices: []Device{{Site: "les-pins", Cabin: "a", PasswordHash: validHash}}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Render(&b, f, "fleet.yaml"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`{user: "les-pins-a", password: "` + validHash + `", allowed_connection_types: ["MQTT"],`,
		`publish: {allow: ["palier.v1.les-pins.a.events", "palier.v1.les-pins.a.state", "palier.v1.les-pins.a.status"]}`,
		`subscribe: {allow: ["palier.v1.les-pins.a.ack", "palier.v1.les-pins.a.alarm_ack", "palier.v1.les-pins.a.update", "palier.v1.les-pins.notices", "palier.v1.les-pins.config", "palier.v1.les-pins.a.config", "palier.v1.les-pins.a.credential", "$MQTT.sub.>"]}`,
		"jetstream: enabled",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered accounts lack %s:\n%s", want, out)
		}
	}
}

// RenderFile replaces the accounts file whole, readable by nats-server's
// group, and leaves no temporary file beside it.
func TestRenderFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "accounts.conf")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(strings.NewReader("devices:\n  - site: s\n    cabin: c\n    password_hash: \"" + validHash + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := RenderFile(out, f, "fleet.yaml"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"palier.v1.s.c.events"`)) || !bytes.Contains(b, []byte("from fleet.yaml")) {
		t.Fatalf("RenderFile wrote %q, %v", b, err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("accounts file mode %v, want 0640", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left beside the accounts file: %v", entries)
	}
	if err := RenderFile(filepath.Join(dir, "missing", "accounts.conf"), f, "fleet.yaml"); err == nil {
		t.Fatal("RenderFile into a missing folder: want an error")
	}
}

// FuzzParse: the fleet file is edited by hand; whatever it holds, Parse
// returns a fleet or an error, and a fleet it accepts renders with every
// device confined to its own subjects.
func FuzzParse(f *testing.F) {
	f.Add([]byte("devices:\n  - site: s\n    cabin: c\n    password_hash: \"" + validHash + "\"\n"))
	f.Add([]byte("account: A\nservices: [{user: u, password_hash: \"" + validHash + "\", clients: [MQTT]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Render(&b, fl, "fuzz"); err != nil {
			t.Fatal(err)
		}
		for _, d := range fl.Devices {
			for _, s := range d.Publish() {
				if strings.ContainsAny(s, "*> \"") || !strings.HasPrefix(s, "palier.v1."+d.Site+"."+d.Cabin+".") {
					t.Fatalf("device %s/%s may publish to %q", d.Site, d.Cabin, s)
				}
			}
		}
	})
}
