#!/usr/bin/env bash
# Measures the cabin screen's CPU and memory under Xvfb while nothing
# changes: the simulator stands still, the agent serves its state, the
# display shows it. Usage: scripts/measure-display.sh [SECONDS] [WARMUP]
#
# PALIER_MEASURE_MOVING=1 keeps the car travelling instead (the arrow animates).
# PALIER_MEASURE_LAYOUT picks the layout (default: packaging/display.yaml's).
# The environment reaches the display, so Mesa settings can be compared:
#   LP_NUM_THREADS=0 scripts/measure-display.sh 30 10
# It prints the CPU, VmRSS / VmHWM, and the resident memory per mapping
# (from /proc/PID/smaps): the GL libraries, the Go heap arenas, and the
# anonymous memory (C malloc: Mesa's state and, with software GL, every
# texture and framebuffer).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_apt "${EBITEN_BUILD_DEPS[@]}" "${EBITEN_RUN_DEPS[@]}"
secs=${1:-30}
warm=${2:-10}
dir=$(mktemp -d /tmp/palier-measure.XXXXXX)
root=$PWD
cleanup() {
	pkill -P $$ 2>/dev/null || true
	[ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
	sleep 1
	rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/bin/" ./cmd/agent ./cmd/elevatorsim ./cmd/display
# PALIER_MEASURE_MOVING=1: the car travels the whole time (100 floors, one
# trip of 5 minutes), so the arrow animates: the CPU while moving.
if [ "${PALIER_MEASURE_MOVING:-0}" = 1 ]; then
	what="while the arrow animates"
	cat >"$dir/scene.yaml" <<YAML
name: moving
start_floor: 0
steps:
  - wait: 2s
  - call: 99
  - wait: 24h
YAML
else
	what="while nothing changes"
	cat >"$dir/scene.yaml" <<YAML
name: still
start_floor: 2
steps:
  - wait: 24h
YAML
fi
cat >"$dir/agent.yaml" <<YAML
site: measure
cabin: a
state_dir: $dir/agent
controller:
  profile: $root/sensors/profiles/palier-sim.yaml
  port: $dir/ttySIM
  poll_interval: 100ms
uplink:
  broker: tcp://127.0.0.1:9   # no broker: the screen does not need one
screen:
  socket: $dir/agent.sock
metrics:
  listen: ""
log_level: error
YAML
config=packaging/display.yaml
if [ -n "${PALIER_MEASURE_LAYOUT:-}" ]; then
	config=$dir/display.yaml
	sed "s/^layout: .*/layout: $PALIER_MEASURE_LAYOUT/" packaging/display.yaml >"$config"
fi
"$dir/bin/elevatorsim" --pty --pty-link "$dir/ttySIM" --floors 100 --scenario "$dir/scene.yaml" >"$dir/sim.log" 2>&1 &
for _ in $(seq 100); do [ -e "$dir/ttySIM" ] && break; sleep 0.1; done
"$dir/bin/agent" run --config "$dir/agent.yaml" >"$dir/agent.log" 2>&1 &
for _ in $(seq 100); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done
# A free display number, chosen by Xvfb itself: other people's Xvfb may
# run on this machine.
Xvfb -displayfd 3 -screen 0 1920x1080x24 -nolisten tcp 3>"$dir/xvfb.display" >"$dir/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 100); do [ -s "$dir/xvfb.display" ] && break; sleep 0.1; done
DISPLAY=:$(cat "$dir/xvfb.display") "$dir/bin/display" --socket "$dir/agent.sock" --config "$config" --windowed >"$dir/display.log" 2>&1 &
pid=$!
sleep "$warm"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$secs"
read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
awk -v t=$((u2 + s2 - u1 - s1)) -v hz="$hz" -v s="$secs" -v what="$what" 'BEGIN { printf "display CPU %s: %.2f%% of one core over %d s\n", what, 100 * t / hz / s, s }'
grep -E 'VmRSS|VmHWM|RssAnon|RssFile' "/proc/$pid/status" | sed 's/^/display /'
# Resident memory per mapping. Go (1.26 and later) places its heap arenas
# at a random address below the top of the address space, where the C
# library maps nothing: anonymous mappings not at 0x7f... are counted as
# the Go heap, an approximation. The other anonymous mappings and [heap]
# are C malloc (Mesa, LLVM's JIT, and with software GL every texture and
# framebuffer) and the Go runtime's own metadata.
awk '
	/^[0-9a-f]+-[0-9a-f]+ / {
		split($1, a, "-")
		if (NF >= 6) { n = split($6, p, "/"); key = p[n] }
		else if (substr(a[1], 1, 2) != "7f") key = "(anonymous: Go heap arenas)"
		else key = "(anonymous: malloc, GL textures, Go runtime)"
		next
	}
	/^Rss:/ { rss[key] += $2 }
	/^Pss:/ { pss += $2 }
	END {
		for (k in rss) if (rss[k] >= 512) printf "display rss %8.1f MiB  %s\n", rss[k] / 1024, k
		printf "display pss %8.1f MiB  (shared pages divided among the processes mapping them)\n", pss / 1024
	}' "/proc/$pid/smaps" | sort -k3 -rn
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
