package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palier-lifts/palier/receiver/media"
	"github.com/palier-lifts/palier/receiver/report"
	"github.com/palier-lifts/palier/receiver/reportfiles"
	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/situation"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// Role of a bearer token.
type Role int

// Roles: read, operator and admin each allow what the previous one does;
// manager stands apart (Role.allows says what each may).
const (
	RoleNone Role = iota
	RoleRead
	// RoleOperator also acknowledges and closes alarms.
	RoleOperator
	RoleAdmin
	// RoleManager writes the notices of its sites and reads their cabins,
	// reports and audit trail; it is not above or below the others.
	RoleManager
)

// NoticePublisher sends a site's whole notice set to its cabins.
type NoticePublisher interface {
	PublishNotices(ctx context.Context, set wire.NoticeSet) error
}

// Options of the API.
type Options struct {
	Store   store.Store
	Notices NoticePublisher
	// AlarmAcks sends operators' acknowledgements to the cabins; nil
	// stores them only.
	AlarmAcks AlarmAckPublisher
	// Configs sends desired configurations to the cabins; nil stores
	// them only.
	Configs ConfigPublisher
	// Rollout runs agent update waves; nil: no rollout routes.
	Rollout *rollout.Controller
	// Media keeps uploads: a directory, or a bucket the receivers share;
	// nil: no uploads.
	Media media.Store
	// PublicURL starts the URLs of uploaded media, e.g. https://palier.example.
	PublicURL      string
	MaxUploadBytes int64
	// MaxSiteMediaBytes bounds one site's uploads together; 0: no bound
	// of its own.
	MaxSiteMediaBytes int64
	// RequestTimeout bounds reading a request's body and writing its
	// answer; an upload gets its size at 64 KiB/s more. Default 30s.
	RequestTimeout time.Duration
	// Credentials rotates and revokes the cabins' credentials; nil: the
	// credential endpoints answer 503.
	Credentials Credentials
	// Tokens maps each bearer token to its role; empty, with Grants empty
	// and Accounts off, means no access control.
	Tokens map[string]Role
	// Grants maps bearer tokens to a name, a role and optional sites.
	Grants map[string]Token
	// Accounts turns on people's accounts (kept in Store) and their
	// login sessions; access control is then on even without tokens.
	Accounts bool
	// SessionIdle ends a session unused this long (default 30 min);
	// SessionMax ends any session this old (default 12 h).
	SessionIdle, SessionMax time.Duration
	// Passwords are the argon2id parameters of new password hashes;
	// zero: DefaultArgon2.
	Passwords Argon2Params
	// LoginLimits bound failed logins; zero: DefaultLoginLimits.
	LoginLimits LoginLimits
	Gatherer    prometheus.Gatherer
	// Registerer receives the HTTP metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Clock      func() time.Time // default time.Now
	// StaleAfter is how long an online cabin may go unheard before it is
	// shown stale; default three wire.PresenceInterval.
	StaleAfter time.Duration
	// SiteEnergy gives a site's energy parameters for the monthly
	// report's estimate; nil: no estimate.
	SiteEnergy func(site string) report.SiteEnergy
	// Play is the proof of play of the monthly report; nil: what Store
	// recorded (report.StorePlays).
	Play report.PlaySource
	// Reports holds the PDFs the monthly report job rendered
	// (report.PDFPath); nil: none are served.
	Reports reportfiles.Store
	// PreviewDir holds the notice preview's files (internal/previewbuild),
	// served under /preview/; empty: the preview is not installed.
	PreviewDir string
	// Screens describes a site's cabin screens for the preview; nil:
	// DefaultSiteScreens.
	Screens func(site string) SiteScreens
}

// API is the HTTP handler.
type API struct {
	o            Options
	mux          *routeMux
	tokens       map[string]Token
	logins       *throttle
	hashing      chan struct{} // one slot per password hash allowed at once
	loginCSP     string
	requests     *prometheus.CounterVec
	dashboardCSP string
	preview      previewFiles
}

//go:embed dashboard.html
var dashboard []byte

