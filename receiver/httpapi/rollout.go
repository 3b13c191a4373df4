package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/palier-lifts/palier/receiver/rollout"
	"github.com/palier-lifts/palier/receiver/store"
	"github.com/palier-lifts/palier/wire"
)

// maxRolloutBody bounds a wave's request: room for thousands of cabins.
const maxRolloutBody = 1 << 20

// rolloutRoutes serves the rollout waves (docs/API.md, "Rollout waves").
func (a *API) rolloutRoutes(m *routeMux) {
	m.Handle("GET /api/v1/rollout/waves", a.auth(RoleRead, http.HandlerFunc(a.listWaves)))
	m.Handle("POST /api/v1/rollout/waves", a.auth(RoleAdmin, http.HandlerFunc(a.createWave)))
	m.Handle("GET /api/v1/rollout/waves/{id}", a.auth(RoleRead, http.HandlerFunc(a.getWave)))
	m.Handle("POST /api/v1/rollout/waves/{id}/stop", a.auth(RoleAdmin, http.HandlerFunc(a.stopWave)))
}

func (a *API) listWaves(w http.ResponseWriter, r *http.Request) {
	if _, ok := strictQuery(w, r); !ok {
		return
	}
	waves, err := a.o.Rollout.Waves(r.Context())
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if waves == nil {
		waves = []store.Wave{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"waves": waves})
}

func (a *API) createWave(w http.ResponseWriter, r *http.Request) {
	var body struct {
		rollout.Request
		By string `json:"by"`
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRolloutBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than %d bytes", maxRolloutBody)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.More() {
		if err == nil {
			err = errors.New("trailing data after the JSON object")
		}
		writeError(w, http.StatusBadRequest, "", "body: %v", err)
		return
	}
	if !checkPerson(w, "by", body.By, wire.MaxAckByLen, true) {
		return
	}
	wave, err := a.o.Rollout.Create(r.Context(), body.Request, body.By)
	var fe *rollout.FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fe.Field, "%v", fe)
		return
	}
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.audit(r, AuditWaveCreate, nil, strconv.FormatInt(wave.ID, 10), fmt.Sprintf("version %s, channel %s, signed %q", wave.Version, wave.Channel, body.By))
	p, err := a.o.Rollout.Progress(r.Context(), wave.ID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func waveID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "id", "id: %q is not a wave number", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (a *API) getWave(w http.ResponseWriter, r *http.Request) {
	id, ok := waveID(w, r)
	if !ok {
		return
	}
	if _, ok := strictQuery(w, r); !ok {
		return
	}
	p, err := a.o.Rollout.Progress(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) stopWave(w http.ResponseWriter, r *http.Request) {
	id, ok := waveID(w, r)
	if !ok {
		return
	}
	var body struct {
		By string `json:"by"`
	}
	if !readOperatorBody(w, r, &body) || !checkPerson(w, "by", body.By, wire.MaxAckByLen, true) {
		return
	}
	p, err := a.o.Rollout.Progress(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	stopped, err := a.o.Rollout.Stop(r.Context(), id, body.By)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if !stopped {
		writeError(w, http.StatusConflict, "id", "wave %d is %s, not running", id, p.State)
		return
	}
	a.o.Logger.Info("rollout wave stopped", "wave", id, "by", body.By)
	a.audit(r, AuditWaveStop, nil, strconv.FormatInt(id, 10), fmt.Sprintf("signed %q", body.By))
	if p, err = a.o.Rollout.Progress(r.Context(), id); err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
