# Shared helpers for the scripts in this folder; sourced, not run.

# say prints a progress line on stderr, with the seconds since the script
# began (where a cold run spends its time shows in any log).
say() { printf '==> [%4ds] %s\n' "$SECONDS" "$*" >&2; }

# as_root runs a command as root, through sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# need_apt installs the Debian packages that are missing, saying which.
need_apt() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_go_tool installs a pinned Go tool into GOBIN unless that version is there.
# usage: need_go_tool NAME MODULE/PATH@VERSION
need_go_tool() {
	local name=$1 pkg=$2 bin
	bin="$(go env GOPATH)/bin/$name"
	local stamp="$bin.version"
	if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then return 0; fi
	say "installing Go tool $pkg"
	GOFLAGS= go install "$pkg"
	echo "$pkg" >"$stamp"
}

# need_check_tool is need_go_tool for the tools the checks only run a few
# times or under light load (helm, kubeconform, nfpm; versitygw, the S3
# server of the tests): compiled without optimisation or inlining (-N -l),
# which took helm from 165 s to 130 s of CPU on a fresh machine; the
# standard library keeps its usual flags, so the copy the tests compiled
# is reused.
need_check_tool() {
	local name=$1 pkg=$2 bin
	bin="$(go env GOPATH)/bin/$name"
	local stamp="$bin.version"
	if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then return 0; fi
	say "installing Go tool $pkg (unoptimised)"
	GOFLAGS= go install -gcflags='all=-N -l' -gcflags='std=' "$pkg"
	echo "$pkg" >"$stamp"
}

# Pinned tools of the packaging checks (scripts/package.sh, test-packaging.sh).
HELM=helm.sh/helm/v3/cmd/helm@v3.22.0
KUBECONFORM=github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
# nats-server: built from this module's own requirement (go.mod pins it), so
# it shares the compiled server package with natsembed instead of a second
# build of its own dependency versions (about a minute of CPU cold).
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2 # v2.46+ needs go.digitalxero.dev, not on the module proxy

# palier_ldflags VERSION: the linker flags of every release binary (stripped,
# the version stamped into buildinfo).
palier_ldflags() {
	echo "-s -w -X github.com/palier-lifts/palier/buildinfo.version=$1"
}

# gobuild GOARCH GOARM OUT PKG: a static, stripped, reproducible binary of
# $VERSION (the same bytes for the same source, version and Go toolchain).
gobuild() {
	local arch=$1 arm=$2 out=$3 pkg=$4
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm \
		go build -trimpath -buildvcs=false -ldflags "$(palier_ldflags "$VERSION")" -o "$out" "$pkg"
}

# warm_cross_builds compiles what gobuild links for the cabins' boards and
# the receiver's arm64 nodes, with its flags, into the build cache (the
# binaries themselves are discarded: go build of several packages keeps
# none).
warm_cross_builds() {
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -buildvcs=false ./cmd/agent ./cmd/elevatorsim ./cmd/receiver
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 go build -trimpath -buildvcs=false ./cmd/agent ./cmd/elevatorsim
}

# The S3-compatible server the media tests run against (internal/s3test):
# the Versity S3 Gateway, Apache-2.0, built from the module proxy (about
# 1.5 minutes of CPU cold, then kept in GOBIN with its version stamp).
VERSITYGW=github.com/versity/versitygw/cmd/versitygw@v1.8.0

# need_nats_server builds the nats-server command of the version go.mod
# requires into GOBIN, unless it is there already.
need_nats_server() {
	local bin want
	bin="$(go env GOPATH)/bin/nats-server"
	want=$(go list -m -f '{{.Path}}@{{.Version}}' github.com/nats-io/nats-server/v2)
	if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$want (go.mod)" ]; then return 0; fi
	say "building nats-server $want (this module's requirement)"
	go build -trimpath -o "$bin" github.com/nats-io/nats-server/v2
	echo "$want (go.mod)" >"$bin.version"
}

