#!/usr/bin/env bash
# Builds Palier's release binaries and Debian packages into dist/.
#
#   scripts/package.sh            everything below
#   VERSION=v1.2.3 scripts/package.sh   force the version
#
# Version: SemVer from `git describe --tags` (v1.2.3, or v1.2.3+4.gabc1234
# four commits after it), else v0.0.0-dev+<short sha>; stamped into every binary
# (buildinfo.version), shown by `--version` / `version`.
#
# Binaries (dist/linux-<arch>/), stripped, CGO_ENABLED=0:
#   palier-agent, palier-elevatorsim  for arm64 and arm (GOARM=7)
#   palier-receiver                   for arm64 and amd64 (cloud nodes)
# The screen (palier-display) needs cgo (ebiten: X11; GL is loaded at run
# time). It is built for amd64 with the host gcc, and for arm64 and armhf
# (GOARM=7) with the Debian cross compilers (gcc-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf, installed when missing) against a private sysroot
# per architecture made by scripts/sysroot.sh: the arm64/armhf X11 packages
# from Debian bookworm, fetched with a private apt configuration and unpacked
# with dpkg-deb into .cache/sysroot/ (about 4 s and 9 MB of index plus 6 MB of
# packages per architecture the first time, nothing after). Nothing is
# installed into the host: no dpkg --add-architecture, so a mirror whose
# arm64/armhf indexes lag the amd64 ones cannot downgrade host packages.
#
# Packages (dist/*.deb), built by nfpm (pinned below):
#   palier-agent    arm64, armhf
#   palier-receiver amd64, arm64
#   palier-display  amd64, arm64, armhf
#
# The signed apt repository (scripts/apt-repo.sh, reprepro): every .deb
# added to the canary suite (PALIER_APT_SUITE) of $DIST/apt, or of a kept
# release repository PALIER_APT_REPO; signed with PALIER_APT_KEY_FILE (or
# PALIER_APT_KEY_ID), else a throwaway test key. palier-agent ships the
# repository's public keyring and a disabled apt source.
#
#   PALIER_PACKAGES=agent scripts/package.sh   only palier-agent (arm64,
#       armhf) and its repository: what the update test needs, in seconds
#   AGENT_PROFILES=DIR                          the controller profiles the
#       agent package ships (default sensors/profiles)
#
# The notice preview (the screen's drawing in WebAssembly, cmd/preview) is
# built once into $DIST/preview by internal/previewbuild and shipped in the
# receiver's package and image at /usr/share/palier-receiver/preview.
#
# The receiver's container image (scripts/image.sh), linux/amd64 and arm64,
# without a container daemon or registry: an OCI image layout in
# dist/oci/palier-receiver, its tarball dist/palier-receiver_<tag>.oci.tar
# and its digest in dist/palier-receiver_<tag>.oci.digest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DIST=${DIST:-dist}
PACKAGES=${PALIER_PACKAGES:-all}
case $PACKAGES in all | agent) ;; *) echo "package: PALIER_PACKAGES=$PACKAGES (want all or agent)" >&2; exit 1 ;; esac
AGENT_PROFILES=${AGENT_PROFILES:-sensors/profiles}

need_apt "${BASE_DEPS[@]}"
need_check_tool nfpm "$NFPM"
export PATH="$(go env GOPATH)/bin:$PATH"

# --- version ---------------------------------------------------------------
if [ -z "${VERSION:-}" ]; then
	if VERSION=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
		# Between tags describe says v1.2.3-4-gabc1234, which SemVer reads as a
		# pre-release of 1.2.3 (sorting before it). It is 4 commits after:
		# build metadata, which Debian sorts after 1.2.3.
		VERSION=$(sed -E 's/^(v[0-9]+\.[0-9]+\.[0-9]+)-([0-9]+)-g([0-9a-f]+)$/\1+\2.g\3/' <<<"$VERSION")
	else
		VERSION="v0.0.0-dev+$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	fi
fi
semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
if ! [[ $VERSION =~ $semver ]]; then
	echo "package: version $VERSION is not SemVer (want vMAJOR.MINOR.PATCH[-pre][+build])" >&2
	exit 1
fi
export VERSION
say "version $VERSION"

