package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportfiles"
)

// The monthly report: its JSON is computed on request (a month's events,
// read a page at a time); its PDF is rendered by a job of its own
// (receiver report pdf) and only served here, never rendered in a
// request: rendering is where a query service once ran out of memory.

// reportRoutes registers the monthly report's routes, for the site's
// managers and admins.
func (a *API) reportRoutes(m *routeMux) {
	m.Handle("GET /api/v1/sites/{site}/reports/monthly", a.guard(permAudit, http.HandlerFunc(a.monthlyReport)))
	m.Handle("GET /api/v1/sites/{site}/reports/monthly.pdf", a.guard(permAudit, http.HandlerFunc(a.monthlyPDF)))
	// The page that shows them; its data comes from the routes above.
	m.HandleFunc("GET /reports", a.reportsHandler())
}

// monthQuery reads month (YYYY-MM, required) and the parameters named
// in extra, each at most once. It answers a bad query itself.
func monthQuery(w http.ResponseWriter, r *http.Request, extra ...string) (month string, v map[string]string, ok bool) {
	q, ok := strictQuery(w, r)
	if !ok {
		return "", nil, false
	}
	allowed := append([]string{"month"}, extra...)
	v = map[string]string{}
	for k := range q {
		if !slices.Contains(allowed, k) {
			writeError(w, http.StatusBadRequest, k, "unknown parameter %q (want %s)", k, strings.Join(allowed, ", "))
			return "", nil, false
		}
		if len(q[k]) > 1 {
			writeError(w, http.StatusBadRequest, k, "given %d times (give it once)", len(q[k]))
			return "", nil, false
		}
		v[k] = q.Get(k)
	}
	month = v["month"]
	if month == "" {
		writeError(w, http.StatusBadRequest, "month", "missing (want YYYY-MM, e.g. 2026-11)")
		return "", nil, false
	}
	if _, _, err := report.ParseMonth(month, time.UTC); err != nil {
		writeError(w, http.StatusBadRequest, "month", "%v", err)
		return "", nil, false
	}
	return month, v, true
}

func (a *API) monthlyReport(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	month, v, ok := monthQuery(w, r, "tz")
	if !ok {
		return
	}
	loc := time.UTC
	if tz := v["tz"]; tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			writeError(w, http.StatusBadRequest, "tz", "%q is not an IANA time zone (e.g. Europe/Paris)", tz)
			return
		}
		loc = l
	}
	now := a.o.Clock()
	if since, _, _ := report.ParseMonth(month, loc); !now.After(since) {
		writeError(w, http.StatusBadRequest, "month", "%s has not begun", month)
		return
	}
	o := report.MonthOptions{Play: a.o.Play}
	if o.Play == nil {
		o.Play = report.StorePlays(a.o.Store)
	}
	if a.o.SiteEnergy != nil {
		o.Energy = a.o.SiteEnergy(id[0])
	}
	rep, err := report.Month(r.Context(), a.o.Store, id[0], month, now, loc, o)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// monthlyPDF serves a PDF the report job rendered into Reports.
func (a *API) monthlyPDF(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	month, v, ok := monthQuery(w, r, "lang")
	if !ok {
		return
	}
	lang := v["lang"]
	if lang == "" {
		lang = report.Languages[0]
	}
	if !slices.Contains(report.Languages, lang) {
		writeError(w, http.StatusBadRequest, "lang", "%q (want %s)", lang, strings.Join(report.Languages, ", "))
		return
	}
	if a.o.Reports == nil {
		writeError(w, http.StatusNotFound, "", "this receiver serves no report PDFs")
		return
	}
	// The site id and month are checked already: the name stays in the
	// directory or prefix.
	f, err := a.o.Reports.Open(r.Context(), report.PDFPath(id[0], month, lang))
	if errors.Is(err, reportfiles.ErrNotFound) {
		writeError(w, http.StatusNotFound, "month", "no PDF of %s for %s in %s yet: the monthly job renders it after the month (receiver report pdf, see docs/OPERATIONS.md)", month, id[0], lang)
		return
	}
	if err != nil {
		a.o.Logger.Error("open report PDF", "site", id[0], "month", month, "err", err)
		writeError(w, http.StatusInternalServerError, "", "report PDF unreadable")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id[0]+"-"+month+"-"+lang+`.pdf"`)
	http.ServeContent(w, r, "", f.ModTime, f)
}
