#!/usr/bin/env bash
# Makes a private, throwaway sysroot holding the arm64 or armhf X11 headers
# and libraries that the cabin screen (palier-display, ebiten, cgo) is
# cross-compiled and linked against.
#
#   scripts/sysroot.sh DEBARCH              build it if needed; print its root
#   scripts/sysroot.sh apt DEBARCH CMD ...  run apt-get/apt-cache CMD against
#                                           its private index (e.g. apt-cache show cage)
#
# DEBARCH is arm64 or armhf. Nothing is installed into the host and no root is
# needed: apt runs with its own sources list (only Debian bookworm main for
# DEBARCH), its own state, cache and an empty dpkg status, then `apt-get
# download` fetches exactly the packages below and `dpkg-deb -x` unpacks them
# into the root. dpkg's database (/var/lib/dpkg) is never read or written, so
# the foreign indexes lagging the host's (which makes `dpkg --add-architecture`
# + `apt-get install libx11-dev:arm64` downgrade host packages on some
# mirrors) do not matter. The security suite is left out: its armhf index can
# fail its hash check mid-sync, and headers and sonames do not change there.
#
# The C library and its headers come from the cross toolchain
# (libc6-dev-arm64-cross, pulled by gcc-aarch64-linux-gnu); the sysroot's own
# libc6 only serves qemu-user (-L ROOT) to run the binaries.
#
# Next to root/, `packages` lists what was unpacked (name version) and `files`
# which package holds which path.
#
# Cached under $PALIER_SYSROOT_CACHE (default .cache/sysroot in the tree) in
# a folder named after a hash of the architecture, suite, mirror and package
# list: a second run downloads nothing, a changed list builds a new one (and
# removes the old). Mirror: $PALIER_DEBIAN_MIRROR, else the host's Debian
# mirror from /etc/apt, else http://deb.debian.org/debian.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SUITE=bookworm # the cabins' Debian 12 / Raspberry Pi OS bookworm
CACHE=$(realpath -m "${PALIER_SYSROOT_CACHE:-.cache/sysroot}")

# What ebiten's GLFW includes (X11/Xlib.h, XKBlib.h, Xresource.h,
# Xcursor/Xcursor.h, extensions/Xrandr.h, Xinerama.h, XInput2.h, shape.h; no
# GL headers: it defines GLFW_INCLUDE_NONE and loads libGL with dlopen) and
# links (-lX11 -lXrandr -lXxf86vm -lXi -lXcursor -lXinerama; -lm -ldl -lrt
# are the toolchain's), the headers those include, the libraries the -dev
# .so links point to, what those need for the linker's -rpath-link (libxcb1,
# libxau6, libxdmcp6, libbsd0, libmd0), and libc6 for qemu.
PACKAGES=(
	libx11-dev x11proto-dev libxrandr-dev libxrender-dev libxext-dev libxxf86vm-dev
	libxi-dev libxfixes-dev libxcursor-dev libxinerama-dev
	libx11-6 libxrandr2 libxrender1 libxext6 libxxf86vm1 libxi6 libxfixes3 libxcursor1 libxinerama1
	libxcb1 libxau6 libxdmcp6 libbsd0 libmd0
	libc6
)
# The libraries the link needs from the sysroot (-lNAME), checked after unpacking.
LINK_LIBS=(X11 Xrandr Xxf86vm Xi Xcursor Xinerama)

die() { echo "sysroot: $*" >&2; exit 1; }

triplet_of() {
	case $1 in
	arm64) echo aarch64-linux-gnu ;;
	armhf) echo arm-linux-gnueabihf ;;
	*) die "unknown architecture '$1' (want arm64 or armhf)" ;;
	esac
}

# host_mirror prints the host's Debian (not security) archive URI, if it has one.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: the URIs of a stanza whose Suites name $SUITE.
		awk -v suite="$SUITE" '
			function flush() { if (hit && uri != "") print uri; uri = ""; hit = 0 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
			/^[ \t]*$/ { flush() }
			END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# One-line: deb [options] URI SUITE COMPONENTS...
		sed -E 's/\[[^]]*\] *//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
	done
}

