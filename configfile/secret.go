package configfile

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret returns the content of a password or token file without the
// white space around it: editors end files with a line break, and no
// generated secret begins or ends with a space. An empty file is an error,
// not an empty password, and so is a file every user of the machine may
// read or write: a secret there is no longer one.
func ReadSecret(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o006 != 0 {
		return "", fmt.Errorf("read secret %s: mode %04o lets every user of this machine read or write it (want 0600 or 0640: chmod o-rwx %s)", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read secret %s: file is empty", path)
	}
	return s, nil
}
