package receiver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardsAndRulesReadExistingMetrics: every palier_receiver_ metric
// the shipped Grafana dashboards and alerting rules query is one the
// receiver exposes; a renamed metric would otherwise leave an empty panel
// or an alert that never fires.
func TestDashboardsAndRulesReadExistingMetrics(t *testing.T) {
	exposed := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range NewMetrics(prometheus.NewRegistry()).collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		if m := name.FindStringSubmatch(d.String()); m != nil {
			exposed[m[1]] = true
		}
	}
	chart := filepath.Join("..", "packaging", "helm", "palier-receiver", "files")
	files, _ := filepath.Glob(filepath.Join(chart, "dashboards", "*.json"))
	if len(files) < 2 {
		t.Fatalf("dashboards: %v", files)
	}
	files = append(files, filepath.Join(chart, "palier-rules.yml"))
	used := regexp.MustCompile(`palier_receiver_[a-z_]+`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") {
			var d struct {
				UID    string `json:"uid"`
				Panels []struct {
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal(b, &d); err != nil || d.UID == "" || len(d.Panels) == 0 {
				t.Fatalf("%s: not a dashboard (%v)", f, err)
			}
		}
		// The NATS dashboard reads the NATS servers' exporter, not the
		// receiver: packaging/prometheus checks its metrics.
		nats := filepath.Base(f) == "palier-nats.json"
		n := 0
		for _, m := range used.FindAllString(string(b), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
			if !exposed[base] && !exposed[m] {
				t.Errorf("%s queries %s, which the receiver does not expose", filepath.Base(f), m)
			}
			n++
		}
		if n == 0 && !nats {
			t.Errorf("%s queries no receiver metric", filepath.Base(f))
		}
	}
}
