#!/usr/bin/env bash
# Tests Palier's packaging: builds dist/ with scripts/package.sh, then checks
#   - the Debian packages: control fields, contents, conffiles, maintainer scripts;
#   - the systemd units: systemd-analyze verify against the unpacked packages,
#     and systemd-analyze security --offline under the 2.0 threshold;
#   - the ARM screens (cross-built with cgo against scripts/sysroot.sh's
#     sysroots): hard-float on armhf, the target's loader, no RPATH, only X11
#     and glibc NEEDED, each from a package the .deb depends on, a libc6
#     floor covering the glibc symbols used, every dependency available in
#     Debian bookworm for that architecture;
#   - the ARM agents and screens print the stamped version under qemu-user-static;
#   - binary sizes (the stripped arm64 agent under 12 MB);
#   - the receiver's OCI image (scripts/image.sh): its recorded digest and
#     name (the chart's image), the same digest from a second build of the
#     binaries and the image, read by skopeo (layout and tarball), the
#     amd64 image's receiver run from its unpacked layers, user 65532;
#   - the Helm chart: helm lint, helm template with the defaults (one
#     receiver, SQLite on a volume) and with the helmfile example's values
#     and SOPS-decrypted secrets (several, PostgreSQL and S3), validated by
#     kubeconform (strict) against schemas made offline from the Kubernetes
#     OpenAPI document in the k8s.io/kubernetes module; the configurations
#     it must refuse (replicas with SQLite, local media or a volume, ...);
#   - the NATS configs: nats-server -t on the hub and on the leaf with the
#     accounts generated from the example fleet;
#   - NATS through the official chart (vendored, its checksums checked): the
#     helmfile's hub and leaf releases rendered with their values, decrypted
#     secrets and the leaf's accounts.conf (current with its fleet file),
#     validated by kubeconform, their nats.conf by nats-server -t;
#   - the platform's Prometheus alerting rules: promtool check rules and
#     promtool test rules (Debian package prometheus);
#   - agent updates: the apt repository (aptly) verifies with its keyring
#     (gpgv) and lists the agent, the package ships that keyring, a
#     disabled source and the pin, the update units verify, and the update
#     helper refuses what the agent's folder may hold (a link, a version
#     apt could read as more, another channel) without writing through links;
#     the whole update path runs by hand: scripts/test-install.sh --updates;
#   - the Go tests of the watchdog notifier and of the per-device permissions
#     against a real in-process nats-server.
# Every tool is pinned and installed when missing. Usage: scripts/test-packaging.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

K8S_VERSION=1.31.4 # the Kubernetes whose API the chart is validated against

need_apt "${BASE_DEPS[@]}" qemu-user-static systemd openssl prometheus skopeo aptly gnupg gpgv
need_check_tool helm "$HELM"
need_check_tool kubeconform "$KUBECONFORM"
need_nats_server
export PATH="$(go env GOPATH)/bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test-packaging: FAIL: $*" >&2; exit 1; }

# --- build -----------------------------------------------------------------
scripts/package.sh
VERSION=$(./dist/linux-arm64/palier-agent version 2>/dev/null | awk '{print $3}' || true)
[ -n "$VERSION" ] || VERSION=$(qemu-aarch64-static dist/linux-arm64/palier-agent version | awk '{print $3}')
# nfpm's Debian version: no v, and a SemVer pre-release after '~' (sorts first).
debver=${VERSION#v}
case $debver in *-*) debver=${debver/-/\~} ;; esac
say "checking packages of $VERSION"

