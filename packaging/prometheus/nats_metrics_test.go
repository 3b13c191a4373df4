// Package prometheus holds the tests of the Prometheus rules and Grafana
// dashboards that watch the NATS servers; the rules and dashboards
// themselves ship in the Helm chart (../helm/palier-receiver/files).
package prometheus

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

const guard = 20 * time.Second // failure guard only, never a timing assertion

// exporterPrefix is what the official NATS Helm chart passes to
// prometheus-nats-exporter (-prefix=nats); the dashboard and rules are
// written for it.
const exporterPrefix = "nats"

// TestNATSDashboardAndRulesReadExportedMetrics: every NATS metric that
// palier-nats.json and the rules query is one prometheus-nats-exporter
// exports for the servers Palier runs. The exporter's module is not
// served by the Go module proxy, so its side comes from its source: the
// fixed names in testdata (each checked against what a real server
// answers) and its rule for naming the rest after the server's JSON,
// applied here to a real hub and leaf node (nats-server v2, JetStream, an
// MQTT listener on the leaf, a leafnode connection between them).
func TestNATSDashboardAndRulesReadExportedMetrics(t *testing.T) {
	hub, leaf := startHubAndLeaf(t)
	loadJetStream(t, hub)

	exported := map[string]bool{}
	for _, s := range []*server.Server{hub, leaf} {
		base := "http://" + s.MonitorAddr().String()
		// The endpoints the chart's exporter reads with its generic
		// collector (-varz, -routez, and -subz, which reads /subsz).
		for _, ep := range []string{"varz", "routez", "subsz"} {
			var answer map[string]any
			getJSON(t, base+"/"+ep, &answer)
			for _, name := range genericMetricNames(exporterPrefix, ep, answer) {
				exported[name] = true
			}
		}
	}
	fixed := readFixedMetrics(t, filepath.Join("testdata", "prometheus-nats-exporter-v0.20.1.txt"))
	hubBase := "http://" + hub.MonitorAddr().String()
	leafBase := "http://" + leaf.MonitorAddr().String()
	answers := map[string][]any{}
	for _, m := range fixed {
		if _, ok := answers[m.request]; !ok {
			for _, base := range []string{hubBase, leafBase} {
				var a any
				getJSON(t, base+m.request, &a)
				answers[m.request] = append(answers[m.request], a)
			}
		}
		found := false
		for _, a := range answers[m.request] {
			found = found || hasPath(a, m.path)
		}
		if !found {
			t.Errorf("%s: neither server's %s holds %s, which the exporter reads for it", m.name, m.request, m.path)
			continue
		}
		exported[m.name] = true
	}

	chart := filepath.Join("..", "helm", "palier-receiver", "files")
	dashboard := filepath.Join(chart, "dashboards", "palier-nats.json")
	exprs := dashboardExprs(t, dashboard)
	if n := len(queried(exprs)); n < 10 {
		t.Errorf("palier-nats.json queries %d NATS metrics; it has lost its panels", n)
	}
	rules, err := os.ReadFile(filepath.Join(chart, "palier-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(queried([]string{string(rules)})) == 0 {
		t.Error("palier-rules.yml queries no NATS metric: its NATS rules are gone")
	}
	// The exporter's names without the chart's prefix: they exist only
	// where it runs with the default one.
	unprefixed := regexp.MustCompile(`\b(gnatsd|jetstream)_[a-z0-9_]+`)
	for file, text := range map[string][]string{"palier-nats.json": exprs, "palier-rules.yml": {string(rules)}} {
		for _, name := range queried(text) {
			if !exported[name] {
				t.Errorf("%s queries %s, which prometheus-nats-exporter does not export for these servers", file, name)
			}
		}
		for _, s := range text {
			for _, name := range unprefixed.FindAllString(s, -1) {
				t.Errorf("%s queries %s: the NATS chart runs the exporter with -prefix=%s", file, name, exporterPrefix)
			}
		}
	}
	if t.Failed() {
		names := make([]string, 0, len(exported))
		for n := range exported {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("exported: %s", strings.Join(names, " "))
	}
}

// startHubAndLeaf starts a hub and a leaf node shaped like
// packaging/nats/hub.conf and leaf.conf (JetStream in their own domains,
// MQTT on the leaf, the leaf connected to the hub), without their TLS and
// users, which change no metric names.
func startHubAndLeaf(t *testing.T) (hub, leaf *server.Server) {
	t.Helper()
	hubOpts := &server.Options{
		ServerName:      "hub-0",
		JetStreamDomain: "palier-hub",
		LeafNode:        server.LeafNodeOpts{Host: "127.0.0.1", Port: -1},
	}
	hub = startServer(t, hubOpts)
	// The server writes the port it bound back into its options.
	hubLeafURL := &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", hubOpts.LeafNode.Port)}
	leaf = startServer(t, &server.Options{
		ServerName:      "leaf-test",
		JetStreamDomain: "palier-leaf",
		MQTT:            server.MQTTOpts{Host: "127.0.0.1", Port: -1},
		LeafNode:        server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{hubLeafURL}}}},
	})
	deadline := time.Now().Add(guard)
	for hub.NumLeafNodes() != 1 || leaf.NumLeafNodes() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the leaf did not connect to the hub within %s", guard)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return hub, leaf
}

