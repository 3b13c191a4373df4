#!/usr/bin/env bash
# fleet.sh: the cloud side as a fleet runs it, as separate processes on
# loopback, under thousands of simulated cabins, and what it measured.
#
#   a 3-node nats-server hub cluster   packaging/nats/hub.conf (JetStream, TLS, the
#                                      events stream replicated on all three)
#   a leaf node, the cabins' broker    packaging/nats/leaf.conf (MQTT over TLS), its
#                                      per-device users rendered by `receiver users`
#   2 receivers                        sharing the durable consumer, on one PostgreSQL
#   PostgreSQL                         a throwaway cluster
#   the fleet generator                `elevatorsim fleet`: each cabin the agent's own
#                                      outbox (bbolt) and uplink (MQTT 3.1.1, TLS)
#
# The shipped configs are used as they are but for their addresses, moved
# to loopback ports. The day runs PALIER_FLEET_DURATION; once every cabin is
# connected and the fleet has run PALIER_FLEET_STEADY, the leaf node is
# restarted under it (SIGTERM, as a rollout does; PALIER_FLEET_LEAF_RESTART=0
# to leave it). The generator then waits until every outbox is empty, and
# the script checks that PostgreSQL holds exactly the events appended,
# prints the figures (the generator's report, CPU and peak memory of every
# process, per 1,000 cabins) and stops everything it started.
#
#   scripts/fleet.sh                          # 2,000 cabins, 4 minutes
#   PALIER_FLEET_CABINS=500 PALIER_FLEET_DURATION=90s scripts/fleet.sh
#
# Other settings: PALIER_FLEET_TIME_FACTOR (simulated time's speed, 1),
# PALIER_FLEET_PORT_BASE (24000: the ports from there to +70),
# PALIER_FLEET_DIR (default a temporary folder, removed unless
# PALIER_FLEET_KEEP=1; the logs and report.json are in it).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CABINS=${PALIER_FLEET_CABINS:-2000}
DURATION=${PALIER_FLEET_DURATION:-4m}
STEADY=${PALIER_FLEET_STEADY:-30}
FACTOR=${PALIER_FLEET_TIME_FACTOR:-1}
LEAF_RESTART=${PALIER_FLEET_LEAF_RESTART:-1}
BASE=${PALIER_FLEET_PORT_BASE:-24000}
PER_SITE=4

need_apt "${BASE_DEPS[@]}" openssl jq postgresql
need_nats_server
NATS_SERVER="$(go env GOPATH)/bin/nats-server"