MIRROR=${PALIER_DEBIAN_MIRROR:-$(host_mirror | grep -v security | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# dir_of DEBARCH: the cache folder for this architecture and package list.
dir_of() {
	local key
	# Bump "layout" when what build() leaves in the folder changes.
	key=$(printf '%s\n' "layout 2" "$1" "$SUITE" "$MIRROR" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
	echo "$CACHE/$1-$key"
}

# apt_in DIR DEBARCH CMD ARGS...: apt against DIR's private configuration.
# The host's apt.conf.d still applies (proxies, Check-Valid-Until for
# snapshot mirrors) but its hooks do not (hooks.conf clears them: they would
# empty the host's apt cache or tell PackageKit the host's index changed),
# and the options below override every path that matters.
apt_in() {
	local dir=$1 arch=$2 cmd=$3
	shift 3
	local a="$dir/apt"
	local opts=(
		-c "$a/hooks.conf"
		-o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=$a/sources.list.d"
		-o "Dir::Etc::Preferences=$a/preferences" -o "Dir::Etc::PreferencesParts=$a/preferences.d"
		-o "Dir::State=$a/state" -o "Dir::State::Lists=$a/state/lists" -o "Dir::State::status=$a/state/status"
		-o "Dir::Cache=$a/cache" -o "Dir::Cache::Archives=$a/cache/archives"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
		-o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
	)
	# As root apt hands downloads to the _apt user, which may not be able to
	# write into the tree; as another user there is nothing to drop.
	[ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
	"$cmd" "${opts[@]}" "$@"
}

# build DEBARCH DIR: makes DIR (the apt state, the .debs, root/) from nothing.
build() {
	local arch=$1 final=$2 triplet tmp
	triplet=$(triplet_of "$arch")
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.tmp-$arch.XXXXXX")
	chmod 755 "$tmp"
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	local a="$tmp/apt"
	mkdir -p "$a/sources.list.d" "$a/preferences.d" "$a/state/lists/partial" "$a/cache/archives/partial" "$tmp/debs" "$tmp/root"
	: >"$a/state/status"
	printf '#clear %s;\n' APT::Update::Pre-Invoke APT::Update::Post-Invoke APT::Update::Post-Invoke-Success \
		DPkg::Pre-Invoke DPkg::Post-Invoke >"$a/hooks.conf"
	# Only the Packages index (no Translations, no DEP-11 from appstream's
	# apt.conf.d): about 9 MB.
	echo "deb [arch=$arch target=Packages signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" >"$a/sources.list"

	say "sysroot $arch: apt-get update ($MIRROR $SUITE main, private state in $tmp/apt)"
	apt_in "$tmp" "$arch" apt-get -qq update >&2 || die "apt-get update for $arch failed"
	say "sysroot $arch: downloading ${#PACKAGES[@]} packages"
	(cd "$tmp/debs" && apt_in "$tmp" "$arch" apt-get -qq download "${PACKAGES[@]}") >&2 || die "apt-get download for $arch failed"

	local deb
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
		dpkg-deb -f "$deb" Package Version | paste -sd ' ' | sed 's/^Package: //; s/ Version: / /' >>"$tmp/packages"
		# Which package holds which file: the packaging test maps the
		# binaries' NEEDED libraries to the packages the .deb must depend on.
		dpkg-deb -c "$deb" | awk -v p="$(dpkg-deb -f "$deb" Package)" '{ sub(/^\./, "", $6); print p, $6 }' >>"$tmp/files"
	done
	# Absolute links (/usr/lib/... in a -dev package) would point into the
	# host: make them relative, inside the root.
	local link target
	while IFS= read -r -d '' link; do
		target=$(readlink "$link")
		ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$tmp/root$target")" "$link"
	done < <(find "$tmp/root" -type l -lname '/*' -print0)

	local lib
	for lib in "${LINK_LIBS[@]}"; do
		[ -e "$tmp/root/usr/lib/$triplet/lib$lib.so" ] || die "$arch: lib$lib.so is missing or dangling in the sysroot"
	done
	[ -e "$tmp/root/usr/include/X11/Xlib.h" ] || die "$arch: X11/Xlib.h is missing in the sysroot"
	rm -rf "$tmp/debs"

	# Publish atomically: a concurrent run either sees nothing or all of it.
	if ! mv -T "$tmp" "$final" 2>/dev/null; then
		[ -d "$final/root" ] || die "cannot move $tmp to $final"
		rm -rf "$tmp" # another run finished first
	fi
	trap - EXIT
	# Sysroots of older package lists.
	local old
	for old in "$CACHE/$arch"-*; do
		[ "$old" = "$final" ] || rm -rf "$old"
	done
	say "sysroot $arch: $(wc -l <"$final/packages") packages, $(du -sh "$final/root" | cut -f1) in $final/root"
}

case ${1:-} in
apt)
	[ $# -ge 3 ] || die "usage: $0 apt DEBARCH apt-get|apt-cache ARGS..."
	arch=$2
	shift 2
	dir=$(dir_of "$arch")
	[ -d "$dir/root" ] || die "no sysroot for $arch yet (run $0 $arch)"
	apt_in "$dir" "$arch" "$@"
	;;
arm64 | armhf)
	arch=$1
	triplet_of "$arch" >/dev/null
	dir=$(dir_of "$arch")
	if [ -d "$dir/root" ]; then
		say "sysroot $arch: cached in $dir"
	else
		build "$arch" "$dir"
	fi
	realpath "$dir/root"
	;;
*)
	die "usage: $0 arm64|armhf   or   $0 apt arm64|armhf apt-get|apt-cache ARGS..."
	;;
esac
