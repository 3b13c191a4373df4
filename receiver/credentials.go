package receiver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/palier-lifts/palier/devcred"
	"github.com/palier-lifts/palier/receiver/httpapi"
)

// CredentialsConfig lets the API rotate and revoke the cabins'
// credentials on a leaf node in operator mode (docs/OPERATIONS.md,
// "Rotating and revoking a cabin's credential"). Empty: the credential
// endpoints answer 503.
type CredentialsConfig struct {
	// AuthorityFile is the authority (receiver credentials init), 0600.
	AuthorityFile string `yaml:"authority_file"`
	// LeafURL is the leaf's NATS listener, tls://leaf:4222; LeafMQTTURL
	// its MQTT listener, ssl://leaf:8883.
	LeafURL     string `yaml:"leaf_url"`
	LeafMQTTURL string `yaml:"leaf_mqtt_url"`
	// CAFile signed the leaf's certificate; empty: the system's roots.
	CAFile string `yaml:"ca_file"`
	// TTL of new credentials; default 90 days (devcred.DefaultTTL).
	TTL time.Duration `yaml:"ttl"`
}

func (c CredentialsConfig) validate(bad badFunc) {
	if c.AuthorityFile == "" {
		if c.LeafURL != "" || c.LeafMQTTURL != "" || c.CAFile != "" {
			bad("credentials.authority_file", "empty while other credentials settings are set (want the authority file, or no credentials section)")
		}
		return
	}
	checkFile(bad, "credentials.authority_file", c.AuthorityFile)
	if !strings.HasPrefix(c.LeafURL, "tls://") {
		bad("credentials.leaf_url", "%q (want tls://host:4222, the leaf node's NATS listener)", c.LeafURL)
	}
	if !strings.HasPrefix(c.LeafMQTTURL, "ssl://") {
		bad("credentials.leaf_mqtt_url", "%q (want ssl://host:8883, the leaf node's MQTT listener)", c.LeafMQTTURL)
	}
	checkFile(bad, "credentials.ca_file", c.CAFile)
	if c.TTL != 0 && (c.TTL < time.Hour || c.TTL > devcred.MaxTTL) {
		bad("credentials.ttl", "%s (want 1h to %s)", c.TTL, devcred.MaxTTL)
	}
}

// openCredentials connects the credential manager, or returns nil when
// the section is empty.
func openCredentials(c CredentialsConfig, logger *slog.Logger) (*devcred.Manager, error) {
	if c.AuthorityFile == "" {
		return nil, nil
	}
	a, err := devcred.LoadAuthority(c.AuthorityFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("credentials.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("credentials.ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	m, err := devcred.Connect(a, devcred.LeafConfig{NATSURL: c.LeafURL, MQTTURL: c.LeafMQTTURL, TLS: tc, TTL: c.TTL}, logger)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return m, nil
}

// apiCredentials is m as the API's interface: nil stays nil.
func apiCredentials(m *devcred.Manager) httpapi.Credentials {
	if m == nil {
		return nil
	}
	return m
}
