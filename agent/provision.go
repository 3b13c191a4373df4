package agent

// First-boot provisioning: an installer (or the factory) drops palier.yaml on
// the SD card's boot partition, which any laptop can write. Provision moves
// its identity and broker settings into the agent config, its secrets into
// root-owned files under /etc/palier, and scrubs them from the boot
// partition, which is FAT: no permissions, readable by whoever holds the card.
//
// Crash safety comes from the order of the steps, each atomic and synced:
//
//  1. mqtt.password and ca.pem are written (temporary file, fsync, rename);
//  2. agent.yaml is rewritten the same way, pointing at them;
//  3. the boot file is replaced by a copy without secrets, marked
//     "provisioned": the new copy goes to palier.yaml.new, the original is
//     renamed to palier.yaml.scrub, the copy is renamed into place;
//  4. palier.yaml.scrub is overwritten with zeros in place (FAT reuses no
//     clusters for that, so the password does not linger in freed clusters)
//     and removed.
//
// A power cut before 3 leaves the original file in place: the next run does
// everything again, with the same result. A .scrub file exists only once 1 and
// 2 are durable, so the next run just finishes 3 and 4 from it.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/uplink"
	"github.com/palier-lifts/palier/wire"
)

// DefaultBootFile is where Raspberry Pi OS (bookworm) mounts the boot partition.
const DefaultBootFile = "/boot/firmware/palier.yaml"

// maxBootFile bounds the provisioning file: a few ids, a password and a CA
// bundle fit in far less.
const maxBootFile = 256 << 10

// Provisioning is the content of the boot partition's palier.yaml.
type Provisioning struct {
	// Provisioned is set by Provision when it has taken the secrets: the file
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

// ProvisionError says which field of which file is wrong.
type ProvisionError struct {
	File   string
	Field  string // empty when the file as a whole is unreadable
	Reason string
}

func (e *ProvisionError) Error() string {
	if e.Field == "" {
		return "provisioning file " + e.File + ": " + e.Reason
	}
	return "provisioning file " + e.File + ": " + e.Field + ": " + e.Reason
}

// ParseProvisioning decodes and checks a provisioning file strictly: an
// unknown key, a bad id or URL or a CA that is not PEM is a *ProvisionError
// naming the field. name labels the errors.
func ParseProvisioning(name string, r io.Reader) (Provisioning, error) {
	var p Provisioning
	b, err := io.ReadAll(io.LimitReader(r, maxBootFile+1))
	if err != nil {
		return p, fmt.Errorf("read provisioning file %s: %w", name, err)
	}
	if len(b) > maxBootFile {
		return p, &ProvisionError{File: name, Reason: fmt.Sprintf("larger than %d KiB", maxBootFile>>10)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return p, &ProvisionError{File: name, Reason: "empty"}
		}
		return p, &ProvisionError{File: name, Field: yamlField(err), Reason: yamlReason(err)}
	}
	return p, p.validate(name)
}

// yamlField pulls the key out of yaml.v3's "field x not found" message.
func yamlField(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if _, after, ok := strings.Cut(te.Errors[0], "field "); ok {
			f, _, _ := strings.Cut(after, " ")
			return f
		}
	}
	return ""
}

func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.ReplaceAll(strings.Join(te.Errors, "; "), "not found in type agent.Provisioning", "is not a known key (site, cabin, broker, username, password, ca_pem)")
	}
	return err.Error()
}