DIR=${PALIER_FLEET_DIR:-$(mktemp -d /tmp/palier-fleet.XXXXXX)}
mkdir -p "$DIR"/{bin,pki,secrets,leaf,logs}
PIDS=()
cleanup() {
	local status=$?
	say "stopping every process this script started"
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	done
	stop_test_postgres
	if [ "${PALIER_FLEET_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
		say "logs and state kept in $DIR"
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building the receiver and the fleet generator"
CGO_ENABLED=0 go build -trimpath -o "$DIR/bin/" ./cmd/receiver ./cmd/elevatorsim
RECEIVER="$DIR/bin/receiver"

# Ports: hub node i: client BASE+i, monitoring BASE+10+i, routes BASE+20+i,
# leaf nodes BASE+30+i; the leaf: client BASE+40, monitoring BASE+41, MQTT
# BASE+42; receivers' HTTP BASE+50, BASE+51; PostgreSQL BASE+60.
hub_port() { echo $((BASE + $2 + $1)); }
LEAF_CLIENT=$((BASE + 40)) LEAF_HTTP=$((BASE + 41)) LEAF_MQTT=$((BASE + 42))

say "making a CA and a certificate for 127.0.0.1"
pki=$DIR/pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=palier fleet test CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=127.0.0.1" -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
# Both usages: the hub's routes verify each other's certificate (mutual TLS).
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
	-days 2 -extfile "$pki/ext" -out "$pki/server.pem" 2>/dev/null

say "making the service users' passwords and the fleet's $CABINS device users"
sec=$DIR/secrets
for who in receiver leaf sys; do
	(umask 077 && openssl rand -hex 24 >"$sec/$who.password")
	"$RECEIVER" users hash --service <"$sec/$who.password" >"$sec/$who.hash"
done
# Each device's password is a per-run secret and its names, so that the
# generator can give each cabin its own (--password-pattern).
DEVICE_SECRET=$(openssl rand -hex 16)
SITE_PATTERN='fleet-{site}' CABIN_PATTERN='c{cabin}'
names=$DIR/devices.tsv
: >"$names"
for ((n = 0; n < CABINS; n++)); do
	printf 'fleet-%d\tc%d\n' $((n / PER_SITE)) $((n % PER_SITE)) >>"$names"
done
cut -f1,2 --output-delimiter=- "$names" | sed "s/^/$DEVICE_SECRET-/" |
	"$RECEIVER" users hash --each-line >"$DIR/devices.hash"
{
	echo "account: PALIER"
	echo "services:"
	echo "  - user: palier-receiver"
	echo "    password_hash: \"$(cat "$sec/receiver.hash")\""
	echo "    clients: [MQTT]"
	echo "devices:"
	paste "$names" "$DIR/devices.hash" | while IFS=$'\t' read -r site cabin hash; do
		printf '  - {site: %s, cabin: %s, password_hash: "%s"}\n' "$site" "$cabin" "$hash"
	done
} >"$DIR/leaf/fleet.yaml"
"$RECEIVER" users render --fleet "$DIR/leaf/fleet.yaml" --out "$DIR/leaf/accounts.conf"

# localize CONFIG OUT SED-SCRIPT: the shipped config with its addresses
# moved to loopback; every other line as shipped. It fails if a
# substitution found nothing, so that a config that changed its addresses
# is noticed here rather than run half-moved.
localize() {
	local in=$1 out=$2 script=$3
	sed -e "$script" "$in" >"$out"
	if grep -nE '0\.0\.0\.0|nats-hub:' "$out" >&2; then
		echo "fleet.sh: $in: the lines above were not moved to loopback" >&2
		exit 1
	fi
}

say "starting the hub: three nats-servers clustered (packaging/nats/hub.conf)"
routes=""
for i in 0 1 2; do routes+="${routes:+\\n    }nats-route://127.0.0.1:$(hub_port $i 20)"; done
for i in 0 1 2; do
	mkdir -p "$DIR/hub-$i"
	localize packaging/nats/hub.conf "$DIR/hub-$i/hub.conf" "
		s#^listen: 0.0.0.0:4222#listen: 127.0.0.1:$(hub_port $i 0)#
		s#^http: 0.0.0.0:8222#http: 127.0.0.1:$(hub_port $i 10)#
		s#^  listen: 0.0.0.0:6222#  listen: 127.0.0.1:$(hub_port $i 20)#
		s#^  listen: 0.0.0.0:7422#  listen: 127.0.0.1:$(hub_port $i 30)#
		/nats-route:\/\/hub-1/d
		/nats-route:\/\/hub-2/d
		s#^    nats-route://hub-0.nats-hub:6222#    $routes#"
	PALIER_HUB_NAME=hub-$i PALIER_STORE_DIR=$DIR/hub-$i/js \
		PALIER_TLS_CERT=$pki/server.pem PALIER_TLS_KEY=$pki/server.key PALIER_TLS_CA=$pki/ca.pem \
		PALIER_RECEIVER_HASH=$(cat "$sec/receiver.hash") PALIER_LEAF_HASH=$(cat "$sec/leaf.hash") \
		PALIER_SYS_HASH=$(cat "$sec/sys.hash") \
		"$NATS_SERVER" -c "$DIR/hub-$i/hub.conf" -l "$DIR/logs/hub-$i.log" &
	PIDS+=($!)
	eval "HUB_PID_$i=$!"
done

# wait_http URL WHAT: until URL answers 200, for at most a minute.
wait_http() {
	for _ in $(seq 600); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "fleet.sh: $2 not ready after a minute ($1); logs in $DIR/logs" >&2
	exit 1
}
for i in 0 1 2; do wait_http "http://127.0.0.1:$(hub_port $i 10)/healthz?js-enabled-only=true" "hub-$i"; done

start_leaf() {
	PALIER_LEAF_NAME=leaf-0 PALIER_STORE_DIR=$DIR/leaf/js \
		PALIER_MQTT_CERT=$pki/server.pem PALIER_MQTT_KEY=$pki/server.key \
		PALIER_HUB_URL="tls://palier-leaf:$(cat "$sec/leaf.password")@127.0.0.1:$(hub_port 0 30)" \
		PALIER_HUB_CA=$pki/ca.pem \
		"$NATS_SERVER" -c "$DIR/leaf/leaf.conf" -l "$DIR/logs/leaf.log" &
	LEAF_PID=$!
	PIDS+=("$LEAF_PID")
	wait_http "http://127.0.0.1:$LEAF_HTTP/healthz" "the leaf node"
}
say "starting the leaf node (packaging/nats/leaf.conf, $CABINS device users)"
localize packaging/nats/leaf.conf "$DIR/leaf/leaf.conf" "
	s#^listen: 127.0.0.1:4222#listen: 127.0.0.1:$LEAF_CLIENT#
	s#^http: 127.0.0.1:8222#http: 127.0.0.1:$LEAF_HTTP#
	s#^  listen: 0.0.0.0:8883#  listen: 127.0.0.1:$LEAF_MQTT#"
start_leaf

PALIER_TEST_POSTGRES_PORT=$((BASE + 60)) start_test_postgres

say "starting two receivers on the hub and PostgreSQL"
hub_urls=""
for i in 0 1 2; do hub_urls+="${hub_urls:+,}tls://127.0.0.1:$(hub_port $i 0)"; done
for r in a b; do
	port=$((BASE + 50)) && [ "$r" = b ] && port=$((BASE + 51))
	cat >"$DIR/receiver-$r.yaml" <<EOF
state_dir: $DIR/receiver-$r
nats:
  url: $hub_urls
  username: palier-receiver
  password_file: $sec/receiver.password
  tls: {ca_file: $pki/ca.pem}
  mqtt_url: ssl://127.0.0.1:$LEAF_MQTT
  mqtt_username: palier-receiver
  mqtt_password_file: $sec/receiver.password
  leaf_monitor:
    urls: [http://127.0.0.1:$LEAF_HTTP]
    fleet: $DIR/leaf/fleet.yaml
stream: {replicas: 3}
store: {driver: postgres, url: "$PALIER_TEST_POSTGRES_URL"}
http: {listen: "127.0.0.1:$port"}
EOF
	"$RECEIVER" --config "$DIR/receiver-$r.yaml" >"$DIR/logs/receiver-$r.log" 2>&1 &
	PIDS+=($!)
	eval "RECEIVER_PID_$r=$!"
	wait_http "http://127.0.0.1:$port/healthz" "receiver $r"
done

# cpu_s PID: CPU seconds (user + system) the process has used.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# peak_mib PID: its peak resident memory.
peak_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
# pg_pids: the PostgreSQL server's processes.
pg_pids() { pgrep -f -- "-D $PG_DATA/db" || true; pgrep -P "$(pgrep -o -f -- "-D $PG_DATA/db")" || true; }

say "playing $CABINS cabins for $DURATION (time ×$FACTOR) against the leaf node"
"$DIR/bin/elevatorsim" fleet --cabins "$CABINS" --cabins-per-site "$PER_SITE" \
	--site-pattern "$SITE_PATTERN" --cabin-pattern "$CABIN_PATTERN" \
	--broker "ssl://127.0.0.1:$LEAF_MQTT" --ca-file "$pki/ca.pem" \
	--username-pattern '{site_id}-{cabin_id}' --password-pattern "$DEVICE_SECRET-{site_id}-{cabin_id}" \
	--duration "$DURATION" --time-factor "$FACTOR" --drain-timeout 10m \
	--dir "$DIR/cabins" --json "$DIR/report.json" >"$DIR/logs/fleet.log" 2>&1 &
GEN_PID=$!
PIDS+=("$GEN_PID")
t0=$SECONDS

procs=(hub-0 hub-1 hub-2 leaf receiver-a receiver-b)
pid_of() {
	case $1 in
	hub-*) eval "echo \$HUB_PID_${1#hub-}" ;;
	leaf) echo "$LEAF_PID" ;;
	receiver-*) eval "echo \$RECEIVER_PID_${1#receiver-}" ;;
	esac
}
declare -A CPU0 CPU PEAK
sample_start() {
	for p in "${procs[@]}"; do CPU0[$p]=$(cpu_s "$(pid_of "$p")"); done
	PG_CPU0=$(for p in $(pg_pids); do cpu_s "$p"; done | awk '{s += $1} END {print s + 0}')
	GEN_CPU0=$(cpu_s "$GEN_PID")
	T_SAMPLE0=$SECONDS
}

