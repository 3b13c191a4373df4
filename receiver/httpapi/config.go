package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/agentconfig"
	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// ConfigPublisher sends a desired configuration to its site's or cabin's
// config topic, retained.
type ConfigPublisher interface {
	PublishDesiredConfig(ctx context.Context, d wire.DesiredConfig) error
}

// configHistory is how many versions GET .../config shows.
const configHistory = 20

// ConfigChange is the body of PUT .../config: the whole overlay of the
// scope (what it leaves out comes from underneath), the version it
// replaces (0 for the first; or send If-Match), and who sets it.
type ConfigChange struct {
	Version *uint64            `json:"version"`
	By      string             `json:"by"`
	Config  wire.ConfigOverlay `json:"config"`
}

// CabinConfig is a cabin's configuration as GET shows it: what is desired
// for its site and for itself, what the cabin reports it runs, its newest
// refusal, and whether it runs what is desired.
type CabinConfig struct {
	Site         string                  `json:"site"`
	Cabin        string                  `json:"cabin"`
	DesiredSite  *wire.DesiredConfig     `json:"desired_site"`
	DesiredCabin *wire.DesiredConfig     `json:"desired_cabin"`
	Applied      *store.ConfigApplied    `json:"applied"`
	AppliedAt    *time.Time              `json:"applied_at,omitempty"`
	Refused      *wire.ConfigRefusedData `json:"refused"`
	RefusedAt    *time.Time              `json:"refused_at,omitempty"`
	InSync       bool                    `json:"in_sync"`
	History      []wire.DesiredConfig    `json:"history"`
}

// SiteConfig is a site's configuration as GET shows it, with where each
// of its known cabins stands.
type SiteConfig struct {
	Site    string               `json:"site"`
	Desired *wire.DesiredConfig  `json:"desired"`
	History []wire.DesiredConfig `json:"history"`
	Cabins  []CabinConfig        `json:"cabins"`
}

func (a *API) getSiteConfig(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	ctx := r.Context()
	out := SiteConfig{Site: id[0], History: []wire.DesiredConfig{}, Cabins: []CabinConfig{}}
	desired, hist, err := a.scopeConfig(ctx, id[0], "")
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out.Desired, out.History = desired, hist
	cabins, err := a.o.Store.Cabins(ctx)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	facts, err := a.o.Store.Facts(ctx, "", "")
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	for _, c := range cabins {
		if c.Site != id[0] {
			continue
		}
		cc := CabinConfig{Site: c.Site, Cabin: c.Cabin, DesiredSite: desired, History: []wire.DesiredConfig{}}
		if cc.DesiredCabin, err = a.newestConfig(ctx, c.Site, c.Cabin); err != nil {
			a.storeError(w, r, err)
			return
		}
		reported(&cc, facts)
		out.Cabins = append(out.Cabins, cc)
	}
	writeConfigJSON(w, http.StatusOK, versionOf(desired), out)
}

func (a *API) getCabinConfig(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	ctx := r.Context()
	cc := CabinConfig{Site: id[0], Cabin: id[1]}
	var err error
	if cc.DesiredSite, err = a.newestConfig(ctx, id[0], ""); err != nil {
		a.storeError(w, r, err)
		return
	}
	if cc.DesiredCabin, cc.History, err = a.scopeConfig(ctx, id[0], id[1]); err != nil {
		a.storeError(w, r, err)
		return
	}
	facts, err := a.o.Store.Facts(ctx, id[0], id[1])
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	reported(&cc, facts)
	writeConfigJSON(w, http.StatusOK, versionOf(cc.DesiredCabin), cc)
}

// reported fills what the cabin reported (its facts) and whether it runs
// what is desired.
func reported(cc *CabinConfig, facts []store.Fact) {
	for _, f := range facts {
		if f.Site != cc.Site || f.Cabin != cc.Cabin {
			continue
		}
		at := f.At
		switch f.Name {
		case store.FactConfigApplied:
			var v store.ConfigApplied
			if json.Unmarshal([]byte(f.Value), &v) == nil {
				cc.Applied, cc.AppliedAt = &v, &at
			}
		case store.FactConfigRefused:
			var v wire.ConfigRefusedData
			if json.Unmarshal([]byte(f.Value), &v) == nil {
				cc.Refused, cc.RefusedAt = &v, &at
			}
		}
	}
	want := store.ConfigApplied{SiteVersion: versionOf(cc.DesiredSite), CabinVersion: versionOf(cc.DesiredCabin)}
	switch {
	case cc.Applied != nil:
		cc.InSync = cc.Applied.SiteVersion == want.SiteVersion && cc.Applied.CabinVersion == want.CabinVersion
	default:
		cc.InSync = want.SiteVersion == 0 && want.CabinVersion == 0 // nothing asked, nothing to run
	}
}

func versionOf(d *wire.DesiredConfig) uint64 {
	if d == nil {
		return 0
	}
	return d.Version
}

// newestConfig is a scope's newest configuration, nil when none is stored.
func (a *API) newestConfig(ctx context.Context, site, cabin string) (*wire.DesiredConfig, error) {
	d, err := a.o.Store.DesiredConfig(ctx, site, cabin)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// scopeConfig is a scope's newest configuration (nil when none) and its
// recent history, newest first.
func (a *API) scopeConfig(ctx context.Context, site, cabin string) (*wire.DesiredConfig, []wire.DesiredConfig, error) {
	hist, err := a.o.Store.DesiredConfigHistory(ctx, site, cabin, configHistory)
	if err != nil {
		return nil, nil, err
	}
	if len(hist) == 0 {
		return nil, []wire.DesiredConfig{}, nil
	}
	newest := hist[0]
	return &newest, hist, nil
}

// writeConfigJSON answers with the scope's version as ETag, for If-Match.
func writeConfigJSON(w http.ResponseWriter, code int, version uint64, v any) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(version, 10)))
	writeJSON(w, code, v)
}

