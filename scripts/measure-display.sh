#!/usr/bin/env bash
# Measures the cabin screen's CPU and memory under Xvfb while nothing
# changes: the simulator stands still, the agent serves its state, the
# display shows it. Usage: scripts/measure-display.sh [SECONDS] [WARMUP]
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
cat >"$dir/still.yaml" <<YAML
name: still
start_floor: 2
steps:
  - wait: 24h
YAML
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
"$dir/bin/elevatorsim" --pty --pty-link "$dir/ttySIM" --scenario "$dir/still.yaml" >"$dir/sim.log" 2>&1 &
for _ in $(seq 100); do [ -e "$dir/ttySIM" ] && break; sleep 0.1; done
"$dir/bin/agent" run --config "$dir/agent.yaml" >"$dir/agent.log" 2>&1 &
for _ in $(seq 100); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done
Xvfb :97 -screen 0 1280x800x24 -nolisten tcp >"$dir/xvfb.log" 2>&1 &
xvfb=$!
sleep 1
DISPLAY=:97 "$dir/bin/display" --socket "$dir/agent.sock" --config packaging/display.yaml --windowed >"$dir/display.log" 2>&1 &
pid=$!
sleep "$warm"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$secs"
read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
awk -v t=$((u2 + s2 - u1 - s1)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "display CPU while nothing changes: %.2f%% of one core over %d s\n", 100 * t / hz / s, s }'
grep -E 'VmRSS|VmHWM' "/proc/$pid/status" | sed 's/^/display /'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
