package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/palier-lifts/palier/receiver/media"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// maxNoticeBody bounds a notice request body.
const maxNoticeBody = 64 << 10

// DecodeNotice decodes one notice from a request body, strictly (unknown
// fields refused), gives it defaultID when it has no id, and validates it.
// The APIError names the bad field.
func DecodeNotice(b []byte, defaultID string) (wire.Notice, *APIError) {
	var n wire.Notice
	if len(b) > maxNoticeBody {
		return n, &APIError{Error: fmt.Sprintf("body of %d bytes (at most %d)", len(b), maxNoticeBody)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return n, &APIError{Param: te.Field, Error: fmt.Sprintf("%s has JSON %s, want %s", te.Field, te.Value, te.Type)}
		}
		// An unknown field is named too (a newer page or script against an
		// older receiver, or a typo): the page shows it beside the form.
		return n, &APIError{Param: fieldOf(err), Error: "body is not a notice: " + err.Error()}
	}
	if dec.More() {
		return n, &APIError{Error: "trailing data after the notice"}
	}
	if n.ID == "" {
		n.ID = defaultID
	}
	if err := n.Validate(); err != nil {
		return n, validationError(err)
	}
	return n, nil
}

// validationError is the APIError of a wire validation error, naming the
// field a *wire.FieldError names.
func validationError(err error) *APIError {
	var fe *wire.FieldError
	if errors.As(err, &fe) {
		return &APIError{Param: fe.Field, Error: fe.Error()}
	}
	return &APIError{Error: err.Error()}
}

func newNoticeID() string {
	var rnd [4]byte
	rand.Read(rnd[:])
	return "n-" + hex.EncodeToString(rnd[:])
}

func readNotice(w http.ResponseWriter, r *http.Request, defaultID string) (wire.Notice, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNoticeBody+1))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes", maxNoticeBody)
		return wire.Notice{}, false
	}
	n, apiErr := DecodeNotice(b, defaultID)
	if apiErr != nil {
		writeJSON(w, http.StatusBadRequest, apiErr)
		return n, false
	}
	return n, true
}

func (a *API) getNotices(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	set, err := a.o.Store.NoticeSet(r.Context(), id[0])
	if errors.Is(err, store.ErrNotFound) {
		set = wire.NoticeSet{V: wire.Version, Site: id[0], Notices: []wire.Notice{}}
	} else if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

// changeError is a refused change.
type changeError struct {
	code int
	err  APIError
}

// change applies fn to the site's notice set as a new version, stores it and
// publishes it. A concurrent change by another receiver makes it start over.
// action and target name the change in the audit trail.
func (a *API) change(w http.ResponseWriter, r *http.Request, site string, okCode int, action, target string, fn func(set *wire.NoticeSet) *changeError) {
	for attempt := 0; attempt < 5; attempt++ {
		set, err := a.o.Store.NoticeSet(r.Context(), site)
		if errors.Is(err, store.ErrNotFound) {
			set = wire.NoticeSet{V: wire.Version, Site: site}
		} else if err != nil {
			a.storeError(w, r, err)
			return
		}
		set.Notices = slices.Clone(set.Notices)
		if ce := fn(&set); ce != nil {
			writeJSON(w, ce.code, ce.err)
			return
		}
		if set.Notices == nil {
			set.Notices = []wire.Notice{}
		}
		set.Version++
		if err := set.Validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, validationError(err))
			return
		}
		if b, _ := json.Marshal(set); len(b) > wire.MaxNoticeSetBytes {
			writeError(w, http.StatusRequestEntityTooLarge, "", "the notice set would be %d bytes (at most %d)", len(b), wire.MaxNoticeSetBytes)
			return
		}
		err = a.o.Store.PutNoticeSet(r.Context(), set)
		if errors.Is(err, store.ErrVersionConflict) {
			continue
		}
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		a.auditSite(r, action, site, target, fmt.Sprintf("notice set version %d", set.Version))
		if a.o.Notices != nil {
			if err := a.o.Notices.PublishNotices(r.Context(), set); err != nil {
				a.o.Logger.Error("publish notices", "site", site, "version", set.Version, "err", err)
				writeError(w, http.StatusBadGateway, "", "stored as version %d but not published (%v); the next change publishes it", set.Version, err)
				return
			}
		}
		writeJSON(w, okCode, set)
		return
	}
	writeError(w, http.StatusConflict, "", "the notice set of %s kept changing; try again", site)
}

func (a *API) createNotice(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site")
	if !ok {
		return
	}
	n, ok := readNotice(w, r, newNoticeID())
	if !ok {
		return
	}
	a.change(w, r, id[0], http.StatusCreated, AuditNoticeCreate, n.ID, func(set *wire.NoticeSet) *changeError {
		if slices.ContainsFunc(set.Notices, func(x wire.Notice) bool { return x.ID == n.ID }) {
			return &changeError{http.StatusConflict, APIError{Param: "id", Error: fmt.Sprintf("notice %q exists (PUT it to change it)", n.ID)}}
		}
		if len(set.Notices) >= wire.MaxNotices {
			return &changeError{http.StatusConflict, APIError{Error: fmt.Sprintf("site has %d notices already (at most %d)", len(set.Notices), wire.MaxNotices)}}
		}
		set.Notices = append(set.Notices, n)
		return nil
	})
}

