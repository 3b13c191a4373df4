package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/internal/browsertest"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/receiver"
	"github.com/palier-lifts/palier/receiver/httpapi"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/simulator"
	"github.com/palier-lifts/palier/wire"
)

// The notices test's sites, cabin and managers.
const (
	noticesSiteA, noticesSiteB = "les-pins", "les-oliviers"
	noticesCabin               = "cabin-1"
	noticesPassword            = "correct horse battery staple"
)

// TestNoticesPageInChromium is a building manager's notices page end to
// end: a receiver (embedded NATS with MQTT, SQLite, accounts on) with a
// manager for each of two sites, a real agent for a cabin of site A
// reading the simulator, and headless Chromium on GET /notices. A's
// manager logs in, writes a notice in French and English (Italian shown
// missing), has a file too large and one not of its type refused (by the
// page, by the receiver), uploads a PNG, is refused once (valid_until before
// valid_from) with the message next to the field and nothing typed lost,
// publishes; the agent's screen feed gets the notice with the picture's
// SHA-256; the edit reaches the feed as a new version; play records sent
// on the screen socket come back up the chain into the list ("where and
// how long"); a second notice is withdrawn through the page's
// confirmation, by keyboard; the page fits a 400 px window. The form's
// schedule encoding, its wall-clock checks and the mapping of the API's
// error params to fields are evaluated in the page (the API takes a
// schedule once that branch is merged). B's manager then sees none
// of A's notices and the API refuses A's site. The preview's "unavailable"
// path is checked while the screens endpoint does not exist. No CSP
// refusal and no exception on any page.
func TestNoticesPageInChromium(t *testing.T) {
	browsertest.Chromium(t) // skips before anything starts when there is none
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	rcv := noticesReceiver(t, ctx, dir)
	noticesAccount(t, rcv, "anne", noticesSiteA)
	noticesAccount(t, rcv, "bruno", noticesSiteB)
	feed := noticesAgent(t, ctx, dir, rcv)
	base := "http://" + rcv.HTTPAddr()

	bctx, errs := browsertest.Start(t)

	// Without a session the page sends the manager to the login.
	browsertest.Step(t, bctx, chromedp.Navigate(base+"/notices"))
	noticesAtLogin(t, bctx)
	noticesLogin(t, bctx, base, "anne")

	sites := browsertest.Eval[[]string](t, bctx, `[...document.getElementById("site").options].map((o) => o.value)`)
	if !slices.Equal(sites, []string{noticesSiteA}) {
		t.Fatalf("anne's site chooser offers %q, want only %s", sites, noticesSiteA)
	}
	if z := browsertest.Eval[string](t, bctx, `document.getElementById("zone").textContent`); z != "Europe/Monaco" {
		t.Fatalf("zone shown %q, want Europe/Monaco until the screens endpoint says otherwise", z)
	}

	// Compose: French and English, Italian missing; the validity ends
	// before it begins, which the API refuses.
	monaco, err := time.LoadLocation("Europe/Monaco")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().In(monaco).Add(-time.Hour).Truncate(time.Minute)
	wall := func(t time.Time) string { return t.Format("2006-01-02T15:04") }
	browsertest.Step(t, bctx,
		browsertest.SetField("title-fr", "Coupure d'eau"),
		browsertest.SetField("body-fr", "Mardi de 9 h à 12 h, l'eau est coupée dans tout l'immeuble."),
		browsertest.SetField("title-en", "Water cut"),
		browsertest.SetField("body-en", "Tuesday from 9 to 12, no water in the whole building."),
		browsertest.SetField("category", "water"),
		browsertest.SetField("priority", "urgent"),
		browsertest.SetField("valid-from", wall(from)),
		browsertest.SetField("valid-until", wall(from.Add(-24*time.Hour))),
	)
	type missing struct{ EN, IT bool }
	if m := browsertest.Eval[missing](t, bctx, `({EN: !document.getElementById("missing-en").hidden, IT: !document.getElementById("missing-it").hidden})`); m.EN || !m.IT {
		t.Fatalf("missing languages shown %+v, want Italian only", m)
	}
	if got := browsertest.Eval[string](t, bctx, `window.palierNotices.draft().valid_from`); got != from.UTC().Format(time.RFC3339) {
		t.Fatalf("valid from %s in Europe/Monaco is sent as %s, want %s", wall(from), got, from.UTC().Format(time.RFC3339))
	}

	// A file the screens cannot show is refused before any upload; a PNG
	// is uploaded through the site's media endpoint.
	text := filepath.Join(dir, "notes.txt")
	picture := filepath.Join(dir, "plan.png")
	if err := os.WriteFile(text, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	pic := noticesPNG(t)
	if err := os.WriteFile(picture, pic, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pic)
	sha := hex.EncodeToString(sum[:])
	browsertest.Step(t, bctx, chromedp.SetUploadFiles(chromedp.CSS("#picture-file"), []string{text}))
	if msg := browsertest.WaitFor[string](t, bctx, "the refusal of a text file", `document.getElementById("media-error").textContent`); !strings.Contains(msg, "notes.txt is a text/plain file") {
		t.Fatalf("a text file is refused with %q", msg)
	}
	// Too large for this receiver (http.max_upload_bytes): refused before
	// the upload. Named .png but not one: the receiver refuses it.
	big := filepath.Join(dir, "big.png")
	fake := filepath.Join(dir, "fake.png")
	if err := os.WriteFile(big, bytes.Repeat([]byte{1}, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, []byte("<html><script>alert(1)</script></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(t, bctx, chromedp.SetUploadFiles(chromedp.CSS("#picture-file"), []string{big}))
	if msg := browsertest.WaitFor[string](t, bctx, "the refusal of a large file", `document.getElementById("media-error").textContent.includes("big.png") && document.getElementById("media-error").textContent`); msg != "big.png is 100 KiB: at most 64 KiB per file." {
		t.Fatalf("a file too large is refused with %q", msg)
	}
	browsertest.Step(t, bctx, chromedp.SetUploadFiles(chromedp.CSS("#picture-file"), []string{fake}))
	if msg := browsertest.WaitFor[string](t, bctx, "the receiver's refusal", `document.getElementById("media-error").textContent.includes("fake.png") && document.getElementById("media-error").textContent`); !strings.HasPrefix(msg, "fake.png: ") {
		t.Fatalf("a PNG that is not one is refused with %q", msg)
	} else {
		t.Logf("the receiver's refusal, as shown: %s", msg)
	}
	browsertest.Step(t, bctx, chromedp.SetUploadFiles(chromedp.CSS("#picture-file"), []string{picture}))
	browsertest.WaitFor[bool](t, bctx, "the picture's thumbnail", `(() => { const i = document.querySelector('#thumbs li[data-sha256="`+sha+`"] img'); return !!i && i.complete && i.naturalWidth === 64; })()`)

	// Refused: the message is next to valid_until, everything typed stays.
	browsertest.Step(t, bctx, noticesClick("#publish"))
	msg := browsertest.WaitFor[string](t, bctx, "the refusal next to valid until", `document.getElementById("valid-until-error").textContent`)
	if !strings.Contains(msg, "is not after valid_from") {
		t.Fatalf("valid_until's message %q", msg)
	}
	type kept struct {
		TitleFR, BodyEN, Category, Invalid, Top string
		Thumbs                                  int
	}
	k := browsertest.Eval[kept](t, bctx, `({TitleFR: document.getElementById("title-fr").value, BodyEN: document.getElementById("body-en").value,
		Category: document.getElementById("category").value, Invalid: document.getElementById("valid-until").getAttribute("aria-invalid") || "",
		Top: document.getElementById("form-error").textContent + document.getElementById("top-error").textContent,
		Thumbs: document.querySelectorAll("#thumbs li").length})`)
	if k.TitleFR != "Coupure d'eau" || !strings.HasPrefix(k.BodyEN, "Tuesday") || k.Category != "water" || k.Thumbs != 1 || k.Invalid != "true" || k.Top != "" {
		t.Fatalf("after the refusal the form holds %+v", k)
	}

	// Fixed, previewed as the site's screens draw it (each layout, each
	// language, the picture fetched and checked by the preview itself),
	// and published.
	browsertest.Step(t, bctx, browsertest.SetField("valid-until", wall(from.Add(30*24*time.Hour))))
	browsertest.Step(t, bctx, noticesClick("#preview-button"))
	type shot struct {
		Caption, Src string
		W, H         int
	}
	shots := browsertest.WaitFor[[]shot](t, bctx, "the previews", `(() => {
		const figs = [...document.querySelectorAll("#preview-images figure")];
		const status = document.getElementById("preview-status").textContent;
		if (status.startsWith("Preview unavailable")) throw new Error(status);
		if (figs.length < 4 || !figs.every((f) => f.querySelector("img").complete)) return null;
		return figs.map((f) => { const i = f.querySelector("img"); return {Caption: f.querySelector("figcaption").textContent, Src: i.src, W: i.naturalWidth, H: i.naturalHeight}; });
	})()`)
	wantShots := []shot{{"800x480 (landscape), French", "", 800, 480}, {"800x480 (landscape), English", "", 800, 480},
		{"1920x1080 (portrait), French", "", 1080, 1920}, {"1920x1080 (portrait), English", "", 1080, 1920}}
	if len(shots) != len(wantShots) {
		t.Fatalf("%d previews, want %d", len(shots), len(wantShots))
	}
	for i, w := range wantShots {
		g := shots[i]
		if g.Caption != w.Caption || g.W != w.W || g.H != w.H || !strings.HasPrefix(g.Src, "data:image/png;base64,") {
			t.Errorf("preview %d: %q %dx%d, want %q %dx%d as a PNG", i, g.Caption, g.W, g.H, w.Caption, w.W, w.H)
		}
	}
	if shots[0].Src == shots[1].Src || shots[0].Src == shots[2].Src {
		t.Error("the French and English previews, or the two layouts, are the same picture")
	}
	noticesCheckPreview(t, shots[0].Src, 800, 480)
	browsertest.Screenshot(t, bctx, "notices-compose.png", 1280, 900)
	browsertest.Step(t, bctx, noticesClick("#publish"))
	noticesAwaitStatus(t, bctx, "Published.")
	set := feed.await(t, "the notice with its picture", func(s wire.NoticeSet) bool {
		return len(s.Notices) == 1 && s.Notices[0].Title.FR == "Coupure d'eau"
	})
	n := set.Notices[0]
	if n.Title.EN != "Water cut" || n.Title.IT != "" || n.Category != wire.CategoryWater || n.Priority != wire.PriorityUrgent ||
		len(n.Media) != 1 || n.Media[0].SHA256 != sha || !n.ValidFrom.Equal(from) || n.ValidUntil == nil || !n.ValidUntil.Equal(from.Add(30*24*time.Hour)) {
		t.Fatalf("the screen feed got %+v", n)
	}

	// The schedule the form encodes.
	type schedule struct {
		Days  []string            `json:"days"`
		Hours []map[string]string `json:"hours"`
		Words string
	}
	browsertest.Step(t, bctx, noticesClick("#preset-weekdays"), noticesClick("#add-window"),
		browsertest.SetField("schedule-hours-0-from", "08:00"), browsertest.SetField("schedule-hours-0-to", "10:00"))
	s := browsertest.Eval[schedule](t, bctx, `({...window.palierNotices.draft().schedule, Words: document.getElementById("schedule-words").textContent})`)
	if !slices.Equal(s.Days, []string{"mon", "tue", "wed", "thu", "fri"}) || len(s.Hours) != 1 || s.Hours[0]["from"] != "08:00" || s.Hours[0]["to"] != "10:00" || s.Words != "weekdays, 08:00–10:00" {
		t.Fatalf("weekdays 08:00-10:00 is encoded as %+v", s)
	}
	// Whether a notice is on screen now follows its schedule on the
	// screens' wall clock, summer time included.
	in := browsertest.Eval[[]bool](t, bctx, `(() => { const s = {days: ["mon","tue","wed","thu","fri"], hours: [{from: "08:00", to: "10:00"}]};
		return ["2026-12-07T07:30:00Z", "2026-12-07T09:30:00Z", "2026-12-05T07:30:00Z", "2026-07-06T06:30:00Z", "2026-07-06T07:30:00Z"]
			.map((t) => window.palierNotices.inSchedule(s, Date.parse(t), "Europe/Monaco")); })()`)
	if !slices.Equal(in, []bool{true, false, false, true, true}) {
		t.Fatalf("weekdays 08:00-10:00 in Europe/Monaco at Mon 08:30 CET, Mon 10:30, Sat 08:30, Mon 08:30 CEST, Mon 09:30 CEST: %v", in)
	}

	// The page's next showing agrees with the screens' rule, across a
	// change of clock.
	weekdayMornings := wire.Notice{ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Schedule: &wire.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: []wire.Window{{From: "08:00", To: "10:00"}}}}
	for _, after := range []time.Time{time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 27, 9, 30, 0, 0, time.UTC), time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC)} {
		want, _ := weekdayMornings.NextShown(after, monaco)
		got := browsertest.Eval[float64](t, bctx, `window.palierNotices.nextShown({valid_from: "2026-01-01T00:00:00Z",
			schedule: {days: ["mon","tue","wed","thu","fri"], hours: [{from: "08:00", to: "10:00"}]}}, Date.parse("`+after.Format(time.RFC3339)+`"))`)
		if int64(got) != want.UnixMilli() {
			t.Errorf("after %s the page says next shown %s, the screens' rule %s", after, time.UnixMilli(int64(got)).UTC(), want.UTC())
		}
	}

	at := browsertest.Eval[string](t, bctx, `window.palierNotices.previewTime({valid_from: "2030-01-05T00:00:00Z",
		schedule: {days: ["mon","tue","wed","thu","fri"], hours: [{from: "08:00", to: "10:00"}]}})`)
	if at != "2030-01-07T07:00:00.000Z" {
		t.Fatalf("a notice of weekdays 08:00-10:00 from Saturday 5 January 2030 is previewed at %s, want Monday 08:00 in Monaco", at)
	}

	// The API's error params map to the fields they name.
	browsertest.Step(t, bctx, noticesClick("#add-window"))
	fields := browsertest.Eval[[]string](t, bctx, `["title.en", "body.it", "valid_until", "media[0].size", "media", "schedule.days[2]", "schedule.hours[1].to",
		"schedule.hours[0]", "schedule", "category", "id", "notices[3].title.fr"].map(window.palierNotices.fieldFor)`)
	wantFields := []string{"title-en", "body-it", "valid-until", "media", "media", "schedule-days", "schedule-hours-1-to",
		"schedule-hours", "schedule", "category", "", "title-fr"}
	if !slices.Equal(fields, wantFields) {
		t.Fatalf("API params map to fields %q, want %q", fields, wantFields)
	}
	if none := browsertest.Eval[bool](t, bctx, `window.palierNotices.encodeSchedule(["mon","tue","wed","thu","fri","sat","sun"], [{from: "", to: ""}]) === undefined`); !none {
		t.Fatal("every day, all day is sent as a schedule; want none")
	}

	// Edit: the form takes the notice back; the change is a new version.
	browsertest.Step(t, bctx, noticesClick(`#notices tr[data-id="`+n.ID+`"] button.edit`))
	if v := browsertest.Eval[string](t, bctx, `document.getElementById("title-fr").value + "|" + document.getElementById("publish").textContent + "|" + (window.palierNotices.draft().schedule === undefined)`); v != "Coupure d'eau|Save changes|true" {
		t.Fatalf("the edit form holds %q", v)
	}
	// The edit also limits it to weekday mornings: the screens get the
	// schedule as the form encoded it.
	browsertest.Step(t, bctx, browsertest.SetField("title-en", "Water cut on Tuesday"),
		noticesClick("#preset-weekdays"), noticesClick("#add-window"),
		browsertest.SetField("schedule-hours-0-from", "08:00"), browsertest.SetField("schedule-hours-0-to", "10:00"),
		noticesClick("#publish"))
	noticesAwaitStatus(t, bctx, "Changes saved.")
	edited := feed.await(t, "the edited notice", func(s wire.NoticeSet) bool {
		return len(s.Notices) == 1 && s.Notices[0].Title.EN == "Water cut on Tuesday"
	})
	if edited.Version <= set.Version || edited.Notices[0].ID != n.ID || len(edited.Notices[0].Media) != 1 || edited.Notices[0].Media[0].SHA256 != sha {
		t.Fatalf("edit: version %d after %d, notice %+v", edited.Version, set.Version, edited.Notices[0])
	}
	if sc := edited.Notices[0].Schedule; sc == nil || !slices.Equal(sc.Days, []string{"mon", "tue", "wed", "thu", "fri"}) ||
		len(sc.Hours) != 1 || sc.Hours[0] != (wire.Window{From: "08:00", To: "10:00"}) {
		t.Fatalf("the screen feed got the schedule %+v, want weekdays 08:00-10:00", sc)
	}

	// The display shows it 12 s in French and 8 s in English; the list
	// says so once the records have come up the chain.
	feed.played(n.ID, edited.Version, wire.LangFR, 12000)
	feed.played(n.ID, edited.Version, wire.LangEN, 8000)

	// A second notice, published then withdrawn through the confirmation.
	browsertest.Step(t, bctx, browsertest.SetField("title-fr", "Nettoyage des vitres"), browsertest.SetField("body-fr", "Jeudi matin."),
		browsertest.SetField("category", "cleaning"), noticesClick("#publish"))
	two := feed.await(t, "the second notice", func(s wire.NoticeSet) bool { return len(s.Notices) == 2 })
	second := two.Notices[1].ID
	browsertest.WaitFor[bool](t, bctx, "the second notice listed", `!!document.querySelector('#notices tr[data-id="`+second+`"]')`)
	// By keyboard: Enter on Withdraw asks, with the focus on "Keep it";
	// Escape keeps the notice; asked again, Withdraw withdraws it.
	withdrawButton := `#notices tr[data-id="` + second + `"] button.withdraw`
	browsertest.Step(t, bctx, chromedp.Focus(chromedp.CSS(withdrawButton)), chromedp.KeyEvent(kb.Enter))
	if q := browsertest.WaitFor[string](t, bctx, "the confirmation", `document.getElementById("confirm").open && document.activeElement.id === "confirm-no" && document.getElementById("confirm-text").textContent`); !strings.Contains(q, "Nettoyage des vitres") {
		t.Fatalf("the confirmation asks %q", q)
	}
	browsertest.Step(t, bctx, chromedp.KeyEvent(kb.Escape))
	browsertest.WaitFor[bool](t, bctx, "the confirmation closed", `!document.getElementById("confirm").open`)
	if still := browsertest.Eval[bool](t, bctx, `!!document.querySelector('`+withdrawButton+`')`); !still {
		t.Fatal("Escape at the confirmation withdrew the notice")
	}
	browsertest.Step(t, bctx, noticesClick(withdrawButton))
	browsertest.WaitFor[bool](t, bctx, "the confirmation again", `document.getElementById("confirm").open`)
	browsertest.Step(t, bctx, noticesClick("#confirm-yes"))
	feed.await(t, "the set without the withdrawn notice", func(s wire.NoticeSet) bool { return len(s.Notices) == 1 && s.Notices[0].ID == n.ID })
	browsertest.WaitFor[bool](t, bctx, "the list without it", `!document.querySelector('#notices tr[data-id="`+second+`"]')`)

	// The list: status, languages, category, priority, validity, schedule
	// and where it was shown (the page reads the plays when it lists).
	browsertest.Step(t, bctx, chromedp.Navigate(base+"/notices"))
	for start := time.Now(); ; {
		browsertest.WaitFor[string](t, bctx, "the notices page", `document.body.dataset.ready`)
		shown := browsertest.WaitFor[string](t, bctx, "the plays read", `(() => { const c = document.querySelector('#notices tr[data-id="`+n.ID+`"] td.shown'); return c && c.textContent !== "…" && c.textContent; })()`)
		if strings.HasPrefix(shown, "20 s in all") {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("the plays never reached the list: it says %q", shown)
		}
		time.Sleep(200 * time.Millisecond)
		browsertest.Step(t, bctx, chromedp.Reload())
	}
	row := browsertest.Eval[[]string](t, bctx, `[...document.querySelector('#notices tr[data-id="`+n.ID+`"]').cells].map((c) => c.textContent)`)
	// Out of its hours the notice is "scheduled", with when it is next
	// shown, as the screens' own rule (wire.Notice.NextShown) says.
	status := "shown now"
	if now := time.Now(); !edited.Notices[0].ShownAt(now, monaco) {
		next, ok := edited.Notices[0].NextShown(now, monaco)
		if !ok {
			t.Fatal("the weekday-morning notice is never shown in the next 15 days")
		}
		status = "scheduled" + "next shown " + next.In(monaco).Format("2 Jan 2006, 15:04")
	}
	want := []string{"Coupure d'eau", status, "present: fr, enmissing: it", "Water", "Urgent", "", "weekdays, 08:00–10:00", "20 s in all, 2 timescabin-1: fr 12 s, en 8 s"}
	for i, w := range want {
		if w != "" && row[i] != w {
			t.Errorf("list column %d is %q, want %q (row %q)", i, row[i], w, row)
		}
	}
	browsertest.Screenshot(t, bctx, "notices-list.png", 1280, 900)

	// A narrow window: nothing but the list's own scroller is wider.
	browsertest.Step(t, bctx, chromedp.EmulateViewport(400, 800))
	if over := browsertest.Eval[int](t, bctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
		t.Errorf("at 400 px wide the page is %d px too wide", over)
	}
	browsertest.Screenshot(t, bctx, "notices-narrow.png", 400, 800)
	browsertest.Step(t, bctx, chromedp.EmulateViewport(1280, 900))

	// B's manager: another site, none of A's notices, 403 on A's site.
	browsertest.Step(t, bctx, noticesClick("#logout"))
	noticesAtLogin(t, bctx)
	noticesLogin(t, bctx, base, "bruno")
	sites = browsertest.Eval[[]string](t, bctx, `[...document.getElementById("site").options].map((o) => o.value)`)
	rows := browsertest.Eval[int](t, bctx, `document.querySelectorAll("#notices tr").length`)
	if !slices.Equal(sites, []string{noticesSiteB}) || rows != 0 {
		t.Fatalf("bruno sees sites %q and %d notices, want %s and none", sites, rows, noticesSiteB)
	}
	code := browsertest.EvalAwait[int](t, bctx, `fetch("/api/v1/sites/`+noticesSiteA+`/notices").then((r) => r.status)`)
	if code != 403 {
		t.Fatalf("bruno reading %s's notices: %d, want 403", noticesSiteA, code)
	}
	if e := errs.All(); len(e) > 0 {
		t.Fatalf("the pages reported errors: %q", e)
	}
}

// noticesClick clicks the element sel finds from the page's script: the
// list's cells fill in as the plays arrive, and a click at coordinates
// measured a moment before would land beside a button that moved.
func noticesClick(sel string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(sel)
	return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + string(js) + `).click()`)
}

