package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/palier-lifts/palier/natsauth"
)

const usersUsage = `usage:
  users render --fleet FILE [--out FILE]   write the leaf node's accounts block (default stdout)
  users check FILE                         validate a fleet file
  users hash [--service] [--each-line]     read a device's password on stdin, print its bcrypt hash
                                           (--service: a service user's, such as the receiver's;
                                           --each-line: one password per line, one hash per line)
`

// users runs "receiver users ...", the per-device NATS users of the leaf
// node. It returns the exit code: 0 done, 1 failed, 2 usage.
func users(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	switch args[0] {
	case "render":
		return usersRender(args[1:], stdout, stderr)
	case "check":
		return usersCheck(args[1:], stdout, stderr)
	case "hash":
		return usersHash(args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
}

func usersRender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("users render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fleetPath := fs.String("fleet", "", "fleet file (YAML)")
	out := fs.String("out", "", "output file (default stdout)")
	if err := fs.Parse(args); err != nil || *fleetPath == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	f, err := natsauth.ParseFile(*fleetPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	source := filepath.Base(*fleetPath)
	if *out == "" {
		err = natsauth.Render(stdout, f, source)
	} else {
		err = natsauth.RenderFile(*out, f, source)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func usersCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	f, err := natsauth.ParseFile(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d devices, %d services)\n", args[0], len(f.Devices), len(f.Services))
	return 0
}

func usersHash(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	hash, each := natsauth.HashDevice, false
	for _, a := range args {
		switch a {
		case "--service":
			hash = natsauth.Hash
		case "--each-line":
			each = true
		default:
			fmt.Fprint(stderr, usersUsage)
			return 2
		}
	}
	if !each {
		line, err := bufio.NewReader(stdin).ReadBytes('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintln(stderr, "read password:", err)
			return 1
		}
		h, err := hash(bytes.TrimRight(line, "\r\n"))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, h)
		return 0
	}
	// One hash per line, in order: a fleet's devices at once, without a
	// process per password. Nothing is printed unless every line hashes,
	// so a bad line never leaves hashes out of step with their devices.
	var out bytes.Buffer
	sc := bufio.NewScanner(stdin)
	n := 0
	for sc.Scan() {
		n++
		h, err := hash(bytes.TrimRight(sc.Bytes(), "\r"))
		if err != nil {
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
			return 1
		}
		fmt.Fprintln(&out, h)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "read passwords (after line %d): %v\n", n, err)
		return 1
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintln(stderr, "write hashes:", err)
		return 1
	}
	return 0
}
