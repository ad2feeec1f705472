#!/bin/bash
# Install the dependencies, build twice (plain, and with ASan/UBSan), and
# run every unit and integration test against each build. Needs root: the
# integration tests mount for real.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
modprobe fuse 2>/dev/null || true
modprobe loop 2>/dev/null || true

passed=0
failed=0
run_suite() {
	local dir=$1; shift
	# Warnings are errors here, not in meson.build: a distribution
	# builds with its own flags.
	if [ -d "$dir" ]; then
		meson setup --wipe --werror "$dir" "$@" >/dev/null
	else
		meson setup --werror "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	local log="$dir/meson-logs/summary.txt"
	set +e
	timeout 2400 meson test -C "$dir" --print-errorlogs | tee "$log"
	set -e
	local ok fail to
	ok=$(awk '/^Ok:/ {print $2}' "$log")
	fail=$(awk '/^Fail:/ {print $2}' "$log")
	to=$(awk '/^Timeout:/ {print $2}' "$log")
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${fail:-1} + ${to:-0}))
}

echo "== build and test: plain =="
run_suite build-test
echo "== build and test: ASan + UBSan =="
run_suite build-test-sanitize -Dsanitize=true

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
