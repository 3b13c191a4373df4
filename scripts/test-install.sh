#!/usr/bin/env bash
# Installs palier-agent on a fresh Debian 12 arm64 system and follows the
# installer's path to a cabin that reports to the cloud:
#
#   1. dpkg -i the arm64 package from dist/ (scripts/package.sh builds it);
#   2. drop palier.yaml on the boot partition and run the unit's
#      ExecStartPre (provisioning) as systemd would, as root;
#   3. agent doctor, then agent commission while the lift runs, as the
#      palier user with the groups the unit gives it;
#   4. the unit's ExecStart, until the receiver stores the cabin's events
#      and the commissioning report.
#
# The arm64 system is a debootstrap'd Debian 12 root (minbase, with adduser,
# systemd and udev) entered with chroot; its binaries run under
# qemu-user-static through binfmt_misc. It shares the host's network, so the
# "cloud" is the host's receiver (embedded NATS with MQTT) and the
# controller is the host's simulator on a pty, linked where udev would put
# the RS-485 adapter (/dev/ttyPALIER0). systemd itself does not run in the
# chroot: the unit's commands are run by hand with its User, groups and
# directories (scripts/test-packaging.sh checks the unit with systemd-analyze).
#
# The pristine root is cached in .cache/rootfs (about 4 minutes to build
# the first time); every run starts from a fresh copy of it. Needs root
# (chroot, mounts).
#
# Usage: scripts/test-install.sh [DEB]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" != 0 ]; then
	exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
need_apt debootstrap qemu-user-static binfmt-support jq curl

deb=${1:-$(ls -t dist/palier-agent_*_arm64.deb 2>/dev/null | head -1 || true)}
if [ -z "$deb" ]; then
	say "no arm64 agent package in dist/: building it"
	scripts/package.sh
	deb=$(ls -t dist/palier-agent_*_arm64.deb | head -1)
fi
say "installing $deb"

# binfmt_misc runs the arm64 binaries of the chroot under qemu.
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64

