package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/store"
)

// TestAccountsCommand makes the first admin and a manager in a real SQLite
// store, as docs/OPERATIONS.md says, then changes a password and removes
// an account; each step is checked in the store and its audit trail.
func TestAccountsCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "receiver.yaml")
	os.WriteFile(cfgPath, []byte("state_dir: "+dir+"\nhttp:\n  accounts: true\n"), 0o600)
	ctx := context.Background()
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := accounts(ctx, args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errb := run("a long admin password\n", "add", "--config", cfgPath, "--name", "admin", "--role", "admin"); code != 0 || !strings.Contains(out, "added admin") {
		t.Fatalf("add admin: %d %s %s", code, out, errb)
	}
	if code, _, errb := run("a long admin password\n", "add", "--config", cfgPath, "--name", "admin", "--role", "admin"); code != 1 || !strings.Contains(errb, "exists") {
		t.Fatalf("add twice: %d %s", code, errb)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "--config", cfgPath, "--name", "marie", "--role", "manager"}, "--site"},
		{[]string{"add", "--config", cfgPath, "--name", "Marie", "--role", "read"}, "--name"},
		{[]string{"add", "--config", cfgPath, "--name", "marie", "--role", "boss"}, "--role"},
		{[]string{"add", "--name", "marie", "--role", "read"}, "--config"},
	} {
		if code, _, errb := run("a long enough password\n", tc.args...); code != 2 || !strings.Contains(errb, tc.want) {
			t.Errorf("%q: %d %s, want usage naming %s", tc.args, code, errb, tc.want)
		}
	}
	if code, _, errb := run("short\n", "add", "--config", cfgPath, "--name", "marie", "--role", "read"); code != 1 || !strings.Contains(errb, "at least 12") {
		t.Fatalf("short password: %d %s", code, errb)
	}
	if code, out, errb := run("the manager's password\n", "add", "--config", cfgPath, "--name", "marie", "--role", "manager", "--site", "les-pins", "--site", "villa-b"); code != 0 {
		t.Fatalf("add manager: %d %s %s", code, out, errb)
	}
	if code, out, _ := run("", "list", "--config", cfgPath); code != 0 || out != "admin\tadmin\tevery site\nmarie\tmanager\tles-pins,villa-b\n" {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, errb := run("a new manager password\n", "passwd", "--config", cfgPath, "--name", "marie"); code != 0 || !strings.Contains(out, "sessions are ended") {
		t.Fatalf("passwd: %d %s %s", code, out, errb)
	}
	cfg, err := receiver.ParseFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := receiver.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	acc := st.(store.Accounts)
	m, err := acc.Account(ctx, "marie")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := httpapi.VerifyPassword("a new manager password", m.PasswordHash); !ok || err != nil || !strings.HasPrefix(m.PasswordHash, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("new password does not verify: %v %v %s", ok, err, m.PasswordHash)
	}
	st.Close()
	if code, _, errb := run("", "remove", "--config", cfgPath, "--name", "marie"); code != 0 {
		t.Fatalf("remove: %d %s", code, errb)
	}
	if code, _, errb := run("", "remove", "--config", cfgPath, "--name", "marie"); code != 1 || !strings.Contains(errb, "not found") {
		t.Fatalf("remove twice: %d %s", code, errb)
	}
	st, err = receiver.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	trail, err := st.(store.Accounts).Audit(ctx, store.AuditQuery{Site: "villa-b"})
	var got []string
	for _, e := range trail {
		got = append(got, e.Action+" "+e.Target)
	}
	if err != nil || strings.Join(got, "|") != "account.remove marie|account.update marie|account.create marie" {
		t.Fatalf("audit of villa-b: %q %v", got, err)
	}
}
