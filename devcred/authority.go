package devcred

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/atomicfile"
)

// Authority holds the keys that sign the fleet's credentials.
type Authority struct {
	// Operator signs the account JWTs, revocations included. nats-server
	// trusts its public key (OperatorJWT).
	Operator nkeys.KeyPair
	// System is the system account: the resolver listens there for
	// account updates.
	System nkeys.KeyPair
	// Account is the PALIER account: it signs the cabins' and services'
	// user JWTs.
	Account nkeys.KeyPair
	// AccountName is the account's name in its JWT; default PALIER.
	AccountName string
}

// NewAuthority makes fresh keys.
func NewAuthority(accountName string) (*Authority, error) {
	if accountName == "" {
		accountName = "PALIER"
	}
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("new operator key: %w", err)
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("new system account key: %w", err)
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("new account key: %w", err)
	}
	return &Authority{Operator: op, System: sys, Account: acc, AccountName: accountName}, nil
}

// authorityFile is the on-disk form: seeds, which are the secrets.
type authorityFile struct {
	AccountName  string `yaml:"account_name"`
	OperatorSeed string `yaml:"operator_seed"`
	SystemSeed   string `yaml:"system_seed"`
	AccountSeed  string `yaml:"account_seed"`
}

// Marshal writes the authority's file.
func (a *Authority) Marshal() ([]byte, error) {
	var f authorityFile
	f.AccountName = a.AccountName
	for _, k := range []struct {
		kp  nkeys.KeyPair
		dst *string
	}{{a.Operator, &f.OperatorSeed}, {a.System, &f.SystemSeed}, {a.Account, &f.AccountSeed}} {
		seed, err := k.kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("marshal authority: %w", err)
		}
		*k.dst = string(seed)
	}
	var b bytes.Buffer
	b.WriteString("# Palier credential authority: SECRET. Keep it SOPS-encrypted (packaging/helmfile);\n")
	b.WriteString("# whoever holds it can admit or revoke any cabin. Made by: receiver credentials init\n")
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("marshal authority: %w", err)
	}
	return b.Bytes(), nil
}

// WriteFile writes the authority to path, readable by its owner only.
func (a *Authority) WriteFile(path string) error {
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("write authority: %w", err)
	}
	return nil
}

// ParseAuthority reads an authority file strictly, naming every bad field.
func ParseAuthority(r io.Reader) (*Authority, error) {
	var f authorityFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode authority: %w", err)
	}
	var probs []string
	a := &Authority{AccountName: f.AccountName}
	if a.AccountName == "" {
		a.AccountName = "PALIER"
	}
	for _, k := range []struct {
		field, seed string
		prefix      nkeys.PrefixByte
		dst         *nkeys.KeyPair
	}{
		{"operator_seed", f.OperatorSeed, nkeys.PrefixByteOperator, &a.Operator},
		{"system_seed", f.SystemSeed, nkeys.PrefixByteAccount, &a.System},
		{"account_seed", f.AccountSeed, nkeys.PrefixByteAccount, &a.Account},
	} {
		if k.seed == "" {
			probs = append(probs, k.field+": missing")
			continue
		}
		kp, err := nkeys.FromSeed([]byte(k.seed))
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: not an NKey seed (%v)", k.field, err))
			continue
		}
		pub, _ := kp.PublicKey()
		if !nkeys.IsValidPublicKey(pub) || nkeys.Prefix(pub) != k.prefix {
			probs = append(probs, fmt.Sprintf("%s: wrong kind of key (want a %s seed)", k.field, k.prefix))
			continue
		}
		*k.dst = kp
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid authority:\n  %s", strings.Join(probs, "\n  "))
	}
	return a, nil
}

// LoadAuthority reads an authority file. A file others may read is
// refused: its keys admit anyone.
func LoadAuthority(path string) (*Authority, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read authority: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("authority %s: mode %o lets others read it (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read authority: %w", err)
	}
	a, err := ParseAuthority(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("authority %s: %w", path, err)
	}
	return a, nil
}

func pub(kp nkeys.KeyPair) string {
	p, err := kp.PublicKey()
	if err != nil {
		// A key pair made or parsed here always has a public key.
		panic(fmt.Sprintf("nkey without public key: %v", err))
	}
	return p
}

// OperatorPublicKey, SystemPublicKey and AccountPublicKey are the public
// keys, which nats-server configuration names.
func (a *Authority) OperatorPublicKey() string { return pub(a.Operator) }
func (a *Authority) SystemPublicKey() string   { return pub(a.System) }
func (a *Authority) AccountPublicKey() string  { return pub(a.Account) }

// OperatorJWT is the operator's self-signed JWT naming the system account.
func (a *Authority) OperatorJWT() (string, error) {
	oc := jwt.NewOperatorClaims(a.OperatorPublicKey())
	oc.Name = "palier"
	oc.SystemAccount = a.SystemPublicKey()
	s, err := oc.Encode(a.Operator)
	if err != nil {
		return "", fmt.Errorf("sign operator JWT: %w", err)
	}
	return s, nil
}

// SystemJWT is the system account's JWT.
func (a *Authority) SystemJWT() (string, error) {
	ac := jwt.NewAccountClaims(a.SystemPublicKey())
	ac.Name = "SYS"
	s, err := ac.Encode(a.Operator)
	if err != nil {
		return "", fmt.Errorf("sign system account JWT: %w", err)
	}
	return s, nil
}
