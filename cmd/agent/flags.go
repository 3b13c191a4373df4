package main

import (
	"flag"
	"strings"
)

// parseArgs parses args with fs, flags before and after the positional
// arguments alike: installers type `agent probe modbus 0:20 --json`, and
// Go's flag package stops at the first argument that is not a flag. "--"
// ends the flags; what follows is positional even if it starts with "-".
// The positional arguments are fs.Args() afterwards, in their order.
func parseArgs(fs *flag.FlagSet, args []string) error {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, inline := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if inline {
			continue
		}
		// A flag that takes a value takes the next argument, as flag does;
		// an unknown flag is left for fs.Parse to report.
		f := fs.Lookup(name)
		if f == nil || isBool(f) {
			continue
		}
		if i+1 == len(args) {
			return fs.Parse(flags) // fs reports the missing value
		}
		i++
		flags = append(flags, args[i])
	}
	return fs.Parse(append(append(flags, "--"), pos...))
}

// isBool reports a flag that needs no value, as the flag package decides it.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