// startServer starts an in-process nats-server with JetStream and its
// monitoring endpoints on free loopback ports.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = -1
	opts.HTTPHost = "127.0.0.1"
	opts.HTTPPort = -1
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	opts.NoLog = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start %s: %v", opts.ServerName, err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(guard) {
		t.Fatalf("start %s: not ready within %s", opts.ServerName, guard)
	}
	return s
}

// loadJetStream gives the hub what its collectors report on: an events
// stream shaped like PALIER_EVENTS (bounded in bytes, so it reserves
// storage), a durable pull consumer with one message acknowledged and one
// in flight, and a mirror and a sourced stream (the exporter reports their
// lag).
func loadJetStream(t *testing.T, hub *server.Server) {
	t.Helper()
	nc, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatalf("connect to the hub: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream(nats.MaxWait(guard))
	if err != nil {
		t.Fatal(err)
	}
	streams := []*nats.StreamConfig{
		{Name: "PALIER_EVENTS", Subjects: []string{"palier.v1.*.*.events"}, MaxBytes: 1 << 20, Storage: nats.FileStorage},
		{Name: "EVENTS_MIRROR", Mirror: &nats.StreamSource{Name: "PALIER_EVENTS"}},
		{Name: "EVENTS_SOURCED", Sources: []*nats.StreamSource{{Name: "PALIER_EVENTS"}}},
	}
	for _, cfg := range streams {
		if _, err := js.AddStream(cfg); err != nil {
			t.Fatalf("add stream %s: %v", cfg.Name, err)
		}
	}
	for i := range 2 {
		if _, err := js.Publish("palier.v1.les-pins.a.events", fmt.Appendf(nil, "batch %d", i)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	sub, err := js.PullSubscribe("palier.v1.*.*.events", "palier-receiver", nats.BindStream("PALIER_EVENTS"), nats.AckExplicit())
	if err != nil {
		t.Fatalf("pull subscribe: %v", err)
	}
	msgs, err := sub.Fetch(2, nats.MaxWait(guard))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("fetch: %d messages, %v", len(msgs), err)
	}
	if err := msgs[0].AckSync(); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("get %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %s %v", u, resp.Status, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("get %s: %v", u, err)
	}
}

// genericMetricNames names the metrics prometheus-nats-exporter's generic
// collector makes of one answer of a monitoring endpoint, as its
// collector.go (objectToMetrics and fqName) does at v0.20.1: numbers
// become gauges named prefix_endpoint_path (nested objects joined by "_",
// "/" turned into "_", "__" collapsed), strings only under a few keys
// (times and labels), arrays and booleans nothing, and a few paths are
// skipped.
func genericMetricNames(prefix, endpoint string, answer map[string]any) []string {
	skip := map[string]bool{
		"leaf": true, "trusted_operators_claim": true, "cluster_tls_timeout": true,
		"cluster_cluster_port": true, "cluster_auth_timeout": true, "gateway_port": true,
		"gateway_auth_timeout": true, "gateway_tls_timeout": true, "gateway_connect_retries": true,
	}
	stringKeys := map[string]bool{
		"server_id": true, "server_name": true, "version": true, "domain": true,
		"leader": true, "name": true, "start": true, "config_load_time": true,
	}
	var names []string
	var walk func(obj map[string]any, path []string)
	walk = func(obj map[string]any, path []string) {
		for k, v := range obj {
			p := append(slices.Clone(path), k)
			fqn := strings.Trim(strings.ReplaceAll(strings.Join(p, "_"), "/", "_"), "_")
			for strings.Contains(fqn, "__") {
				fqn = strings.ReplaceAll(fqn, "__", "_")
			}
			if skip[fqn] {
				continue
			}
			switch v := v.(type) {
			case float64:
				names = append(names, prefix+"_"+endpoint+"_"+fqn)
			case string:
				if stringKeys[k] {
					names = append(names, prefix+"_"+endpoint+"_"+fqn)
				}
			case map[string]any:
				walk(v, p)
			}
		}
	}
	walk(answer, nil)
	return names
}

// fixedMetric is one line of the testdata list.
type fixedMetric struct{ name, request, path string }

func readFixedMetrics(t *testing.T, file string) []fixedMetric {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fixedMetric
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 3 {
			t.Fatalf("%s:%d: want metric, request and path, have %q", file, line, text)
		}
		out = append(out, fixedMetric{fields[0], fields[1], fields[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s lists no metric", file)
	}
	return out
}

// hasPath says whether the dotted path leads somewhere in v, crossing
// arrays (any element will do); "." is v itself.
func hasPath(v any, path string) bool {
	if path == "." {
		return v != nil
	}
	key, rest, _ := strings.Cut(path, ".")
	switch v := v.(type) {
	case []any:
		return slices.ContainsFunc(v, func(e any) bool { return hasPath(e, path) })
	case map[string]any:
		next, ok := v[key]
		if !ok {
			return false
		}
		if rest == "" {
			return true
		}
		return hasPath(next, rest)
	}
	return false
}

// dashboardExprs reads a Grafana dashboard and returns its queries,
// failing if it does not follow the chart's conventions (a uid, a title,
// the palier tag, the datasource variable on every panel).
func dashboardExprs(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string   `json:"uid"`
		Title      string   `json:"title"`
		Tags       []string `json:"tags"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if d.UID == "" || d.Title == "" || !slices.Contains(d.Tags, "palier") || len(d.Panels) == 0 {
		t.Fatalf("%s: not a Palier dashboard (uid %q, title %q, tags %v, %d panels)", file, d.UID, d.Title, d.Tags, len(d.Panels))
	}
	if len(d.Templating.List) == 0 || d.Templating.List[0].Name != "datasource" || d.Templating.List[0].Type != "datasource" {
		t.Errorf("%s: its first variable is not the datasource", file)
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("%s: panel %q does not use the datasource variable", file, p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", file, p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	return exprs
}

// queried lists the NATS metrics the texts name, once each: the
// exporter's names as the chart prefixes them (the receiver's own,
// palier_receiver_, never match).
func queried(texts []string) []string {
	natsMetric := regexp.MustCompile(`\bnats_[a-z0-9_]+`)
	var out []string
	for _, s := range texts {
		for _, m := range natsMetric.FindAllString(s, -1) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
