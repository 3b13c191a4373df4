package amtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palier-lifts/palier/internal/nettest"
)

// Notification is what Alertmanager's webhook receiver posts.
type Notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
	Received time.Time `json:"-"`
}

// Sink records the webhook's notifications.
type Sink struct {
	mu  sync.Mutex
	got []Notification
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var n Notification
	if err := json.NewDecoder(r.Body).Decode(&n); err == nil {
		n.Received = time.Now()
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
	}
}

// Matching returns the notifications of status ("firing", "resolved")
// that carry an alert named alertname.
func (s *Sink) Matching(status, alertname string) []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Notification
	for _, n := range s.got {
		if n.Status != status {
			continue
		}
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == alertname {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// Count is len(Matching(status, alertname)).
func (s *Sink) Count(status, alertname string) int { return len(s.Matching(status, alertname)) }

// Start runs an Alertmanager that sends every alert to a new Sink, until
// the test ends, and returns its base URL and the sink. Without the
// binary the test is skipped, or fails when PALIER_REQUIRE_ALERTMANAGER is
// set (scripts/test.sh sets it).
func Start(t *testing.T) (string, *Sink) {
	t.Helper()
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("PALIER_REQUIRE_ALERTMANAGER") != "" {
			t.Fatal("alertmanager not found but PALIER_REQUIRE_ALERTMANAGER is set (Debian package prometheus-alertmanager)")
		}
		t.Skip("alertmanager not installed (Debian package prometheus-alertmanager; scripts/test.sh installs it)")
	}
	sink := &Sink{}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(`route:
  receiver: webhook
  group_by: [alertname, site, cabin]
  group_wait: 500ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: `+hook.URL+`
        send_resolved: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := nettest.RefusedAddr(t) // a free port for it to take
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("alertmanager's log:\n%s", b)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, sink
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready within 30s at %s", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
