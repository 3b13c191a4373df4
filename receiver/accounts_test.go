package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/store"
)

// TestAccountsAndSiteTokensWired runs a whole receiver (embedded NATS,
// SQLite) with http.accounts and a manager's token limited to a site, as
// its config file says: the account made in the store before it starts
// logs in over HTTP, each caller is held to its site, and the audit trail
// has the login.
func TestAccountsAndSiteTokensWired(t *testing.T) {
	cfg := testConfig(t)
	dir := t.TempDir()
	writeToken := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const admin, manager = "admin-token-0123456789", "manager-token-0123456789"
	cfg.HTTP.Accounts = true
	cfg.HTTP.Tokens = []TokenConfig{
		{Name: "ops", Role: RoleAdmin, File: writeToken("admin", admin)},
		{Name: "syndic", Role: RoleManager, Sites: []string{"les-pins"}, File: writeToken("manager", manager)},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.HashPassword("a long manager password", httpapi.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.(store.Accounts).CreateAccount(ctx, store.Account{Name: "marie", Role: "manager", Sites: []string{"villa-b"}, PasswordHash: h, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := start(t, cfg)
	base := "http://" + r.HTTPAddr()
	do := func(method, path string, body []byte, edit func(*http.Request)) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		edit(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	code, b, hdr := do("POST", "/api/v1/login", []byte(`{"name":"marie","password":"a long manager password"}`), func(*http.Request) {})
	if code != 200 {
		t.Fatalf("login: %d %s", code, b)
	}
	var sess httpapi.SessionView
	json.Unmarshal(b, &sess)
	cookie, err := http.ParseSetCookie(hdr.Get("Set-Cookie"))
	if err != nil || !cookie.HttpOnly {
		t.Fatalf("cookie %q: %v", hdr.Get("Set-Cookie"), err)
	}
	session := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value}) }
	for _, tc := range []struct {
		who  string
		auth func(*http.Request)
		site string
		code int
	}{
		{"manager token", bearer(manager), "les-pins", 200},
		{"manager token", bearer(manager), "villa-b", 403},
		{"marie's session", session, "villa-b", 200},
		{"marie's session", session, "les-pins", 403},
		{"admin token", bearer(admin), "les-pins", 200},
	} {
		if code, b, _ := do("GET", "/api/v1/sites/"+tc.site+"/notices", nil, tc.auth); code != tc.code {
			t.Errorf("%s on %s: %d %s, want %d", tc.who, tc.site, code, b, tc.code)
		}
	}
	code, b, _ = do("GET", "/api/v1/audit", nil, bearer(admin))
	if code != 200 || !strings.Contains(string(b), `"actor":"account:marie","action":"login","site":"villa-b"`) {
		t.Fatalf("audit: %d %s", code, b)
	}
}