LDFLAGS=$(palier_ldflags "$VERSION")
mkdir -p "$DIST"
rm -rf "$DIST"/*.deb "$DIST"/linux-* "$DIST"/oci "$DIST"/*.oci.* "$DIST"/preview # nothing stale from an earlier layout
# A build's own repository starts empty; a kept release repository grows.
[ -n "${PALIER_APT_REPO:-}" ] || rm -rf "$DIST/apt"
export PALIER_APT_REPO=${PALIER_APT_REPO:-$DIST/apt}

# --- static binaries -------------------------------------------------------
for target in arm64: arm:7; do
	arch=${target%%:*} arm=${target#*:}
	dir="$DIST/linux-$arch"
	mkdir -p "$dir"
	if [ "$PACKAGES" = agent ]; then
		say "building agent for linux/$arch${arm:+ (GOARM=$arm)}"
		gobuild "$arch" "$arm" "$dir/palier-agent" ./cmd/agent
		continue
	fi
	what="agent, elevatorsim"
	[ -n "$arm" ] || what="$what, receiver"
	say "building $what for linux/$arch${arm:+ (GOARM=$arm)}"
	gobuild "$arch" "$arm" "$dir/palier-agent" ./cmd/agent
	gobuild "$arch" "$arm" "$dir/palier-elevatorsim" ./cmd/elevatorsim
	# The receiver runs in the cloud, on amd64 or arm64 nodes: not on armv7.
	[ -n "$arm" ] || gobuild "$arch" "$arm" "$dir/palier-receiver" ./cmd/receiver
done
if [ "$PACKAGES" = all ]; then
mkdir -p "$DIST/linux-amd64"
say "building receiver for linux/amd64"
gobuild amd64 "" "$DIST/linux-amd64/palier-receiver" ./cmd/receiver

# --- the notice preview (WebAssembly, the same for every architecture) ----
say "building the notice preview (cmd/preview for js/wasm)"
go run ./internal/previewbuild/build "$DIST/preview"

# --- the receiver's container image ---------------------------------------
scripts/image.sh

# --- the screen (cgo) ------------------------------------------------------
need_apt "${EBITEN_BUILD_DEPS[@]}"
say "building display for linux/amd64 (cgo)"
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 \
	go build -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$DIST/linux-amd64/palier-display" ./cmd/display
display_arches=(amd64)

# For arm64 and armhf: the Debian cross compilers, and the X11 headers and
# libraries of that architecture from a private sysroot (scripts/sysroot.sh:
# downloaded and unpacked once into .cache/sysroot/, nothing installed into
# the host). libc comes from the cross toolchain; -rpath-link lets the linker
# follow libX11's own dependencies (libxcb1, ...) inside the sysroot.
# ebiten uses no pkg-config on Linux; should a dependency start to, the
# PKG_CONFIG_* variables keep it from answering with the host's amd64 flags.
need_apt "${DISPLAY_CROSS_DEPS[@]}"
for target in arm64:aarch64-linux-gnu::arm64 arm:arm-linux-gnueabihf:7:armhf; do
	IFS=: read -r arch triplet arm deb <<<"$target"
	sysroot=$(scripts/sysroot.sh "$deb")
	say "building display for linux/$arch (cgo, $triplet-gcc, sysroot $sysroot)"
	CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm CC=$triplet-gcc \
		CGO_CFLAGS="-O2 -g -I$sysroot/usr/include -I$sysroot/usr/include/$triplet" \
		CGO_LDFLAGS="-L$sysroot/usr/lib/$triplet -Wl,-rpath-link,$sysroot/usr/lib/$triplet:$sysroot/lib/$triplet" \
		PKG_CONFIG_LIBDIR="$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$sysroot" \
		go build -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$DIST/linux-$arch/palier-display" ./cmd/display
	display_arches+=("$deb")
done
fi # PACKAGES=all

# --- Debian packages -------------------------------------------------------
# nfpm expands VERSION and DEB_ARCH from the environment but not content
# paths: BIN_DIR, PREVIEW_DIR, KEYRING and AGENT_PROFILES are filled in here.
pkgconf=$(mktemp -d)
trap 'rm -rf "$pkgconf"' EXIT
keyring=$(scripts/apt-repo.sh key)
pkg() { # pkg NAME DEBARCH GOARCH
	local name=$1 deb=$2 goarch=$3
	sed -e "s|\${BIN_DIR}|$DIST/linux-$goarch|g" -e "s|\${PREVIEW_DIR}|$DIST/preview|g" -e "s|\${KEYRING}|$keyring|g" -e "s|\${AGENT_PROFILES}|$AGENT_PROFILES|g" \
		"packaging/deb/$name.yaml" >"$pkgconf/$name.yaml"
	DEB_ARCH=$deb nfpm package --config "$pkgconf/$name.yaml" --packager deb --target "$DIST/" >&2
}
goarch_of() { case $1 in armhf) echo arm ;; *) echo "$1" ;; esac; }
for deb in arm64 armhf; do
	pkg palier-agent "$deb" "$(goarch_of "$deb")"
done
if [ "$PACKAGES" = all ]; then
	for deb in amd64 arm64; do
		pkg palier-receiver "$deb" "$(goarch_of "$deb")"
	done
	for deb in "${display_arches[@]}"; do
		pkg palier-display "$deb" "$(goarch_of "$deb")"
	done
fi

# --- the apt repository ----------------------------------------------------
say "adding the packages to the ${PALIER_APT_SUITE:-canary} suite of $PALIER_APT_REPO"
scripts/apt-repo.sh add "${PALIER_APT_SUITE:-canary}" "$DIST"/*.deb

say "dist/:"
ls -l "$DIST"/*.deb "$DIST"/*.oci.* >&2 || true
for f in "$DIST"/linux-*/palier-*; do
	printf '%10d  %s\n' "$(stat -c %s "$f")" "$f" >&2
done
