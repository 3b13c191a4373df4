package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palier-lifts/palier/internal/browsertest"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportfiles"
	"github.com/palier-lifts/palier/receiver/reportpdf"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// reportsEnergy are the energy parameters of les-pins in the reports tests.
var reportsEnergy = report.Energy{StandbyW: 150, TripWh: 8, PerFloorWh: 2}

// reportsSeedMonth stores the month that begins at since for les-pins/a:
// two trips and a door cycle a day, a fault of 20 minutes, an entrapment
// of 40 minutes acknowledged after 90 s, two alarms acknowledged after 30 s
// and 5 min by the operator olivier, and a notice shown in French and
// English. It returns the days of the month.
func reportsSeedMonth(t *testing.T, st store.Store, since time.Time) int {
	t.Helper()
	ctx := context.Background()
	seq := uint64(0)
	put := func(at time.Time, typ string, data any) {
		t.Helper()
		seq++
		e := storeEvent(seq, at, typ, data)
		b := wire.Batch{V: wire.Version, Site: "les-pins", Cabin: "a", Epoch: "month", Events: []wire.Event{e}}
		if _, err := st.InsertBatches(ctx, []wire.Batch{b}, at); err != nil {
			t.Fatal(err)
		}
	}
	ack := func(at time.Time) {
		t.Helper()
		if _, err := st.AcknowledgeAlarms(ctx, "les-pins", "a", "account:olivier", "on my way", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpdateStatus(ctx, "les-pins", "a", true, since.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateState(ctx, wire.State{V: wire.Version, Site: "les-pins", Cabin: "a", Time: since.Add(-24 * time.Hour), Direction: "none",
		Mode: "normal", InService: true, Link: "ok"}, since.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	days := since.AddDate(0, 1, 0).Sub(since).Hours() / 24
	for d := range int(days) {
		day := since.AddDate(0, 0, d)
		put(day.Add(8*time.Hour), wire.TypeTrip, wire.TripData{From: 0, To: 4, Direction: "up", DurationMS: 12000})
		put(day.Add(8*time.Hour+time.Minute), wire.TypeDoorCycle, wire.DoorCycleData{Floor: 4, OpenMS: 5000})
		put(day.Add(18*time.Hour), wire.TypeTrip, wire.TripData{From: 4, To: 0, Direction: "down", DurationMS: 12000})
		switch d {
		case 2:
			put(day.Add(10*time.Hour), wire.TypeFault, wire.FaultData{Code: 31, Text: "door lock", Severity: "error", Active: true})
			put(day.Add(10*time.Hour+20*time.Minute), wire.TypeFault, wire.FaultData{Code: 31, Severity: "error", Active: false})
		case 9:
			put(day.Add(11*time.Hour), wire.TypeEntrapment, wire.EntrapmentData{Active: true, Floor: 2})
			ack(day.Add(11*time.Hour + 90*time.Second))
			put(day.Add(11*time.Hour+40*time.Minute), wire.TypeEntrapment, wire.EntrapmentData{Active: false, Floor: 2})
		case 12, 20:
			after := 30 * time.Second
			if d == 20 {
				after = 5 * time.Minute
			}
			put(day.Add(12*time.Hour), wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 1})
			ack(day.Add(12*time.Hour + after))
			put(day.Add(12*time.Hour+10*time.Minute), wire.TypeAlarm, wire.AlarmData{Active: false, Floor: 1})
		case 15:
			for _, p := range []struct {
				lang         string
				shownS, reps int
			}{{wire.LangFR, 360, 3}, {wire.LangEN, 60, 1}} {
				from := day.Add(9 * time.Hour)
				put(from.Add(time.Hour), wire.TypeNoticeShown, wire.NoticeShownData{Notice: "n1", Version: 1, Lang: p.lang, Layout: "1024x600",
					Orientation: wire.OrientationLandscape, From: from, To: from.Add(time.Hour), ShownMS: int64(p.shownS) * 1000, Times: p.reps})
			}
		}
	}
	return int(days)
}

func storeEvent(seq uint64, at time.Time, typ string, data any) wire.Event {
	e := wire.Event{Seq: seq, Time: at, Type: typ}
	e.Data, _ = json.Marshal(data)
	return e
}

// reportsHeaders records the CSRF and Authorization headers of every
// acknowledgement and alarm close the server is sent.
type reportsHeaders struct {
	h    http.Handler
	mu   sync.Mutex
	acks []string
}

func (l *reportsHeaders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/acknowledgements") || strings.HasSuffix(r.URL.Path, "/close")) {
		l.mu.Lock()
		l.acks = append(l.acks, r.Header.Get(CSRFHeader)+"|"+r.Header.Get("Authorization"))
		l.mu.Unlock()
	}
	l.h.ServeHTTP(w, r)
}

// reportsLogin logs in through the login page.
func reportsLogin(t *testing.T, ctx context.Context, base, path, name string) {
	t.Helper()
	browsertest.Step(t, ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.ID("name")),
		browsertest.SetField("name", name), browsertest.SetField("password", password),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
}

// TestReportsInChromium: a manager logs in through the login page in
// headless Chromium and lands on /notices; opens /reports and sees last
// month's report of her site with the figures the store holds (SQLite),
// the PDF the monthly job rendered in French and the others not yet; is
// refused another site's report (the page says so, the API answers 403).
// Then an operator logs in, lands on the operators' page, which asks for
// no token, acknowledges an alarm and then closes it from the cabin's
// page, each with the session's CSRF header; the audit trail names him. No page reports a CSP refusal or an exception.
func TestReportsInChromium(t *testing.T) {
	t.Setenv("TZ", "UTC") // the browser's zone, which the page asks the report in
	reportsDir := t.TempDir()
	f, clock := accountsFixture(t, func(o *Options) {
		o.PublicURL = "http://127.0.0.1"
		o.SiteEnergy = func(site string) report.SiteEnergy { return report.SiteEnergy{Default: &reportsEnergy} }
		o.Reports = reportfiles.NewDir(reportsDir)
	})
	ctx0 := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	clock.mu.Lock()
	clock.t = now
	clock.mu.Unlock()
	// "Last month" as the page counts it, in the browser's zone (UTC).
	since := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	month := since.Format("2006-01")
	days := reportsSeedMonth(t, f.st, since)
	h, _ := HashPassword(password, cheapArgon2)
	for _, acc := range []store.Account{{Name: "olivier", Role: "operator"}, {Name: "ada", Role: "admin"}} {
		acc.PasswordHash, acc.Created = h, now
		if err := f.st.(store.Accounts).CreateAccount(ctx0, acc); err != nil {
			t.Fatal(err)
		}
	}
	// The month's figures as the report computes them from the store, and
	// the French PDF as the monthly job renders it.
	want, err := report.Month(ctx0, f.st, "les-pins", month, now, time.UTC, report.MonthOptions{Energy: report.SiteEnergy{Default: &reportsEnergy}, Play: report.StorePlays(f.st)})
	if err != nil {
		t.Fatal(err)
	}
	pdfPath := filepath.Join(reportsDir, report.PDFPath("les-pins", month, "fr"))
	os.MkdirAll(filepath.Dir(pdfPath), 0o755)
	pdf, err := os.Create(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportpdf.Render(pdf, want, "fr"); err != nil {
		t.Fatal(err)
	}
	pdf.Close()
	// An alarm open now, for the operator.
	if err := f.st.UpdateStatus(ctx0, "les-pins", "a", true, now); err != nil {
		t.Fatal(err)
	}
	alarm := storeEvent(1, now.Add(-5*time.Minute), wire.TypeAlarm, wire.AlarmData{Active: true, Floor: 3})
	if _, err := f.st.InsertBatches(ctx0, []wire.Batch{{V: wire.Version, Site: "les-pins", Cabin: "a", Epoch: "now", Events: []wire.Event{alarm}}}, now); err != nil {
		t.Fatal(err)
	}

	rec := &reportsHeaders{h: f.api}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	ctx, errs := browsertest.Start(t)

	t.Run("manager lands on notices", func(t *testing.T) {
		reportsLogin(t, ctx, srv.URL, "/login", "marie")
		browsertest.WaitFor[bool](t, ctx, "the landing", `location.pathname === "/notices"`)
	})

	t.Run("report of last month", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/reports"))
		if got := browsertest.WaitFor[string](t, ctx, "the report", `document.body.dataset.ready`); got != "les-pins "+month {
			t.Fatalf("the page shows %q, want les-pins %s (last month, the manager's site)", got, month)
		}
		type page struct {
			Who, Role, Error, Cookie, Basis, Alarms, Entrapment string
			Nav                                                 []string
			Summary                                             []string
			Notices                                             []string
			Energy                                              []string
			PDFs                                                []string
			PDFLinks                                            []string
		}
		p := browsertest.Eval[page](t, ctx, `(() => {
			const rows = (sel) => [...document.querySelectorAll(sel + " tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent).join("|"));
			const cab = document.querySelector('section.cabin[data-cabin="a"]');
			return { Who: document.getElementById("who").textContent, Role: document.getElementById("role").textContent,
				Error: document.getElementById("error").textContent, Cookie: document.cookie,
				Basis: document.getElementById("energy-basis").textContent,
				Alarms: cab.querySelector(".alarm-summary").textContent,
				Entrapment: [...cab.querySelectorAll("table")].map((t) => t.textContent).join(" "),
				Nav: [...document.querySelectorAll("header nav a")].filter((a) => !a.hidden).map((a) => a.getAttribute("href")),
				Summary: rows("#summary"), Notices: rows("#notices"), Energy: rows("#energy"),
				PDFs: [...document.querySelectorAll("#pdfs li")].map((li) => li.dataset.pdf + ":" + li.textContent),
				PDFLinks: [...document.querySelectorAll("#pdfs a")].map((a) => a.getAttribute("href")) };
		})()`)
		if p.Who != "marie" || p.Role != "manager of les-pins" || p.Error != "" || p.Cookie != "" {
			t.Fatalf("header %q %q, error %q, cookie readable %q", p.Who, p.Role, p.Error, p.Cookie)
		}
		if strings.Join(p.Nav, " ") != "/notices /reports" {
			t.Errorf("header links %q, want notices and reports (no operators' page for a manager)", p.Nav)
		}
		a := want.Cabins[0]
		if len(want.Cabins) != 1 || a.Trips != 2*days || a.DoorCycles != days || len(a.Faults) != 1 || a.FaultsRaised != 1 ||
			len(a.Entrapments) != 1 || a.Alarms.Count != 2 || a.Availability.Availability == nil {
			t.Fatalf("the store's report is not the seeded month: %+v", want.Cabins)
		}
		wantRow := fmt.Sprintf("a|%.2f %%|%s|%s|%d|2.0|%d|1|1|2", *a.Availability.Availability*100, reportsDur(a.MonitoredSeconds), reportsDur(a.UnavailableSeconds), a.Trips, a.DoorCycles)
		if len(p.Summary) != 1 || p.Summary[0] != wantRow {
			t.Errorf("summary %q, want %q", p.Summary, wantRow)
		}
		if p.Alarms != "2 alarms, 2 acknowledged; time to acknowledge: median 2 min 45 s, longest 5 min." {
			t.Errorf("alarms: %q", p.Alarms)
		}
		for _, s := range []string{"door lock", "20 min", "40 min", "1 min 30 s", "account:olivier"} {
			if !strings.Contains(p.Entrapment, s) {
				t.Errorf("the cabin's faults, entrapments and alarms lack %q: %s", s, p.Entrapment)
			}
		}
		if len(p.Notices) != 1 || p.Notices[0] != "Travaux les-pins (n1)|a|7 min|4|fr 6 min, en 1 min" {
			t.Errorf("notices shown %q", p.Notices)
		}
		e := a.Energy
		if wantE := fmt.Sprintf("a|%.1f kWh|%.1f kWh|%.1f kWh|", e.StandbyKWh, e.RunningKWh, e.TotalKWh); len(p.Energy) != 1 || !strings.HasPrefix(p.Energy[0], wantE) {
			t.Errorf("energy %q, want %q...", p.Energy, wantE)
		}
		if !strings.Contains(p.Basis, report.EnergyBasis) {
			t.Errorf("the energy caveat %q lacks the report's basis in full", p.Basis)
		}
		pdfURL := "/api/v1/sites/les-pins/reports/monthly.pdf?month=" + month + "&lang=fr"
		if len(p.PDFs) != 3 || !strings.HasPrefix(p.PDFs[0], "yes:Français") || len(p.PDFLinks) != 1 || p.PDFLinks[0] != pdfURL ||
			p.PDFs[1] != "no:English: not produced yet: the monthly job runs on the 1st of the next month" || !strings.HasPrefix(p.PDFs[2], "no:Italiano: not produced yet") {
			t.Errorf("PDFs %q, links %q", p.PDFs, p.PDFLinks)
		}
		// The link downloads the job's PDF with the session's cookie.
		type answer struct {
			Status      int
			Type, Magic string
		}
		got := browsertest.EvalAwait[answer](t, ctx, `fetch("`+pdfURL+`").then(async (r) => ({Status: r.status, Type: r.headers.get("Content-Type"), Magic: (await r.text()).slice(0, 5)}))`)
		if got.Status != 200 || got.Type != "application/pdf" || got.Magic != "%PDF-" {
			t.Errorf("the PDF link answers %+v", got)
		}
		browsertest.Screenshot(t, ctx, "reports-monthly.png", 1000, 900)
	})

	t.Run("another site refused", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/reports?site=other&month="+month))
		if got := browsertest.WaitFor[string](t, ctx, "the refusal", `document.body.dataset.ready`); got != "error" {
			t.Fatalf("another site's report: page state %q, want the refusal", got)
		}
		msg := browsertest.Eval[string](t, ctx, `document.getElementById("error").textContent`)
		if !strings.HasPrefix(msg, "Refused: ") || !strings.Contains(msg, `may not use site "other"`) {
			t.Errorf("refusal shown: %q", msg)
		}
		if !browsertest.Eval[bool](t, ctx, `document.getElementById("report").hidden`) {
			t.Error("a report is shown beside the refusal")
		}
		status := browsertest.EvalAwait[int](t, ctx, `fetch("/api/v1/sites/other/reports/monthly?month=`+month+`").then((r) => r.status)`)
		if status != 403 {
			t.Errorf("the API answers %d for another site's report, want 403", status)
		}
		browsertest.Screenshot(t, ctx, "reports-refused.png", 800, 400)
	})

	t.Run("operator acknowledges without a token", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/reports"))
		browsertest.WaitFor[string](t, ctx, "the report", `document.body.dataset.ready`)
		browsertest.Step(t, ctx, chromedp.Click(chromedp.ID("logout")))
		browsertest.WaitFor[bool](t, ctx, "the login page", `location.pathname === "/login" && !!document.getElementById("name")`)
		reportsLogin(t, ctx, srv.URL, "/login", "olivier")
		browsertest.WaitFor[bool](t, ctx, "the operators' page", `location.pathname === "/" && document.body.dataset.session === "account"`)
		type head struct {
			TokenHidden, MeHidden bool
			Who, Operator         string
			Nav                   []string
		}
		hd := browsertest.Eval[head](t, ctx, `({TokenHidden: document.getElementById("tok-box").hidden, MeHidden: document.getElementById("me").hidden,
			Who: document.getElementById("who").textContent, Operator: document.getElementById("operator").value,
			Nav: [...document.querySelectorAll("header nav a")].filter((a) => !a.hidden).map((a) => a.getAttribute("href"))})`)
		if !hd.TokenHidden || hd.MeHidden || hd.Who != "olivier" || hd.Operator != "olivier" || len(hd.Nav) != 0 {
			t.Fatalf("operators' page header with a session: %+v", hd)
		}
		row := `#att tr[data-cabin="les-pins/a"]`
		browsertest.WaitFor[bool](t, ctx, "the alarm to acknowledge", `!!document.querySelector('`+row+` .ack-btn')`)
		browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.CSS(row+` input[name="message"]`), "technician in 15 min"),
			chromedp.Click(chromedp.CSS(row+" .ack-btn")))
		type result struct{ Status, Text string }
		res := browsertest.WaitFor[result](t, ctx, "the acknowledgement's answer", `(() => {
			const r = document.querySelector('`+row+` .ack-result');
			return r && { Status: r.dataset.status, Text: r.textContent };
		})()`)
		if res.Status != "201" || !strings.HasPrefix(res.Text, "Acknowledged by olivier") {
			t.Fatalf("acknowledgement: %+v", res)
		}
		rec.mu.Lock()
		acks := append([]string(nil), rec.acks...)
		rec.mu.Unlock()
		if len(acks) != 1 || strings.HasPrefix(acks[0], "|") || !strings.HasSuffix(acks[0], "|") {
			t.Errorf("acknowledgements sent with (CSRF|Authorization) %q, want one with the CSRF header and no token", acks)
		}
		f.token = adminToken
		var page AuditPage
		if code := f.get(t, "/api/v1/sites/les-pins/audit?limit=5", &page); code != 200 {
			t.Fatalf("audit: %d", code)
		}
		f.token = ""
		if len(page.Entries) == 0 || page.Entries[0].Action != AuditAlarmAck || page.Entries[0].Actor != "account:olivier" || page.Entries[0].Target != "a" {
			t.Errorf("newest audit entry %+v, want olivier's acknowledgement of les-pins/a", page.Entries)
		}

		// The cabin's page closes the alarm, with the same session.
		browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/#/cabin/les-pins/a"))
		btn := `#c-alarms tr[data-alarm] .close-btn`
		browsertest.WaitFor[bool](t, ctx, "the alarm's close button", `!!document.querySelector('`+btn+`')`)
		if n := browsertest.Eval[int](t, ctx, `document.querySelectorAll('`+btn+`').length`); n != 1 {
			t.Fatalf("%d close buttons, want one for the one open alarm (the month's are closed)", n)
		}
		browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.CSS(`#c-alarms tr[data-alarm] input[name="reason"]`), "button stuck, checked on site"),
			chromedp.Click(chromedp.CSS(btn)))
		closed := browsertest.WaitFor[string](t, ctx, "the close's answer", `(document.querySelector("#c-alarms .close-result") || {}).textContent`)
		if !strings.HasPrefix(closed, "Alarm closed by olivier") {
			t.Fatalf("close: %q", closed)
		}
		rec.mu.Lock()
		sent := append([]string(nil), rec.acks...)
		rec.mu.Unlock()
		if len(sent) != 2 || strings.HasPrefix(sent[1], "|") || !strings.HasSuffix(sent[1], "|") {
			t.Errorf("changes sent with (CSRF|Authorization) %q, want the close with the CSRF header and no token", sent)
		}
		if still := browsertest.Eval[int](t, ctx, `document.querySelectorAll('`+btn+`').length`); still != 0 {
			t.Errorf("%d close buttons after the close", still)
		}
		f.token = adminToken
		if code := f.get(t, "/api/v1/sites/les-pins/audit?limit=5", &page); code != 200 {
			t.Fatalf("audit: %d", code)
		}
		f.token = ""
		if e := page.Entries[0]; e.Action != AuditAlarmClose || e.Actor != "account:olivier" || !strings.Contains(e.Detail, "button stuck") {
			t.Errorf("newest audit entry %+v, want olivier's close", e)
		}
	})

	t.Run("admin chooses among every site", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Click(chromedp.ID("logout")))
		browsertest.WaitFor[bool](t, ctx, "the login page", `location.pathname === "/login" && !!document.getElementById("name")`)
		reportsLogin(t, ctx, srv.URL, "/login?next=/reports", "ada")
		browsertest.WaitFor[bool](t, ctx, "the report page", `location.pathname === "/reports" && !!document.body.dataset.ready`)
		type view struct {
			Sites, Nav []string
			Ready      string
		}
		v := browsertest.Eval[view](t, ctx, `({Sites: [...document.getElementById("site").options].map((o) => o.value), Ready: document.body.dataset.ready,
			Nav: [...document.querySelectorAll("header nav a")].filter((a) => !a.hidden).map((a) => a.getAttribute("href"))})`)
		if strings.Join(v.Sites, " ") != "les-pins other" || v.Ready != "les-pins "+month || strings.Join(v.Nav, " ") != "/notices /reports /" {
			t.Errorf("admin's report page: %+v, want both sites, les-pins's report, every link", v)
		}
	})

	if e := errs.All(); len(e) > 0 {
		t.Fatalf("the pages reported errors: %q", e)
	}
}

// reportsDur is the page's way of writing a duration (dur in reports.html).
func reportsDur(sec float64) string {
	s := int64(sec + 0.5)
	if s < 60 {
		return fmt.Sprintf("%d s", s)
	}
	d, h, m := s/86400, s%86400/3600, s%3600/60
	switch {
	case d > 0:
		return fmt.Sprintf("%d d %d h", d, h)
	case h > 0:
		return fmt.Sprintf("%d h %02d min", h, m)
	case s%60 != 0:
		return fmt.Sprintf("%d min %d s", m, s%60)
	}
	return fmt.Sprintf("%d min", m)
}
