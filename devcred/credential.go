package devcred

import (
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/palier-lifts/palier/devcred/token"
	"github.com/palier-lifts/palier/natsauth"
	"github.com/palier-lifts/palier/wire"
)

// Lifetimes of a cabin's credential. A credential outlives several missed
// rotations (a cabin offline for a holiday still comes back), and its
// expiry bounds how long a stolen one, never revoked, can serve. MaxTTL
// also bounds how long a revocation is kept in the account JWT (every
// credential it names has expired by then): about 100 bytes each, 2,000
// cabins rotated every 90 days keep it near 260 KB, under NATS's 1 MB.
const (
	DefaultTTL = 90 * 24 * time.Hour
	MinTTL     = time.Minute
	MaxTTL     = 120 * 24 * time.Hour
)

// Credential is one issued user JWT (token.Credential).
type Credential = token.Credential

// Parse decodes a credential and checks its signature (token.Parse).
func Parse(t string) (Credential, error) { return token.Parse(t) }

// IssueDevice signs a credential for a cabin, valid from now for ttl:
// MQTT only, publishing and subscribing to exactly its own subjects.
func (a *Authority) IssueDevice(d natsauth.Device, now time.Time, ttl time.Duration) (Credential, error) {
	if err := wire.ValidateID(d.Site); err != nil {
		return Credential{}, fmt.Errorf("issue credential: site %w", err)
	}
	if err := wire.ValidateID(d.Cabin); err != nil {
		return Credential{}, fmt.Errorf("issue credential: cabin %w", err)
	}
	return a.issue(d.UserName(), d.Site, d.Cabin, []string{jwt.ConnectionTypeMqtt}, d.Publish(), d.Subscribe(), now, ttl)
}

// IssueService signs a credential for a trusted service (the receiver's
// MQTT connection for notices and credentials): the whole account, over
// the connection types listed (STANDARD, MQTT).
func (a *Authority) IssueService(name string, clients []string, now time.Time, ttl time.Duration) (Credential, error) {
	if name == "" {
		return Credential{}, fmt.Errorf("issue service credential: name is empty")
	}
	return a.issue(name, "", "", clients, nil, nil, now, ttl)
}

// issueKeyed signs a user that proves its key (signs the nonce): a NATS
// tool's, never a cabin's.
func (a *Authority) issueKeyed(name string, now time.Time, ttl time.Duration) (string, nkeys.KeyPair, error) {
	if ttl < MinTTL || ttl > MaxTTL {
		return "", nil, fmt.Errorf("ttl %s out of range (%s to %s)", ttl, MinTTL, MaxTTL)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return "", nil, err
	}
	uc := jwt.NewUserClaims(pub(user))
	uc.Name = name
	uc.Expires = now.Add(ttl).Unix()
	uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard)
	token, err := uc.Encode(a.Account)
	if err != nil {
		return "", nil, err
	}
	return token, user, nil
}

func (a *Authority) issue(name, site, cabin string, clients, pubAllow, subAllow []string, now time.Time, ttl time.Duration) (Credential, error) {
	if ttl < MinTTL || ttl > MaxTTL {
		return Credential{}, fmt.Errorf("issue credential for %s: ttl %s out of range (%s to %s)", name, ttl, MinTTL, MaxTTL)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return Credential{}, fmt.Errorf("issue credential for %s: %w", name, err)
	}
	id := pub(user)
	uc := jwt.NewUserClaims(id)
	uc.Name = name
	// iat is set by Encode, to the clock's now; now only places expiry.
	exp := now.Add(ttl).Truncate(time.Second)
	uc.Expires = exp.Unix()
	// MQTT cannot sign the server's nonce: the token alone admits.
	uc.BearerToken = true
	uc.AllowedConnectionTypes.Add(clients...)
	uc.Pub.Allow.Add(pubAllow...)
	uc.Sub.Allow.Add(subAllow...)
	if site != "" {
		uc.Tags.Add("site:"+site, "cabin:"+cabin)
	}
	token, err := uc.Encode(a.Account)
	if err != nil {
		return Credential{}, fmt.Errorf("issue credential for %s: %w", name, err)
	}
	return Credential{ID: id, JWT: token, Name: name, Site: site, Cabin: cabin, Issued: time.Unix(uc.IssuedAt, 0), Expires: exp}, nil
}

// AccountJWT is the PALIER account's JWT, signed by the operator:
// JetStream enabled (nats-server's MQTT layer keeps sessions and retained
// messages there) and the given revocations (user id → revoked at).
func (a *Authority) AccountJWT(revoked map[string]time.Time) (string, error) {
	ac := jwt.NewAccountClaims(a.AccountPublicKey())
	ac.Name = a.AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
	}
	for id, at := range revoked {
		ac.RevokeAt(id, at)
	}
	s, err := ac.Encode(a.Operator)
	if err != nil {
		return "", fmt.Errorf("sign account JWT: %w", err)
	}
	return s, nil
}

// Revocations reads the revocations of an account JWT signed by this
// authority's operator.
func (a *Authority) Revocations(accountJWT string) (map[string]time.Time, error) {
	ac, err := jwt.DecodeAccountClaims(accountJWT)
	if err != nil {
		return nil, fmt.Errorf("decode account JWT: %w", err)
	}
	if ac.Subject != a.AccountPublicKey() || ac.Issuer != a.OperatorPublicKey() {
		return nil, fmt.Errorf("account JWT is of %s by %s, not this authority's %s by %s", ac.Subject, ac.Issuer, a.AccountPublicKey(), a.OperatorPublicKey())
	}
	out := make(map[string]time.Time, len(ac.Revocations))
	for id, at := range ac.Revocations {
		out[id] = time.Unix(at, 0)
	}
	return out, nil
}