func (p *Provisioning) validate(name string) error {
	bad := func(field, format string, args ...any) error {
		return &ProvisionError{File: name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if err := wire.ValidateID(p.Site); err != nil {
		return bad("site", "%v", err)
	}
	if err := wire.ValidateID(p.Cabin); err != nil {
		return bad("cabin", "%v", err)
	}
	uc := uplink.DefaultConfig()
	uc.Broker = p.Broker
	if errs := uc.Validate(""); len(errs) > 0 {
		_, reason, _ := strings.Cut(errs[0].Error(), ": ")
		return bad("broker", "%s", reason)
	}
	if p.Password != "" && p.Username == "" {
		return bad("username", "missing while password is set")
	}
	if p.Username != "" && p.Password == "" && p.Provisioned == nil {
		return bad("password", "missing while username is set")
	}
	if strings.ContainsAny(p.Password, "\r\n") {
		return bad("password", "contains a line break")
	}
	if p.CAPEM != "" {
		if !strings.HasPrefix(p.Broker, "ssl://") && !strings.HasPrefix(p.Broker, "tls://") && !strings.HasPrefix(p.Broker, "mqtts://") {
			return bad("ca_pem", "set, but broker %q is not a TLS URL (use ssl://)", p.Broker)
		}
		if err := checkPEM([]byte(p.CAPEM)); err != nil {
			return bad("ca_pem", "%v", err)
		}
	}
	return nil
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
func (p *Provisioning) hasSecrets() bool { return p.Password != "" || p.CAPEM != "" }

// ProvisionOptions say where the files are. Zero paths take the defaults.
type ProvisionOptions struct {
	// BootFile is the provisioning file; default DefaultBootFile.
	BootFile string
	// ConfigFile is the agent config to merge into; default /etc/palier/agent.yaml.
	ConfigFile string
	// PasswordFile and CAFile receive the secrets; default mqtt.password and
	// ca.pem beside ConfigFile.
	PasswordFile string
	CAFile       string
	// Owner is the user the agent runs as. When Provision runs as root, the
	// password file is given to it (mode 0600) and a new config file to its
	// group (0640). Default "palier"; ignored when not root or no such user.
	Owner string
	// Now stamps the provisioned marker; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// ProvisionStatus is what a Provision call did.
type ProvisionStatus int

const (
	ProvisionNoFile      ProvisionStatus = iota // no boot file: nothing to do
	ProvisionAlreadyDone                        // the boot file is marked provisioned and has no secrets
	ProvisionDone                               // identity, broker and secrets taken, boot file scrubbed
	ProvisionFinished                           // a run cut short was finished (scrub only)
)

func (s ProvisionStatus) String() string {
	return [...]string{"no provisioning file", "already provisioned", "provisioned", "finished an interrupted provisioning"}[s]
}

// ProvisionResult reports a Provision call.
type ProvisionResult struct {
	Status      ProvisionStatus
	Site, Cabin string
	Written     []string // files written under /etc
}

func (o *ProvisionOptions) withDefaults() {
	if o.BootFile == "" {
		o.BootFile = DefaultBootFile
	}
	if o.ConfigFile == "" {
		o.ConfigFile = "/etc/palier/agent.yaml"
	}
	dir := filepath.Dir(o.ConfigFile)
	if o.PasswordFile == "" {
		o.PasswordFile = filepath.Join(dir, "mqtt.password")
	}
	if o.CAFile == "" {
		o.CAFile = filepath.Join(dir, "ca.pem")
	}
	if o.Owner == "" {
		o.Owner = "palier"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Provision takes a boot partition's provisioning file once; see the top of
// this file for the steps and why a power cut at any point is safe. It is
// idempotent: a second call finds the file marked and does nothing. On a
// *ProvisionError nothing was changed.
func Provision(ctx context.Context, opts ProvisionOptions) (ProvisionResult, error) {
	opts.withDefaults()
	var res ProvisionResult
	boot := opts.BootFile
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// A previous run got past writing /etc: finish scrubbing.
	if _, err := os.Stat(boot + ".scrub"); err == nil {
		if err := finishScrub(boot); err != nil {
			return res, err
		}
		res.Status = ProvisionFinished
		opts.Logger.Info("finished an interrupted provisioning", "boot_file", boot)
		return res, nil
	}
	os.Remove(boot + ".new") // a copy from a run cut short before the swap
	b, err := os.ReadFile(boot)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read provisioning file: %w", err)
	}
	p, err := ParseProvisioning(boot, bytes.NewReader(b))
	if err != nil {
		return res, err
	}
	res.Site, res.Cabin = p.Site, p.Cabin
	if p.Provisioned != nil && !p.hasSecrets() {
		res.Status = ProvisionAlreadyDone
		return res, nil
	}

	merged, err := mergeConfig(opts, p)
	if err != nil {
		return res, err
	}
	owner := lookupOwner(opts.Owner)
	if p.Password != "" {
		if err := writeFileAs(opts.PasswordFile, []byte(p.Password+"\n"), 0o600, owner.uid, owner.gid); err != nil {
			return res, err
		}
		res.Written = append(res.Written, opts.PasswordFile)
	}
	if p.CAPEM != "" {
		if err := writeFileAs(opts.CAFile, []byte(p.CAPEM), 0o644, -1, -1); err != nil {
			return res, err
		}
		res.Written = append(res.Written, opts.CAFile)
	}
	mode, uid, gid := configOwnership(opts.ConfigFile, owner)
	if err := writeFileAs(opts.ConfigFile, merged, mode, uid, gid); err != nil {
		return res, err
	}
	res.Written = append(res.Written, opts.ConfigFile)

	// Only now may the secrets leave the boot partition.
	now := opts.Now().UTC().Truncate(time.Second)
	kept := Provisioning{Provisioned: &now, Site: p.Site, Cabin: p.Cabin, Broker: p.Broker, Username: p.Username}
	body, err := yaml.Marshal(kept)
	if err != nil {
		return res, fmt.Errorf("encode provisioned record: %w", err)
	}
	record := append([]byte("# Provisioned by palier-agent: the password and CA certificate were moved to\n# "+
		filepath.Dir(opts.ConfigFile)+" and erased from this partition. To provision again,\n"+
		"# write a new palier.yaml (without the \"provisioned\" line).\n"), body...)
	if err := writeSynced(boot+".new", record); err != nil {
		return res, err
	}
	if err := os.Rename(boot, boot+".scrub"); err != nil {
		return res, fmt.Errorf("set aside provisioning file: %w", err)
	}
	if err := syncDir(filepath.Dir(boot)); err != nil {
		return res, err
	}
	if err := finishScrub(boot); err != nil {
		return res, err
	}
	res.Status = ProvisionDone
	opts.Logger.Info("provisioned", "site", p.Site, "cabin", p.Cabin, "broker", p.Broker, "written", res.Written, "boot_file", boot)
	return res, nil
}

// finishScrub puts the record in place if it is not, then erases and
// removes the set-aside original.
func finishScrub(boot string) error {
	if _, err := os.Stat(boot); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(boot+".new", boot); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("put provisioned record in place: %w", err)
		}
	} else {
		os.Remove(boot + ".new")
	}
	if err := syncDir(filepath.Dir(boot)); err != nil {
		return err
	}
	scrub := boot + ".scrub"
	if err := zeroFile(scrub); err != nil {
		return err
	}
	if err := os.Remove(scrub); err != nil {
		return fmt.Errorf("remove erased provisioning file: %w", err)
	}
	return syncDir(filepath.Dir(boot))
}

// zeroFile overwrites a file's bytes in place and syncs them.
func zeroFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("erase %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("erase %s: %w", path, err)
	}
	if _, err := f.WriteAt(make([]byte, st.Size()), 0); err != nil {
		return fmt.Errorf("erase %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("erase %s: sync: %w", path, err)
	}
	return nil
}

// mergeConfig sets the provisioned fields in the existing config, keeping
// its other settings and comments, and validates the result the way
// LoadConfig will.
func mergeConfig(opts ProvisionOptions, p Provisioning) ([]byte, error) {
	old, err := os.ReadFile(opts.ConfigFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// Strict first: refuse to touch a config the agent would refuse.
	if _, err := ParseConfig(bytes.NewReader(old)); err != nil {
		return nil, fmt.Errorf("config %s: %w", opts.ConfigFile, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(old, &doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", opts.ConfigFile, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s: not a YAML mapping", opts.ConfigFile)
	}
	setScalar(root, "site", p.Site)
	setScalar(root, "cabin", p.Cabin)
	up := childMap(root, "uplink")
	setScalar(up, "broker", p.Broker)
	if p.Password != "" {
		setScalar(up, "username", p.Username)
		setScalar(up, "password_file", opts.PasswordFile)
	}
	if p.CAPEM != "" {
		setScalar(childMap(up, "tls"), "ca_file", opts.CAFile)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	enc.Close()

	cfg, err := ParseConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("merged config: %w", err)
	}
	cfg.resolvePaths(filepath.Dir(opts.ConfigFile))
	cfg.setDerived()
	// The secret files are written after this check, so that a refused
	// provisioning changes nothing: leave out their existence check.
	if p.Password != "" {
		cfg.Uplink.PasswordFile = ""
	}
	if p.CAPEM != "" {
		cfg.Uplink.TLS.CAFile = ""
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("config %s after provisioning from %s: %w", opts.ConfigFile, opts.BootFile, errors.Join(errs...))
	}
	return buf.Bytes(), nil
}

// childMap returns the mapping under key, creating it (or replacing a null).
func childMap(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind != yaml.MappingNode {
				*v = yaml.Node{Kind: yaml.MappingNode}
			}
			return v
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// setScalar sets key to a string value, keeping the key's comments.
func setScalar(m *yaml.Node, key, val string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			v.Kind, v.Tag, v.Value, v.Style, v.Content = yaml.ScalarNode, "!!str", val, 0, nil
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val})
}

// owner is the agent's user, or -1s when files keep the caller's.
type owner struct{ uid, gid int }

func lookupOwner(name string) owner {
	if os.Geteuid() != 0 {
		return owner{-1, -1}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return owner{-1, -1}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return owner{-1, -1}
	}
	return owner{uid, gid}
}

// configOwnership keeps an existing config's mode and owner; a new one is
// root's, readable by the agent's group.
func configOwnership(path string, o owner) (os.FileMode, int, int) {
	st, err := os.Stat(path)
	if err != nil {
		return 0o640, -1, o.gid
	}
	uid, gid := -1, -1
	if s, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		uid, gid = int(s.Uid), int(s.Gid)
	}
	return st.Mode().Perm(), uid, gid
}

// writeSynced creates path with b and syncs it; the boot partition has no
// permissions to set.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
