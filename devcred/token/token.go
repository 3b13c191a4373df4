package token

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/palier-lifts/palier/wire"
)

// Credential is one issued user JWT.
type Credential struct {
	ID      string // the user's public key: the credential's public id
	JWT     string // the bearer token: the MQTT password, a secret
	Name    string // {site}-{cabin} for a cabin, the user name for a service
	Site    string // "" for a service
	Cabin   string
	Issued  time.Time
	Expires time.Time
}

// Delivery is the credential as the cabin receives it on its credential
// topic.
func (c Credential) Delivery() wire.CredentialDelivery {
	return wire.CredentialDelivery{V: wire.Version, ID: c.ID, JWT: c.JWT, Expires: c.Expires}
}

// Parse decodes a credential and checks its signature against the issuer
// it names (not whether the broker trusts that issuer: the broker does).
func Parse(s string) (Credential, error) {
	uc, err := jwt.DecodeUserClaims(strings.TrimSpace(s))
	if err != nil {
		return Credential{}, fmt.Errorf("parse credential: %w", err)
	}
	c := Credential{ID: uc.Subject, JWT: strings.TrimSpace(s), Name: uc.Name, Issued: time.Unix(uc.IssuedAt, 0)}
	if uc.Expires > 0 {
		c.Expires = time.Unix(uc.Expires, 0)
	}
	for _, tag := range uc.Tags {
		if v, ok := strings.CutPrefix(tag, "site:"); ok {
			c.Site = v
		}
		if v, ok := strings.CutPrefix(tag, "cabin:"); ok {
			c.Cabin = v
		}
	}
	if !uc.BearerToken {
		return Credential{}, fmt.Errorf("parse credential %s: not a bearer token (an MQTT client cannot use it)", c.ID)
	}
	return c, nil
}
