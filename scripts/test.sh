#!/usr/bin/env bash
# Runs every check and test of Palier: gofmt, go vet, staticcheck, the tests
# with the race detector (the screen's under Xvfb), cross-builds for the
# cabin's ARM boards, and the hardware-facing packages once more under qemu
# for arm64 and armv7. It installs what it needs and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Every package is named, even those a usual machine has: a fresh minimal
# Debian (scripts/test-fresh.sh) has none of them, and need_apt takes no
# recommendations.
need_apt "${BASE_DEPS[@]}" "${EBITEN_BUILD_DEPS[@]}" "${EBITEN_RUN_DEPS[@]}" "${DISPLAY_CROSS_DEPS[@]}" \
	qemu-user-static chromium systemd openssl prometheus-alertmanager poppler-utils
need_go_tool staticcheck "$STATICCHECK"
export PATH="$(go env GOPATH)/bin:$PATH"

# The packaging tools compile while the tests run; they are needed only at
# the end. Their output goes to a log shown if they fail. Under SCHED_IDLE
# (util-linux's chrt): vet, staticcheck and the tests come first, and the
# tools take only the CPU the tests leave while they wait on processes and
# the network. (At nice 19 they still slowed the tests' wake-ups: the
# race tests took 357 s instead of 302.)
mkdir -p .artifacts
(
	chrt --idle -p 0 $BASHPID || true
	install_packaging_tools
) >.artifacts/tools.log 2>&1 &
tools_pid=$!
cross_pid="" soak_pid=""
# The S3 server of the media tests (internal/s3test) compiles meanwhile
# too; the tests wait for it.
need_check_tool versitygw "$VERSITYGW" >.artifacts/versitygw.log 2>&1 &
s3_pid=$!
cleanup() {
	for pid in "$tools_pid" "$s3_pid" $cross_pid $soak_pid; do
		pkill -P "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
	done
	stop_test_postgres
}
trap cleanup EXIT

say "gofmt"
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

# The packages that link ebiten need a display server (their test binaries
# say so and skip without one); only these may import ebiten, and only
# they need cgo.
screen_pkgs=$(go list ./ui/screen/... ./cmd/display/...)
other_pkgs=$(go list ./... | grep -vxF -f <(printf '%s\n' $screen_pkgs))

# Built as the tests build (-race): the packages vet and staticcheck
# compile are then the ones the race tests reuse, not compiled again.
# Measured cold on ./receiver/... ./e2e/...: vet, staticcheck and the race
# tests' build 312 s built apart, 204 s shared (the packaging's build of
# the receiver, which shared vet's before, costs 36 s of it back).
say "go vet"
go vet -race $other_pkgs
go vet -race $screen_pkgs

say "staticcheck"
GOFLAGS=-race staticcheck $other_pkgs
GOFLAGS=-race staticcheck $screen_pkgs
# cmd/preview is built for the browser only (js/wasm; e2e/browser builds and
# runs it in Chromium): checked as such, with -trimpath as
# internal/previewbuild builds it, so that the build reuses this compile.
GOOS=js GOARCH=wasm go vet -trimpath ./cmd/preview
GOOS=js GOARCH=wasm GOFLAGS=-trimpath staticcheck ./cmd/preview

# The PostgreSQL store runs the same suite as SQLite, against a real server.
start_test_postgres
# In CI a PostgreSQL or browser test must run, never skip.
export PALIER_REQUIRE_POSTGRES=1 PALIER_REQUIRE_CHROMIUM=1 PALIER_REQUIRE_ALERTMANAGER=1 PALIER_REQUIRE_S3=1
# Screenshots the tests take (the dashboard, the cabin screen) land here.
export PALIER_SCREENSHOT_DIR="$PWD/.artifacts/screenshots"

if ! wait "$s3_pid"; then
	cat .artifacts/versitygw.log >&2
	exit 1
fi

# The cross-builds of scripts/package.sh (agent and simulator for arm64 and
# armv7, the receiver for arm64), compiled under SCHED_IDLE while the tests
# run, with its flags: the packaging checks then only link.
(
	chrt --idle -p 0 $BASHPID || true
	warm_cross_builds
) >.artifacts/cross.log 2>&1 &
cross_pid=$!

