// Package buildinfo tells which version of Palier a binary is.
package buildinfo

import "runtime/debug"

// version is stamped at build time by scripts/package.sh:
// -ldflags "-X github.com/palier-lifts/palier/buildinfo.version=v1.2.3".
var version = ""

// Version is the stamped version, else the module version Go recorded,
// else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
