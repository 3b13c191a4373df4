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
# With --updates, then the agent updates through the signed apt repository
# (docs/PACKAGING.md, "Agent updates"), served on loopback from the host:
#
#   6. three agent versions built (PALIER_PACKAGES=agent scripts/package.sh):
#      N and N+1, and a broken N+2 whose controller profile reads the wrong
#      Modbus slave (the link never comes up); N promoted to stable, the
#      others in canary;
#   7. the cabin's apt source enabled; rollout waves through the
#      receiver's API to N, to N+1 (applied), then to N+2: the agent
#      writes its request, the update helper (run as root, as its unit
#      would) installs exactly that version, the new agent checks its
#      health, and N+2's unhealthy verdict makes the helper roll back to
#      N+1; the receiver shows update_applied, update_rolled_back, the
#      stopped wave and the version the cabin runs.
#
# systemd does not run in the chroot, so what the package's postinst
# restart would do is done here: the agent is restarted whenever dpkg
# finished installing another version.
#
# Usage: scripts/test-install.sh [--updates] [DEB]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" != 0 ]; then
	exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
updates=
if [ "${1:-}" = --updates ]; then
	updates=1
	shift
fi
need_apt debootstrap qemu-user-static binfmt-support jq curl
[ -z "$updates" ] || need_apt python3 aptly gnupg gpgv

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
[ -n "$updates" ] || exit 0