say "go test -race (headless packages; the soak beside them from the start)"
# Three test binaries at a time on two cores: the end-to-end ones (the
# soak, the chain, the receiver's) spend most of their time waiting on
# processes and the network, and held a slot each while the CPU idled.
# The soak (about 3 minutes, mostly waiting) starts first, beside the
# others: in the list's order it began half-way and ended the phase.
soak=github.com/palier-lifts/palier/e2e/soak
GO_TEST_LOG=.artifacts/go-test-soak.log go_test -race -count=1 -timeout 10m $soak >.artifacts/soak.out 2>&1 &
soak_pid=$!
go_test -race -count=1 -timeout 10m -p 3 $(printf '%s\n' $other_pkgs | grep -vxF "$soak")
if ! wait "$soak_pid"; then
	cat .artifacts/soak.out >&2
	exit 1
fi
cat .artifacts/soak.out

if [ -n "$screen_pkgs" ]; then
	say "go test -race under Xvfb (screen packages)"
	xvfb-run -a -s "-screen 0 1920x1080x24" bash -c '. scripts/lib.sh; go_test -race -count=1 -timeout 5m "$@"' go_test $screen_pkgs
fi

# hal/serialport reads through Go's poller on Linux; go.bug.st/serial is the
# fallback (-tags serial_bugst): keep it working.
say "go test hal with go.bug.st/serial (-tags serial_bugst)"
go test -count=1 -tags serial_bugst ./hal/...

say "only the screen links ebiten"
for cmd in agent receiver elevatorsim; do
	if go list -deps ./cmd/$cmd | grep -q '^github.com/hajimehoshi/ebiten'; then
		echo "cmd/$cmd links ebiten: only cmd/display and ui/screen may" >&2
		exit 1
	fi
done

# The cross-builds for the cabins' boards (agent and simulator for arm64
# and armv7, the receiver for arm64 and amd64, CGO_ENABLED=0) are
# scripts/package.sh's, which test-packaging.sh runs: building them here
# too only linked everything twice.
say "packages, units, chart and NATS configs"
if ! wait "$tools_pid"; then
	cat .artifacts/tools.log >&2
	exit 1
fi
if ! wait "$cross_pid"; then
	cat .artifacts/cross.log >&2
	exit 1
fi
scripts/test-packaging.sh

# Byte order, alignment and 32-bit limits matter where we touch the wire and
# the disk: run those packages' tests on the cabin's architectures
# (-trimpath as scripts/package.sh builds, so its compiled packages are reused).
# -short: TestCrashKill kills its writer 50 times instead of 200 (the race
# run above does 200); under qemu the 200 took 45 s of the 67 s per
# architecture, and byte order shows in the first kill as in the last.
# The two architectures at once: each run is mostly one emulated test
# binary at a time, and the machine has two cores.
qemu_pkgs="./hal/... ./sensors/... ./outbox/... ./wire/..."
say "tests under qemu-user-static: linux/arm64 and linux/arm (GOARM=7)"
PALIER_TEST_EXEC=qemu-arm-static CGO_ENABLED=0 GOARCH=arm GOARM=7 \
	go test -short -trimpath -count=1 -timeout 10m -exec qemu-arm-static $qemu_pkgs >.artifacts/qemu-arm.log 2>&1 &
arm_pid=$!
arm64_status=0
PALIER_TEST_EXEC=qemu-aarch64-static CGO_ENABLED=0 GOARCH=arm64 \
	go test -short -trimpath -count=1 -timeout 10m -exec qemu-aarch64-static $qemu_pkgs >.artifacts/qemu-arm64.log 2>&1 || arm64_status=$?
arm_status=0
wait "$arm_pid" || arm_status=$?
echo "--- linux/arm64" && cat .artifacts/qemu-arm64.log
echo "--- linux/arm (GOARM=7)" && cat .artifacts/qemu-arm.log
[ "$arm64_status" = 0 ] && [ "$arm_status" = 0 ] || { echo "tests under qemu failed (arm64: exit $arm64_status, arm: exit $arm_status)" >&2; exit 1; }

say "all checks passed"
