package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/palier-lifts/palier/receiver/store"
)

// Audit actions (docs/API.md, "Audit").
const (
	AuditNoticeCreate   = "notice.create"
	AuditNoticeEdit     = "notice.edit"
	AuditNoticeWithdraw = "notice.withdraw"
	AuditAlarmAck       = "alarm.acknowledge"
	AuditAlarmClose     = "alarm.close"
	AuditConfig         = "config.set"
	AuditWaveCreate     = "rollout.create"
	AuditWaveStop       = "rollout.stop"
)

// audit records what the caller of r did, once per site it concerns (so
// that each site's trail shows it), or once without a site.
func (a *API) audit(r *http.Request, action string, sites []string, target, detail string) {
	a.auditAs(r, principal(r).Actor(), action, sites, target, detail)
}

// auditAs is audit for a named actor (a login, before any principal).
// The change it records is done already: a failure to record is logged,
// not answered.
func (a *API) auditAs(r *http.Request, actor, action string, sites []string, target, detail string) {
	acc, ok := a.o.Store.(store.Accounts)
	if !ok {
		return
	}
	if len(sites) == 0 {
		sites = []string{""}
	}
	for _, site := range sites {
		e := store.AuditEntry{Time: a.o.Clock().UTC(), Actor: actor, Action: action, Site: site, Target: target, Detail: detail}
		if _, err := acc.AppendAudit(r.Context(), e); err != nil {
			a.o.Logger.Error("audit not recorded", "actor", actor, "action", action, "site", site, "target", target, "err", err)
		}
	}
}

// auditSite is audit for one site.
func (a *API) auditSite(r *http.Request, action, site, target, detail string) {
	a.audit(r, action, []string{site}, target, detail)
}

// AuditPage is the answer of the audit endpoints.
type AuditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	// Next is the before of the next (older) page; empty on the last.
	Next string `json:"next,omitempty"`
}

// listAudit serves GET /api/v1/audit (every site; ?site= filters) and
// GET /api/v1/sites/{site}/audit, newest first, paged by ?before=ID.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	acc, ok := a.o.Store.(store.Accounts)
	if !ok {
		writeError(w, http.StatusNotImplemented, "", "this store keeps no audit trail")
		return
	}
	v, ok := strictQuery(w, r)
	if !ok {
		return
	}
	allowed := "limit, before"
	if r.PathValue("site") == "" {
		allowed += ", site"
	}
	q := store.AuditQuery{}
	for k, vs := range v {
		if len(vs) > 1 {
			writeError(w, http.StatusBadRequest, k, "given %d times (give it once)", len(vs))
			return
		}
		switch {
		case k == "limit":
			n, err := strconv.Atoi(vs[0])
			if err != nil || n < 1 || n > store.MaxLimit {
				writeError(w, http.StatusBadRequest, k, "%q (want an integer from 1 to %d)", vs[0], store.MaxLimit)
				return
			}
			q.Limit = n
		case k == "before":
			n, err := strconv.ParseInt(vs[0], 10, 64)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, k, "%q (want the next of a previous page)", vs[0])
				return
			}
			q.Before = n
		case k == "site" && r.PathValue("site") == "":
			q.Site = vs[0]
		default:
			writeError(w, http.StatusBadRequest, k, "unknown parameter %q (want %s)", k, allowed)
			return
		}
	}
	if r.PathValue("site") != "" {
		id, ok := ids(w, r, "site")
		if !ok {
			return
		}
		q.Site = id[0]
	}
	entries, err := acc.Audit(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	page := AuditPage{Entries: entries}
	limit := q.Limit
	if limit == 0 {
		limit = store.DefaultLimit
	}
	if len(entries) == limit {
		page.Next = fmt.Sprint(entries[len(entries)-1].ID)
	}
	writeJSON(w, http.StatusOK, page)
}
