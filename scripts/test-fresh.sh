#!/usr/bin/env bash
# Proves that the README's test command passes from nothing, whatever this
# machine already has: it builds a minimal Debian 12 amd64 root
# (debootstrap --variant=minbase: no compiler, no git, no certificates),
# puts only Go in it (this machine's GOROOT, nothing from its caches or
# GOPATH), clones the committed HEAD (or REV) into it and runs .ci/run
# there as CI does, with CI=true and empty Go caches. It prints how long the
# run took: the cold time recorded in docs/BENCHMARKS.md.
#
# The root shares the host's network (apt and the Go module proxy) but has
# its own mount and PID namespaces: whatever the tests leave running ends
# with the run, and nothing is mounted on the host afterwards.
#
# Run it before changing what scripts/test.sh installs, and before a
# release. It needs root (debootstrap, chroot, mounts) and takes about
# 20 minutes on 2 cores; the pristine root is cached in .cache/rootfs.
#
# Usage: scripts/test-fresh.sh [REV]    (default HEAD; uncommitted work is not tested)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" != 0 ]; then
	exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
fail() { echo "test-fresh: FAIL: $*" >&2; exit 1; }
rev=$(git rev-parse --verify "${1:-HEAD}^{commit}") || fail "no such revision: ${1:-HEAD}"
need_apt debootstrap

cache=.cache/rootfs/bookworm-amd64-minbase.tar
if [ ! -s "$cache" ]; then
	say "building the pristine amd64 root (once; cached in $cache)"
	mkdir -p "$(dirname "$cache")"
	tmproot=$(mktemp -d /tmp/palier-rootfs.XXXXXX)
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	debootstrap --arch=amd64 --variant=minbase bookworm "$tmproot" "${mirror:-http://deb.debian.org/debian}" >/tmp/palier-debootstrap-amd64.log 2>&1 ||
		fail "debootstrap failed: see /tmp/palier-debootstrap-amd64.log"
	tar -C "$tmproot" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
	rm -rf "$tmproot"
fi

work=$(mktemp -d /tmp/palier-fresh.XXXXXX)
root=$work/root
trap 'rm -rf "$work"' EXIT
mkdir -p "$root"
tar -C "$root" -xf "$cache"
chmod 755 "$root" # the tar's "." is mktemp's 0700: no one but root could walk /

# The same Debian sources as this machine (so "fresh" means the same
# archive, not a different one), its resolver, and Go: nothing else.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
	rm -f "$root/etc/apt/sources.list"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's trust (a workplace may reach the Go module proxy through
# its own certificate authority), picked up when scripts/test.sh installs
# ca-certificates: until then the root trusts nothing, as a fresh one.
mkdir -p "$root/usr/local/share/ca-certificates"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-trust.crt"
goroot=$(go env GOROOT)
mkdir -p "$root/usr/local"
cp -a "$goroot" "$root/usr/local/go"
say "fresh root: Debian $(cat "$root/etc/debian_version") minbase, $("$root/usr/local/go/bin/go" version | awk '{print $3}'), $(chroot "$root" dpkg-query -W | wc -l) packages"

# A clean clone of the revision, as CI makes it.
git clone -q --no-hardlinks . "$root/src/palier"
git -C "$root/src/palier" checkout -q --detach "$rev"
say "running .ci/run on $(git log -1 --format='%h %s' "$rev") (log: $work/ci.log, kept in .artifacts/test-fresh.log)"

mkdir -p .artifacts
start=$(date +%s)
set +e
unshare --mount --pid --fork --kill-child --propagation private -- bash -euc '
	root=$1
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
	exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 CI=true TERM=dumb \
		PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		bash -c "cd /src/palier && bash .ci/run" </dev/null
' _ "$root" 2>&1 | tee .artifacts/test-fresh.log
rc=${PIPESTATUS[0]}
set -e
took=$(($(date +%s) - start))
[ "$rc" -eq 0 ] || fail ".ci/run exited $rc after ${took} s in the fresh root (log: .artifacts/test-fresh.log)"
say "fresh root: .ci/run passed in $((took / 60)) min $((took % 60)) s (cold: apt installs and empty Go caches)"