# install_packaging_tools installs them all (scripts/test.sh runs it in the
# background while the tests run: compiling them takes minutes on 2 cores).
install_packaging_tools() {
	need_check_tool helm "$HELM"
	need_check_tool kubeconform "$KUBECONFORM"
	need_nats_server
	need_check_tool nfpm "$NFPM"
}

# What every script takes for granted: git (the tree, the Go tools' VCS
# stamps), certificates for the Go module proxy, file, binutils and procps.
BASE_DEPS=(git ca-certificates file binutils procps curl)
# Debian packages needed to build and run the ebiten screen.
EBITEN_BUILD_DEPS=(gcc libc6-dev libgl1-mesa-dev libx11-dev libxrandr-dev libxxf86vm-dev libxi-dev libxcursor-dev libxinerama-dev)
EBITEN_RUN_DEPS=(xvfb xauth libgl1-mesa-dri libegl1 libegl-mesa0 libgles2)
# The cross compilers of the arm64 and armhf screens and their C libraries
# (the compilers only recommend them, and need_apt installs without
# recommends); the X11 side comes from scripts/sysroot.sh, not from the host.
DISPLAY_CROSS_DEPS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)

# start_test_postgres starts a throwaway PostgreSQL cluster on 127.0.0.1 and
# exports PALIER_TEST_POSTGRES_URL; stop_test_postgres removes it.
start_test_postgres() {
	need_apt postgresql
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	PG_BIN=$bin PG_AS=()
	PG_DATA=$(mktemp -d /tmp/palier-pg.XXXXXX)
	PG_PORT=${PALIER_TEST_POSTGRES_PORT:-55432}
	# PostgreSQL refuses to run as root: run it as the postgres user then.
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$PG_DATA"
		PG_AS=(runuser -u postgres --)
	fi
	say "starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT ($PG_DATA)"
	"${PG_AS[@]}" "$bin/initdb" -D "$PG_DATA/db" -U postgres -A trust --no-sync >/dev/null
	"${PG_AS[@]}" "$bin/pg_ctl" -D "$PG_DATA/db" -l "$PG_DATA/log" -w \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c fsync=on" start >/dev/null
	export PALIER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}

stop_test_postgres() {
	[ -n "${PG_DATA:-}" ] || return 0
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA/db" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$PG_DATA"
	PG_DATA=
}

# go_test runs go test with the given arguments, keeping its whole output in
# .artifacts/go-test.log (or GO_TEST_LOG). When it fails it ends with a digest: the failures,
# the tests that were running when a timeout struck, and the stacks of the
# goroutines in Palier's own code. A timeout's full dump runs to thousands
# of lines and CI keeps only the tail, where the library goroutines are.
go_test() {
	mkdir -p .artifacts
	local log=${GO_TEST_LOG:-.artifacts/go-test.log}
	local status=0
	# PIPESTATUS is read in the same list: after "|| true" it would be
	# true's, and a failed test would pass (as it did from stop 22 on).
	go test "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
	if [ "$status" -eq 0 ]; then
		return 0
	fi
	echo "==> digest of the failed go test (whole output: $log)" >&2
	awk '
		function flush() {
			if (stanza != "" && keep && shown < 40) { print stanza "\n"; shown++ }
			stanza = ""
		}
		/^goroutine [0-9]+ \[/ { flush(); stanza = $0; keep = 0; n = 1; next }
		stanza != "" && /^(\t|[a-zA-Z_].*\(|created by )/ && !/^(FAIL|ok )/ {
			if ($0 ~ /palier-lifts\/palier/ && $0 !~ /testing\.tRunner/) keep = 1
			if (n < 40) stanza = stanza "\n" $0
			n++
			next
		}
		{ flush() }
		/^(--- FAIL|FAIL|panic:)/ { print; next }
		/^[ \t]*running tests:/ { running = 1; print; next }
		running && /^\t\t/ { print; next }
		{ running = 0 }
		END { flush() }
	' "$log" >&2
	return "$status"
}
