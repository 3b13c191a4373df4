#!/usr/bin/env bash
# Measures the agent's resident memory and CPU while it polls the simulator
# at 10 Hz over a pty at 19200 baud and publishes to the receiver's embedded
# NATS: builds the binaries, runs the three parts for WARMUP+SECONDS, reads
# /proc, stops everything. Usage: scripts/measure-agent.sh [SECONDS] [WARMUP]
# SPEED sets the simulated-time factor (default 10: an event every few
# seconds; 1: few events). AGENT_ENV adds environment to the agent only
# (e.g. AGENT_ENV='GODEBUG=gctrace=1'); AGENT_LOG=FILE keeps its log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
secs=${1:-60}
warm=${2:-20}
speed=${SPEED:-10}
dir=$(mktemp -d /tmp/palier-measure.XXXXXX)
root=$PWD
trap 'pkill -P $$ 2>/dev/null || true; sleep 1; rm -rf "$dir"' EXIT
# The agent is built as scripts/package.sh ships it (static, CGO_ENABLED=0):
# a cgo build maps libc and ld.so, about 1.4 MiB more resident.
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/bin/" ./cmd/agent
go build -trimpath -ldflags "-s -w" -o "$dir/bin/" ./cmd/receiver ./cmd/elevatorsim
cat >"$dir/receiver.yaml" <<YAML
state_dir: $dir/receiver
nats:
  embedded: {port: 14222, mqtt_port: 11883}
http:
  listen: 127.0.0.1:18080
YAML
cat >"$dir/agent.yaml" <<YAML
site: measure
cabin: a
state_dir: $dir/agent
controller:
  profile: $root/sensors/profiles/palier-sim.yaml
  port: $dir/ttySIM
  baud: 19200
  parity: E
  poll_interval: 100ms
uplink:
  broker: tcp://127.0.0.1:11883
screen:
  socket: $dir/agent.sock
metrics:
  listen: ""
log_level: warn
YAML
"$dir/bin/receiver" --config "$dir/receiver.yaml" >"$dir/receiver.log" 2>&1 &
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
"$dir/bin/elevatorsim" --pty --pty-link "$dir/ttySIM" --baud 19200 --parity E --speed "$speed" >"$dir/sim.log" 2>&1 &
for _ in $(seq 100); do [ -e "$dir/ttySIM" ] && break; sleep 0.1; done
# shellcheck disable=SC2086 # AGENT_ENV is a list of NAME=VALUE words
env ${AGENT_ENV:-} "$dir/bin/agent" run --config "$dir/agent.yaml" >"$dir/agent.log" 2>&1 &
pid=$!
sleep "$warm"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$secs"
read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
awk -v t=$((u2 + s2 - u1 - s1)) -v hz="$hz" -v s="$secs" -v sp="$speed" 'BEGIN { printf "agent CPU: %.2f%% of one core over %d s (simulator speed %s)\n", 100 * t / hz / s, s, sp }'
grep -E 'VmRSS|VmHWM|RssAnon|RssFile|Threads' "/proc/$pid/status" | sed 's/^/agent /'
echo "events stored: $(curl -s http://127.0.0.1:18080/api/v1/cabins | grep -o '"events":[0-9]*')"
[ -z "${AGENT_LOG:-}" ] || cp "$dir/agent.log" "$AGENT_LOG"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