# --- Debian packages -------------------------------------------------------
# check_deb FILE PACKAGE ARCH PATH...: control fields and contents.
check_deb() {
	local deb=$1 name=$2 arch=$3
	shift 3
	[ -f "$deb" ] || fail "$deb was not built"
	local field
	field=$(dpkg-deb -f "$deb" Package Architecture)
	[ "$field" = "Package: $name
Architecture: $arch" ] || fail "$deb: control says $field"
	[ "$(dpkg-deb -f "$deb" Version)" = "$debver" ] || fail "$deb: version $(dpkg-deb -f "$deb" Version) is not $VERSION"
	local list
	list=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
	for p in "$@"; do
		grep -qxF "$p" <<<"$list" || fail "$deb lacks $p (has: $(tr '\n' ' ' <<<"$list"))"
	done
	# Nothing outside the places a package may write (and their parents).
	local stray
	stray=$(grep -vE '^/(etc/palier|usr/bin|usr/lib/systemd/system|usr/lib/udev/rules\.d|usr/share/palier|usr/share/palier-receiver|usr/share/doc/palier-[a-z]+|usr/lib/palier)(/|$)' <<<"$list" |
		grep -vxE '/etc/apt/sources\.list\.d/palier\.sources|/etc/apt/preferences\.d/palier-agent\.pref|/usr/share/keyrings/palier-archive-keyring\.gpg' |
		grep -vxE '/|/etc/|/etc/apt/|/etc/apt/sources\.list\.d/|/etc/apt/preferences\.d/|/usr/|/usr/lib/|/usr/lib/systemd/|/usr/lib/udev/|/usr/share/|/usr/share/doc/|/usr/share/keyrings/' || true)
	[ -z "$stray" ] || fail "$deb installs outside its places: $(tr '\n' ' ' <<<"$stray")"
}
agent_files=(/usr/bin/palier-agent /usr/lib/systemd/system/palier-agent.service /usr/lib/udev/rules.d/60-palier.rules
	/usr/lib/palier/palier-agent-update /usr/lib/systemd/system/palier-agent-update.service /usr/lib/systemd/system/palier-agent-update.path
	/usr/share/keyrings/palier-archive-keyring.gpg /etc/apt/sources.list.d/palier.sources /etc/apt/preferences.d/palier-agent.pref
	/etc/palier/agent.yaml /usr/share/palier/profiles/palier-sim.yaml /usr/share/palier/profiles/generic.yaml
	/usr/share/palier/profiles/contacts/relay-board.yaml)
for arch in arm64 armhf; do
	check_deb "dist/palier-agent_${debver}_${arch}.deb" palier-agent "$arch" "${agent_files[@]}"
done
for arch in amd64 arm64; do
	check_deb "dist/palier-receiver_${debver}_${arch}.deb" palier-receiver "$arch" \
		/usr/bin/palier-receiver /usr/lib/systemd/system/palier-receiver.service /etc/palier/receiver.yaml \
		/usr/lib/systemd/system/palier-receiver-report.service /usr/lib/systemd/system/palier-receiver-report.timer \
		/usr/share/palier-receiver/preview/screen.wasm /usr/share/palier-receiver/preview/screen.wasm.gz /usr/share/palier-receiver/preview/wasm_exec.js
done
for arch in amd64 arm64 armhf; do
	check_deb "dist/palier-display_${debver}_${arch}.deb" palier-display "$arch" \
		/usr/bin/palier-display /usr/lib/systemd/system/palier-display.service /etc/palier/display.yaml
	dpkg-deb -f "dist/palier-display_${debver}_${arch}.deb" Depends | grep -q cage || fail "palier-display ($arch) does not depend on cage"
done

# Binaries inside the packages are the right architecture.
for spec in palier-agent_${debver}_arm64:aarch64 palier-agent_${debver}_armhf:"ARM, EABI5" palier-receiver_${debver}_amd64:x86-64 \
	palier-display_${debver}_arm64:aarch64 palier-display_${debver}_armhf:"ARM, EABI5" palier-display_${debver}_amd64:x86-64; do
	deb=${spec%%:*} want=${spec#*:}
	rm -rf "$work/x" && mkdir "$work/x" && dpkg-deb -x "dist/$deb.deb" "$work/x"
	file -b "$work"/x/usr/bin/palier-* | grep -q "$want" || fail "$deb: binary is $(file -b "$work"/x/usr/bin/palier-*), want $want"
done

# Conffiles and maintainer scripts.
mkdir -p "$work/ctl"
dpkg-deb -e "dist/palier-agent_${debver}_arm64.deb" "$work/ctl/agent"
grep -qxF /etc/palier/agent.yaml "$work/ctl/agent/conffiles" || fail "agent.yaml is not a conffile"
for s in postinst prerm postrm; do
	[ -x "$work/ctl/agent/$s" ] || fail "palier-agent has no executable $s"
	sh -n "$work/ctl/agent/$s" || fail "palier-agent $s: syntax error"
done
grep -q 'adduser --system .*palier' "$work/ctl/agent/postinst" || fail "postinst does not create the palier system user"
grep -q 'adduser --quiet palier dialout' "$work/ctl/agent/postinst" || fail "postinst does not put palier in dialout"
grep -q 'adduser --quiet palier gpio' "$work/ctl/agent/postinst" || fail "postinst does not put palier in gpio"
grep -q 'addgroup --system --quiet gpio' "$work/ctl/agent/postinst" || fail "postinst does not create the gpio group"
grep -q 'deb-systemd-helper enable palier-agent.service' "$work/ctl/agent/postinst" || fail "postinst does not enable the unit"
grep -q 'deb-systemd-invoke stop palier-agent.service' "$work/ctl/agent/prerm" || fail "prerm does not stop the unit"
for pkg in palier-receiver_${debver}_amd64 palier-display_${debver}_{amd64,arm64,armhf}; do
	dpkg-deb -e "dist/$pkg.deb" "$work/ctl/$pkg"
	for s in postinst prerm postrm; do sh -n "$work/ctl/$pkg/$s" || fail "$pkg $s: syntax error"; done
done
grep -qxF /etc/palier/receiver.yaml "$work/ctl/palier-receiver_${debver}_amd64/conffiles" || fail "receiver.yaml is not a conffile"
for arch in amd64 arm64 armhf; do
	grep -qxF /etc/palier/display.yaml "$work/ctl/palier-display_${debver}_$arch/conffiles" || fail "display.yaml is not a conffile ($arch)"
done

# The ARM screens: cross-built with cgo against the sysroots of
# scripts/sysroot.sh (cached by package.sh's run: no download here).
say "ARM screens: ELF, dynamic section, Depends"
# dep_floor DEB PACKAGE: the version in "PACKAGE (>= V)" of DEB's Depends, or "-" if unversioned.
dep_floor() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/^ *//' |
		awk -v p="$2" '$1 == p { if ($2 == "(>=") { sub(/\)$/, "", $3); print $3 } else print "-"; exit }'
}
for spec in arm64:aarch64-linux-gnu:/lib/ld-linux-aarch64.so.1 armhf:arm-linux-gnueabihf:/lib/ld-linux-armhf.so.3; do
	IFS=: read -r arch triplet interp <<<"$spec"
	deb="dist/palier-display_${debver}_${arch}.deb"
	sysroot=$(scripts/sysroot.sh "$arch" 2>/dev/null)
	x="$work/display-$arch"
	mkdir -p "$x" && dpkg-deb -x "$deb" "$x"
	bin="$x/usr/bin/palier-display"
	if [ "$arch" = armhf ]; then
		readelf -h "$bin" | grep -q 'hard-float ABI' || fail "$deb: not hard-float ($(readelf -h "$bin" | grep Flags))"
	fi
	readelf -l "$bin" | grep -qF "[Requesting program interpreter: $interp]" || fail "$deb: interpreter is not $interp"
	dyn=$(readelf -d "$bin")
	! grep -qE '\((RPATH|RUNPATH)\)' <<<"$dyn" || fail "$deb: has an RPATH/RUNPATH: $(grep -E 'R(UN)?PATH' <<<"$dyn")"
	needed=$(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' <<<"$dyn")
	grep -qx libX11.so.6 <<<"$needed" || fail "$deb: does not link libX11.so.6 (NEEDED: $(tr '\n' ' ' <<<"$needed"))"
	# Only X11 and glibc sonames; each from a package the .deb depends on.
	for lib in $needed; do
		[[ $lib =~ ^(libX[a-z0-9]*\.so\.[0-9]+|lib(c|m|dl|rt|pthread)\.so\.[0-9]+)$ ]] || fail "$deb: unexpected NEEDED $lib"
		owner=$(awk -v f="/$triplet/$lib" 'substr($2, length($2) - length(f) + 1) == f { print $1; exit }' "$sysroot/../files")
		[ -n "$owner" ] || fail "$deb: no sysroot package holds $lib"
		[ -n "$(dep_floor "$deb" "$owner")" ] || fail "$deb: needs $lib from $owner but does not depend on it"
	done
	# The libc6 floor covers the newest glibc symbol version used.
	glibc=$("$triplet-objdump" -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
	floor=$(dep_floor "$deb" libc6)
	if [ "$floor" = - ] || ! dpkg --compare-versions "$floor" ge "$glibc"; then
		fail "$deb: uses GLIBC_$glibc but depends on libc6 (>= $floor)"
	fi
	# No path of the build machine (the sysroot, the module cache) in the binary.
	! grep -qaF -e "$sysroot" -e "$(go env GOMODCACHE)" "$bin" || fail "$deb: the binary holds a build path"
	# Every dependency exists for that architecture in Debian bookworm.
	# (One apt-cache call: it reads a 9 MB index, and exits 0 if any was found.)
	deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | awk '{print $1}' | sort -u)
	# shellcheck disable=SC2086 # one word per package
	found=$(scripts/sysroot.sh apt "$arch" apt-cache show --no-all-versions $deps 2>/dev/null | awk '/^Package:/ {print $2}' | sort -u)
	absent=$(comm -23 <(echo "$deps") <(echo "$found"))
	[ -z "$absent" ] || fail "$deb: depends on $(tr '\n' ' ' <<<"$absent")which Debian bookworm lacks for $arch"
	echo "$deb: NEEDED $(tr '\n' ' ' <<<"$needed"); glibc $glibc; $(stat -c %s "$bin") bytes" >&2
done

# The udev rule names the adapter ttyPALIER0 and hands GPIO chips to gpio.
grep -q 'SYMLINK+="ttyPALIER0"' packaging/udev/60-palier.rules || fail "udev rules do not name ttyPALIER0"
grep -q 'KERNEL=="gpiochip\*", GROUP="gpio"' packaging/udev/60-palier.rules || fail "udev rules do not give gpiochips to gpio"
if command -v udevadm >/dev/null && udevadm verify --help >/dev/null 2>&1; then
	udevadm verify packaging/udev/60-palier.rules
fi

# --- systemd units ---------------------------------------------------------
say "systemd-analyze verify and security"
root="$work/root"
mkdir -p "$root/usr/lib/systemd/system" "$root/usr/bin"
# The host's own units (targets the packages refer to), then the packages.
cp -a /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/" 2>/dev/null || cp -a /lib/systemd/system/. "$root/usr/lib/systemd/system/"
for deb in "dist/palier-agent_${debver}_arm64.deb" "dist/palier-receiver_${debver}_amd64.deb" "dist/palier-display_${debver}_amd64.deb"; do
	dpkg-deb -x "$deb" "$root"
done
# cage comes from Debian at install time; verify only needs an executable.
printf '#!/bin/sh\n' >"$root/usr/bin/cage" && chmod +x "$root/usr/bin/cage"
for unit in palier-agent.service palier-receiver.service palier-display.service palier-agent-update.service palier-agent-update.path \
	palier-receiver-report.service palier-receiver-report.timer; do
	out=$(systemd-analyze verify --root="$root" "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $unit warns: $out"
done
# systemd 252 (Debian 12) takes the threshold in tenths (20 = 2.0).
threshold=2.0
out=$(systemd-analyze security --offline=true --threshold=2.0 --root="$root" palier-agent.service 2>&1 || true)
if grep -q 'Failed to parse threshold' <<<"$out"; then
	threshold=20
fi
for unit in palier-agent palier-receiver palier-receiver-report; do
	score=$(systemd-analyze security --offline=true --root="$root" "$unit.service" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	systemd-analyze security --offline=true --threshold=$threshold --root="$root" "$unit.service" >/dev/null 2>&1 ||
		fail "$unit exposure $score is above 2.0"
	echo "$unit.service exposure $score (threshold 2.0)" >&2
done
for key in 'Restart=always' 'WatchdogSec=' 'Type=notify' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'ProtectSystem=strict' \
	'StateDirectory=palier' 'RuntimeDirectory=palier' 'CapabilityBoundingSet=$' 'DevicePolicy=closed' \
	'DeviceAllow=/dev/ttyPALIER0' 'DeviceAllow=char-gpiochip' 'SupplementaryGroups=dialout gpio' 'User=palier$'; do
	grep -q "^$key" packaging/systemd/palier-agent.service || fail "palier-agent.service lacks $key"
done
! grep -q '^PrivateDevices=yes' packaging/systemd/palier-agent.service || fail "palier-agent.service must not hide devices (PrivateDevices=yes hides the serial port)"

# --- agent updates: the apt repository and the helper's refusals ----------
# The whole path (apt from the served repository, upgrade, rollback) runs
# by hand in scripts/test-install.sh --updates; this part takes seconds.
say "apt repository and update helper"
repo=dist/apt
gpgv --keyring "$repo/palier-archive-keyring.gpg" "$repo/public/dists/canary/InRelease" 2>/dev/null ||
	fail "dists/canary/InRelease does not verify with $repo/palier-archive-keyring.gpg"
for arch in arm64 armhf; do
	pk="$repo/public/dists/canary/main/binary-$arch/Packages"
	awk -v v="$debver" '/^Package: palier-agent$/ {p = 1} p && $0 == "Version: " v {found = 1} /^$/ {p = 0} END {exit !found}' "$pk" ||
		fail "$pk does not list palier-agent $debver"
	grep -q '^Origin: Palier$' "$repo/public/dists/canary/Release" || fail "the canary Release has no Origin: Palier (the pin needs it)"
done
rm -rf "$work/x" && mkdir "$work/x" && dpkg-deb -x "dist/palier-agent_${debver}_arm64.deb" "$work/x"
cmp -s "$work/x/usr/share/keyrings/palier-archive-keyring.gpg" "$repo/palier-archive-keyring.gpg" || fail "the agent ships another keyring than the repository's"
grep -qx 'Enabled: no' "$work/x/etc/apt/sources.list.d/palier.sources" || fail "the shipped apt source is not disabled"
grep -q '^Pin: release o=Palier$' "$work/x/etc/apt/preferences.d/palier-agent.pref" || fail "no pin on the Palier origin"
grep -q 'palier-agent-update.path' "$work/ctl/agent/postinst" || fail "postinst does not enable the update path unit"
! grep -q 'palier-agent-update.service' "$work/ctl/agent/postinst" "$work/ctl/agent/prerm" || fail "a maintainer script touches the helper's service (it may be the apt running it)"
helper="$work/x/usr/lib/palier/palier-agent-update"
sh -n "$helper" || fail "palier-agent-update: syntax error"
# The helper refuses what the agent's folder may hold, before apt: a
# request that is a link, a version apt could read as more than one.
hstate="$work/helper-state"
check_refusal() { # REQUEST-SETUP WANT-REASON
	rm -rf "$hstate" && mkdir -p "$hstate/own"
	eval "$1"
	PALIER_STATE_DIR=$hstate PALIER_UPDATE_STATE=$hstate/own PALIER_APT_SOURCES=$hstate/none.sources sh "$helper" 2>/dev/null && fail "the helper accepted: $1"
	grep -q '^status=failed$' "$hstate/update-result" || fail "no failed result for: $1"
	grep -q "^reason=.*$2" "$hstate/update-result" || fail "the helper's reason for $1: $(grep reason= "$hstate/update-result")"
	[ ! -e "$hstate/update-request" ] || fail "the helper left the request of: $1"
}
check_refusal 'ln -s /etc/shadow "$hstate/update-request"' 'not a plain file'
check_refusal 'printf "version=1.0.0 palier-display\nchannel=stable\n" >"$hstate/update-request"' 'no valid version'
check_refusal 'printf "version=-o=APT::x\nchannel=stable\n" >"$hstate/update-request"' 'no valid version'
check_refusal 'printf "version=1.0.0\nchannel=beta\n" >"$hstate/update-request"' "channel 'beta'"
check_refusal 'printf "version=1.0.0\nchannel=stable\n" >"$hstate/update-request"; ln -s /etc/passwd "$hstate/update-result"' 'no Palier apt source'
! grep -q 'status=' /etc/passwd || fail "the helper wrote through a link"

# --- binaries: versions under qemu, sizes ----------------------------------
say "ARM binaries under qemu-user-static"
for spec in qemu-aarch64-static:linux-arm64 qemu-arm-static:linux-arm; do
	emu=${spec%%:*} dir=${spec#*:}
	out=$("$emu" "dist/$dir/palier-agent" version)
	[ "$out" = "palier agent $VERSION" ] || fail "$dir agent version says '$out', want 'palier agent $VERSION'"
	echo "$dir: $out" >&2
	out=$("$emu" "dist/$dir/palier-elevatorsim" --help 2>&1 || true)
	[ -n "$out" ] || fail "$dir elevatorsim does not run"
done
out=$(dist/linux-amd64/palier-receiver --version)
grep -qF "palier receiver $VERSION" <<<"$out" || fail "receiver --version says '$out'"
out=$(dist/linux-amd64/palier-display --version 2>&1) || true
grep -qF "palier display $VERSION" <<<"$out" || fail "display --version says '$out'"
# The ARM screens from their .debs, with the sysroot as the target's root
# (its loader, libc and X11 libraries) and no display server.
for spec in qemu-aarch64-static:arm64 qemu-arm-static:armhf; do
	emu=${spec%%:*} arch=${spec#*:}
	sysroot=$(scripts/sysroot.sh "$arch" 2>/dev/null)
	out=$(env -u DISPLAY -u WAYLAND_DISPLAY "$emu" -L "$sysroot" "$work/display-$arch/usr/bin/palier-display" --version 2>&1) ||
		fail "$arch display --version failed: $out"
	[ "$out" = "palier display $VERSION" ] || fail "$arch display --version says '$out', want 'palier display $VERSION'"
	echo "$arch display: $out" >&2
done

say "binary sizes (stripped)"
for f in dist/linux-*/palier-*; do
	awk -v n="$(stat -c %s "$f")" -v f="$f" 'BEGIN { printf "%6.2f MB  %s\n", n / 1e6, f }' >&2
done
size=$(stat -c %s dist/linux-arm64/palier-agent)
[ "$size" -lt 12000000 ] || fail "arm64 agent is $size bytes, goal < 12 MB"

# --- the receiver's container image ----------------------------------------
say "receiver image: digest, a second build, skopeo"
tag=${VERSION#v}
tag=${tag//+/_}
repo=$(sed -n 's/^  repository: *//p' packaging/helm/palier-receiver/values.yaml | head -n 1)
[ -f "dist/palier-receiver_$tag.oci.digest" ] || fail "scripts/package.sh recorded no image digest (dist/palier-receiver_$tag.oci.digest)"
read -r digest ref <"dist/palier-receiver_$tag.oci.digest"
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "image digest '$digest' is not sha256:<64 hex>"
[ "$ref" = "$repo:$tag" ] || fail "the image is $ref, the chart runs $repo:<tag>"
# A release's image is the chart's default: its appVersion must be the tag.
if [[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' packaging/helm/palier-receiver/Chart.yaml)
	[ "$app" = "$tag" ] || fail "release $VERSION: the chart's appVersion is $app, so its default image is not the one built (set appVersion: \"$tag\")"
fi
# Built twice: the receiver again from source, the image again, the same digest.
again="$work/again"
for arch in amd64 arm64; do
	mkdir -p "$again/linux-$arch"
	gobuild "$arch" "" "$again/linux-$arch/palier-receiver" ./cmd/receiver
	cmp -s "$again/linux-$arch/palier-receiver" "dist/linux-$arch/palier-receiver" || fail "the linux/$arch receiver built twice differs"
done
go run ./internal/previewbuild/build "$again/preview"
for f in screen.wasm screen.wasm.gz wasm_exec.js; do
	cmp -s "$again/preview/$f" "dist/preview/$f" || fail "the notice preview's $f built twice differs"
done
DIST="$again" VERSION="$VERSION" scripts/image.sh
read -r digest2 _ <"$again/palier-receiver_$tag.oci.digest"
[ "$digest2" = "$digest" ] || fail "the image built twice has two digests: $digest and $digest2"
cmp -s "$again/palier-receiver_$tag.oci.tar" "dist/palier-receiver_$tag.oci.tar" || fail "the image tarball built twice differs"
# skopeo (containers/image, what podman and CRI-O use) reads the layout and
# the tarball as it would push them; the amd64 image, unpacked, runs.
skopeo inspect --raw "oci:dist/oci/palier-receiver:$tag" | grep -q '"mediaType":"application/vnd.oci.image.index.v1+json"' ||
	fail "oci:dist/oci/palier-receiver:$tag is not an image index"
for arch in amd64 arm64; do
	skopeo inspect --raw "oci:dist/oci/palier-receiver:$tag" | grep -q "\"architecture\":\"$arch\"" || fail "the image has no linux/$arch"
done
skopeo inspect --config "oci-archive:dist/palier-receiver_$tag.oci.tar:$tag" | grep -q '"User": "65532:65532"' ||
	fail "the image (tarball) does not run as 65532:65532"
skopeo copy -q --override-arch amd64 "oci:dist/oci/palier-receiver:$tag" "dir:$work/img" >/dev/null
mkdir -p "$work/img-root"
for layer in $(grep -o '"digest":"sha256:[0-9a-f]*"' "$work/img/manifest.json" | tail -n +2 | sed 's/.*sha256:\([0-9a-f]*\)"/\1/'); do
	tar -xzf "$work/img/$layer" -C "$work/img-root"
done
out=$("$work/img-root/usr/bin/palier-receiver" --version)
grep -qF "palier receiver $VERSION" <<<"$out" || fail "the image's receiver says '$out'"
grep -q '^nonroot:x:65532:65532:' "$work/img-root/etc/passwd" || fail "the image has no nonroot user 65532"
[ "$(grep -c 'BEGIN CERTIFICATE' "$work/img-root/etc/ssl/certs/ca-certificates.crt")" -gt 100 ] ||
	fail "the image's CA bundle holds too few certificates"
# The notice preview: the files built once, in the image as in the package.
for f in screen.wasm screen.wasm.gz wasm_exec.js; do
	cmp -s "$work/img-root/usr/share/palier-receiver/preview/$f" "dist/preview/$f" ||
		fail "the image's /usr/share/palier-receiver/preview/$f is not dist/preview/$f"
done
[ "$(head -c 4 dist/preview/screen.wasm | od -An -tx1 | tr -d ' ')" = 0061736d ] || fail "dist/preview/screen.wasm is not WebAssembly"
grep -q '^  preview_dir: /usr/share/palier-receiver/preview' packaging/receiver.yaml ||
	fail "packaging/receiver.yaml does not point http.preview_dir at the packaged preview"

# --- Helm chart ------------------------------------------------------------
say "Helm chart: lint, template, kubeconform"
chart=packaging/helm/palier-receiver
helm lint --strict --kube-version "$K8S_VERSION" "$chart" >/dev/null
helm template palier "$chart" --kube-version "$K8S_VERSION" >"$work/default.yaml"
# The helmfile example: its values and its SOPS secrets, decrypted with the
# example age key by packaging/helmfile/sopsdecrypt (MAC checked, a clear
# value where encrypted_regex wants a secret refused), not the sops command,
# which links every cloud KMS client: 210 s of CPU on a fresh machine.
go build -o "$work/sopsdecrypt" ./packaging/helmfile/sopsdecrypt
sopsdecrypt() { "$work/sopsdecrypt" -identity packaging/helmfile/example-age-key.txt "$1"; }
sopsdecrypt packaging/helmfile/environments/production/secrets.sops.yaml >"$work/secrets.yaml"
grep -q '^secretFiles:' "$work/secrets.yaml" || fail "decrypted secrets have no secretFiles"
! grep -q 'example-password-recv' packaging/helmfile/environments/production/secrets.sops.yaml || fail "secrets.sops.yaml holds a clear secret"
helm template palier "$chart" --kube-version "$K8S_VERSION" \
	-f packaging/helmfile/environments/production/values.yaml -f "$work/secrets.yaml" >"$work/production.yaml"
grep -q 'mqtt.password:' "$work/production.yaml" || fail "the decrypted secrets did not reach the Secret"
helm lint --strict --kube-version "$K8S_VERSION" "$chart" \
	-f packaging/helmfile/environments/production/values.yaml -f "$work/secrets.yaml" >/dev/null

# Schemas from the Kubernetes OpenAPI document, through the Go module proxy.
k8s_dir=$(cd "$work" && GOFLAGS= GO111MODULE=on go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
go run ./packaging/helm/k8sschema -swagger "$k8s_dir/api/openapi-spec/swagger.json" -out "$work/schemas"
# With the Prometheus Operator's resources: their CRDs are not in the
# Kubernetes document, so kubeconform skips them; the rules inside are
# checked by promtool instead.
helm template palier "$chart" --kube-version "$K8S_VERSION" \
	--set monitoring.prometheusRule.enabled=true --set monitoring.serviceMonitor.enabled=true \
	--set monitoring.dashboards.enabled=true >"$work/monitoring.yaml"
for d in palier-fleet palier-receiver palier-nats; do grep -q "$d.json:" "$work/monitoring.yaml" || fail "the dashboards ConfigMap lacks $d.json"; done
for f in default production monitoring; do
	kubeconform -strict -summary -skip PrometheusRule,ServiceMonitor \
		-schema-location "$work/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$work/$f.yaml"
done
helm template palier "$chart" --kube-version "$K8S_VERSION" --set monitoring.prometheusRule.enabled=true \
	--show-only templates/prometheusrule.yaml | sed -n '/^spec:/,$p' | tail -n +2 | sed 's/^  //' >"$work/rules.yml"
grep -q 'alert: PalierIngestStalled' "$work/rules.yml" || fail "the chart's PrometheusRule holds none of the rules"
promtool check rules "$work/rules.yml" >/dev/null || fail "the chart's PrometheusRule holds rules promtool refuses"
grep -q 'jobLabel: palier-job' "$work/monitoring.yaml" && grep -q 'palier-job: palier-receiver' "$work/monitoring.yaml" ||
	fail "the ServiceMonitor does not name its job palier-receiver, which the rules read"
# The policies the chart promises, in what it renders.
for want in 'runAsNonRoot: true' 'readOnlyRootFilesystem: true' 'allowPrivilegeEscalation: false' '- ALL' \
	'kind: NetworkPolicy' 'path: /healthz' 'limits:' 'kind: ConfigMap' 'kind: Secret' 'automountServiceAccountToken: false'; do
	grep -qF -- "$want" "$work/default.yaml" || fail "helm template output lacks '$want'"
done

# The two modes. Default: one receiver, SQLite and media on a ReadWriteOnce
# volume, replaced by Recreate. Production: several, PostgreSQL and S3, no volume.
for want in 'replicas: 1' 'type: Recreate' 'kind: PersistentVolumeClaim' 'accessModes: [ReadWriteOnce]' 'driver: sqlite'; do
	grep -qF -- "$want" "$work/default.yaml" || fail "the default (one receiver) render lacks '$want'"
done
for want in 'replicas: 2' 'driver: postgres' 'bucket: palier-media' 's3-secret-key:' '{port: 443, protocol: TCP}'; do
	grep -qF -- "$want" "$work/production.yaml" || fail "the production render lacks '$want'"
done
for unwanted in 'kind: PersistentVolumeClaim' 'type: Recreate' 'claimName:'; do
	! grep -qF -- "$unwanted" "$work/production.yaml" || fail "the production render (several receivers) has '$unwanted'"
done
# What the chart must refuse, each with the message that names the problem.
refuse() { # refuse WANT-IN-MESSAGE HELM-ARGS...
	local want=$1 out
	shift
	if out=$(helm template palier "$chart" --kube-version "$K8S_VERSION" "$@" 2>&1); then
		fail "helm template $* renders; the chart should refuse it ($want)"
	fi
	grep -qF -- "$want" <<<"$out" || fail "helm template $* fails without saying '$want': $out"
}
prod=(-f packaging/helmfile/environments/production/values.yaml -f "$work/secrets.yaml")
refuse 'SQLite database is one pod' --set replicaCount=2
refuse 'with local media' "${prod[@]}" --set config.media=null
refuse 'ReadWriteOnce' "${prod[@]}" --set persistence.enabled=true
refuse 'the volume is for the one-receiver SQLite mode only' "${prod[@]}" --set replicaCount=1,persistence.enabled=true
refuse 'without persistence.enabled' --set persistence.enabled=false
refuse 'lost at the next restart' "${prod[@]}" --set replicaCount=1,config.media=null
refuse 'without config.nats.url' "${prod[@]}" --set config.nats=null
refuse 'secretFiles has no "s3-access-key"' -f packaging/helmfile/environments/production/values.yaml
refuse 'outside state_dir' --set config.store.path=/data/receiver.db
refuse 'the job'"'"'s PDFs would be written to its own emptyDir' "${prod[@]}" --set config.reports=null
refuse 'config.reports.s3.access_key_file is "/etc/palier/secrets/reports-key" but secretFiles has no "reports-key"' "${prod[@]}" \
	--set config.reports.s3.access_key_file=/etc/palier/secrets/reports-key
# The monthly report job: on the receiver's node with its volume (one
# receiver), or writing to the reports bucket (several); its own labels, so
# the Service never sends it requests; its own NetworkPolicy.
for want in 'kind: CronJob' 'timeZone: "Europe/Monaco"' '"report", "pdf", "--config", "/etc/palier/receiver.yaml"' \
	'podAffinity:' 'app.kubernetes.io/name: palier-receiver-report' 'name: palier-palier-receiver-report'; do
	grep -qF -- "$want" "$work/default.yaml" || fail "the default render's report job lacks '$want'"
done
for want in 'kind: CronJob' 'prefix: reports/' 'app.kubernetes.io/name: palier-receiver-report'; do
	grep -qF -- "$want" "$work/production.yaml" || fail "the production render's report job lacks '$want'"
done
[ "$(grep -c 'claimName:' "$work/default.yaml")" = 2 ] || fail "the default render's report job does not mount the receiver's volume"
! helm template palier "$chart" --kube-version "$K8S_VERSION" --set reportJob.enabled=false | grep -qF 'kind: CronJob' ||
	fail "reportJob.enabled=false still renders the CronJob"
# What it allows besides the two: one receiver with PostgreSQL and S3, and
# one with SQLite on the volume and media in S3.
helm template palier "$chart" --kube-version "$K8S_VERSION" "${prod[@]}" --set replicaCount=1 >/dev/null
helm template palier "$chart" --kube-version "$K8S_VERSION" "${prod[@]}" --set replicaCount=1,persistence.enabled=true,config.store.driver=sqlite,config.store.url=null >/dev/null

# --- NATS configs ----------------------------------------------------------
say "NATS configs: nats-server -t"
# The receiver's users commands, built as scripts/package.sh builds it
# (CGO_ENABLED=0, -trimpath), so that this is a link of what it compiled:
# "go run" compiled the receiver's whole tree again, 40 s on a fresh machine.
CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/receiver" ./cmd/receiver
receiver() { "$work/receiver" "$@"; }
nats="$work/nats"
mkdir -p "$nats"
cp packaging/nats/leaf.conf packaging/nats/hub.conf "$nats/"
receiver users render --fleet packaging/nats/fleet.example.yaml --out "$nats/accounts.conf"
grep -q '"palier.v1.les-pins.a.events"' "$nats/accounts.conf" || fail "generated accounts lack cabin les-pins/a's events"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=palier-test \
	-keyout "$nats/key.pem" -out "$nats/cert.pem" 2>/dev/null
hash=$(echo 'an example password' | receiver users hash --service)
(
	cd "$nats"
	export PALIER_LEAF_NAME=leaf-test PALIER_HUB_NAME=hub-0 PALIER_STORE_DIR="$nats/js" \
		PALIER_MQTT_CERT=cert.pem PALIER_MQTT_KEY=key.pem PALIER_HUB_CA=cert.pem \
		PALIER_HUB_URL=tls://palier-leaf:secret@hub.palier.example:7422 \
		PALIER_TLS_CERT=cert.pem PALIER_TLS_KEY=key.pem PALIER_TLS_CA=cert.pem \
		PALIER_RECEIVER_HASH="$hash" PALIER_LEAF_HASH="$hash" PALIER_SYS_HASH="$hash"
	nats-server -t -c leaf.conf
	nats-server -t -c hub.conf
) || fail "nats-server rejects the configs"

# --- NATS through the official chart (helmfile releases) --------------------
say "NATS chart: vendored files, helm template, kubeconform, nats-server -t"
natschart=packaging/helm/vendor/nats
env_dir=packaging/helmfile/environments/production
(cd "$natschart" && sha256sum --quiet --strict -c ../nats.sha256) ||
	fail "$natschart differs from the vendored upstream chart (packaging/helm/vendor/README.md says how to update it)"
[ "$(cd "$natschart" && find . -type f | LC_ALL=C sort)" = "$(awk '{print $2}' packaging/helm/vendor/nats.sha256)" ] ||
	fail "$natschart has files nats.sha256 does not list"
# accounts.conf is committed: it must be what the fleet file renders to.
receiver users render --fleet "$env_dir/fleet.yaml" --out "$work/accounts.conf"
cmp -s "$work/accounts.conf" "$env_dir/accounts.conf" ||
	fail "$env_dir/accounts.conf is not what $env_dir/fleet.yaml renders to (run: go run ./cmd/receiver users render --fleet $env_dir/fleet.yaml --out $env_dir/accounts.conf)"
# Each release as helmfile.yaml deploys it: its values, its decrypted
# secrets and (the leaf) the set-file of the cabins' users.
for r in hub leaf; do
	sopsdecrypt "$env_dir/nats-$r.secrets.sops.yaml" >"$work/nats-$r-secrets.yaml"
	extra=()
	[ "$r" = leaf ] && extra=(--set-file "configMap.merge.data.accounts\.conf=$env_dir/accounts.conf")
	grep -qF -- "- environments/{{ .Environment.Name }}/nats-$r.yaml" packaging/helmfile/helmfile.yaml ||
		fail "helmfile.yaml does not deploy nats-$r with nats-$r.yaml"
	helm template "nats-$r" "$natschart" --namespace palier-nats --kube-version "$K8S_VERSION" \
		-f "$env_dir/nats-$r.yaml" -f "$work/nats-$r-secrets.yaml" "${extra[@]}" >"$work/nats-$r.yaml"
	kubeconform -strict -summary -schema-location "$work/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$work/nats-$r.yaml"
done
grep -qF 'configMap.merge.data.accounts\.conf' packaging/helmfile/helmfile.yaml || fail "helmfile.yaml does not set-file the leaf's accounts.conf"
grep -q 'replicas: 3' "$work/nats-hub.yaml" || fail "the hub is not three servers"
grep -q 'name: prom-exporter' "$work/nats-hub.yaml" && grep -q 'name: prom-exporter' "$work/nats-leaf.yaml" ||
	fail "a NATS release runs no prometheus-nats-exporter (the NATS dashboard and alerts read it)"
# The nats.conf (and accounts.conf) the chart renders, checked by the
# nats-server of go.mod with the chart's mount paths pointed at test files.
cm_file() { # cm_file RENDERED KEY: a file of the rendered ConfigMap
	awk -v key="  $2: |" '$0 == key { on = 1; next } on && /^    / { print substr($0, 5); next } on && /^$/ { print; next } { on = 0 }' "$1"
}
for r in hub leaf; do
	d="$nats/chart-$r"
	mkdir -p "$d"
	cm_file "$work/nats-$r.yaml" nats.conf | sed -e "s|/etc/nats-certs/[a-z]*/tls.crt|$nats/cert.pem|" \
		-e "s|/etc/nats-certs/[a-z]*/tls.key|$nats/key.pem|" -e "s|/etc/nats-ca-cert/ca.crt|$nats/cert.pem|" \
		-e "s|\"/data\"|\"$d/js\"|" -e "s|/var/run/nats/|$d/|" >"$d/nats.conf"
	grep -q '"server_name": \$SERVER_NAME' "$d/nats.conf" || fail "no nats.conf in the nats-$r ConfigMap"
	cm_file "$work/nats-$r.yaml" accounts.conf >"$d/accounts.conf"
	(cd "$d" && SERVER_NAME="nats-$r-0" PALIER_RECEIVER_HASH="$hash" PALIER_LEAF_HASH="$hash" PALIER_SYS_HASH="$hash" \
		PALIER_HUB_URL=tls://palier-leaf:secret@nats-hub.palier-nats.svc:7422 nats-server -t -c nats.conf) ||
		fail "nats-server rejects the nats.conf the NATS chart renders for nats-$r"
done
cmp -s "$nats/chart-leaf/accounts.conf" "$env_dir/accounts.conf" || fail "the leaf's ConfigMap lacks accounts.conf"
grep -q '"default_max_consumers": -1' "$nats/chart-leaf/nats.conf" ||
	fail "the leaf's JetStream keeps the 1,000 consumers per stream default (one per MQTT QoS 1 subscription)"
grep -q 'include ./accounts.conf;' "$nats/chart-leaf/nats.conf" || fail "the leaf's nats.conf does not include accounts.conf"
grep -q '"consumer_memory_storage": true' "$nats/chart-leaf/nats.conf" ||
	fail "the leaf keeps its cabins' MQTT consumers in files (packaging/nats/leaf.conf says why not)"
grep -q '"js_api_timeout": "30s"' "$nats/chart-leaf/nats.conf" ||
	fail "the leaf's MQTT layer waits 5 s for JetStream (packaging/nats/leaf.conf says why 30 s)"
grep -q '"timeout": 10' "$nats/chart-leaf/nats.conf" ||
	fail "the leaf gives MQTT clients 2 s to authenticate (packaging/nats/leaf.conf says why 10 s)"

# --- Go tests of the packaging code ----------------------------------------
say "Prometheus rules: promtool check and unit tests"
promtool check rules "$chart/files/palier-rules.yml" >/dev/null || fail "$chart/files/palier-rules.yml: promtool check rules"
(cd packaging/prometheus && promtool test rules palier-rules.test.yml >/dev/null) ||
	fail "packaging/prometheus: promtool test rules palier-rules.test.yml (run it there to see why)"

say "go test: watchdog notifier, per-device NATS permissions against a real nats-server"
go test -count=1 -timeout 5m ./natsauth/... ./packaging/...
go test -count=1 -timeout 5m -run 'Notify|Watchdog|Progressing' ./sdnotify/

say "packaging checks passed"
