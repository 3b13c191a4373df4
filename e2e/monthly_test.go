package e2e_test

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

	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportpdf"
	"github.com/palier-lifts/palier/receiver/reportpdf/pdftest"
)

// TestMonthlyReportThroughTheChain plays trips, a fault and an alarm in
// the simulator, through the real agent, embedded NATS and receiver; an
// operator acknowledges the alarm through the API. The month's report
// from the API then counts them, with the alarm's acknowledgement delay
// and an energy estimate from the site's parameters, and the report job's
// rendering of the same store (a second connection, as the timer's
// process opens) reads back in French with pdftotext.
func TestMonthlyReportThroughTheChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	log := logger(t)
	rcfg := receiverConfig(filepath.Join(dir, "receiver"))
	rcfg.Sites = map[string]receiver.SiteConfig{site: {Energy: &report.Energy{StandbyW: 150, TripWh: 8, PerFloorWh: 2}}}
	rcv, _ := startReceiver(t, ctx, rcfg)

	_, pty, _ := playScenario(t, ctx, "month", `start_floor: 0
steps:
  - wait: 2s
  - call: 3
  - wait_idle: true
  - call: 0
  - wait_idle: true
  - fault_raise: 31
  - wait: 10s
  - fault_clear: 31
  - wait: 2s
  - alarm: true
  - wait: 30m
`, 4)
	acfg := agentConfig(t, dir, pty.Path(), "tcp://"+rcv.MQTTAddr())
	runAgent(t, ctx, acfg, log.With("part", "agent"), nil)

	api := "http://" + rcv.HTTPAddr() + "/api/v1"
	waitFor(t, 2*time.Minute, "the alarm stored", func() bool {
		open, err := rcv.Store().Alarms(ctx, site, cabin, true, 10)
		return err == nil && len(open) == 1
	})
	resp, err := http.Post(api+"/cabins/"+site+"/"+cabin+"/acknowledgements", "application/json", bytes.NewReader([]byte(`{"by":"Chiara","message":"on our way"}`)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("acknowledge: %s %s", resp.Status, body)
	}

	month := time.Now().UTC().Format("2006-01")
	var m report.Monthly
	waitFor(t, 30*time.Second, "the month's report with the trips, the fault and the acknowledged alarm", func() bool {
		resp, err := http.Get(api + "/sites/" + site + "/reports/monthly?month=" + month)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		m = report.Monthly{}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&m) != nil || len(m.Cabins) != 1 {
			return false
		}
		c := m.Cabins[0]
		return c.Trips >= 2 && len(c.Faults) == 1 && c.Faults[0].Cleared != nil && c.Alarms.Count == 1 && c.Alarms.Acknowledged == 1
	})
	c := m.Cabins[0]
	t.Logf("report: %d trips, %d door cycles, fault %d for %.1f s, alarm acknowledged after %.1f s, %.4f kWh, availability %v",
		c.Trips, c.DoorCycles, c.Faults[0].Code, c.Faults[0].Seconds, *c.Alarms.MaxAckSeconds, c.Energy.TotalKWh, *c.Availability.Availability)
	if c.Faults[0].Code != 31 || c.Faults[0].Seconds <= 0 || c.DoorCycles < 2 || c.Energy == nil || c.Energy.FloorsTravelled < 6 ||
		*c.Alarms.MaxAckSeconds <= 0 || c.Alarms.List[0].AckedBy == "" || !c.Alarms.List[0].Open {
		t.Fatalf("cabin %+v", c)
	}
	// No screen ran: the store's proof of play holds nothing for the site.
	if !m.NoticesShown.Available || len(m.NoticesShown.Notices) != 0 {
		t.Errorf("notices shown %+v; want available and none (no screen ran)", m.NoticesShown)
	}

	// The job's path: its own store connection, the same report, a PDF.
	st, err := receiver.OpenStore(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jm, err := report.Month(ctx, st, site, month, time.Now(), time.UTC, report.MonthOptions{Energy: rcfg.SiteEnergy(site)})
	if err != nil {
		t.Fatal(err)
	}
	if jm.Cabins[0].Trips != c.Trips || jm.Cabins[0].Alarms.Count != 1 {
		t.Fatalf("the job's report differs: %+v", jm.Cabins[0])
	}
	pdf := filepath.Join(dir, "report.pdf")
	f, err := os.Create(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportpdf.Render(f, jm, "fr"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	text := pdftest.Text(t, pdf)
	for _, w := range []string{"Cabine " + cabin, "Pannes signalées 1", "code 31", "Alarmes (bouton d'appel) 1 · prises en compte : 1", "Énergie estimée"} {
		if !strings.Contains(text, w) {
			t.Errorf("%q missing from the PDF:\n%s", w, text)
		}
	}
}
