package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palier-lifts/palier/internal/browsertest"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// firstViewTimes are the times of one first view, in milliseconds.
type firstViewTimes struct {
	// Total: from the start of the navigation to the first attention
	// list and fleet page on screen, as the page measured it
	// (performance.now() when it marks palier-first-view).
	Total float64
	// API: the longest of its requests for cabins, from the browser's
	// resource timing (sent to last byte received).
	API float64
}

// firstView loads the page afresh and returns the times of its first view.
func firstView(t testing.TB, ctx context.Context, base string) firstViewTimes {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// about:blank first: navigating to the same URL with only another
	// fragment would not load the page again.
	if err := chromedp.Do(sctx, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitReady(chromedp.ID("fleet"))); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	return browsertest.WaitFor[firstViewTimes](t, ctx, "the first view", `document.body.dataset.firstView && {
		Total: +document.body.dataset.firstView,
		API: Math.max(...performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/cabins?")).map((e) => e.responseEnd - e.startTime)),
	}`)
}

// seededFleet says what seedFleet stored, for the checks.
type seededFleet struct {
	cabins   int
	critical []string // site/cabin of the entrapments and alarms, the longest waiting first
	attended int      // cabins in a critical or warning situation
	detail   string   // a cabin with a day of events and a site with a week of trips
}

// seedFleet stores n cabins, five a site, in the real store: every
// cabin's presence, then the events of the cabins in a situation and of
// site-0000 in one InsertBatches (one transaction). Entrapment: 1 cabin in
// 1000, alarm 1 in 2000, out of service 1 in 250, offline 1 in 100; the
// cabins of site-0000 have a week of trips, for their cabin page and
// report. The others have only their presence, as a cabin that has not
// sent its state yet (floor and mode unknown): an event for each would
// cost the seeding a minute under the race detector.
func seedFleet(t testing.TB, st store.Store, n int, now time.Time) seededFleet {
	t.Helper()
	ctx := context.Background()
	s := seededFleet{cabins: n, detail: "site-0000/a"}
	ev := func(b *wire.Batch, at time.Time, typ string, data any) {
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		b.Events = append(b.Events, wire.Event{Seq: uint64(len(b.Events) + 1), Time: at, Type: typ, Data: raw})
	}
	type waiting struct {
		id    string
		since time.Time
	}
	var critical []waiting
	var batches []wire.Batch
	start := time.Now()
	for i := range n {
		site, cabin := fmt.Sprintf("site-%04d", i/5), string(rune('a'+i%5))
		// One transaction each: the store has no batch of presences.
		if err := st.UpdateStatus(ctx, site, cabin, i%100 != 42, now); err != nil {
			t.Fatalf("seed presence: %v", err)
		}
		b := wire.Batch{V: wire.Version, Site: site, Cabin: cabin, Epoch: "e1"}
		id := site + "/" + cabin
		if i < 5 { // site-0000: a week of trips, every 15 min for a, 30 for b...
			every := time.Duration(i+1) * 15 * time.Minute
			for at := now.Add(-7 * 24 * time.Hour).Truncate(every); at.Before(now.Add(-5 * time.Minute)); at = at.Add(every) {
				floor := int(at.Unix()/60) % 9
				ev(&b, at, wire.TypeTrip, wire.TripData{From: (floor + 4) % 9, To: floor, Direction: wire.DirectionDown, DurationMS: 9000})
				if i == 0 && now.Sub(at) < 24*time.Hour {
					ev(&b, at.Add(9*time.Second), wire.TypeArrival, wire.ArrivalData{Floor: floor})
					ev(&b, at.Add(20*time.Second), wire.TypeDoorCycle, wire.DoorCycleData{Floor: floor, OpenMS: 6000})
				}
			}
			if i == 2 { // six hours out of service three days ago
				ev(&b, now.Add(-72*time.Hour), wire.TypeService, wire.ServiceData{InService: false, Reason: "maintenance"})
				ev(&b, now.Add(-66*time.Hour), wire.TypeService, wire.ServiceData{InService: true})
			}
		}
		attention := i%100 == 42
		if i%1000 == 7 {
			at := now.Add(-time.Duration(i/1000*4+3) * time.Minute)
			ev(&b, at, wire.TypeEntrapment, wire.EntrapmentData{Active: true, Reason: "stopped outside the door zone", Floor: i % 12})
			critical, attention = append(critical, waiting{id, at}), true
		}
		if i%2000 == 11 {
			at := now.Add(-time.Duration(i/2000*4+1) * time.Minute)
			ev(&b, at, wire.TypeAlarm, wire.AlarmData{Active: true, Floor: i % 12})
			critical, attention = append(critical, waiting{id, at}), true
		}
		if i%250 == 3 {
			ev(&b, now.Add(-2*time.Hour), wire.TypeService, wire.ServiceData{InService: false, Reason: "fault 31"})
			attention = true
		}
		if attention {
			s.attended++
		}
		if len(b.Events) > 0 {
			ev(&b, now.Add(-time.Hour), wire.TypeModeChange, wire.ModeChangeData{From: wire.ModeInspection, To: wire.ModeNormal})
			ev(&b, now.Add(-5*time.Minute), wire.TypeArrival, wire.ArrivalData{Floor: i % 12})
			ev(&b, now.Add(-2*time.Minute), wire.TypeHeartbeat, wire.HeartbeatData{Counters: wire.Counters{Trips: uint64(i*37%90000 + 1), DoorCycles: uint64(i*71%180000 + 1)}})
			batches = append(batches, b)
		}
	}
	if _, err := st.InsertBatches(ctx, batches, now); err != nil {
		t.Fatalf("seed the events of %d cabins: %v", len(batches), err)
	}
	t.Logf("seeded %d cabins in %s", n, time.Since(start).Round(time.Millisecond))
	slices.SortFunc(critical, func(a, b waiting) int { return a.since.Compare(b.since) })
	for _, c := range critical {
		s.critical = append(s.critical, c.id)
	}
	return s
}