# Every cabin connected: the leaf's MQTT sessions (the receivers' two
# included).
leaf_clients() { curl -fsS "http://127.0.0.1:$LEAF_HTTP/varz" 2>/dev/null | jq -r '.connections // 0' || echo 0; }
until [ "$(leaf_clients)" -ge $((CABINS + 2)) ]; do
	kill -0 "$GEN_PID" 2>/dev/null || { tail -n 30 "$DIR/logs/fleet.log" >&2; echo "fleet.sh: the generator stopped early" >&2; exit 1; }
	sleep 1
done
say "every cabin connected after $((SECONDS - t0)) s; $STEADY s of steady state measured"
sample_start
sleep "$STEADY"
steady_s=$((SECONDS - T_SAMPLE0))
declare -A STEADY_CPU
for p in "${procs[@]}"; do
	STEADY_CPU[$p]=$(awk -v a="$(cpu_s "$(pid_of "$p")")" -v b="${CPU0[$p]}" -v s="$steady_s" 'BEGIN {printf "%.0f", 100 * (a - b) / s}')
done
STEADY_LEAF_RSS=$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$LEAF_PID/status")
STEADY_LEAF_GO=$(curl -fsS "http://127.0.0.1:$LEAF_HTTP/varz" | jq -r '"\(.mem) \(.subscriptions)"')