// noticesAwaitStatus waits until the form says want, failing with the
// page's error messages if it shows one instead.
func noticesAwaitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	got := browsertest.WaitFor[string](t, ctx, want, `(() => {
		const status = document.getElementById("form-status").textContent;
		const errs = [...document.querySelectorAll(".error")].map((e) => e.textContent).filter((s) => s).join("; ");
		// The form takes a new notice once the list is read again (the
		// button stays disabled until then).
		return status === `+"`"+want+"`"+` && !document.getElementById("publish").disabled ? "ok" : errs;
	})()`)
	if got != "ok" {
		t.Fatalf("waiting for %q, the page shows: %s", want, got)
	}
}

// noticesAtLogin waits until the page sent the browser to the login page.
// The page's own navigation may cut a poll short (the inspected target
// navigated): that poll is begun again.
func noticesAtLogin(t *testing.T, ctx context.Context) {
	t.Helper()
	const expr = `location.pathname === "/login" && !!document.getElementById("name")`
	deadline := time.Now().Add(60 * time.Second)
	for {
		sctx, cancel := context.WithDeadline(ctx, deadline)
		_, err := chromedp.Run(sctx, chromedp.Poll[bool](expr))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login page never came: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noticesLogin logs name in on the login page, which brings a manager to
// the notices page (by ?next= from the page, or as a manager's landing),
// and waits until it shows a site.
func noticesLogin(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	browsertest.Step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#name")),
		browsertest.SetField("name", name), browsertest.SetField("password", noticesPassword),
		noticesClick(`#login button[type=submit]`))
	browsertest.WaitFor[bool](t, ctx, "the notices page of "+name+" after the login",
		`location.pathname === "/notices" && !!document.body.dataset.ready`)
}

// noticesReceiver runs a receiver with embedded NATS (MQTT on), SQLite
// and accounts, on free ports, until the test ends.
func noticesReceiver(t *testing.T, ctx context.Context, dir string) *receiver.Receiver {
	t.Helper()
	cfg := receiver.DefaultConfig()
	cfg.StateDir = filepath.Join(dir, "receiver")
	cfg.NATS.Embedded.Port = -1
	cfg.NATS.Embedded.MQTTPort = -1
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.Accounts = true
	cfg.HTTP.MaxUploadBytes = 64 << 10 // small, so the page's own check of a size is tested
	// The preview installed as the package installs it, and site A's
	// screens: two layouts, two languages.
	cfg.HTTP.PreviewDir = previewFiles(t)
	cfg.Sites = map[string]receiver.SiteConfig{noticesSiteA: {Screens: &receiver.ScreensConfig{
		Building: "Résidence Les Pins", TimeZone: "Europe/Monaco", Languages: []string{wire.LangFR, wire.LangEN},
		Layouts: []receiver.ScreenLayoutConfig{{Layout: "800x480", Orientation: "landscape"}, {Layout: "1920x1080", Orientation: "portrait"}},
	}}}
	rcv, err := receiver.New(ctx, cfg, noticesLogger().With("part", "receiver"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := rcv.Run(ctx); err != nil {
			t.Errorf("receiver: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return rcv
}

// noticesAccount makes a manager of site as `receiver accounts add` does.
func noticesAccount(t *testing.T, rcv *receiver.Receiver, name, site string) {
	t.Helper()
	acc, ok := rcv.Store().(store.Accounts)
	if !ok {
		t.Fatal("the receiver's store keeps no accounts")
	}
	h, err := httpapi.HashPassword(noticesPassword, httpapi.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := acc.CreateAccount(context.Background(), store.Account{Name: name, Role: "manager", Sites: []string{site}, PasswordHash: h, Created: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
}

// noticesFeed is what a display reads on the agent's screen socket: every
// notice set, in order.
type noticesFeed struct {
	sets chan wire.NoticeSet
	sub  *livefeed.Subscriber
}

// played sends a play record to the agent as the display does after
// showing a notice: ms milliseconds in lang, once, just now.
func (f *noticesFeed) played(id string, version uint64, lang string, ms int64) {
	to := time.Now()
	f.sub.Played(wire.NoticeShownData{Notice: id, Version: version, Lang: lang, Layout: "800x480", Orientation: wire.OrientationLandscape,
		From: to.Add(-time.Duration(ms) * time.Millisecond), To: to, ShownMS: ms, Times: 1})
}

// await reads sets until one satisfies ok.
func (f *noticesFeed) await(t *testing.T, what string, ok func(wire.NoticeSet) bool) wire.NoticeSet {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case s := <-f.sets:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("the screen feed never got %s", what)
		}
	}
}

// noticesAgent runs a real agent for a cabin of site A, reading the
// simulator on a pty and sending to the receiver's MQTT listener, and
// follows its screen socket as the display does.
func noticesAgent(t *testing.T, ctx context.Context, dir string, rcv *receiver.Receiver) *noticesFeed {
	t.Helper()
	sc, err := simulator.ParseScenario("idle", strings.NewReader("start_floor: 0\nsteps:\n  - wait: 30m\n"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{Speed: 1, Seed: 7, Baud: 19200, Scenario: sc}, noticesLogger().With("part", "sim"))
	if err != nil {
		t.Fatal(err)
	}
	pty, err := simulator.OpenPTY("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	simDone := make(chan struct{})
	go func() { defer close(simDone); sim.Serve(ctx, pty) }()

	_, file, _, _ := runtime.Caller(0)
	cfg := agent.DefaultConfig()
	cfg.Site, cfg.Cabin = noticesSiteA, noticesCabin
	cfg.StateDir = filepath.Join(dir, "agent")
	cfg.Controller.Profile = filepath.Join(filepath.Dir(file), "..", "..", "sensors", "profiles", "palier-sim.yaml")
	cfg.Controller.Port = pty.Path()
	cfg.Controller.PollInterval = 25 * time.Millisecond
	cfg.Uplink.Broker = "tcp://" + rcv.MQTTAddr()
	cfg.Uplink.BackoffMin = 50 * time.Millisecond
	cfg.Uplink.BackoffMax = 500 * time.Millisecond
	cfg.Screen.Socket = filepath.Join(dir, "agent.sock")
	cfg.Metrics.Listen = ""
	ag, err := agent.New(ctx, cfg, noticesLogger().With("part", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	ag.SetPlayPeriod(200 * time.Millisecond) // the default minute is too long to wait for
	agDone := make(chan struct{})
	go func() {
		defer close(agDone)
		if err := ag.Run(ctx); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()

	f := &noticesFeed{sets: make(chan wire.NoticeSet, 64)}
	sub := &livefeed.Subscriber{Path: cfg.Screen.Socket, Logger: noticesLogger().With("part", "display"), MinBackoff: 50 * time.Millisecond,
		Handle: func(m livefeed.Message) {
			if m.Type == livefeed.TypeNotices && m.Notices != nil {
				select {
				case f.sets <- *m.Notices:
				case <-ctx.Done():
				}
			}
		}}
	f.sub = sub
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-subDone
		<-agDone
		<-simDone
		pty.Close()
	})
	return f
}

func noticesLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// noticesPNG is a real 64×48 PNG: the receiver checks an upload decodes as
// the type it claims.
func noticesPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: uint8(5 * y), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// noticesCheckPreview decodes a preview's data URL: a PNG of the layout's
// size that is a drawing (many colours: the screen's panels, text and the
// picture), not an empty or failed frame.
func noticesCheckPreview(t *testing.T, src string, w, h int) {
	t.Helper()
	img := previewDecode(t, src)
	if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("preview of %v, want %dx%d", img.Bounds(), w, h)
	}
	colours := map[color.RGBA]bool{}
	for y := 0; y < h; y += 3 {
		for x := 0; x < w; x += 3 {
			colours[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	if len(colours) < 50 {
		t.Fatalf("the preview has %d colours: not a drawing of the screen", len(colours))
	}
}