// pageRequest is one request the page sent, and the answer it got.
type pageRequest struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
	status       int
	answer       []byte // the response body's first MiB
}

// answerWriter keeps the status and the start of the body of a response.
type answerWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (w *answerWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerWriter) Write(b []byte) (int, error) {
	if w.body.Len() < 1<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// pageLog serves the API and records every request reaching it, so a test
// sees what the page asked (the parameters of a page, the body of an
// acknowledgement) and what it was answered, whatever the API answers.
type pageLog struct {
	api      http.Handler
	mu       sync.Mutex
	answered sync.Cond // on mu: a request got its status
	log      []*pageRequest
}

func newPageLog(api http.Handler) *pageLog {
	l := &pageLog{api: api}
	l.answered.L = &l.mu
	return l
}

func (l *pageLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<16))
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// Recorded as it arrives: the page may show the answer before this
	// handler returns.
	pr := &pageRequest{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body}
	l.mu.Lock()
	l.log = append(l.log, pr)
	l.mu.Unlock()
	aw := &answerWriter{ResponseWriter: w, code: http.StatusOK}
	l.api.ServeHTTP(aw, r)
	l.mu.Lock()
	pr.status, pr.answer = aw.code, aw.body.Bytes()
	l.answered.Broadcast()
	l.mu.Unlock()
}

// since returns the requests recorded from the n-th on, once each is
// answered.
func (l *pageLog) since(n int) []pageRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.log[n:]
	for slices.ContainsFunc(rs, func(r *pageRequest) bool { return r.status == 0 }) {
		l.answered.Wait()
	}
	var out []pageRequest
	for _, r := range rs {
		out = append(out, *r)
	}
	return out
}

func (l *pageLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.log)
}

