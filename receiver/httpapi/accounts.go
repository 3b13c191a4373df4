package httpapi

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

//go:embed login.html
var loginPage []byte

// MaxConcurrentHashes bounds the password hashes computed at once: each
// holds Argon2Params.MemoryKiB, and a flood of logins must not take the
// receiver's memory.
const MaxConcurrentHashes = 2

// routeMux is the API's ServeMux, remembering every route it serves so
// tests can check each one's access control.
type routeMux struct {
	*http.ServeMux
	routes []route
}

// route is a registered pattern and what it needs; need 0: public.
type route struct {
	Pattern string
	need    perm
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	var need perm
	if g, ok := h.(*guarded); ok {
		need = g.need
	}
	m.routes = append(m.routes, route{Pattern: pattern, need: need})
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// setupAccounts fills the defaults of accounts and tokens.
func (a *API) setupAccounts() {
	o := &a.o
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.SessionMax <= 0 {
		o.SessionMax = 12 * time.Hour
	}
	if o.Passwords == (Argon2Params{}) {
		o.Passwords = DefaultArgon2
	}
	if o.LoginLimits == (LoginLimits{}) {
		o.LoginLimits = DefaultLoginLimits
	}
	a.tokens = map[string]Token{}
	for t, r := range o.Tokens {
		a.tokens[t] = Token{Name: r.String(), Role: r}
	}
	for t, g := range o.Grants {
		a.tokens[t] = g
	}
	a.logins = newThrottle()
	a.hashing = make(chan struct{}, MaxConcurrentHashes)
}

// accountRoutes serves login, sessions, accounts and the audit trail
// (docs/API.md, "Accounts and sessions", "Audit").
func (a *API) accountRoutes(m *routeMux) {
	m.HandleFunc("GET /login", a.loginHandler())
	m.HandleFunc("POST /api/v1/login", a.login)
	m.Handle("POST /api/v1/logout", a.guard(permSelf, http.HandlerFunc(a.logout)))
	m.Handle("GET /api/v1/session", a.guard(permSelf, http.HandlerFunc(a.session)))
	m.Handle("GET /api/v1/accounts", a.guard(permAdmin, http.HandlerFunc(a.listAccounts)))
	m.Handle("POST /api/v1/accounts", a.guard(permAdmin, http.HandlerFunc(a.createAccount)))
	m.Handle("PUT /api/v1/accounts/{name}", a.guard(permAdmin, http.HandlerFunc(a.putAccount)))
	m.Handle("DELETE /api/v1/accounts/{name}", a.guard(permAdmin, http.HandlerFunc(a.deleteAccount)))
	m.Handle("GET /api/v1/audit", a.guard(permAdmin, http.HandlerFunc(a.listAudit)))
	m.Handle("GET /api/v1/sites/{site}/audit", a.guard(permAudit, http.HandlerFunc(a.listAudit)))
}

// maxAccountBody bounds the body of a login or an account change.
const maxAccountBody = 4 << 10

// readJSON decodes a small JSON body strictly into v; it answers 400 itself.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAccountBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes", maxAccountBody)
		return false
	}
	if err := decodeStrict(b, v); err != nil {
		writeError(w, http.StatusBadRequest, fieldOf(err), "body: %v", err)
		return false
	}
	return true
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// fieldOf names the field a JSON error is about, when it says.
func fieldOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if s, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(s, `"`)
	}
	return ""
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// DecodeLogin reads a login body; the error names the field.
func DecodeLogin(b []byte) (LoginRequest, *APIError) {
	var l LoginRequest
	if err := decodeStrict(b, &l); err != nil {
		return l, &APIError{Param: fieldOf(err), Error: "body: " + err.Error() + ` (want {"name": "...", "password": "..."})`}
	}
	if l.Name == "" {
		return l, &APIError{Param: "name", Error: "empty (want the account's name)"}
	}
	if l.Password == "" {
		return l, &APIError{Param: "password", Error: "empty"}
	}
	if len(l.Name) > 64 {
		return l, &APIError{Param: "name", Error: fmt.Sprintf("%d bytes (account names have at most 64)", len(l.Name))}
	}
	if len(l.Password) > MaxPasswordLen {
		return l, &APIError{Param: "password", Error: fmt.Sprintf("%d bytes (passwords have at most %d)", len(l.Password), MaxPasswordLen)}
	}
	return l, nil
}