if [ "$LEAF_RESTART" = 1 ]; then
	say "restarting the leaf node under $CABINS cabins (SIGTERM, then start)"
	LEAF_CPU_OLD=$(cpu_s "$LEAF_PID")
	LEAF_PEAK_OLD=$(peak_mib "$LEAF_PID")
	kill -TERM "$LEAF_PID"
	while kill -0 "$LEAF_PID" 2>/dev/null; do sleep 0.1; done
	CPU0[leaf]=$(awk -v a="${CPU0[leaf]}" -v b="$LEAF_CPU_OLD" 'BEGIN {print a - b}')
	start_leaf
else
	LEAF_PEAK_OLD=0
fi

say "waiting for the generator to finish and every outbox to drain"
gen_status=0
wait "$GEN_PID" || gen_status=$?
run_s=$((SECONDS - T_SAMPLE0))
for p in "${procs[@]}"; do
	pid=$(pid_of "$p")
	CPU[$p]=$(awk -v a="$(cpu_s "$pid")" -v b="${CPU0[$p]}" -v s="$run_s" 'BEGIN {printf "%.0f", 100 * (a - b) / s}')
	PEAK[$p]=$(peak_mib "$pid")
done
PEAK[leaf]=$((PEAK[leaf] > LEAF_PEAK_OLD ? PEAK[leaf] : LEAF_PEAK_OLD))
pg_cpu=$(for p in $(pg_pids); do cpu_s "$p"; done | awk -v b="$PG_CPU0" -v s="$run_s" '{t += $1} END {printf "%.0f", 100 * (t - b) / s}')
pg_rss=$(for p in $(pg_pids); do awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s += $1} END {printf "%.0f", s / 1024}')

