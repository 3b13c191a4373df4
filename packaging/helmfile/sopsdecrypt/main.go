// Command sopsdecrypt decrypts the example SOPS files of the helmfile
// (environments/*/*.secrets.sops.yaml) with an age identity, verifying
// their MAC, and writes the clear YAML that helm takes as values:
//
//	go run ./packaging/helmfile/sopsdecrypt -identity example-age-key.txt FILE > clear.yaml
//
// scripts/test-packaging.sh uses it to render the charts with the example
// secrets. The sops command does the same but links every cloud KMS client
// (AWS, GCP, Azure, Vault): about 210 s of CPU to compile on each fresh CI
// machine, to decrypt three files with an age key. This reads only what
// those files use: age recipients, AES-256-GCM values with their key path
// as additional data, the SHA-512 MAC over every value in order, and
// encrypted_regex. Anything else (PGP or KMS keys, other selectors,
// mac_only_encrypted) is refused by name rather than half read. Operators
// still edit and decrypt with sops itself (docs/PACKAGING.md).
//
// It also refuses a clear value where encrypted_regex says a secret goes,
// so a secret committed unencrypted fails the check.
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"gopkg.in/yaml.v3"
)

func main() {
	identity := flag.String("identity", os.Getenv("SOPS_AGE_KEY_FILE"), "age identity file (default $SOPS_AGE_KEY_FILE)")
	flag.Parse()
	if flag.NArg() != 1 || *identity == "" {
		fmt.Fprintln(os.Stderr, "usage: sopsdecrypt -identity AGE-KEY-FILE FILE.sops.yaml > clear.yaml")
		os.Exit(2)
	}
	out, err := run(*identity, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sopsdecrypt:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func run(identityFile, file string) ([]byte, error) {
	kf, err := os.Open(identityFile)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	defer kf.Close()
	ids, err := age.ParseIdentities(kf)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", identityFile, err)
	}
	in, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out, err := Decrypt(in, ids...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// metadata is the part of the sops key this reads; any other selector
// is refused (see Decrypt).
type metadata struct {
	Age []struct {
		Enc       string `yaml:"enc"`
		Recipient string `yaml:"recipient"`
	} `yaml:"age"`
	EncryptedRegex string `yaml:"encrypted_regex"`
	LastModified   string `yaml:"lastmodified"`
	MAC            string `yaml:"mac"`
	Version        string `yaml:"version"`
}

// known are the sops metadata keys Decrypt understands.
var known = map[string]bool{"age": true, "encrypted_regex": true, "lastmodified": true, "mac": true, "version": true}

// Decrypt returns the clear YAML of a sops-encrypted YAML document, without
// its sops key, after checking the MAC.
func Decrypt(in []byte, ids ...age.Identity) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	root := doc.Content[0]
	var meta metadata
	var metaAt = -1
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "sops" {
			continue
		}
		metaAt = i
		m := root.Content[i+1]
		if m.Kind != yaml.MappingNode {
			return nil, errors.New("sops: not a mapping")
		}
		for j := 0; j+1 < len(m.Content); j += 2 {
			if k := m.Content[j].Value; !known[k] {
				return nil, fmt.Errorf("sops.%s: not read by this check (it reads age keys and encrypted_regex); decrypt with sops", k)
			}
		}
		if err := m.Decode(&meta); err != nil {
			return nil, fmt.Errorf("sops: %w", err)
		}
	}
	if metaAt < 0 {
		return nil, errors.New("no sops key: the file is not encrypted")
	}
	if meta.EncryptedRegex == "" {
		return nil, errors.New("sops.encrypted_regex: missing (this check reads files that encrypt by encrypted_regex only)")
	}
	secret, err := regexp.Compile(meta.EncryptedRegex)
	if err != nil {
		return nil, fmt.Errorf("sops.encrypted_regex: %w", err)
	}
	key, err := dataKey(meta, ids)
	if err != nil {
		return nil, err
	}
	root.Content = append(root.Content[:metaAt], root.Content[metaAt+2:]...)

	mac := sha512.New()
	if err := walk(root, nil, func(n *yaml.Node, path []string) error {
		if n.Tag == "!!null" {
			return nil // sops skips nulls
		}
		encrypted := false
		for _, p := range path {
			encrypted = encrypted || secret.MatchString(p)
		}
		if !encrypted {
			if strings.HasPrefix(n.Value, "ENC[") {
				return fmt.Errorf("%s: encrypted where encrypted_regex %q says clear", strings.Join(path, "."), meta.EncryptedRegex)
			}
			b, err := macBytes(n)
			if err != nil {
				return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
			}
			mac.Write(b)
			return nil
		}
		if n.Value == "" {
			return nil // sops leaves empty values as they are
		}
		if !strings.HasPrefix(n.Value, "ENC[") {
			return fmt.Errorf("%s: a clear value where encrypted_regex %q asks for a secret", strings.Join(path, "."), meta.EncryptedRegex)
		}
		plain, typ, err := open(n.Value, key, strings.Join(path, ":")+":")
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
		}
		b, err := typedBytes(plain, typ)
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
		}
		mac.Write(b)
		n.Value, n.Style = string(plain), 0
		n.Tag = map[string]string{"str": "!!str", "int": "!!int", "int64": "!!int", "float": "!!float", "bool": "!!bool"}[typ]
		if n.Tag == "" {
			return fmt.Errorf("%s: value type %q not read by this check", strings.Join(path, "."), typ)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	want, typ, err := open(meta.MAC, key, meta.LastModified)
	if err != nil || typ != "str" {
		return nil, fmt.Errorf("sops.mac: cannot open it with the data key and lastmodified %q: %v", meta.LastModified, err)
	}
	if got := fmt.Sprintf("%X", mac.Sum(nil)); got != string(want) {
		return nil, errors.New("MAC mismatch: the file was changed without sops (values, their order or keys)")
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// dataKey opens the file's 32-byte data key with one of the identities.
func dataKey(meta metadata, ids []age.Identity) ([]byte, error) {
	if len(meta.Age) == 0 {
		return nil, errors.New("sops.age: no age recipient (other key kinds are not read by this check)")
	}
	var errs []error
	for _, a := range meta.Age {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(a.Enc)), ids...)
		if err != nil {
			errs = append(errs, fmt.Errorf("recipient %s: %w", a.Recipient, err))
			continue
		}
		key, err := io.ReadAll(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("recipient %s: %w", a.Recipient, err))
			continue
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("recipient %s: a data key of %d bytes (want 32)", a.Recipient, len(key))
		}
		return key, nil
	}
	return nil, fmt.Errorf("no identity opens the data key: %w", errors.Join(errs...))
}

var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:([a-z0-9]+)\]$`)

// open decrypts one ENC[AES256_GCM,...] value with its additional data.
func open(v string, key []byte, aad string) ([]byte, string, error) {
	m := encValue.FindStringSubmatch(v)
	if m == nil {
		return nil, "", errors.New("not an ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] value")
	}
	var parts [3][]byte
	for i, name := range []string{"data", "iv", "tag"} {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		parts[i] = b
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(parts[1]))
	if err != nil {
		return nil, "", fmt.Errorf("iv: %w", err)
	}
	plain, err := gcm.Open(nil, parts[1], append(parts[0], parts[2]...), []byte(aad))
	if err != nil {
		return nil, "", fmt.Errorf("does not decrypt with the data key at this place (moved or altered): %w", err)
	}
	return plain, m[4], nil
}

// walk calls leaf for every scalar in document order with its key path;
// a sequence's items keep their parent's path, as sops does.
func walk(n *yaml.Node, path []string, leaf func(*yaml.Node, []string) error) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := walk(n.Content[i+1], append(path[:len(path):len(path)], n.Content[i].Value), leaf); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := walk(c, path, leaf); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		return leaf(n, path)
	default:
		return fmt.Errorf("%s: YAML aliases are not read by this check", strings.Join(path, "."))
	}
	return nil
}

// macBytes is what sops hashes for a clear scalar: its value as Go
// decodes it, booleans as Python wrote them.
func macBytes(n *yaml.Node) ([]byte, error) {
	switch n.ShortTag() {
	case "!!str":
		return []byte(n.Value), nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return typedBytes([]byte(strconv.FormatBool(b)), "bool")
	case "!!int":
		var i int
		if err := n.Decode(&i); err != nil {
			return nil, err
		}
		return []byte(strconv.Itoa(i)), nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return []byte(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	return nil, fmt.Errorf("a %s value is not read by this check", n.ShortTag())
}

// typedBytes is what sops hashes for a decrypted value of a type.
func typedBytes(plain []byte, typ string) ([]byte, error) {
	switch typ {
	case "str", "bytes", "int", "int64":
		return plain, nil
	case "float":
		f, err := strconv.ParseFloat(string(plain), 64)
		if err != nil {
			return nil, err
		}
		return []byte(strconv.FormatFloat(f, 'f', -1, 64)), nil
	case "bool":
		b, err := strconv.ParseBool(string(plain))
		if err != nil {
			return nil, err
		}
		if b {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	}
	return nil, fmt.Errorf("value type %q not read by this check", typ)
}
