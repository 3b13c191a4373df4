package natsauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/wire"
)

// Fleet is the YAML list of who may connect to the leaf node.
type Fleet struct {
	// Account is the NATS account every user belongs to; default PALIER.
	Account string `yaml:"account"`
	// Services are trusted users with the whole account (the receiver, the
	// hub link). They may not use MQTT unless MQTT is listed in Clients.
	Services []Service `yaml:"services"`
	// Devices are the cabins.
	Devices []Device `yaml:"devices"`
}

// Service is a trusted user of the account.
type Service struct {
	User         string `yaml:"user"`
	PasswordHash string `yaml:"password_hash"`
	// Clients are the connection types allowed (STANDARD, MQTT, LEAFNODE,
	// WEBSOCKET); default STANDARD.
	Clients []string `yaml:"clients"`
}

// Device is one cabin's agent.
type Device struct {
	Site  string `yaml:"site"`
	Cabin string `yaml:"cabin"`
	// User defaults to {site}-{cabin}, the agent.yaml sample's username.
	User         string `yaml:"user"`
	PasswordHash string `yaml:"password_hash"`
}

// UserName is the device's NATS user name.
func (d Device) UserName() string {
	if d.User != "" {
		return d.User
	}
	return d.Site + "-" + d.Cabin
}

// Publish is what the device may publish: its own events, state and status.
// Not {site}.{cabin}.>: that would let it forge its own acks.
func (d Device) Publish() []string { return wire.DeviceSubjects(d.Site, d.Cabin) }

// Subscribe is what the device may subscribe to: its acks, alarm
// acknowledgements and desired agent version (update), its site's notices,
// the desired configuration of its site and its own, its credential topic
// (where a fleet moving from passwords receives its first credential, see
// package devcred), and $MQTT.sub.>, where nats-server delivers QoS 1
// subscriptions. nats-server 2.15 allows that prefix to MQTT clients
// implicitly (canSubscribeInternal; TestDeviceSubscriptions passes without
// it); it stays for the older servers its documentation describes.
func (d Device) Subscribe() []string {
	return []string{wire.AckSubject(d.Site, d.Cabin), wire.AlarmAckSubject(d.Site, d.Cabin), wire.UpdateSubject(d.Site, d.Cabin),
		wire.NoticesSubject(d.Site), wire.SiteConfigSubject(d.Site), wire.ConfigSubject(d.Site, d.Cabin),
		wire.CredentialSubject(d.Site, d.Cabin), "$MQTT.sub.>"}
}

// ValidationError lists every problem of a fleet file.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid fleet:\n  " + strings.Join(e.Problems, "\n  ")
}

var connTypes = map[string]bool{"STANDARD": true, "MQTT": true, "LEAFNODE": true, "WEBSOCKET": true}

// Validate checks the fleet and fills the defaults; the error is a
// *ValidationError naming each bad entry.
func (f *Fleet) Validate() error {
	var probs []string
	add := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if f.Account == "" {
		f.Account = "PALIER"
	}
	if !isName(f.Account) {
		add("account %q: want letters, digits, '-' or '_'", f.Account)
	}
	seen := map[string]string{}
	claim := func(user, who string) {
		if prev, ok := seen[user]; ok {
			add("%s: user %q is already %s (set user: to tell them apart)", who, user, prev)
			return
		}
		seen[user] = who
	}
	for i, s := range f.Services {
		who := fmt.Sprintf("services[%d]", i)
		if !isName(s.User) {
			add("%s.user %q: want letters, digits, '-' or '_'", who, s.User)
		}
		checkHash(add, who, s.PasswordHash)
		if len(s.Clients) == 0 {
			f.Services[i].Clients = []string{"STANDARD"}
		}
		for _, c := range s.Clients {
			if !connTypes[c] {
				add("%s.clients: %q is not one of STANDARD, MQTT, LEAFNODE, WEBSOCKET", who, c)
			}
		}
		claim(s.User, who)
	}
	cabins := map[string]int{}
	for i, d := range f.Devices {
		who := fmt.Sprintf("devices[%d]", i)
		if err := wire.ValidateID(d.Site); err != nil {
			add("%s.site %v", who, err)
		}
		if err := wire.ValidateID(d.Cabin); err != nil {
			add("%s.cabin %v", who, err)
		}
		if d.User != "" && !isName(d.User) {
			add("%s.user %q: want letters, digits, '-' or '_'", who, d.User)
		}
		checkHash(add, who, d.PasswordHash)
		key := d.Site + "/" + d.Cabin
		if j, ok := cabins[key]; ok {
			add("%s: cabin %s is already devices[%d]", who, key, j)
		}
		cabins[key] = i
		claim(d.UserName(), who)
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

func checkHash(add func(string, ...any), who, hash string) {
	if hash == "" {
		add("%s.password_hash is empty (make one with: receiver users hash)", who)
		return
	}
	// A clear-text password here would be accepted by nats-server as is:
	// refuse it so no secret lands in a file that is not encrypted.
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		add("%s.password_hash is not a bcrypt hash (make one with: receiver users hash)", who)
	}
}

func isName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Parse decodes a fleet file strictly (an unknown key is an error) and
// validates it.
func Parse(r io.Reader) (Fleet, error) {
	var f Fleet
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Fleet{}, fmt.Errorf("decode fleet: %w", err)
	}
	if err := f.Validate(); err != nil {
		return Fleet{}, err
	}
	return f, nil
}

// ParseFile reads and parses a fleet file.
func ParseFile(path string) (Fleet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fleet{}, fmt.Errorf("read fleet %s: %w", path, err)
	}
	f, err := Parse(bytes.NewReader(b))
	if err != nil {
		return Fleet{}, fmt.Errorf("fleet %s: %w", path, err)
	}
	return f, nil
}

// Costs of the fleet file's bcrypt hashes. nats-server checks the hash at
// every CONNECT and caches nothing, so a device's cost is paid by the
// whole fleet at once when a leaf node comes back: at cost 11, 2,000 cabins
// take about 3.5 minutes of server CPU on two cores before the first event
// flows (BenchmarkConnectAuth, docs/BENCHMARKS.md); at cost 6, 9 s. A
// device's password is a machine-made secret of at least 128 bits
// (MinDevicePassword characters, e.g. openssl rand -base64 24), which no
// bcrypt cost would help an attacker guess; a service's password (the
// receiver's) may be typed by a person, and its few connections can pay.
const (
	DeviceCost  = 6
	ServiceCost = 11
)

// Minimum password lengths.
const (
	MinDevicePassword  = 24
	MinServicePassword = 12
)

// Hash returns the bcrypt hash of a service's password for a fleet file.
func Hash(password []byte) (string, error) {
	return hash(password, MinServicePassword, ServiceCost, "")
}

// HashDevice returns the bcrypt hash of a device's password for a fleet
// file, at the cost a reconnect storm can pay.
func HashDevice(password []byte) (string, error) {
	return hash(password, MinDevicePassword, DeviceCost, " for a device: make one with openssl rand -base64 24")
}

func hash(password []byte, minLen, cost int, hint string) (string, error) {
	if len(password) < minLen {
		return "", fmt.Errorf("hash password: %d characters is too short (at least %d%s)", len(password), minLen, hint)
	}
	h, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