func (a *API) putNotice(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "id")
	if !ok {
		return
	}
	n, ok := readNotice(w, r, id[1])
	if !ok {
		return
	}
	// The path names the notice; a body naming another one is a mistake.
	if n.ID != id[1] {
		writeError(w, http.StatusBadRequest, "id", "body id %q differs from the path's %q", n.ID, id[1])
		return
	}
	a.change(w, r, id[0], http.StatusOK, AuditNoticeEdit, id[1], func(set *wire.NoticeSet) *changeError {
		i := slices.IndexFunc(set.Notices, func(x wire.Notice) bool { return x.ID == id[1] })
		if i < 0 {
			return &changeError{http.StatusNotFound, APIError{Param: "id", Error: fmt.Sprintf("no notice %q on site %s (POST to create it)", id[1], id[0])}}
		}
		set.Notices[i] = n
		return nil
	})
}

func (a *API) deleteNotice(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "id")
	if !ok {
		return
	}
	a.change(w, r, id[0], http.StatusOK, AuditNoticeWithdraw, id[1], func(set *wire.NoticeSet) *changeError {
		i := slices.IndexFunc(set.Notices, func(x wire.Notice) bool { return x.ID == id[1] })
		if i < 0 {
			return &changeError{http.StatusNotFound, APIError{Param: "id", Error: fmt.Sprintf("no notice %q on site %s", id[1], id[0])}}
		}
		set.Notices = slices.Delete(set.Notices, i, i+1)
		return nil
	})
}

// Media types accepted for upload: what a cabin screen can show.
var mediaTypes = media.Types

// uploadMedia stores an upload: for a site (POST .../sites/{site}/media),
// within the site's own bound; for the fleet (POST /api/v1/media), within
// the store's only.
func (a *API) uploadMedia(w http.ResponseWriter, r *http.Request) {
	if a.o.Media == nil {
		writeError(w, http.StatusNotImplemented, "", "media storage is not configured")
		return
	}
	site := ""
	if r.PathValue("site") != "" {
		id, ok := ids(w, r, "site")
		if !ok {
			return
		}
		site = id[0]
	}
	ct := r.Header.Get("Content-Type")
	if !slices.Contains(mediaTypes, ct) {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type", "%q (want one of %v)", ct, mediaTypes)
		return
	}
	sum, size, err := a.o.Media.Put(r.Context(), r.Body, media.Upload{
		Max: a.o.MaxUploadBytes, Site: site, SiteMax: a.o.MaxSiteMediaBytes, Check: media.CheckType(ct),
	})
	if errors.Is(err, media.ErrTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "", "file larger than %d bytes", a.o.MaxUploadBytes)
		return
	}
	if errors.Is(err, media.ErrSiteQuota) {
		writeError(w, http.StatusInsufficientStorage, "site", "%v (remove the site's unused media or raise http.max_site_media_bytes)", err)
		return
	}
	if errors.Is(err, media.ErrQuota) {
		writeError(w, http.StatusInsufficientStorage, "", "%v (remove unused media or raise http.max_media_bytes)", err)
		return
	}
	if errors.Is(err, media.ErrWrongType) {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type", "%v", err)
		return
	}
	if err != nil {
		a.o.Logger.Error("upload media", "err", err)
		writeError(w, http.StatusBadRequest, "", "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.Media{URL: a.o.PublicURL + "/media/" + sum, SHA256: sum, Type: ct, Size: size})
}

func (a *API) getMedia(w http.ResponseWriter, r *http.Request) {
	if a.o.Media == nil {
		writeError(w, http.StatusNotFound, "", "media storage is not configured")
		return
	}
	sum := r.PathValue("sha256")
	f, err := a.o.Media.Open(r.Context(), sum)
	switch {
	case errors.Is(err, media.ErrBadHash):
		writeError(w, http.StatusBadRequest, "sha256", "%v", err)
		return
	case errors.Is(err, media.ErrNotFound):
		writeError(w, http.StatusNotFound, "sha256", "%v", err)
		return
	case err != nil:
		a.o.Logger.Error("open media", "err", err)
		writeError(w, http.StatusInternalServerError, "", "media error (see the receiver's log)")
		return
	}
	defer f.Close()
	// The type comes from the content, never from a guess of the browser's
	// (nosniff) or of ServeContent's: a file stored before uploads were
	// checked, that is not an accepted type, is only ever a download.
	ct, err := media.Sniff(f)
	if err != nil {
		ct = "application/octet-stream"
		w.Header().Set("Content-Disposition", "attachment")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		writeError(w, http.StatusInternalServerError, "", "media error (see the receiver's log)")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable") // content-addressed: never changes
	w.Header().Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, "", time.Time{}, f)
}
