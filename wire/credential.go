package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TypeCredentialRotated: the cabin stored a new credential delivered on its
// credential topic and reconnected with it (CredentialRotatedData). The
// receiver then revokes the previous one.
const TypeCredentialRotated = "credential_rotated"

// CredentialRotatedData names the credential the cabin now connects with
// and the one it stopped using, by public id (the NATS user's public key,
// never the token itself).
type CredentialRotatedData struct {
	ID       string    `json:"id"`
	Previous string    `json:"previous,omitempty"` // "" when the cabin used a password before
	Expires  time.Time `json:"expires"`
}

func (d *CredentialRotatedData) check(uint64, bool) error {
	if err := checkCredentialID(d.ID); err != nil {
		return fieldErr("id", "%v", err)
	}
	if d.Previous != "" {
		if err := checkCredentialID(d.Previous); err != nil {
			return fieldErr("previous", "%v", err)
		}
	}
	if d.Expires.IsZero() {
		return fieldErr("expires", "missing")
	}
	return nil
}

// checkCredentialID accepts a NATS user public key: 56 characters of
// base32 starting with U.
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

// CredentialTopic is the MQTT topic where the receiver delivers a cabin's
// new credential (downlink, QoS 1, never retained: a retained bearer token
// would sit in the broker's JetStream files for as long as it is valid).
func CredentialTopic(site, cabin string) string {
	return "palier/v1/" + site + "/" + cabin + "/credential"
}

// CredentialSubject is the NATS subject of a cabin's credential topic.
func CredentialSubject(site, cabin string) string {
	return "palier.v1." + site + "." + cabin + ".credential"
}

// MaxCredentialBytes bounds a credential delivery; a user JWT with a
// cabin's permissions is about 1 KB.
const MaxCredentialBytes = 16 << 10

// CredentialDelivery is the payload of the credential topic.
type CredentialDelivery struct {
	V       int       `json:"v"`
	ID      string    `json:"id"`  // public id of the new credential
	JWT     string    `json:"jwt"` // the bearer user JWT, the MQTT password
	Expires time.Time `json:"expires"`
}

// DecodeCredentialDelivery decodes and checks a credential delivery, each
// problem naming its field; unknown fields are ignored (a newer receiver
// may add some). It does not
// verify the JWT's signature: the broker does, at the next CONNECT.
func DecodeCredentialDelivery(b []byte) (CredentialDelivery, error) {
	var d CredentialDelivery
	if len(b) > MaxCredentialBytes {
		return d, fmt.Errorf("credential delivery: %d bytes (at most %d)", len(b), MaxCredentialBytes)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return CredentialDelivery{}, fmt.Errorf("credential delivery: %w", err)
	}
	if d.V != Version {
		return CredentialDelivery{}, fmt.Errorf("credential delivery: v %d (want %d)", d.V, Version)
	}
	if err := checkCredentialID(d.ID); err != nil {
		return CredentialDelivery{}, fmt.Errorf("credential delivery: id: %w", err)
	}
	if strings.Count(d.JWT, ".") != 2 || strings.ContainsAny(d.JWT, " \t\r\n") {
		return CredentialDelivery{}, fmt.Errorf("credential delivery: jwt: not a JWT (header.payload.signature)")
	}
	if d.Expires.IsZero() {
		return CredentialDelivery{}, fmt.Errorf("credential delivery: expires: missing")
	}
	return d, nil
}
