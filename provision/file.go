package provision

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// DefaultBootFile is where Raspberry Pi OS (bookworm) mounts the boot partition.
const DefaultBootFile = "/boot/firmware/palier.yaml"

// maxBootFile bounds the provisioning file: a few ids, a password and a CA
// bundle fit in far less.
const maxBootFile = 256 << 10

// File is the content of the boot partition's palier.yaml.
type File struct {
	// Provisioned is set by Run when it has taken the secrets: the file
	// is then kept as a record and ignored. Remove the line to provision again.
	Provisioned *time.Time `yaml:"provisioned,omitempty"`
	Site        string     `yaml:"site"`
	Cabin       string     `yaml:"cabin"`
	// Broker is the uplink's broker URL (ssl://host:8883).
	Broker string `yaml:"broker"`
	// Username and Password are the cabin's own MQTT credentials.
	Username string `yaml:"username,omitempty"`
	Password string `yaml:"password,omitempty"`
	// CAPEM is the broker's CA certificate(s), PEM, for a private CA.
	CAPEM string `yaml:"ca_pem,omitempty"`
}

// Parse decodes and checks a provisioning file strictly: an unknown key, a
// bad id or URL or a CA that is not PEM is an error naming the file (name)
// that holds every problem as a *configfile.FieldError naming its field.
func Parse(name string, r io.Reader) (File, error) {
	var p File
	err := configfile.Decode(r, maxBootFile, &p)
	if errors.Is(err, configfile.ErrEmpty) {
		err = &configfile.FieldError{Problem: "empty"}
	}
	if err == nil {
		err = p.validate()
	}
	if err != nil {
		var fe *configfile.FieldError
		if !errors.As(err, &fe) {
			return p, fmt.Errorf("read provisioning file %s: %w", name, err)
		}
		return p, fmt.Errorf("provisioning file %s: %w", name, err)
	}
	return p, nil
}

// validate returns every problem, in the order of the file's fields.
func (p *File) validate() error {
	var probs configfile.Problems
	bad := probs.Add
	if err := wire.ValidateID(p.Site); err != nil {
		bad("site", "%v", err)
	}
	if err := wire.ValidateID(p.Cabin); err != nil {
		bad("cabin", "%v", err)
	}
	uc := uplink.DefaultConfig()
	uc.Broker = p.Broker
	var fe *configfile.FieldError
	if err := uc.Validate(); errors.As(err, &fe) {
		bad("broker", "%s", fe.Problem)
	}
	if p.Password != "" && p.Username == "" {
		bad("username", "missing while password is set")
	}
	if p.Username != "" && p.Password == "" && p.Provisioned == nil {
		bad("password", "missing while username is set")
	}
	if strings.ContainsAny(p.Password, "\r\n") {
		bad("password", "contains a line break")
	} else if strings.TrimSpace(p.Password) != p.Password {
		// The agent reads the password file trimmed (configfile.ReadSecret).
		bad("password", "begins or ends with white space")
	}
	if p.CAPEM != "" {
		if !strings.HasPrefix(p.Broker, "ssl://") && !strings.HasPrefix(p.Broker, "tls://") && !strings.HasPrefix(p.Broker, "mqtts://") {
			bad("ca_pem", "set, but broker %q is not a TLS URL (use ssl://)", p.Broker)
		} else if err := checkPEM([]byte(p.CAPEM)); err != nil {
			bad("ca_pem", "%v", err)
		}
	}
	return probs.Err()
}

// checkPEM wants at least one certificate and nothing else.
func checkPEM(b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate in it")
	}
	if len(bytes.TrimSpace(b)) > 0 {
		return errors.New("text after the last certificate")
	}
	return nil
}

// hasSecrets reports whether the file still carries something to take.
func (p *File) hasSecrets() bool { return p.Password != "" || p.CAPEM != "" }