func (a *API) putSiteConfig(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	a.putConfig(w, r, id[0], "")
}

func (a *API) putCabinConfig(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok {
		return
	}
	a.putConfig(w, r, id[0], id[1])
}

// maxConfigBody bounds a PUT .../config body: a desired configuration,
// its envelope aside.
const maxConfigBody = wire.MaxDesiredConfigBytes

// putConfig stores a new version of a scope's configuration, checked with
// the agent's own rules, and publishes it retained to the cabins.
func (a *API) putConfig(w http.ResponseWriter, r *http.Request, site, cabin string) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody+1))
	if err != nil || len(b) > maxConfigBody {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes (a desired configuration is at most that; a profile at most %d)", maxConfigBody, wire.MaxProfileBytes)
		return
	}
	var ch ConfigChange
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			writeError(w, http.StatusBadRequest, te.Field, "%s has JSON %s, want %s", te.Field, te.Value, te.Type)
			return
		}
		writeError(w, http.StatusBadRequest, "", "body is not a configuration change ({\"version\": N, \"by\": \"...\", \"config\": {...}}): %v", err)
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "", "trailing data after the configuration change")
		return
	}
	base, apiErr := expectedVersion(r, ch.Version)
	if apiErr != nil {
		code := http.StatusPreconditionRequired
		if apiErr.Param == "version" {
			code = http.StatusBadRequest
		}
		writeJSON(w, code, apiErr)
		return
	}
	if err := agentconfig.CheckOverlay(ch.Config); err != nil {
		writeJSON(w, http.StatusBadRequest, overlayError(err))
		return
	}
	d := wire.DesiredConfig{V: wire.Version, Site: site, Cabin: cabin, Version: base + 1, At: a.o.Clock().UTC().Truncate(time.Millisecond), By: ch.By, Config: ch.Config}
	if err := d.Validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, validationError(err))
		return
	}
	if raw, _ := json.Marshal(d); len(raw) > wire.MaxDesiredConfigBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "", "the configuration would be %d bytes (at most %d)", len(raw), wire.MaxDesiredConfigBytes)
		return
	}
	err = a.o.Store.PutDesiredConfig(r.Context(), d)
	if errors.Is(err, store.ErrVersionConflict) {
		cur, cerr := a.newestConfig(r.Context(), site, cabin)
		if cerr != nil {
			a.storeError(w, r, cerr)
			return
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(versionOf(cur), 10)))
		writeError(w, http.StatusPreconditionFailed, "version", "the configuration is at version %d, not %d: read it again (GET) and send your change over it", versionOf(cur), base)
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	target := cabin
	if target == "" {
		target = "(site)"
	}
	a.auditSite(r, AuditConfig, site, target, fmt.Sprintf("version %d, fields %s, signed %q", d.Version, strings.Join(agentconfig.Fields(d.Config), ","), d.By))
	if a.o.Configs != nil {
		if err := a.o.Configs.PublishDesiredConfig(r.Context(), d); err != nil {
			a.o.Logger.Error("publish desired configuration", "site", site, "cabin", cabin, "version", d.Version, "err", err)
			writeError(w, http.StatusBadGateway, "", "stored as version %d but not published (%v); the receiver publishes it again within a minute, or at its next start", d.Version, err)
			return
		}
	}
	a.o.Logger.Info("desired configuration set", "site", site, "cabin", cabin, "version", d.Version, "by", d.By, "fields", agentconfig.Fields(d.Config))
	writeConfigJSON(w, http.StatusOK, d.Version, d)
}

// expectedVersion is the version a change replaces: the body's "version",
// or If-Match ("3", W/ not accepted); both must agree when both are sent.
// One of them is required: a change made over a version its author never
// read would undo another operator's without either knowing.
func expectedVersion(r *http.Request, body *uint64) (uint64, *APIError) {
	var fromHeader *uint64
	if im := r.Header.Get("If-Match"); im != "" {
		v, err := strconv.ParseUint(strings.Trim(im, `"`), 10, 64)
		if err != nil || !strings.HasPrefix(im, `"`) || !strings.HasSuffix(im, `"`) {
			return 0, &APIError{Param: "If-Match", Error: fmt.Sprintf("If-Match %s is not a version as ETag gives it (e.g. \"3\")", im)}
		}
		fromHeader = &v
	}
	switch {
	case body == nil && fromHeader == nil:
		return 0, &APIError{Param: "If-Match", Error: "say which version you change: If-Match with the ETag of GET, or \"version\" in the body (0 for the first)"}
	case body != nil && fromHeader != nil && *body != *fromHeader:
		return 0, &APIError{Param: "version", Error: fmt.Sprintf("version %d in the body and %d in If-Match disagree", *body, *fromHeader)}
	case body != nil:
		return *body, nil
	}
	return *fromHeader, nil
}

// overlayError names the first wrong field and lists every problem, as
// the agent would in a config_refused event.
func overlayError(err error) APIError {
	problems := agentconfig.Problems(err, wire.MaxConfigProblems, wire.MaxConfigProblemLen)
	out := APIError{Error: strings.Join(problems, "; ")}
	var fe *configfile.FieldError
	var we *wire.FieldError
	switch {
	case errors.As(err, &fe):
		out.Param = "config." + fe.Field
	case errors.As(err, &we):
		out.Param = "config." + we.Field
	}
	return out
}
