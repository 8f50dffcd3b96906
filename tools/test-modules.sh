#!/usr/bin/env bash
# test-modules.sh LONG MODULE...: go vet, then go test -race, in each Go
# module, as make test runs them (each on its own: GOWORK=off, as kn func
# builds it).
#
# LONG is the module holding the end-to-end and fault suites (its package
# internal/e2e), the long pole: they mostly wait on the system they drive
# (under -race they keep about half of one core busy). So LONG's tests run
# in the background while the other modules' run one after another beside
# them. Each module's output is written whole when it ends, never
# interleaved.
#
# Environment: TESTFLAGS (go test flags), NOVA_FAULT_REPORT (where the fault
# suite writes its report), KEEP_GOING (non-empty: test every module and
# report every failure, rather than stop at the first), TEST_LOGS (folder of
# the modules' logs).
set -uo pipefail

long=$1
shift
logs=${TEST_LOGS:-.nova/test-logs}
mkdir -p "$logs"
failed=()

fail() {
	echo "make test: $1" >&2
	failed+=("$2")
	if [ -z "${KEEP_GOING:-}" ]; then
		finish
	fi
}

finish() {
	if [ -n "${bg:-}" ] && kill -0 "$bg" 2>/dev/null; then
		kill -- "-$bg" 2>/dev/null || kill "$bg" 2>/dev/null
		wait "$bg" 2>/dev/null
	fi
	if [ ${#failed[@]} -gt 0 ]; then
		printf 'make test: failed in %s\n' "${failed[@]}" >&2
		exit 1
	fi
	echo "make test: every module passed"
	exit 0
}

logname() { echo "$logs/$(echo "${1#./}" | tr '/' '_' | sed 's/^\.$/root/').log"; }

# Every module is vetted first: a vet failure should not wait for the tests.
for m in "$long" "$@"; do
	echo "==> $m: go vet"
	if ! (cd "$m" && GOWORK=off go vet ./...); then
		fail "go vet failed in module $m" "$m (vet)"
	fi
done

test_module() {
	(cd "$1" && GOWORK=off go test -race ${TESTFLAGS:-} ./...)
}

longlog=$(logname "$long")
echo "==> $long: go test -race (in the background; its output follows the other modules')"
set -m # the background job gets its own process group, so it can be stopped whole
(test_module "$long" >"$longlog" 2>&1) &
bg=$!
set +m
start=$SECONDS

for m in "$@"; do
	log=$(logname "$m")
	echo "==> $m: go test -race"
	if test_module "$m" >"$log" 2>&1; then
		cat "$log"
	else
		cat "$log"
		fail "tests failed in module $m" "$m (test)"
	fi
done

echo "==> $long: go test -race (waiting for it: $((SECONDS - start)) s so far)"
wait "$bg"
rc=$?
bg=
cat "$longlog"
echo "==> $long: go test -race took $((SECONDS - start)) s"
if [ $rc -ne 0 ]; then
	fail "tests failed in module $long" "$long (test)"
fi
finish
