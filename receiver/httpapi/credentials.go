package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/palier-lifts/palier/devcred"
)

// Credentials rotates and revokes the cabins' credentials on the leaf
// node (devcred.Manager).
type Credentials interface {
	// StartRotation gives a cabin a new credential in the background;
	// devcred.ErrRotating if one is under way.
	StartRotation(site, cabin string) error
	// Revoke revokes credentials by public id: their sessions close.
	Revoke(ctx context.Context, ids []string) error
}

var _ Credentials = (*devcred.Manager)(nil)

// maxRevokeIDs bounds one revocation request.
const maxRevokeIDs = 1000

// credentialRoutes adds the credential endpoints (admin).
func (a *API) credentialRoutes(m *routeMux) {
	m.Handle("POST /api/v1/cabins/{site}/{cabin}/credential/rotate", a.auth(RoleAdmin, http.HandlerFunc(a.rotateCredential)))
	m.Handle("POST /api/v1/credentials/revoke", a.auth(RoleAdmin, http.HandlerFunc(a.revokeCredentials)))
}

func (a *API) noCredentials(w http.ResponseWriter) bool {
	if a.o.Credentials == nil {
		writeError(w, http.StatusServiceUnavailable, "", "device credentials are not configured on this receiver (credentials.authority_file, see docs/OPERATIONS.md)")
		return true
	}
	return false
}

// RotationStarted answers a rotation request.
type RotationStarted struct {
	Site  string `json:"site"`
	Cabin string `json:"cabin"`
	// Status is "rotating": the cabin reports credential_rotated when it
	// uses the new one, and its previous one is then revoked.
	Status string `json:"status"`
}

func (a *API) rotateCredential(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "cabin")
	if !ok || a.noCredentials(w) {
		return
	}
	err := a.o.Credentials.StartRotation(id[0], id[1])
	if errors.Is(err, devcred.ErrRotating) {
		writeError(w, http.StatusConflict, "", "%s/%s: %v", id[0], id[1], err)
		return
	}
	if err != nil {
		a.o.Logger.Error("start credential rotation", "site", id[0], "cabin", id[1], "err", err)
		writeError(w, http.StatusBadGateway, "", "rotation not started: %v", err)
		return
	}
	a.o.Logger.Info("credential rotation started", "site", id[0], "cabin", id[1])
	writeJSON(w, http.StatusAccepted, RotationStarted{Site: id[0], Cabin: id[1], Status: "rotating"})
}

// Revoked answers a revocation request.
type Revoked struct {
	Revoked []string `json:"revoked"`
}

func (a *API) revokeCredentials(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs []string `json:"ids"`
	}
	if !readOperatorBody(w, r, &body) {
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > maxRevokeIDs {
		writeError(w, http.StatusBadRequest, "ids", "ids: %d given (want 1 to %d credential ids)", len(body.IDs), maxRevokeIDs)
		return
	}
	for i, id := range body.IDs {
		if err := checkCredentialID(id); err != nil {
			writeError(w, http.StatusBadRequest, "ids", "ids[%d]: %v", i, err)
			return
		}
	}
	if a.noCredentials(w) {
		return
	}
	if err := a.o.Credentials.Revoke(r.Context(), body.IDs); err != nil {
		a.o.Logger.Error("revoke credentials", "ids", body.IDs, "err", err)
		writeError(w, http.StatusBadGateway, "", "not revoked: %v", err)
		return
	}
	a.o.Logger.Warn("credentials revoked", "ids", body.IDs)
	writeJSON(w, http.StatusOK, Revoked{Revoked: body.IDs})
}

// checkCredentialID accepts a NATS user public key.
func checkCredentialID(id string) error {
	if len(id) != 56 || id[0] != 'U' {
		return fmt.Errorf("%q is not a credential id (56 characters starting with U)", id)
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return fmt.Errorf("%q is not a credential id (base32: A-Z and 2-7)", id)
		}
	}
	return nil
}
