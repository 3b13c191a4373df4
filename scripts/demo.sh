#!/usr/bin/env bash
# Runs the whole Palier chain on this machine, on embedded defaults:
#   receiver  (embedded NATS with JetStream and MQTT on 127.0.0.1:1883,
#              SQLite, HTTP API and dashboard on 127.0.0.1:8080)
#   elevatorsim (a Modbus RTU controller on a pseudo-terminal, 19200 8E1,
#              playing a sped-up day of traffic)
#   agent     (reads the simulator over the pty, bbolt outbox, MQTT 3.1.1)
#   display   (the cabin screen, when a display server is present)
# and serves the notice preview (cmd/preview in WebAssembly) from the
# receiver, built into PALIER_DEMO_DIR/preview.
# Ctrl-C stops everything. State lives under PALIER_DEMO_DIR (default .demo/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

root=$PWD
dir=${PALIER_DEMO_DIR:-$root/.demo}
speed=${PALIER_DEMO_SPEED:-10}
mkdir -p "$dir/bin" "$dir/log"
dir=$(cd "$dir" && pwd)

need_apt "${BASE_DEPS[@]}" "${EBITEN_BUILD_DEPS[@]}"
say "building the binaries into $dir/bin"
go build -o "$dir/bin/" ./cmd/agent ./cmd/receiver ./cmd/elevatorsim ./cmd/display
say "building the notice preview (the screen's drawing in WebAssembly) into $dir/preview"
go run ./internal/previewbuild/build "$dir/preview"

pids=()
stop_all() {
	trap - INT TERM EXIT
	if [ ${#pids[@]} -gt 0 ]; then
		say "stopping"
		kill -TERM "${pids[@]}" 2>/dev/null || true
		for _ in $(seq 50); do
			alive=0
			for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
			[ $alive -eq 0 ] && break
			sleep 0.1
		done
		kill -KILL "${pids[@]}" 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	say "stopped; state and logs are in $dir"
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

# start NAME CMD...: runs a part in the background, logging to $dir/log/NAME.log
start() {
	local name=$1
	shift
	"$@" >"$dir/log/$name.log" 2>&1 &
	pids+=($!)
	say "started $name (pid $!, log $dir/log/$name.log)"
}

# wait_for WHAT TEST...: waits up to 30 s for TEST to succeed
wait_for() {
	local what=$1
	shift
	for _ in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null || { echo "a part stopped; see $dir/log/" >&2; tail -n 20 "$dir"/log/*.log >&2; exit 1; }
		done
		sleep 0.1
	done
	echo "timed out waiting for $what; see $dir/log/" >&2
	exit 1
}

cat >"$dir/receiver.yaml" <<YAML
state_dir: $dir/receiver
http:
  preview_dir: $dir/preview
sites:
  demo:
    screens:
      building: Résidence Les Pins
YAML
cat >"$dir/agent.yaml" <<YAML
site: demo
cabin: a
state_dir: $dir/agent
controller:
  profile: $root/sensors/profiles/palier-sim.yaml
  port: $dir/ttySIM
  baud: 19200
  parity: E
  poll_interval: 50ms
uplink:
  broker: tcp://127.0.0.1:1883
screen:
  socket: $dir/agent.sock
metrics:
  listen: 127.0.0.1:9464
events:
  # Simulated time runs faster than the clock: believe changes sooner.
  debounce: 50ms
  heartbeat_interval: 30s
YAML
cat >"$dir/display.yaml" <<YAML
building: Résidence Les Pins
YAML

start receiver "$dir/bin/receiver" --config "$dir/receiver.yaml"
wait_for "the receiver's API" curl -sf http://127.0.0.1:8080/healthz
# A notice for the screens, through the receiver's API: published whole and
# retained on the site's notices topic. POST creates it; on a second run it
# exists already, and PUT replaces it.
notice='{"id":"welcome","category":"cleaning","priority":"normal","valid_from":"2026-01-01T00:00:00Z",
 "title":{"fr":"Nettoyage des parties communes","en":"Cleaning of the common areas","it":"Pulizia delle parti comuni"},
 "body":{"fr":"Mercredi matin, le hall et l'"'"'ascenseur seront nettoyés. Merci de votre compréhension.",
         "en":"On Wednesday morning the hall and the lift will be cleaned. Thank you for your understanding.",
         "it":"Mercoledì mattina l'"'"'atrio e l'"'"'ascensore saranno puliti. Grazie per la comprensione."}}'
api=http://127.0.0.1:8080/api/v1/sites/demo/notices
curl -sf -o /dev/null -H 'Content-Type: application/json' -d "$notice" "$api" ||
	curl -sf -o /dev/null -H 'Content-Type: application/json' -X PUT -d "$notice" "$api/welcome" ||
	say "could not post the demo notice (see $dir/log/receiver.log)"
start elevatorsim "$dir/bin/elevatorsim" --pty --pty-link "$dir/ttySIM" --baud 19200 --parity E --speed "$speed" --seed "${PALIER_DEMO_SEED:-1}"
wait_for "the simulator's pty" test -e "$dir/ttySIM"
start agent "$dir/bin/agent" run --config "$dir/agent.yaml"
wait_for "the agent's screen socket" test -S "$dir/agent.sock"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
	start display "$dir/bin/display" --socket "$dir/agent.sock" --config "$dir/display.yaml" --media "$dir/agent/media" --cache "$dir/display"
	screen="the cabin screen is open in a window"
else
	screen="no display server: for a picture of the screen run
    xvfb-run -a $dir/bin/display --socket $dir/agent.sock --config $dir/display.yaml --screenshot screen.png
    (needs: apt-get install ${EBITEN_RUN_DEPS[*]})"
fi

cat <<MSG

Palier is running (simulated time x$speed). Look at:
  dashboard       http://127.0.0.1:8080/
  cabins (API)    curl -s http://127.0.0.1:8080/api/v1/cabins
  events          curl -s 'http://127.0.0.1:8080/api/v1/cabins/demo/a/events?limit=20'
  agent metrics   curl -s http://127.0.0.1:9464/metrics
  notices         curl -s http://127.0.0.1:8080/api/v1/sites/demo/notices   (docs/API.md to add one)
  MQTT topics     palier/v1/demo/a/{events,state,status,ack}, palier/v1/demo/notices
                  (NATS subjects palier.v1.demo.a.*, nats://127.0.0.1:4222)
  screen          $screen
  logs            $dir/log/
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
say "a part stopped unexpectedly; see $dir/log/"
exit 1
