package agentcred_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/agentcred"
	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/natsauth"
)

// TestOpenAdoptsAProvisionedCredential: agent provision puts a new
// credential in password_file; the store prefers it to the one in its
// file (revoked, say) and keeps it there. The same password at later
// starts does not undo a rotation made since; another cabin's changes
// nothing.
func TestOpenAdoptsAProvisionedCredential(t *testing.T) {
	auth, err := devcred.NewAuthority("")
	if err != nil {
		t.Fatal(err)
	}
	dev := natsauth.Device{Site: site, Cabin: "a"}
	now := time.Now()
	old, _ := auth.IssueDevice(dev, now.Add(-time.Hour), 24*time.Hour)
	fresh, _ := auth.IssueDevice(dev, now, 24*time.Hour)
	other, _ := auth.IssueDevice(natsauth.Device{Site: site, Cabin: "b"}, now, 24*time.Hour)
	path := filepath.Join(t.TempDir(), "credential.jwt")
	open := func(password string) *agentcred.Store {
		t.Helper()
		s, err := agentcred.Open(agentcred.Options{Path: path, Site: site, Cabin: "a", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := os.WriteFile(path, []byte(old.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := open("a-plain-password"); s.Current() != old.ID {
		t.Fatalf("with a plain password: %s, want the file's %s", s.Current(), old.ID)
	}
	if s := open(other.JWT); s.Current() != old.ID {
		t.Fatalf("with another cabin's credential as password: %s, want the file's", s.Current())
	}
	s := open(fresh.JWT)
	if s.Current() != fresh.ID || s.Password() != fresh.JWT {
		t.Fatalf("with a newer provisioned credential: %s, want %s", s.Current(), fresh.ID)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != fresh.JWT {
		t.Fatal("the provisioned credential was not written to the credential file")
	}
	if s := open(fresh.JWT); s.Current() != fresh.ID {
		t.Fatalf("restart: %s, want %s", s.Current(), fresh.ID)
	}
	// A rotation since: the file holds rotated; the provisioned password
	// is still fresh's.
	rotated, _ := auth.IssueDevice(dev, now, 24*time.Hour)
	if err := os.WriteFile(path, []byte(rotated.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := open(fresh.JWT); s.Current() != rotated.ID {
		t.Fatalf("the provisioned password undid a rotation: %s, want %s", s.Current(), rotated.ID)
	}
	// An expired file credential gives way to the password.
	expired, _ := auth.IssueDevice(dev, now.Add(-3*time.Hour), time.Hour)
	if err := os.WriteFile(path, []byte(expired.JWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := open("a-plain-password"); s.Current() != "" || s.Password() != "a-plain-password" {
		t.Fatalf("expired credential still used: %q", s.Current())
	}
}
