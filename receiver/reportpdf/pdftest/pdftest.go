// Package pdftest reads the report PDFs back in tests with Debian's
// poppler-utils (pdftotext, pdftoppm), which scripts/test.sh installs.
package pdftest

import (
	"os/exec"
	"strings"
	"testing"
)

// Poppler returns the path of a poppler-utils tool, failing the test when
// it is not installed.
func Poppler(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's poppler-utils (scripts/test.sh does)", name)
	}
	return p
}

// Text extracts a PDF's text with pdftotext, whitespace folded.
func Text(t testing.TB, pdf string) string {
	t.Helper()
	out, err := exec.Command(Poppler(t, "pdftotext"), "-enc", "UTF-8", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext %s: %v\n%s", pdf, err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
