// Package configfile is how every Palier binary reads its configuration
// files: one strict YAML decoding, one error type for a wrong field, and one
// way to read a secret file.
//
//   - Decode reads a bounded YAML document strictly: a key the target does
//     not have is a *FieldError naming the key, its line and the keys that
//     would be valid; an empty document is ErrEmpty, which configuration
//     files take as "the defaults" and data files as an error.
//   - FieldError is one problem: the field's path as written in YAML
//     (uplink.broker, http.tokens[1].name), the line when known, and what is
//     wrong, saying what would be valid.
//   - Problems collects every problem of a validation in the order checked;
//     its Err joins them, so a check command lists them all and a caller
//     finds each with errors.As instead of parsing text. Nest puts a part's
//     problems under the field that holds it (uplink.).
//   - ReadSecret reads a password or token file, trimmed of surrounding white
//     space (the line break editors add), and refuses an empty one.
package configfile
