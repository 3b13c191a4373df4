package receiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateTokenSitesAndAccounts: a manager's token names its sites,
// an admin's does not, sites are valid ids; accounts alone let the API
// listen beyond loopback; session limits are bounded.
func TestValidateTokenSitesAndAccounts(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	cfg := DefaultConfig()
	cfg.HTTP.Listen = "0.0.0.0:8080"
	cfg.HTTP.Accounts = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("accounts + public listen refused: %v", err)
	}
	cfg.HTTP.Tokens = []TokenConfig{
		{Name: "syndic", Role: "manager", File: tok, Sites: []string{"les-pins"}},
		{Name: "syndic2", Role: "manager", File: tok},
		{Name: "root", Role: "admin", File: tok, Sites: []string{"les-pins"}},
		{Name: "screen", Role: "read", File: tok, Sites: []string{"les-pins", "Les Pins"}},
	}
	cfg.HTTP.SessionIdle = time.Second
	err := cfg.Validate()
	for _, want := range []string{"http.tokens[1].sites", "http.tokens[2].sites", "http.tokens[3].sites[1]", "http.session_idle"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "http.tokens[0]") {
		t.Errorf("a manager token with sites refused: %v", err)
	}
	cfg.HTTP.Tokens = cfg.HTTP.Tokens[:1]
	cfg.HTTP.SessionIdle, cfg.HTTP.SessionMax = time.Hour, time.Minute
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "http.session_max") {
		t.Errorf("session_max below session_idle: %v", err)
	}
}
