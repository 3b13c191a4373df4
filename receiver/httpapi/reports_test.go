package httpapi

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportfiles"
)

func TestMonthlyReport(t *testing.T) {
	dir := t.TempDir()
	f, clock := accountsFixture(t, func(o *Options) {
		o.SiteEnergy = func(site string) report.SiteEnergy {
			if site == "les-pins" {
				return report.SiteEnergy{Default: &report.Energy{StandbyW: 100, TripWh: 8}}
			}
			return report.SiteEnergy{}
		}
		o.Reports = reportfiles.NewDir(dir)
	})
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	get := func(tok, path string) (int, []byte, http.Header) {
		t.Helper()
		return f.doWith(t, "GET", path, "", nil, bearer(tok))
	}
	// The cabins were first heard from at 2026-12-05 08:00 UTC; two hours
	// later December is reported up to then.
	clock.add(2 * time.Hour)
	code, b, _ := get(managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-12&tz=Europe/Paris")
	if code != 200 {
		t.Fatalf("manager, own site: %d %s", code, b)
	}
	var m report.Monthly
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Site != "les-pins" || m.TimeZone != "Europe/Paris" || len(m.Cabins) != 1 || m.Cabins[0].Energy == nil || m.EnergyBasis == "" ||
		!m.NoticesShown.Available || len(m.NoticesShown.Notices) != 0 || m.Cabins[0].MonitoredSeconds != 2*3600 || m.Cabins[0].Energy.StandbyKWh != 0.2 {
		t.Fatalf("report %s; want les-pins/a monitored 2 h, 0.2 kWh on standby, energy estimated, notices shown available and none", b)
	}
	for _, tc := range []struct {
		tok, path string
		code      int
		param     string
	}{
		{managerToken, "/api/v1/sites/other/reports/monthly?month=2026-11", 403, "site"},
		{readToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-11", 403, "Authorization"},
		{adminToken, "/api/v1/sites/other/reports/monthly?month=2026-11", 200, ""},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly", 400, "month"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-13", 400, "month"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2027-01", 400, "month"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-11&month=2026-10", 400, "month"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-11&tz=Mars/Olympus", 400, "tz"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly?month=2026-11&since=x", 400, "since"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly.pdf?month=2026-11&lang=de", 400, "lang"},
		{managerToken, "/api/v1/sites/les-pins/reports/monthly.pdf?month=2026-11", 404, "month"},
		{readToken, "/api/v1/sites/les-pins/reports/monthly.pdf?month=2026-11", 403, "Authorization"},
	} {
		code, b, _ := get(tc.tok, tc.path)
		if code != tc.code || tc.param != "" && apiError(t, b).Param != tc.param {
			t.Errorf("%s: %d %s, want %d on %q", tc.path, code, b, tc.code, tc.param)
		}
	}
	// A PDF the job rendered is served as it is.
	pdf := []byte("%PDF-1.4 rendered by the job")
	p := filepath.Join(dir, report.PDFPath("les-pins", "2026-11", "it"))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	code, b, h := get(managerToken, "/api/v1/sites/les-pins/reports/monthly.pdf?month=2026-11&lang=it")
	if code != 200 || string(b) != string(pdf) || h.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(h.Get("Content-Disposition"), "les-pins-2026-11-it.pdf") {
		t.Fatalf("PDF: %d %q %v", code, b, h)
	}
	// Without a reports directory nothing is served.
	f2, _ := accountsFixture(t)
	if code, b, _ := f2.doWith(t, "GET", "/api/v1/sites/les-pins/reports/monthly.pdf?month=2026-11", "", nil, bearer(adminToken)); code != 404 {
		t.Fatalf("no reports dir: %d %s", code, b)
	}
}
