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
#   palier-agent, palier-receiver, palier-elevatorsim  for arm64 and arm (GOARM=7)
#   palier-receiver                                    also for amd64
# The screen (palier-display) needs cgo (ebiten: X11/GL). It is built for
# amd64 with the host gcc, and for arm64/armhf through the Debian cross
# compilers (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf) when the
# multiarch X11/GL development packages (libgl1-mesa-dev:arm64, ...) are
# installed. On the Debian 12 builder this was written on they cannot be:
# the mirror snapshot's arm64/armhf indexes lag the amd64 ones (the
# "Multi-Arch: same" libexpat1 and liblzma5 are 2.5.0-1+deb12u5/5.4.1-1+deb12u2
# for amd64 but deb12u2/deb12u1 for arm64, and the armhf security index fails
# its hash check), so apt would have to downgrade them and remove python3-dev,
# tk-dev and libfontconfig-dev from a shared machine. The script therefore
# never adds foreign architectures itself: PALIER_CROSS_DISPLAY=1 does
# (dpkg --add-architecture arm64 armhf; apt-get install ...:arm64 ...:armhf),
# for a dedicated builder or container with a consistent mirror.
#
# Packages (dist/*.deb), built by nfpm (pinned below):
#   palier-agent    arm64, armhf
#   palier-receiver amd64, arm64
#   palier-display  amd64 (and arm64, armhf with the cross build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DIST=${DIST:-dist}

need_go_tool nfpm "$NFPM"
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

LDFLAGS="-s -w -X github.com/palier-lifts/palier/buildinfo.version=$VERSION"
mkdir -p "$DIST"
rm -f "$DIST"/*.deb

# gobuild GOARCH GOARM OUT PKG: a static, stripped, reproducible binary.
gobuild() {
	local arch=$1 arm=$2 out=$3 pkg=$4
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm \
		go build -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$out" "$pkg"
}

# --- static binaries -------------------------------------------------------
for target in arm64: arm:7; do
	arch=${target%%:*} arm=${target#*:}
	dir="$DIST/linux-$arch"
	mkdir -p "$dir"
	say "building agent, receiver, elevatorsim for linux/$arch${arm:+ (GOARM=$arm)}"
	gobuild "$arch" "$arm" "$dir/palier-agent" ./cmd/agent
	gobuild "$arch" "$arm" "$dir/palier-receiver" ./cmd/receiver
	gobuild "$arch" "$arm" "$dir/palier-elevatorsim" ./cmd/elevatorsim
done
mkdir -p "$DIST/linux-amd64"
say "building receiver for linux/amd64"
gobuild amd64 "" "$DIST/linux-amd64/palier-receiver" ./cmd/receiver

# --- the screen (cgo) ------------------------------------------------------
need_apt "${EBITEN_BUILD_DEPS[@]}"
say "building display for linux/amd64 (cgo)"
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 \
	go build -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$DIST/linux-amd64/palier-display" ./cmd/display
display_arches=(amd64)

cross_libs=(libgl1-mesa-dev libx11-dev libxrandr-dev libxxf86vm-dev libxi-dev libxcursor-dev libxinerama-dev)
if [ "${PALIER_CROSS_DISPLAY:-0}" = 1 ]; then
	need_apt gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
	for deb in arm64 armhf; do
		as_root dpkg --add-architecture "$deb"
	done
	need_apt "${cross_libs[@]/%/:arm64}" "${cross_libs[@]/%/:armhf}"
fi
have_cross() { # have_cross DEBARCH: the cross compiler and every X11/GL dev package are there
	local deb=$1 p
	for p in "${cross_libs[@]}"; do
		dpkg-query -W -f='${Status}' "$p:$deb" 2>/dev/null | grep -q 'install ok installed' || return 1
	done
}
for target in arm64:aarch64-linux-gnu::arm64 arm:arm-linux-gnueabihf:7:armhf; do
	IFS=: read -r arch triplet arm deb <<<"$target"
	if ! command -v "$triplet-gcc" >/dev/null || ! have_cross "$deb"; then
		say "skipping display for linux/$arch: no $triplet-gcc or no ${deb} X11/GL dev packages (see the header of this script; PALIER_CROSS_DISPLAY=1 installs them)"
		continue
	fi
	say "building display for linux/$arch (cgo, $triplet-gcc)"
	CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm CC=$triplet-gcc \
		PKG_CONFIG_LIBDIR=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig \
		go build -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$DIST/linux-$arch/palier-display" ./cmd/display
	display_arches+=("$deb")
done

# --- Debian packages -------------------------------------------------------
# nfpm expands VERSION and DEB_ARCH from the environment but not content
# paths: BIN_DIR is filled in here.
pkgconf=$(mktemp -d)
trap 'rm -rf "$pkgconf"' EXIT
pkg() { # pkg NAME DEBARCH GOARCH
	local name=$1 deb=$2 goarch=$3
	sed "s|\${BIN_DIR}|$DIST/linux-$goarch|g" "packaging/deb/$name.yaml" >"$pkgconf/$name.yaml"
	DEB_ARCH=$deb nfpm package --config "$pkgconf/$name.yaml" --packager deb --target "$DIST/" >&2
}
goarch_of() { case $1 in armhf) echo arm ;; *) echo "$1" ;; esac; }
for deb in arm64 armhf; do
	pkg palier-agent "$deb" "$(goarch_of "$deb")"
done
for deb in amd64 arm64; do
	pkg palier-receiver "$deb" "$(goarch_of "$deb")"
done
for deb in "${display_arches[@]}"; do
	pkg palier-display "$deb" "$(goarch_of "$deb")"
done

say "dist/:"
ls -l "$DIST"/*.deb >&2
for f in "$DIST"/linux-*/palier-*; do
	printf '%10d  %s\n' "$(stat -c %s "$f")" "$f" >&2
done
