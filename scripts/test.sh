#!/bin/bash
# Install the dependencies, build three times (plain, with ASan/UBSan, and
# with ThreadSanitizer), and run every unit and integration test against
# each build (the QEMU guests boot the plain build only). Needs root: the
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
	rm -rf "$dir/tests/tsan-reports"
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
	# A ThreadSanitizer report fails the pass even where the program
	# carried on (a daemon's stderr is gone once it detaches).
	local reports="$dir/tests/tsan-reports"
	if [ -d "$reports" ] && [ -n "$(ls -A "$reports")" ]; then
		echo "ThreadSanitizer reports in $reports:"
		grep -h '^SUMMARY' "$reports"/* || true
		failed=$((failed + 1))
	fi
}

# Every build type must build, warnings as errors (a distribution builds
# release or plain with its own flags; gcc's -O3 warns where -O2 does not).
for bt in release plain; do
	echo "== build: --buildtype=$bt =="
	dir=build-test-$bt
	if [ -d "$dir" ]; then
		meson setup --wipe --werror --buildtype=$bt -Dintegration_tests=false "$dir" >/dev/null
	else
		meson setup --werror --buildtype=$bt -Dintegration_tests=false "$dir" >/dev/null
	fi
	ninja -C "$dir"
done

echo "== build and test: plain =="
run_suite build-test
echo "== build and test: ASan + UBSan =="
run_suite build-test-sanitize -Dsanitize=address
echo "== build and test: ThreadSanitizer =="
# GCC 12's ThreadSanitizer knows address layouts of up to 28 random bits
# of mmap: more (some newer kernels' default) and every program stops
# with "unexpected memory mapping". Lowered for this pass, then restored.
rnd=/proc/sys/vm/mmap_rnd_bits
rnd_was=$(cat "$rnd" 2>/dev/null || echo 0)
if [ "$rnd_was" -gt 28 ]; then
	echo 28 >"$rnd"
	trap 'echo "$rnd_was" >"$rnd"' EXIT
fi
run_suite build-test-tsan -Dsanitize=thread

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
