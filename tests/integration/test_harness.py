#!/usr/bin/env python3
"""The test runner itself: a test that a hung daemon wedges in the kernel
is aborted and failed, the tests around it still run, and nothing of it
is left behind (mounts, loop devices, scratch directories, the daemon)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import _gone, _snapshot, main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def test_hung_daemon_cannot_wedge_the_runner():
    before = _snapshot()
    with tempfile.NamedTemporaryFile(dir="/var/tmp", prefix="pid-") as pidf:
        r = subprocess.run([sys.executable,
                            os.path.join(HERE, "hung_daemon_case.py")],
                           env=dict(os.environ, HUNG_DAEMON_PID_FILE=pidf.name),
                           capture_output=True, text=True, timeout=150)
        pid = int(open(pidf.name).read() or 0)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "ok   test_passes" in out, out
    assert "FAIL test_wedged_by_a_hung_daemon" in out, out
    assert "aborting its FUSE connections" in out, out
    assert "1 passed, 1 failed" in out, out
    after = _snapshot()
    assert set(after[0]) <= set(before[0]), "mounts left: %r" % [
        after[0][m] for m in set(after[0]) - set(before[0])]
    assert after[1] <= before[1], "loop devices left: %r" % (after[1] - before[1])
    assert after[3] <= before[3], "directories left: %r" % (after[3] - before[3])
    # Killed, it may take a moment to be reaped (a sanitized daemon's
    # threads end slowly).
    deadline = time.monotonic() + 30
    while pid > 0 and not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid > 0 and _gone(pid), "the hung daemon %d is still there" % pid


main(per_test_seconds=200)