// SessionView answers login and GET /api/v1/session.
type SessionView struct {
	Actor string   `json:"actor"`
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Sites []string `json:"sites"`
	// CSRF goes in the X-CSRF-Token header of every change made with the
	// session's cookie; empty for a token.
	CSRF    string    `json:"csrf,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func clientAddress(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	acc := a.accounts()
	if acc == nil {
		writeError(w, http.StatusNotFound, "", "accounts are off on this receiver (set http.accounts: true; see docs/OPERATIONS.md)")
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAccountBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes", maxAccountBody)
		return
	}
	l, apiErr := DecodeLogin(b)
	if apiErr != nil {
		writeJSON(w, http.StatusBadRequest, apiErr)
		return
	}
	now := a.o.Clock()
	lim := a.o.LoginLimits
	addrKey, accKey := "addr:"+clientAddress(r), "account:"+l.Name
	wait := max(a.logins.wait(accKey, lim.PerAccount, lim.Window, now), a.logins.wait(addrKey, lim.PerAddress, lim.Window, now))
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "name", "too many failed logins for this account or from this address (at most %d per account and %d per address in %s); try again in %d s",
			lim.PerAccount, lim.PerAddress, lim.Window, secs)
		return
	}
	select {
	case a.hashing <- struct{}{}:
		defer func() { <-a.hashing }()
	case <-r.Context().Done():
		return
	}
	account, err := acc.Account(r.Context(), l.Name)
	var ok bool
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Hash anyway, so that the time taken does not tell which names exist.
		HashPassword(l.Password, a.o.Passwords)
	case err != nil:
		a.storeError(w, r, err)
		return
	default:
		if ok, err = VerifyPassword(l.Password, account.PasswordHash); err != nil {
			a.o.Logger.Error("stored password hash unreadable", "account", l.Name, "err", err)
		}
	}
	if !ok {
		a.logins.fail(now, lim.Window, accKey, addrKey)
		if account.Name != "" {
			a.auditAs(r, "account:"+account.Name, "login.failed", account.Sites, "", "wrong password from "+clientAddress(r))
		}
		a.o.Logger.Warn("login failed", "name", l.Name, "address", clientAddress(r))
		writeError(w, http.StatusUnauthorized, "password", "wrong name or password")
		return
	}
	a.logins.reset(accKey)
	raw := make([]byte, 32)
	rand.Read(raw)
	sid := base64.RawURLEncoding.EncodeToString(raw)
	if err := acc.CreateSession(r.Context(), store.Session{IDHash: hashSession(sid), Account: account.Name, Created: now, LastSeen: now}); err != nil {
		a.storeError(w, r, err)
		return
	}
	if n, err := acc.DeleteSessions(r.Context(), "", now.Add(-a.o.SessionIdle), now.Add(-a.o.SessionMax)); err != nil {
		a.o.Logger.Warn("purge expired sessions", "err", err)
	} else if n > 0 {
		a.o.Logger.Debug("purged expired sessions", "n", n)
	}
	http.SetCookie(w, a.newCookie(r, sid))
	a.auditAs(r, "account:"+account.Name, "login", account.Sites, "", "from "+clientAddress(r))
	writeJSON(w, http.StatusOK, SessionView{Actor: "account:" + account.Name, Name: account.Name, Role: account.Role, Sites: account.Sites,
		CSRF: csrfToken(sid), Expires: now.Add(a.o.SessionMax).UTC()})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.session == "" {
		writeError(w, http.StatusBadRequest, "Authorization", "a token has no session to end (log out ends a login)")
		return
	}
	if err := a.accounts().DeleteSession(r.Context(), hashSession(p.session)); err != nil {
		a.storeError(w, r, err)
		return
	}
	http.SetCookie(w, a.clearCookie(r))
	a.audit(r, "logout", p.Sites, "", "")
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) session(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	v := SessionView{Actor: p.Actor(), Name: p.Name, Role: p.Role.String(), Sites: p.Sites}
	if v.Sites == nil {
		v.Sites = []string{}
	}
	if p.session != "" {
		v.CSRF = csrfToken(p.session)
	}
	writeJSON(w, http.StatusOK, v)
}

// AccountRequest is the body of POST /api/v1/accounts and PUT
// /api/v1/accounts/{name}.
type AccountRequest struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Sites    []string `json:"sites"`
	Password string   `json:"password"` // required to create; on PUT, empty keeps it
}

var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckAccount says what is wrong with an account's name, role and sites.
func CheckAccount(name, role string, sites []string) *APIError {
	if !accountName.MatchString(name) {
		return &APIError{Param: "name", Error: fmt.Sprintf("%q (want 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit, e.g. marie.dupont)", name)}
	}
	if _, ok := ParseRole(role); !ok {
		return &APIError{Param: "role", Error: fmt.Sprintf("%q (want read, operator, manager or admin)", role)}
	}
	if role == "manager" && len(sites) == 0 {
		return &APIError{Param: "sites", Error: "a manager needs at least one site"}
	}
	if role == "admin" && len(sites) > 0 {
		return &APIError{Param: "sites", Error: "an admin has every site (leave sites empty, or choose the manager role)"}
	}
	for i, s := range sites {
		if err := wire.ValidateID(s); err != nil {
			return &APIError{Param: fmt.Sprintf("sites[%d]", i), Error: err.Error()}
		}
		if slices.Index(sites, s) != i {
			return &APIError{Param: fmt.Sprintf("sites[%d]", i), Error: fmt.Sprintf("%q given twice", s)}
		}
	}
	return nil
}

func (a *API) needAccounts(w http.ResponseWriter) store.Accounts {
	acc := a.accounts()
	if acc == nil {
		writeError(w, http.StatusNotFound, "", "accounts are off on this receiver (set http.accounts: true; see docs/OPERATIONS.md)")
	}
	return acc
}

// hash hashes a new password within the hashing bound.
func (a *API) hash(r *http.Request, pw string) (string, error) {
	select {
	case a.hashing <- struct{}{}:
		defer func() { <-a.hashing }()
	case <-r.Context().Done():
		return "", r.Context().Err()
	}
	return HashPassword(pw, a.o.Passwords)
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) {
	acc := a.needAccounts(w)
	if acc == nil {
		return
	}
	list, err := acc.ListAccounts(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": list})
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) {
	acc := a.needAccounts(w)
	var req AccountRequest
	if acc == nil || !readJSON(w, r, &req) {
		return
	}
	if e := CheckAccount(req.Name, req.Role, req.Sites); e != nil {
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	if err := CheckPassword(req.Password); err != nil {
		writeError(w, http.StatusBadRequest, "password", "%v", err)
		return
	}
	h, err := a.hash(r, req.Password)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", "hash password: %v", err)
		return
	}
	now := a.o.Clock().UTC()
	ac := store.Account{Name: req.Name, Role: req.Role, Sites: orEmpty(req.Sites), PasswordHash: h, Created: now, Updated: now}
	if err := acc.CreateAccount(r.Context(), ac); errors.Is(err, store.ErrExists) {
		writeError(w, http.StatusConflict, "name", "account %q exists (PUT /api/v1/accounts/%s to change it)", req.Name, req.Name)
		return
	} else if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.audit(r, "account.create", ac.Sites, ac.Name, "role "+ac.Role)
	writeJSON(w, http.StatusCreated, ac)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) putAccount(w http.ResponseWriter, r *http.Request) {
	acc := a.needAccounts(w)
	var req AccountRequest
	if acc == nil || !readJSON(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	if req.Name == "" {
		req.Name = name
	}
	if req.Name != name {
		writeError(w, http.StatusBadRequest, "name", "body name %q differs from the path's %q (accounts are not renamed)", req.Name, name)
		return
	}
	if e := CheckAccount(req.Name, req.Role, req.Sites); e != nil {
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	old, err := acc.Account(r.Context(), name)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	ac := old
	ac.Role, ac.Sites, ac.Updated = req.Role, orEmpty(req.Sites), a.o.Clock().UTC()
	detail := "role " + ac.Role + ", sites " + strings.Join(ac.Sites, ",")
	if req.Password != "" {
		if err := CheckPassword(req.Password); err != nil {
			writeError(w, http.StatusBadRequest, "password", "%v", err)
			return
		}
		if ac.PasswordHash, err = a.hash(r, req.Password); err != nil {
			writeError(w, http.StatusServiceUnavailable, "", "hash password: %v", err)
			return
		}
		detail += ", new password"
	}
	if err := acc.UpdateAccount(r.Context(), ac); err != nil {
		a.storeError(w, r, err)
		return
	}
	// A new password ends the sessions opened with the old one.
	if req.Password != "" {
		if _, err := acc.DeleteSessions(r.Context(), name, time.Time{}, time.Time{}); err != nil {
			a.storeError(w, r, err)
			return
		}
	}
	a.audit(r, "account.update", unionSites(old.Sites, ac.Sites), name, detail)
	writeJSON(w, http.StatusOK, ac)
}

func unionSites(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request) {
	acc := a.needAccounts(w)
	if acc == nil {
		return
	}
	name := r.PathValue("name")
	old, err := acc.Account(r.Context(), name)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if err := acc.DeleteAccount(r.Context(), name); err != nil {
		a.storeError(w, r, err)
		return
	}
	a.audit(r, "account.remove", old.Sites, name, "")
	w.WriteHeader(http.StatusNoContent)
}