include=adduser,systemd,udev
cache=.cache/rootfs/bookworm-arm64-minbase-${include//,/-}.tar
if [ ! -s "$cache" ]; then
	say "building the pristine arm64 root (once; cached in $cache)"
	mkdir -p "$(dirname "$cache")"
	tmproot=$(mktemp -d /tmp/palier-rootfs.XXXXXX)
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	debootstrap --arch=arm64 --variant=minbase --include="$include" bookworm "$tmproot" "${mirror:-http://deb.debian.org/debian}" >/tmp/palier-debootstrap.log 2>&1 ||
		fail "debootstrap failed: see /tmp/palier-debootstrap.log"
	tar -C "$tmproot" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
	rm -rf "$tmproot"
fi

work=$(mktemp -d /tmp/palier-install.XXXXXX)
root=$work/root
cleanup() {
	pkill -P $$ 2>/dev/null || true
	sleep 1
	for m in "$root/dev/pts" "$root/proc"; do
		mountpoint -q "$m" && umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$root"
tar -C "$root" -xf "$cache"
chmod 755 "$root" # the tar's "." is mktemp's 0700: only root could walk /
mount -t proc proc "$root/proc"
mount --bind /dev/pts "$root/dev/pts"
in_root() { chroot "$root" "$@"; }
# The unit runs the agent as palier with its groups; setpriv does the same.
as_palier() { chroot "$root" setpriv --reuid=palier --regid=palier --init-groups "$@"; }

# The cloud and the lift, on the host.
go build -trimpath -o "$work/bin/" ./cmd/receiver ./cmd/elevatorsim
cat >"$work/receiver.yaml" <<YAML
state_dir: $work/receiver
nats:
  embedded: {port: 24222, mqtt_port: 21883}
http:
  listen: 127.0.0.1:28080
YAML
"$work/bin/receiver" --config "$work/receiver.yaml" >"$work/receiver.log" 2>&1 &
for _ in $(seq 100); do curl -sf http://127.0.0.1:28080/healthz >/dev/null && break; sleep 0.2; done
curl -sf http://127.0.0.1:28080/healthz >/dev/null || fail "the receiver did not start: $(tail -5 "$work/receiver.log")"
"$work/bin/elevatorsim" --pty --pty-link "$work/ttySIM" --baud 19200 --parity E --speed 10 >"$work/sim.log" 2>&1 &
for _ in $(seq 100); do [ -e "$work/ttySIM" ] && break; sleep 0.1; done
pts=$(readlink "$work/ttySIM")

say "1. dpkg -i"
cp "$deb" "$root/tmp/palier-agent.deb"
in_root dpkg -i /tmp/palier-agent.deb >"$work/dpkg.log" 2>&1 || fail "dpkg -i failed: $(cat "$work/dpkg.log")"
version=$(in_root palier-agent --version)
say "   installed: $version"
in_root id -nG palier | tr ' ' '\n' | grep -qx dialout || fail "palier is not in the dialout group"
in_root id -nG palier | tr ' ' '\n' | grep -qx gpio || fail "palier is not in the gpio group"
[ "$(in_root stat -c '%a %U %G' /etc/palier/agent.yaml)" = "640 root palier" ] || fail "agent.yaml: $(in_root stat -c '%a %U %G' /etc/palier/agent.yaml)"
in_root systemctl is-enabled palier-agent.service >/dev/null || fail "palier-agent.service is not enabled"
for f in /usr/share/palier/profiles/palier-sim.yaml /usr/lib/udev/rules.d/60-palier.rules; do
	[ -s "$root$f" ] || fail "$f missing"
done

# What udev does when the adapter is plugged in: the stable name, and the
# device node in the dialout group (a pty is root:tty 0620).
ln -s "$pts" "$root/dev/ttyPALIER0"
chgrp dialout "$pts" && chmod 0660 "$pts"
# What systemd does for StateDirectory= and RuntimeDirectory=.
install -d -m 0750 -o "$(in_root id -u palier)" -g "$(in_root id -g palier)" "$root/var/lib/palier"
install -d -m 0755 -o "$(in_root id -u palier)" -g "$(in_root id -g palier)" "$root/run/palier"

unit=$root/usr/lib/systemd/system/palier-agent.service
exec_line() { sed -n "s/^$1=//p" "$unit" | head -1; }

say "2. provisioning from the boot partition"
mkdir -p "$root/boot/firmware"
cat >"$root/boot/firmware/palier.yaml" <<'YAML'
site: test-install
cabin: a1
broker: tcp://127.0.0.1:21883
username: cabin-a1
password: correct-horse-battery
YAML
pre=$(exec_line ExecStartPre)
case $pre in -+*) pre=${pre#-+} ;; *) fail "ExecStartPre is not the root provisioning step: $pre" ;; esac
# shellcheck disable=SC2086 # the unit's command line, split as systemd does
in_root $pre >"$work/provision.log" 2>&1 || fail "provisioning failed: $(cat "$work/provision.log")"
grep -q correct-horse-battery "$root/boot/firmware/palier.yaml" && fail "the password is still on the boot partition"
grep -q '^provisioned:' "$root/boot/firmware/palier.yaml" || fail "the boot file is not marked provisioned"
grep -q '^site: test-install' "$root/etc/palier/agent.yaml" || fail "agent.yaml did not take the site: $(cat "$root/etc/palier/agent.yaml")"
secret=$(grep -l correct-horse-battery "$root"/etc/palier/* || true)
[ -n "$secret" ] || fail "the password is nowhere under /etc/palier"
[ "$(stat -c %a "$secret")" = 600 ] || fail "$secret has mode $(stat -c %a "$secret"), want 600"
say "   secrets in ${secret#"$root"} (0600), boot file scrubbed"

say "3. agent doctor"
as_palier palier-agent doctor --config /etc/palier/agent.yaml --json --timeout 60s >"$work/doctor.json" 2>"$work/doctor.err" || true
jq -r '.[] | "   [\(if .ok then "ok  " else "FAIL" end)] \(.check): \(.detail)"' "$work/doctor.json" | cut -c1-160
# The clock cannot be synchronised in this builder; every other check must pass.
bad=$(jq -r '[.[] | select(.ok | not) | select(.check != "clock") | .check] | join(", ")' "$work/doctor.json")
[ -z "$bad" ] || fail "doctor failed: $bad ($(cat "$work/doctor.err"))"
for want in config disk "serial port" controller "broker TCP" "broker MQTT" receiver; do
	jq -e --arg w "$want" 'any(.[]; .check == $w and .ok)' "$work/doctor.json" >/dev/null || fail "doctor did not pass a '$want' check"
done

say "4. agent commission (40 s while the simulated lift runs)"
as_palier palier-agent commission --config /etc/palier/agent.yaml --duration 40s >"$work/commission.log" 2>&1 ||
	fail "commission failed: $(tail -20 "$work/commission.log")"
sed -n '/^Commissioning report/,$p' "$work/commission.log" | sed 's/^/   /'
report=$(ls "$root"/var/lib/palier/commission-*.json)
trips=$(jq .report.trips "$report")
[ "$trips" -ge 1 ] || fail "the commissioning saw no trip"

say "5. the agent runs (the unit's ExecStart) until the cloud has the cabin"
run=$(exec_line ExecStart)
# exec: $! is then the agent itself (chroot and setpriv exec too).
# shellcheck disable=SC2086
(exec chroot "$root" setpriv --reuid=palier --regid=palier --init-groups $run >"$work/agent.log" 2>&1) &
agent=$!
api=http://127.0.0.1:28080/api/v1/cabins/test-install/a1
ok=
for _ in $(seq 120); do
	if curl -sf "$api/events?type=commission_report" | jq -e '.events | length >= 1' >/dev/null 2>&1 &&
		curl -sf "$api/events?type=trip" | jq -e '.events | length >= 1' >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 1
done
[ -n "$ok" ] || fail "the receiver has no trip or commissioning report from the cabin: $(curl -s "$api"; tail -5 "$work/agent.log")"
curl -sf "$api" | jq -c '{site, cabin, online, floor, events}' | sed 's/^/   /'
kill -TERM "$agent"
for _ in $(seq 100); do kill -0 "$agent" 2>/dev/null || break; sleep 0.2; done
kill -0 "$agent" 2>/dev/null && fail "the agent did not stop on SIGTERM within 20 s"
wait "$agent" || fail "the agent exited with $? on SIGTERM: $(tail -5 "$work/agent.log")"
say "installed, provisioned, diagnosed, commissioned and reporting: $version on Debian 12 arm64"
