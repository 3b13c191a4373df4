package agent

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The hand-written exposition must parse with Prometheus' own text parser
// and carry every metric with its type and current value.
func TestMetricsExposition(t *testing.T) {
	a, err := New(context.Background(), contactsConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.ob.Close()
	a.polls.Add(42)
	a.pollErrors.Add(3)

	srv := httptest.NewServer(a.metricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Errorf("content type %q is not the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	if len(fams) != len(a.metrics()) {
		t.Errorf("%d metric families, want %d", len(fams), len(a.metrics()))
	}
	value := func(name string, typ dto.MetricType) float64 {
		t.Helper()
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("metric %s missing", name)
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %s, want %s", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
		if typ == dto.MetricType_COUNTER {
			return f.Metric[0].GetCounter().GetValue()
		}
		return f.Metric[0].GetGauge().GetValue()
	}
	if v := value("palier_agent_polls_total", dto.MetricType_COUNTER); v != 42 {
		t.Errorf("polls_total %v, want 42", v)
	}
	if v := value("palier_agent_poll_errors_total", dto.MetricType_COUNTER); v != 3 {
		t.Errorf("poll_errors_total %v, want 3", v)
	}
	if v := value("palier_agent_uplink_connected", dto.MetricType_GAUGE); v != 0 {
		t.Errorf("uplink_connected %v with no broker, want 0", v)
	}
	if v := value("palier_agent_uptime_seconds", dto.MetricType_GAUGE); v <= 0 {
		t.Errorf("uptime_seconds %v, want > 0", v)
	}
}