// TestDashboardInChromium drives the operators' page in a real browser over
// 10,000 cabins in SQLite, in one browser session: the first view
// (attention list first, most urgent first, one fleet page), paging and
// filtering on the server, a cabin's page and its uPlot charts, and an
// acknowledgement sent from the page.
func TestDashboardInChromium(t *testing.T) {
	const token = "admin-token-0123456789abcdef"
	now := time.Now().UTC().Truncate(time.Second)
	// The API's clock stays at the seeding time, so no cabin turns stale or
	// silent however long the test runs.
	f := newFixture(t, map[string]Role{"read-token-0123456789abcdef": RoleRead, token: RoleAdmin},
		func(o *Options) { o.Clock = func() time.Time { return now } })
	seeded := seedFleet(t, f.st, 10_000, now)
	pl := newPageLog(f.api)
	srv := httptest.NewServer(pl)
	t.Cleanup(srv.Close)
	ctx, errs := browsertest.Start(t)

	t.Run("first view", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitReady(chromedp.ID("fleet")))
		browsertest.WaitFor[bool](t, ctx, "the page to ask for a token", `document.getElementById("err").textContent.includes("bearer token")`)
		// As an operator does: paste the token; the page keeps it.
		browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.ID("tok"), token+"\r"))
		browsertest.WaitFor[float64](t, ctx, "the view with the token", `+document.body.dataset.firstView`)

		mark := pl.len()
		fv := firstView(t, ctx, srv.URL)
		t.Logf("first view of %d cabins: %.0f ms from navigation start, the longest API request %.0f ms (measured by the page; BenchmarkDashboardFirstView10000 reports it)", seeded.cabins, fv.Total, fv.API)
		type view struct {
			Att, Fleet     []string
			AckButtons     []string
			AttCount, Info string
			AttFirst, More bool
		}
		v := browsertest.Eval[view](t, ctx, `(() => {
			const rows = (sel) => [...document.querySelectorAll(sel)].map((tr) => tr.dataset.cabin);
			const att = document.getElementById("att"), fleet = document.getElementById("fleet");
			return {
				Att: rows("#att tbody tr"), Fleet: rows("#fleet tbody tr"),
				AckButtons: [...document.querySelectorAll("#att .ack-btn")].map((b) => b.closest("tr").dataset.cabin),
				AttCount: document.getElementById("att-count").textContent, Info: document.getElementById("p-info").textContent,
				AttFirst: !!(att.compareDocumentPosition(fleet) & Node.DOCUMENT_POSITION_FOLLOWING) && att.getBoundingClientRect().top < fleet.getBoundingClientRect().top,
				More: !document.getElementById("att-more-line").hidden,
			};
		})()`)
		if !v.AttFirst {
			t.Error("the attention list is not above the fleet table")
		}
		if len(v.Att) != 100 || v.AttCount != "(100+ cabins)" || !v.More {
			t.Errorf("attention list: %d rows, count %q, more %v; want the first 100 of %d, and more", len(v.Att), v.AttCount, v.More, seeded.attended)
		}
		if len(v.Att) >= len(seeded.critical) && !slices.Equal(v.Att[:len(seeded.critical)], seeded.critical) {
			t.Errorf("attention list starts %v, want the entrapments and alarms, longest waiting first: %v", v.Att[:len(seeded.critical)], seeded.critical)
		}
		if !slices.Equal(v.AckButtons, seeded.critical) {
			t.Errorf("Acknowledge buttons on %v, want on every unacknowledged alarm or entrapment: %v", v.AckButtons, seeded.critical)
		}
		if len(v.Fleet) != 50 || v.Info != "cabins 1 to 50" {
			t.Errorf("fleet: %d rows, %q; want the first page of 50", len(v.Fleet), v.Info)
		}
		// The page never asks for the whole fleet, and always with the token.
		for _, r := range pl.since(mark) {
			if r.path == "/api/v1/cabins" && r.query.Get("limit") == "" {
				t.Errorf("the page asked for every cabin: %s?%s", r.path, r.query.Encode())
			}
			if strings.HasPrefix(r.path, "/api/") && (r.header.Get("Authorization") != "Bearer "+token || r.status != http.StatusOK) {
				t.Errorf("%s %s?%s: %d, Authorization %q", r.method, r.path, r.query.Encode(), r.status, r.header.Get("Authorization"))
			}
		}
		browsertest.Screenshot(t, ctx, "dashboard-fleet.png", 800, 600)
	})

	t.Run("paging and filtering", func(t *testing.T) {
		first := browsertest.Eval[[]string](t, ctx, `[...document.querySelectorAll("#fleet tbody tr")].map((tr) => tr.dataset.cabin)`)
		cursor := browsertest.Eval[string](t, ctx, `document.getElementById("p-next").dataset.cursor`)
		if cursor == "" {
			t.Fatal("no next page offered")
		}
		mark := pl.len()
		browsertest.Step(t, ctx, chromedp.Click(chromedp.ID("p-next")))
		browsertest.WaitFor[bool](t, ctx, "the second page", `document.getElementById("p-info").textContent === "cabins 51 to 100"`)
		second := browsertest.Eval[[]string](t, ctx, `[...document.querySelectorAll("#fleet tbody tr")].map((tr) => tr.dataset.cabin)`)
		if len(second) != 50 || slices.ContainsFunc(second, func(c string) bool { return slices.Contains(first, c) }) {
			t.Errorf("second page %v overlaps the first %v", second, first)
		}
		if !askedFor(pl.since(mark), url.Values{"limit": {"50"}, "cursor": {cursor}}) {
			t.Errorf("no request carried the cursor %q: %v", cursor, queries(pl.since(mark)))
		}

		mark = pl.len()
		browsertest.Step(t, ctx, browsertest.SetField("f-site", "site-0042"), chromedp.Click(chromedp.CSS("#filters button")))
		browsertest.WaitFor[bool](t, ctx, "site-0042's cabins", `[...document.querySelectorAll("#fleet tbody tr")].every((tr) => tr.dataset.cabin.startsWith("site-0042/")) && document.getElementById("p-info").textContent === "cabins 1 to 5 (last page)"`)
		if !askedFor(pl.since(mark), url.Values{"limit": {"50"}, "site": {"site-0042"}}) {
			t.Errorf("no request carried site=site-0042: %v", queries(pl.since(mark)))
		}

		mark = pl.len()
		browsertest.Step(t, ctx, browsertest.SetField("f-site", ""), browsertest.SetField("f-situation", "entrapment"),
			chromedp.Click(chromedp.CSS("#filters button")))
		got := browsertest.WaitFor[[]string](t, ctx, "the entrapments", `document.getElementById("p-info").textContent === "cabins 1 to 10 (last page)" &&
			[...document.querySelectorAll("#fleet tbody tr")].filter((tr) => tr.querySelector(".sev.critical").textContent === "entrapment").map((tr) => tr.dataset.cabin)`)
		if len(got) != 10 {
			t.Errorf("entrapment filter shows %v, want the 10 cabins in entrapment", got)
		}
		if !askedFor(pl.since(mark), url.Values{"limit": {"50"}, "situation": {"entrapment"}}) {
			t.Errorf("no request carried situation=entrapment: %v", queries(pl.since(mark)))
		}

		mark = pl.len()
		browsertest.Step(t, ctx, chromedp.Click(chromedp.ID("att-more")))
		n := browsertest.WaitFor[int](t, ctx, "more of the attention list", `document.querySelectorAll("#att tbody tr").length > 100 && document.querySelectorAll("#att tbody tr").length`)
		if n != seeded.attended || !askedFor(pl.since(mark), url.Values{"attention": {"true"}, "limit": {"200"}}) {
			t.Errorf("after Show more: %d rows, want all %d; requests %v", n, seeded.attended, queries(pl.since(mark)))
		}
	})

	t.Run("cabin page", func(t *testing.T) {
		site, cabin, _ := strings.Cut(seeded.detail, "/")
		browsertest.Step(t, ctx, browsertest.SetField("f-site", site), browsertest.SetField("f-situation", ""),
			chromedp.Click(chromedp.CSS("#filters button")))
		browsertest.WaitFor[bool](t, ctx, "the site", `!!document.querySelector('#fleet tr[data-cabin="`+seeded.detail+`"] a')`)
		mark := pl.len()
		browsertest.Step(t, ctx, chromedp.Click(chromedp.CSS(`#fleet tr[data-cabin="`+seeded.detail+`"] a`)))
		browsertest.WaitFor[bool](t, ctx, "the cabin's plots", `document.body.dataset.cabinDrawn === "`+seeded.detail+`"`)
		type cabinView struct {
			Hash, Title string
			Plots       map[string]int // series pixels drawn on each chart's canvas
			Canvases    int
			Report      [][]string // the report table's cells
			History     struct{ Status, Text string }
			Alarms      struct{ Status, Text string }
		}
		// A chart is drawn when its canvas holds pixels of its first
		// series' colour, not only axes.
		v := browsertest.Eval[cabinView](t, ctx, `(() => {
			const box = (id) => { const b = document.getElementById(id); return { Status: b.dataset.status || "", Text: b.textContent }; };
			const drawn = (id, rgb) => {
				const c = document.querySelector("#" + id + " canvas");
				if (!c || !c.width || !c.height) return 0;
				const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
				let n = 0;
				for (let i = 0; i < d.length; i += 4) {
					if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) < 12 && Math.abs(d[i + 1] - rgb[1]) < 12 && Math.abs(d[i + 2] - rgb[2]) < 12) n++;
				}
				return n;
			};
			const blue = [0x33, 0x66, 0xcc], green = [0x10, 0x96, 0x18];
			return {
				Hash: location.hash, Title: document.getElementById("c-title").textContent,
				Plots: { events: drawn("plot-events", blue), floor: drawn("plot-floor", blue), trips: drawn("plot-trips", blue), availability: drawn("plot-avail", green) },
				Canvases: document.querySelectorAll("#cabin-view .uplot canvas").length,
				Report: [...document.querySelectorAll("#r-table tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent)),
				History: box("c-history"), Alarms: box("c-alarms"),
			};
		})()`)
		if v.Hash != "#/cabin/"+seeded.detail || !strings.Contains(v.Title, site+" / "+cabin) {
			t.Errorf("cabin page at %q titled %q", v.Hash, v.Title)
		}
		if v.Canvases != 4 {
			t.Errorf("%d uPlot canvases, want 4 (events, floor, trips per day, availability)", v.Canvases)
		}
		// The report the page got: availability is null for a cabin not
		// heard from in the period (a gap, "not monitored", never 0 %).
		var rep struct {
			Cabins []struct {
				Cabin        string   `json:"cabin"`
				Trips        int      `json:"trips"`
				Availability *float64 `json:"availability"`
			} `json:"cabins"`
		}
		for _, r := range pl.since(mark) {
			if r.path == "/api/v1/sites/"+site+"/report" && r.status == http.StatusOK {
				if err := json.Unmarshal(r.answer, &rep); err != nil {
					t.Fatalf("report: %v in %s", err, r.answer)
				}
			}
		}
		measured := false
		if len(rep.Cabins) != 5 || len(v.Report) != len(rep.Cabins) {
			t.Errorf("site report: the page shows %d cabins of %d, want the 5 of %s", len(v.Report), len(rep.Cabins), site)
		}
		for i, c := range rep.Cabins {
			if i >= len(v.Report) {
				break
			}
			want := "not monitored"
			if c.Availability != nil {
				want, measured = fmt.Sprintf("%.1f %%", *c.Availability*100), true
			}
			row := v.Report[i]
			if len(row) != 6 || row[0] != c.Cabin || row[1] != fmt.Sprint(c.Trips) || !strings.HasPrefix(row[5], want) {
				t.Errorf("report row %q, want cabin %s, %d trips, availability %q", row, c.Cabin, c.Trips, want)
			}
		}
		for name, n := range v.Plots {
			if name == "availability" && !measured {
				continue // every cabin not monitored: nothing to draw
			}
			if n < 50 {
				t.Errorf("the %s chart shows %d pixels of its series: not drawn", name, n)
			}
		}
		// The page shows the history and alarms this receiver serves (an
		// older one answers 404: the page then says "not available").
		base := "/api/v1/cabins/" + seeded.detail
		for _, c := range []struct {
			path string
			box  struct{ Status, Text string }
			want string
		}{{base + "/timeline", v.History, "The situation history is not available"}, {base + "/alarms", v.Alarms, "The alarms list is not available"}} {
			status := 0
			for _, r := range pl.since(mark) {
				if r.path == c.path {
					status = r.status
				}
			}
			switch {
			case status == 0:
				t.Errorf("the page never asked for %s", c.path)
			case c.box.Status != fmt.Sprint(status):
				t.Errorf("%s answered %d, the page shows %q (status %s)", c.path, status, c.box.Text, c.box.Status)
			case status != http.StatusOK:
				t.Errorf("%s answered %d, want 200", c.path, status)
			case strings.Contains(c.box.Text, c.want):
				t.Errorf("%s answered 200, the page shows %q", c.path, c.box.Text)
			}
		}
		browsertest.Screenshot(t, ctx, "dashboard-cabin.png", 800, 600)
	})

	t.Run("acknowledge", func(t *testing.T) {
		browsertest.Step(t, ctx, chromedp.Click(chromedp.CSS(`#cabin-view a[href="#/"]`)))
		target, other := seeded.critical[0], seeded.critical[1]
		row := func(c string) string { return `#att tr[data-cabin="` + c + `"]` }
		browsertest.WaitFor[bool](t, ctx, "the attention list", `!!document.querySelector('`+row(target)+` .ack-btn')`)

		// Without an operator's name, nothing is sent.
		mark := pl.len()
		browsertest.Step(t, ctx, chromedp.Click(chromedp.CSS(row(other)+" .ack-btn")))
		browsertest.WaitFor[bool](t, ctx, "the page to ask for a name", `(document.querySelector('`+row(other)+` .ack-result') || {}).textContent === "Enter your name in Operator (top of the page) first."`)
		if rs := pl.since(mark); slices.ContainsFunc(rs, func(r pageRequest) bool { return r.method == http.MethodPost }) {
			t.Errorf("acknowledged without a name: %v", rs)
		}

		const by, message = "Ada Lovelace", "on my way, 10 min"
		mark = pl.len()
		browsertest.Step(t, ctx, chromedp.SendKeys(chromedp.ID("operator"), by+"\t"),
			chromedp.SendKeys(chromedp.CSS(row(target)+` input[name="message"]`), message),
			chromedp.Click(chromedp.CSS(row(target)+" .ack-btn")))
		type result struct{ Status, Text, Operator string }
		res := browsertest.WaitFor[result](t, ctx, "the acknowledgement's answer", `(() => {
			const r = document.querySelector('`+row(target)+` .ack-result');
			return r && { Status: r.dataset.status, Text: r.textContent, Operator: localStorage.getItem("palier-operator") };
		})()`)
		var posts []pageRequest
		for _, r := range pl.since(mark) {
			if r.method == http.MethodPost {
				posts = append(posts, r)
			}
		}
		if len(posts) != 1 {
			t.Fatalf("%d POSTs, want one acknowledgement: %v", len(posts), posts)
		}
		p := posts[0]
		var body map[string]any
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatalf("acknowledgement body %s: %v", p.body, err)
		}
		if p.path != "/api/v1/cabins/"+target+"/acknowledgements" || len(body) != 2 || body["by"] != by || body["message"] != message {
			t.Errorf("POST %s %s, want /api/v1/cabins/%s/acknowledgements {by, message}", p.path, p.body, target)
		}
		if p.header.Get("Content-Type") != "application/json" || p.header.Get("Authorization") != "Bearer "+token || !sameOrigin(p.header.Get("Origin"), strings.TrimPrefix(srv.URL, "http://")) {
			t.Errorf("acknowledgement headers %v: want JSON, the token, this origin", p.header)
		}
		// The cabin holds an open alarm: the receiver takes it (201), the
		// page says so, and the store has the acknowledgement.
		want := "Acknowledged by " + by
		if p.status != http.StatusCreated || res.Status != fmt.Sprint(p.status) || !strings.Contains(res.Text, want) {
			t.Errorf("the receiver answered %d, the page shows %q (status %s); want 201 and %q", p.status, res.Text, res.Status, want)
		}
		site, cab, _ := strings.Cut(target, "/")
		open, err := f.st.Alarms(context.Background(), site, cab, true, 10)
		if err != nil || len(open) == 0 || open[0].AckedBy != by || open[0].AckMessage != message {
			t.Errorf("the store's open alarms of %s after the click: %+v, %v", target, open, err)
		}
		if res.Operator != by {
			t.Errorf("operator name kept as %q, want %q", res.Operator, by)
		}
	})

	for _, e := range errs.All() {
		t.Errorf("browser: %s", e)
	}
}