// New makes the handler.
func New(o Options) (*API, error) {
	if o.Store == nil || o.Logger == nil || o.Gatherer == nil {
		return nil, errors.New("new HTTP API: Store, Logger and Gatherer are required")
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 3 * wire.PresenceInterval
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxUploadBytes == 0 {
		o.MaxUploadBytes = 20 << 20
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 30 * time.Second
	}
	a := &API{o: o, mux: &routeMux{ServeMux: http.NewServeMux()}, dashboardCSP: dashboardCSP(dashboard), loginCSP: dashboardCSP(loginPage)}
	a.setupAccounts()
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "palier_receiver_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(a.requests); err != nil {
			return nil, fmt.Errorf("new HTTP API: register metrics: %w", err)
		}
	}
	m := a.mux
	m.HandleFunc("GET /healthz", a.healthz)
	m.Handle("GET /metrics", a.auth(RoleRead, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	m.Handle("GET /api/v1/cabins", a.auth(RoleRead, http.HandlerFunc(a.listCabins)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}", a.auth(RoleRead, http.HandlerFunc(a.getCabin)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}/events", a.auth(RoleRead, http.HandlerFunc(a.listEvents)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}/epochs", a.auth(RoleRead, http.HandlerFunc(a.listEpochs)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}/alarms", a.auth(RoleRead, http.HandlerFunc(a.listAlarms)))
	m.Handle("POST /api/v1/cabins/{site}/{cabin}/acknowledgements", a.auth(RoleOperator, http.HandlerFunc(a.acknowledge)))
	m.Handle("POST /api/v1/cabins/{site}/{cabin}/alarms/{id}/close", a.auth(RoleOperator, http.HandlerFunc(a.closeAlarm)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}/timeline", a.auth(RoleRead, http.HandlerFunc(a.cabinTimeline)))
	m.Handle("GET /api/v1/sites/{site}/report", a.auth(RoleRead, http.HandlerFunc(a.siteReport)))
	m.Handle("GET /api/v1/sites/{site}/notices", a.auth(RoleRead, http.HandlerFunc(a.getNotices)))
	m.Handle("POST /api/v1/sites/{site}/notices", a.guard(permNotices, http.HandlerFunc(a.createNotice)))
	m.Handle("PUT /api/v1/sites/{site}/notices/{id}", a.guard(permNotices, http.HandlerFunc(a.putNotice)))
	m.Handle("DELETE /api/v1/sites/{site}/notices/{id}", a.guard(permNotices, http.HandlerFunc(a.deleteNotice)))
	m.Handle("GET /api/v1/sites/{site}/notices/{id}/plays", a.guard(permNotices, http.HandlerFunc(a.noticePlays)))
	m.Handle("GET /api/v1/sites/{site}/screens", a.guard(permNotices, http.HandlerFunc(a.siteScreens)))
	m.Handle("GET /api/v1/sites/{site}/config", a.auth(RoleRead, http.HandlerFunc(a.getSiteConfig)))
	m.Handle("PUT /api/v1/sites/{site}/config", a.auth(RoleAdmin, http.HandlerFunc(a.putSiteConfig)))
	m.Handle("GET /api/v1/cabins/{site}/{cabin}/config", a.auth(RoleRead, http.HandlerFunc(a.getCabinConfig)))
	m.Handle("PUT /api/v1/cabins/{site}/{cabin}/config", a.auth(RoleAdmin, http.HandlerFunc(a.putCabinConfig)))
	m.Handle("POST /api/v1/media", a.auth(RoleAdmin, http.HandlerFunc(a.uploadMedia)))
	if o.Rollout != nil {
		a.rolloutRoutes(m)
	}
	m.Handle("POST /api/v1/sites/{site}/media", a.guard(permNotices, http.HandlerFunc(a.uploadMedia)))
	a.credentialRoutes(m)
	a.accountRoutes(m)
	a.reportRoutes(m)
	a.noticesPageRoutes(m)
	// Media are public: agents download them without a token, and a
	// SHA-256 cannot be guessed.
	m.HandleFunc("GET /media/{sha256}", a.getMedia)
	// The dashboard's scripts and styles, like the page, need no token.
	m.HandleFunc("GET /static/{path...}", serveStatic)
	// The notice preview's WebAssembly, like the static files.
	m.HandleFunc("GET /preview/{file}", a.servePreview)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", a.dashboardCSP)
		w.Write(dashboard)
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: %s %s (see docs/API.md)", r.Method, r.URL.Path)
	})
	return a, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// isUpload says whether path takes a media upload (a body that is not JSON
// and may be large): /api/v1/media or /api/v1/sites/{site}/media.
func isUpload(path string) bool {
	if path == "/api/v1/media" {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/api/v1/sites/")
	site, tail, _ := strings.Cut(rest, "/")
	return ok && site != "" && tail == "media"
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	// A client that sends its body a byte at a time, or never reads the
	// answer, holds a connection until these, not for ever.
	budget := a.o.RequestTimeout
	if isUpload(r.URL.Path) {
		budget += time.Duration(a.o.MaxUploadBytes/(64<<10)) * time.Second
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(budget))
	rc.SetWriteDeadline(time.Now().Add(budget + a.o.RequestTimeout))
	secure(w.Header(), apiCSP)
	if param, why := a.crossSite(r); param != "" {
		code := http.StatusForbidden
		if param == "Content-Type" {
			code = http.StatusUnsupportedMediaType
		} else if param == "Host" {
			code = http.StatusMisdirectedRequest
		}
		writeError(sw, code, param, "%s", why)
	} else {
		a.mux.ServeHTTP(sw, r)
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	a.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
}

// APIError is the body of every error response.
type APIError struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"` // the bad parameter, field or header
}

func writeError(w http.ResponseWriter, code int, param, format string, args ...any) {
	writeJSON(w, code, APIError{Error: fmt.Sprintf(format, args...), Param: param})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ids reads and checks the {site} and {cabin} path values present in r.
func ids(w http.ResponseWriter, r *http.Request, names ...string) ([]string, bool) {
	out := make([]string, len(names))
	for i, n := range names {
		v := r.PathValue(n)
		if err := wire.ValidateID(v); err != nil {
			writeError(w, http.StatusBadRequest, n, "%s %v", n, err)
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "", "%v", err)
		return
	}
	a.o.Logger.Error("store", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "", "store error (see the receiver's log)")
}

func (a *API) listCabins(w http.ResponseWriter, r *http.Request) {
	v, ok := strictQuery(w, r)
	if !ok {
		return
	}
	q, apiErr := parseCabinQuery(v)
	if apiErr != nil {
		writeJSON(w, http.StatusBadRequest, apiErr)
		return
	}
	cs, situations, err := situation.Fleet(r.Context(), a.o.Store, a.o.Clock(), a.thresholds())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := make([]cabinView, 0, len(cs))
	for i := range cs {
		if inScope(r, cs[i].Site) {
			out = append(out, a.view(cs[i], situations[i]))
		}
	}
	page, next := filterCabins(out, q)
	linkNext(w, r, next)
	writeJSON(w, http.StatusOK, page)
}

// cabinView is a cabin as the API shows it: what is stored, and its
// situation derived now.
type cabinView struct {
	store.Cabin
	Situations []situation.Situation `json:"situations"`
}

func (a *API) view(c store.Cabin, ss []situation.Situation) cabinView {
	a.markStale(&c)
	if ss == nil {
		ss = []situation.Situation{}
	}
	return cabinView{Cabin: c, Situations: ss}
}

func (a *API) thresholds() situation.Thresholds {
	return situation.Thresholds{StaleAfter: a.o.StaleAfter}
}

// markStale sets c.Stale: online, but unheard for longer than StaleAfter.
func (a *API) markStale(c *store.Cabin) {
	c.Stale = c.Online && a.o.Clock().Sub(c.LastSeen) > a.o.StaleAfter
}

func (a *API) getCabin(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	c, ss, err := situation.Cabin(r.Context(), a.o.Store, id[0], id[1], a.o.Clock(), a.thresholds())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(c, ss))
}

// listEpochs says, per outbox epoch of a cabin, how far it is
// acknowledged, what is stored and what was lost and why.
func (a *API) listEpochs(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	eps, err := a.o.Store.Epochs(r.Context(), id[0], id[1])
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"epochs": eps})
}

