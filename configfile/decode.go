package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrEmpty is returned by Decode for a document with no content.
var ErrEmpty = errors.New("empty")

// Decode reads at most limit bytes of one YAML document from r into v, over
// what v already holds (the defaults). It refuses unknown keys: every
// problem yaml.v3 reports is a *FieldError with its line and, for an
// unknown key, the key's path as Field, joined as Problems.Err does. A
// syntax error or a file over limit is a *FieldError without a field; an
// empty document is ErrEmpty.
func Decode(r io.Reader, limit int64, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("read YAML: %w", err)
	}
	if int64(len(b)) > limit {
		return &FieldError{Problem: fmt.Sprintf("larger than %s", size(limit))}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err = dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return ErrEmpty
	}
	if err == nil {
		// A second document would be ignored without a word: what the
		// reader of the file sees would not be what runs.
		var next yaml.Node
		if dec.Decode(&next) != io.EOF {
			return &FieldError{Line: next.Line, Problem: "a second YAML document (---): one document per file"}
		}
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
		return &FieldError{Line: line, Problem: msg}
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(b, &doc) // it parsed once already; only the keys' paths are looked up in it
	var p Problems
	for _, e := range te.Errors {
		fe := typeProblem(e, reflect.TypeOf(v))
		if fe.Field != "" {
			if path := keyPath(&doc, fe.Line, fe.Field, ""); path != "" {
				fe.Field = path
			}
		}
		p.errs = append(p.errs, fe)
	}
	return p.Err()
}

// keyPath returns the path (uplink.tls.ca_file, tokens[1].name) of the
// mapping key named key on line, or "": yaml.v3 names only the key itself.
func keyPath(n *yaml.Node, line int, key, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := keyPath(c, line, key, path); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := k.Value
			if path != "" {
				kp = path + "." + k.Value
			}
			if k.Line == line && k.Value == key {
				return kp
			}
			if p := keyPath(val, line, key, kp); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p := keyPath(c, line, key, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

// yaml.v3 reports an unknown key as "line N: field K not found in type T".
var unknownKey = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)

// typeProblem turns one of yaml.v3's messages into a *FieldError, naming
// the keys that would be valid where the key is unknown.
func typeProblem(msg string, root reflect.Type) *FieldError {
	line, rest := splitLine(msg)
	m := unknownKey.FindStringSubmatch(rest)
	if m == nil {
		return &FieldError{Line: line, Problem: rest}
	}
	problem := "not a known key"
	if keys := knownKeys(root, m[2]); len(keys) > 0 {
		problem += " (want one of " + strings.Join(keys, ", ") + ")"
	}
	return &FieldError{Field: m[1], Line: line, Problem: problem}
}

// splitLine takes the "line N: " that yaml.v3 puts first off msg.
func splitLine(msg string) (int, string) {
	head, rest, ok := strings.Cut(msg, ": ")
	if !ok || !strings.HasPrefix(head, "line ") {
		return 0, msg
	}
	n, err := strconv.Atoi(strings.TrimPrefix(head, "line "))
	if err != nil {
		return 0, msg
	}
	return n, rest
}

// knownKeys lists the YAML keys of the struct type named name (as
// reflect.Type.String spells it) reachable from root.
func knownKeys(root reflect.Type, name string) []string {
	seen := map[reflect.Type]bool{}
	queue := []reflect.Type{root}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			continue
		}
		seen[t] = true
		var keys []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			keys = append(keys, key)
			queue = append(queue, f.Type)
		}
		if t.String() == name {
			return keys
		}
	}
	return nil
}

func size(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