// askedFor says whether one request for the cabins list carried every
// parameter of want.
func askedFor(rs []pageRequest, want url.Values) bool {
	return slices.ContainsFunc(rs, func(r pageRequest) bool {
		if r.path != "/api/v1/cabins" {
			return false
		}
		for k, v := range want {
			if r.query.Get(k) != v[0] {
				return false
			}
		}
		return true
	})
}

func queries(rs []pageRequest) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.method+" "+r.path+"?"+r.query.Encode())
	}
	return out
}

// BenchmarkDashboardFirstView10000 loads the operators' page over 10,000
// cabins in SQLite in headless Chromium, again and again, and reports the
// median time from navigation start to the attention list and first fleet
// page on screen, as the page measures it, the slowest, and the median of
// the longest request for cabins in each (docs/BENCHMARKS.md).
func BenchmarkDashboardFirstView10000(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(b, nil, func(o *Options) { o.Clock = func() time.Time { return now } })
	seedFleet(b, f.st, 10_000, now)
	ctx, _ := browsertest.Start(b)
	firstView(b, ctx, f.srv.URL) // a cold browser: fonts, the process of the tab
	var total, api []float64
	for b.Loop() {
		fv := firstView(b, ctx, f.srv.URL)
		total, api = append(total, fv.Total), append(api, fv.API)
	}
	slices.Sort(total)
	slices.Sort(api)
	b.ReportMetric(total[len(total)/2], "ms/first-view")
	b.ReportMetric(total[len(total)-1], "max-ms")
	b.ReportMetric(api[len(api)/2], "api-ms")
}
