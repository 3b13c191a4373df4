package natsauth

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Main is the users command of cmd/receiver ("receiver users ..."):
//
//	users render --fleet FILE [--out FILE]   write the leaf node's accounts block
//	users check FILE                         validate a fleet file
//	users hash                               read a password on stdin, print its bcrypt hash
//
// It returns the exit code: 0 done, 1 failed, 2 usage.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprint(stderr, `usage:
  users render --fleet FILE [--out FILE]   write the leaf node's accounts block (default stdout)
  users check FILE                         validate a fleet file
  users hash                               read a password on stdin, print its bcrypt hash
`)
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "render":
		fs := flag.NewFlagSet("users render", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fleet := fs.String("fleet", "", "fleet file (YAML)")
		out := fs.String("out", "", "output file (default stdout)")
		if err := fs.Parse(args[1:]); err != nil || *fleet == "" || fs.NArg() != 0 {
			usage()
			return 2
		}
		f, err := ParseFile(*fleet)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if *out == "" {
			if err := Render(stdout, f, filepath.Base(*fleet)); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			return 0
		}
		if err := writeFile(*out, f, filepath.Base(*fleet)); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "check":
		if len(args) != 2 {
			usage()
			return 2
		}
		f, err := ParseFile(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok (%d devices, %d services)\n", args[1], len(f.Devices), len(f.Services))
		return 0
	case "hash":
		line, err := bufio.NewReader(stdin).ReadBytes('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintln(stderr, "read password:", err)
			return 1
		}
		h, err := Hash(bytes.TrimRight(line, "\r\n"))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	default:
		usage()
		return 2
	}
}

// writeFile replaces path atomically, so a running nats-server reloading
// it never reads half a file.
func writeFile(path string, f Fleet, source string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".accounts-*")
	if err != nil {
		return fmt.Errorf("write accounts %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := Render(tmp, f, source); err != nil {
		tmp.Close()
		return fmt.Errorf("write accounts %s: %w", path, err)
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return fmt.Errorf("write accounts %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write accounts %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write accounts %s: %w", path, err)
	}
	return nil
}
