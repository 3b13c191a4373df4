package configfile

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret returns the content of a password or token file without the
// white space around it: editors end files with a line break, and no
// generated secret begins or ends with a space. An empty file is an error,
// not an empty password.
func ReadSecret(path string) (string, error) {
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