# --- agent updates ----------------------------------------------------------
rapi=http://127.0.0.1:28080/api/v1/rollout/waves
state=$root/var/lib/palier
N=v9.0.0 N1=v9.0.1 N2=v9.0.2
debver() { local v=${1#v}; echo "${v/-/\~}"; }

say "6. three agent versions and the signed repository"
export PALIER_APT_REPO=$work/repo
mkdir -p "$work/profiles-broken"
cp -r sensors/profiles/. "$work/profiles-broken/"
sed -i 's/^slave: 1$/slave: 7/' "$work/profiles-broken/palier-sim.yaml"
grep -q '^slave: 7$' "$work/profiles-broken/palier-sim.yaml" || fail "could not break the N+2 profile"
for spec in "$N:" "$N1:" "$N2:$work/profiles-broken"; do
	v=${spec%%:*} prof=${spec#*:}
	DIST=$work/dist-$v VERSION=$v PALIER_PACKAGES=agent AGENT_PROFILES=${prof:-sensors/profiles} \
		scripts/package.sh >"$work/package-$v.log" 2>&1 || fail "package.sh $v: $(tail -5 "$work/package-$v.log")"
done
scripts/apt-repo.sh promote "$N" >/dev/null 2>&1 || fail "promote $N to stable"
scripts/apt-repo.sh list | sed 's/^/   /'
gpgv --keyring "$PALIER_APT_REPO/palier-archive-keyring.gpg" "$PALIER_APT_REPO/public/dists/canary/InRelease" 2>/dev/null ||
	fail "the canary suite's InRelease does not verify with the repository's keyring"
(cd "$PALIER_APT_REPO/public" && exec python3 -m http.server --bind 127.0.0.1 28081) >"$work/http.log" 2>&1 &
for _ in $(seq 50); do curl -sf http://127.0.0.1:28081/dists/stable/InRelease >/dev/null && break; sleep 0.2; done

say "7. rollout waves to $N, $N1 and the broken $N2"
sed -i -e 's|^URIs:.*|URIs: http://127.0.0.1:28081|' -e 's|^Enabled:.*|Enabled: yes|' "$root/etc/apt/sources.list.d/palier.sources"
# The package under test shipped the same (test) keyring the repository signs with.
cmp -s "$root/usr/share/keyrings/palier-archive-keyring.gpg" "$PALIER_APT_REPO/palier-archive-keyring.gpg" ||
	fail "the installed keyring is not the repository's (build dist/ and the versions with the same key)"

start_agent() {
	# shellcheck disable=SC2086
	(exec chroot "$root" setpriv --reuid=palier --regid=palier --init-groups $run >>"$work/agent.log" 2>&1) &
	agent=$!
}
stop_agent() {
	kill -TERM "$agent" 2>/dev/null || true
	wait "$agent" 2>/dev/null || true
}
installed() { in_root dpkg-query -W -f='${Version} ${Status}' palier-agent 2>/dev/null || true; }
cabin_version() { curl -sf http://127.0.0.1:28080/api/v1/cabins/test-install/a1 | jq -r .agent_version; }

# wave VERSION CHANNEL: makes a wave of the one cabin, prints its id.
wave() {
	curl -sf -X POST "$rapi" -H 'Content-Type: application/json' \
		-d "{\"version\":\"$1\",\"channel\":\"$2\",\"cabins\":[\"test-install/a1\"],\"max_failures\":0,\"by\":\"test-install\"}" | jq -r .id
}
wave_state() { curl -sf "$rapi/$1" | jq -r '.state + " " + .cabins[0].status'; }

# update WAVE-VERSION CHANNEL WANT-STATE WANT-INSTALLED: a wave, the agent's
# request, the helper run as root as its unit would, the agent restarted
# as postinst would each time dpkg installed another version.
update() {
	local v=$1 channel=$2 want_state=$3 want_installed=$4 id t0 cur now rc
	t0=$(date +%s)
	id=$(wave "$v" "$channel")
	[ -n "$id" ] && [ "$id" != null ] || fail "the receiver refused the wave to $v"
	for _ in $(seq 60); do [ -f "$state/update-request" ] && break; sleep 1; done
	[ -f "$state/update-request" ] || fail "the agent wrote no update request for $v: $(tail -5 "$work/agent.log")"
	say "   wave $id: the agent asks for $(grep '^version=' "$state/update-request")"
	(exec chroot "$root" env PALIER_UPDATE_TIMEOUT=240 /usr/lib/palier/palier-agent-update) >"$work/helper-$v.log" 2>&1 &
	local helper=$!
	cur=$(installed)
	follow() { # restart the agent if dpkg has installed another version
		now=$(installed)
		if [ "$now" != "$cur" ] && [[ $now == *" install ok installed" ]]; then
			say "   dpkg: ${now%% *} installed; restarting the agent"
			stop_agent
			start_agent
			cur=$now
		fi
	}
	while kill -0 "$helper" 2>/dev/null; do
		follow
		sleep 1
	done
	follow # the last install may have ended with the helper
	rc=0
	wait "$helper" || rc=$?
	sed 's/^/   helper: /' "$work/helper-$v.log" | grep -v '^   helper: \(Get\|Hit\|Reading\|Selecting\|Preparing\|Unpacking\|Setting\|Fetched\|Building\|Need\|The following\|  \|[0-9]\+ upgraded\)' | head -8
	[ "$(installed)" = "$(debver "$want_installed") install ok installed" ] ||
		fail "after the wave to $v dpkg has $(installed), want $(debver "$want_installed")"
	for _ in $(seq 90); do
		[ "$(wave_state "$id")" = "$want_state" ] && [ "$(cabin_version)" = "$want_installed" ] && break
		sleep 1
	done
	[ "$(wave_state "$id")" = "$want_state" ] || fail "wave $id is '$(wave_state "$id")', want '$want_state': $(curl -s "$rapi/$id")"
	[ "$(cabin_version)" = "$want_installed" ] || fail "the receiver says the cabin runs $(cabin_version), want $want_installed"
	say "   wave $id: $(wave_state "$id"); the cabin runs $(cabin_version) (helper exit $rc, $(($(date +%s) - t0)) s)"
}

start_agent
update "$N" stable "done applied" "$N"
update "$N1" canary "done applied" "$N1"
update "$N2" canary "stopped rolled_back" "$N1"
ev=$(curl -sf "$api/events?type=update_rolled_back" | jq -c '.events[-1].data')
say "   update_rolled_back: $ev"
jq -e --arg to "$N2" --arg from "$N1" '.to == $to and .from == $from and (.reason | test("unhealthy"))' <<<"$ev" >/dev/null ||
	fail "update_rolled_back says $ev"
[ "$(curl -sf "$api/events?type=update_applied" | jq '.events | length')" = 2 ] || fail "want two update_applied events"
grep -q "unhealthy" "$work/helper-$N2.log" || fail "the helper did not roll back on the agent's verdict: $(cat "$work/helper-$N2.log")"
stop_agent
say "updated $N -> $N1 through the signed repository; the broken $N2 rolled back to $N1"
