package provision

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
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/palier-lifts/palier/agent"
	"github.com/palier-lifts/palier/atomicfile"
)

// Options say where the files are. Zero paths take the defaults.
type Options struct {
	// BootFile is the provisioning file; default DefaultBootFile.
	BootFile string
	// ConfigFile is the agent config to merge into; default /etc/palier/agent.yaml.
	ConfigFile string
	// PasswordFile and CAFile receive the secrets; default mqtt.password and
	// ca.pem beside ConfigFile.
	PasswordFile string
	CAFile       string
	// Owner is the user the agent runs as. When Run runs as root, the
	// password file is given to it (mode 0600) and a new config file to its
	// group (0640). Default "palier"; ignored when not root or no such user.
	Owner string
	// Now stamps the provisioned marker; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Status is what a Run did.
type Status int

const (
	NoFile      Status = iota // no boot file: nothing to do
	AlreadyDone               // the boot file is marked provisioned and has no secrets
	Done                      // identity, broker and secrets taken, boot file scrubbed
	Finished                  // a run cut short was finished (scrub only)
)

func (s Status) String() string {
	return [...]string{"no provisioning file", "already provisioned", "provisioned", "finished an interrupted provisioning"}[s]
}

// Result reports a Run.
type Result struct {
	Status      Status
	Site, Cabin string
	Written     []string // files written under /etc
}

func (o *Options) withDefaults() {
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

// Run takes a boot partition's provisioning file once; see the top of this
// file for the steps and why a power cut at any point is safe. It is
// idempotent: a second call finds the file marked and does nothing. On an
// error holding a *configfile.FieldError nothing was changed.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts.withDefaults()
	var res Result
	boot := opts.BootFile
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// A previous run got past writing /etc: finish scrubbing.
	if _, err := os.Stat(boot + ".scrub"); err == nil {
		if err := finishScrub(boot); err != nil {
			return res, err
		}
		res.Status = Finished
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
	p, err := Parse(boot, bytes.NewReader(b))
	if err != nil {
		return res, err
	}
	res.Site, res.Cabin = p.Site, p.Cabin
	if p.Provisioned != nil && !p.hasSecrets() {
		res.Status = AlreadyDone
		return res, nil
	}

	merged, err := mergeConfig(opts, p)
	if err != nil {
		return res, err
	}
	owner := lookupOwner(opts.Owner)
	if p.Password != "" {
		if err := atomicfile.WriteAs(opts.PasswordFile, []byte(p.Password+"\n"), 0o600, owner.uid, owner.gid); err != nil {
			return res, err
		}
		res.Written = append(res.Written, opts.PasswordFile)
	}
	if p.CAPEM != "" {
		if err := atomicfile.WriteAs(opts.CAFile, []byte(p.CAPEM), 0o644, -1, -1); err != nil {
			return res, err
		}
		res.Written = append(res.Written, opts.CAFile)
	}
	mode, uid, gid := configOwnership(opts.ConfigFile, owner)
	if err := atomicfile.WriteAs(opts.ConfigFile, merged, mode, uid, gid); err != nil {
		return res, err
	}
	res.Written = append(res.Written, opts.ConfigFile)

	// Only now may the secrets leave the boot partition.
	now := opts.Now().UTC().Truncate(time.Second)
	kept := File{Provisioned: &now, Site: p.Site, Cabin: p.Cabin, Broker: p.Broker, Username: p.Username}
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
	if err := atomicfile.SyncDir(filepath.Dir(boot)); err != nil {
		return res, err
	}
	if err := finishScrub(boot); err != nil {
		return res, err
	}
	res.Status = Done
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
	if err := atomicfile.SyncDir(filepath.Dir(boot)); err != nil {
		return err
	}
	scrub := boot + ".scrub"
	if err := zeroFile(scrub); err != nil {
		return err
	}
	if err := os.Remove(scrub); err != nil {
		return fmt.Errorf("remove erased provisioning file: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(boot))
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
// agent.LoadConfig will.
func mergeConfig(opts Options, p File) ([]byte, error) {
	old, err := os.ReadFile(opts.ConfigFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w", err)
	}
	// Strict first: refuse to touch a config the agent would refuse.
	if _, err := agent.ParseConfig(bytes.NewReader(old)); err != nil {
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

	cfg, err := agent.ParseConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("merged config: %w", err)
	}
	cfg.Resolve(filepath.Dir(opts.ConfigFile))
	// The secret files are written after this check, so that a refused
	// provisioning changes nothing: leave out their existence check.
	if p.Password != "" {
		cfg.Uplink.PasswordFile = ""
	}
	if p.CAPEM != "" {
		cfg.Uplink.TLS.CAFile = ""
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s after provisioning from %s: %w", opts.ConfigFile, opts.BootFile, err)
	}
	return buf.Bytes(), nil
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