// strictQuery parses the query string, refusing with 400 what URL.Query
// would drop without a word (a ';' separator, a bad escape): a filter
// silently lost returns more than was asked for.
func strictQuery(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query", "%v (separate parameters with &, escape with %%XX)", err)
		return nil, false
	}
	return v, true
}

// ParseEventQuery reads the query string of the events endpoint; the error
// names the bad parameter.
func ParseEventQuery(site, cabin string, v map[string][]string) (store.EventQuery, *APIError) {
	q := store.EventQuery{Site: site, Cabin: cabin}
	get := func(k string) string {
		if s := v[k]; len(s) > 0 {
			return s[0]
		}
		return ""
	}
	for k := range v {
		if len(v[k]) > 1 {
			return q, &APIError{Param: k, Error: fmt.Sprintf("given %d times (give it once)", len(v[k]))}
		}
		switch k {
		case "type", "since", "until", "cursor", "limit":
		case "":
			return q, &APIError{Param: "query", Error: "a parameter without a name (want type, since, until, cursor or limit)"}
		default:
			return q, &APIError{Param: k, Error: fmt.Sprintf("unknown parameter %q (want type, since, until, cursor or limit)", k)}
		}
	}
	if t := get("type"); t != "" {
		if !wire.KnownType(t) {
			return q, &APIError{Param: "type", Error: fmt.Sprintf("unknown event type %q (see docs/EVENTS.md)", t)}
		}
		q.Type = t
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := get(p.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, &APIError{Param: p.name, Error: fmt.Sprintf("%q is not an RFC 3339 time (e.g. 2026-03-01T08:00:00Z)", s)}
		}
		*p.dst = t
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, &APIError{Param: "until", Error: "until is not after since"}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return q, &APIError{Param: "limit", Error: fmt.Sprintf("%q (want an integer from 1 to %d)", s, store.MaxLimit)}
		}
		q.Limit = n
	}
	if s := get("cursor"); s != "" {
		if _, err := store.DecodeCursor(s); err != nil {
			return q, &APIError{Param: "cursor", Error: "not a cursor from a previous page's next (" + err.Error() + ")"}
		}
		q.Cursor = s
	}
	return q, nil
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	v, ok := strictQuery(w, r)
	if !ok {
		return
	}
	q, apiErr := ParseEventQuery(id[0], id[1], v)
	if apiErr != nil {
		writeJSON(w, http.StatusBadRequest, apiErr)
		return
	}
	page, err := a.o.Store.Events(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// reportDefault is the period of a report without since.
const reportDefault = 7 * 24 * time.Hour

// period reads the query of a report or a timeline: since and until (RFC
// 3339; until defaults to now, since to reportDefault before until; at most
// report.MaxPeriod, because a period's rows are read at once), and the
// extra parameters named, each at most once. It answers a bad query itself.
func period(w http.ResponseWriter, r *http.Request, now time.Time, extra ...string) (v url.Values, since, until time.Time, ok bool) {
	v, ok = strictQuery(w, r)
	if !ok {
		return nil, since, until, false
	}
	allowed := append([]string{"since", "until"}, extra...)
	for k := range v {
		if len(v[k]) > 1 {
			writeError(w, http.StatusBadRequest, k, "given %d times (give it once)", len(v[k]))
			return nil, since, until, false
		}
		if !slices.Contains(allowed, k) {
			writeError(w, http.StatusBadRequest, k, "unknown parameter %q (want %s)", k, strings.Join(allowed, ", "))
			return nil, since, until, false
		}
	}
	until = now
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name, "%q is not an RFC 3339 time (e.g. 2026-03-01T00:00:00Z)", s)
				return nil, since, until, false
			}
			*p.dst = t
		}
	}
	if since.IsZero() {
		since = until.Add(-reportDefault)
	}
	if !until.After(since) {
		writeError(w, http.StatusBadRequest, "until", "until is not after since")
		return nil, since, until, false
	}
	if until.Sub(since) > report.MaxPeriod {
		writeError(w, http.StatusBadRequest, "since", "period of %s (at most %s)", until.Sub(since), report.MaxPeriod)
		return nil, since, until, false
	}
	return v, since, until, true
}