echo
echo "== the generator's report"
sed -n '/^fleet: /,$p' "$DIR/logs/fleet.log" | grep -v '^time=' || true
[ "$gen_status" -eq 0 ] || { echo "fleet.sh: the generator failed (exit $gen_status); logs in $DIR/logs" >&2; exit 1; }

# Every event the cabins appended is stored once (events has one row per
# site, cabin, epoch and sequence), and none is accounted for as lost.
psql_n() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "$1"; }
stored=$(psql_n 'SELECT count(*) FROM events')
lost=$(psql_n 'SELECT count(*) FROM lost')
appended=$(jq -r .appended "$DIR/report.json")
echo
echo "== stored: $stored events in PostgreSQL, $appended appended by the cabins; $lost loss records"
if [ "$stored" != "$appended" ] || [ "$lost" != 0 ]; then
	echo "fleet.sh: PostgreSQL holds $stored events and $lost loss records; the cabins appended $appended and lost none" >&2
	exit 1
fi
# What nats-server said went wrong, by kind (issue 3116: "JetStream API
# limit exceeded" under many MQTT clients; consumer limits).
echo
echo "== errors and warnings in the servers' logs"
for f in "$DIR"/logs/hub-*.log "$DIR/logs/leaf.log"; do
	n_err=$(grep -c '\[ERR\]' "$f" || true)
	n_api=$(grep -ciE 'JetStream API limit|maximum consumers|Unable to add JetStream consumer' "$f" || true)
	printf '  %-10s %5d errors, %5d JetStream API or consumer limit errors\n' "$(basename "$f" .log)" "$n_err" "$n_api"
	# The kinds: addresses, client ids, subjects and numbers taken out.
	{ grep '\[ERR\]' "$f" || true; } | sed -E 's/^\[[0-9]+\] [0-9/]+ [0-9:.]+ \[ERR\] //; s/[0-9.]+:[0-9]+ - [a-z]+:[0-9]+ - //;
		s/"[^"]*"/"…"/g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -n 3 | sed 's/^ */      ×/'
done
echo
echo "== processes ($CABINS cabins; steady state over ${steady_s} s; the whole run ${run_s} s from the first full connection)"
printf '  %-12s %14s %14s %14s\n' process "CPU steady %" "CPU run %" "peak RSS MiB"
for p in "${procs[@]}"; do
	printf '  %-12s %14s %14s %14s\n' "$p" "${STEADY_CPU[$p]}" "${CPU[$p]}" "${PEAK[$p]}"
done
printf '  %-12s %14s %14s %14s\n' postgresql - "$pg_cpu" "$pg_rss (now)"
gen_cpu=$(awk -v a="$(jq -r .process.cpu_seconds "$DIR/report.json")" -v b="$GEN_CPU0" 'BEGIN {print a - b}')
printf '  %-12s %14s %14s %14s\n' generator - "$(awk -v c="$gen_cpu" -v s="$run_s" 'BEGIN {printf "%.0f", 100 * c / s}')" "$(jq -r '.process.peak_rss_bytes / 1048576 | floor' "$DIR/report.json")"
echo
read -r go_mem subs <<<"$STEADY_LEAF_GO"
echo "== per 1,000 cabins"
awk -v n="$CABINS" -v rss="$STEADY_LEAF_RSS" -v ca="${STEADY_CPU[receiver-a]}" -v cb="${STEADY_CPU[receiver-b]}" \
	-v ma="${PEAK[receiver-a]}" -v mb="${PEAK[receiver-b]}" -v cl="${STEADY_CPU[leaf]}" -v subs="$subs" 'BEGIN {
	k = n / 1000
	printf "  leaf node: %.0f MiB resident (%.0f KiB per cabin, the server'"'"'s own base included), %.1f %% of a core, %.0f subscriptions\n", rss / k, rss * 1024 / n, cl / k, subs / k
	printf "  receivers (both): %.1f %% of a core, %.0f MiB peak\n", (ca + cb) / k, (ma + mb) / k
}'