func (a *API) siteReport(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	now := a.o.Clock()
	v, since, until, ok := period(w, r, now, "tz")
	if !ok {
		return
	}
	loc := time.UTC
	if tz := v.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			writeError(w, http.StatusBadRequest, "tz", "%q is not an IANA time zone (e.g. Europe/Monaco)", tz)
			return
		}
		loc = l
	}
	rep, err := report.Site(r.Context(), a.o.Store, id[0], since, until, now, loc)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// timelineView is the answer of the timeline endpoint.
type timelineView struct {
	Site     string                `json:"site"`
	Cabin    string                `json:"cabin"`
	Since    time.Time             `json:"since"`
	Until    time.Time             `json:"until"`
	Timeline []store.TimelineEntry `json:"timeline"`
}

// cabinTimeline lists a cabin's changes of in_service, entrapment, alarm,
// link and presence over a period, with the value of each when it began.
func (a *API) cabinTimeline(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	_, since, until, ok := period(w, r, a.o.Clock())
	if !ok {
		return
	}
	if _, err := a.o.Store.Cabin(r.Context(), id[0], id[1]); err != nil {
		a.storeError(w, r, err)
		return
	}
	tl, err := a.o.Store.Timeline(r.Context(), id[0], id[1], since, until)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, timelineView{Site: id[0], Cabin: id[1], Since: since.UTC(), Until: until.UTC(), Timeline: tl})
}
