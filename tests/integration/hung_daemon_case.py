#!/usr/bin/env python3
"""Not a test by itself: test_harness.py runs it to see the runner get out
of a test that a hung daemon wedges in the kernel. Its first test passes,
its second stops its daemon (SIGSTOP), once requests come over the ring,
and then waits on the mount."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import main, mounted, ring_ready  # noqa: E402

harness.GRACE_SECONDS = 2


def test_passes():
    fs, m, mnt, back = mounted(size="300M")
    with open(os.path.join(mnt, "x"), "w") as f:
        f.write("x")


def test_wedged_by_a_hung_daemon():
    fs, m, mnt, back = mounted(size="300M")
    # Over FUSE over io_uring where the kernel has it: a request a ring
    # entry holds is not ended by aborting the connection, only by the
    # daemon's end (the runner must kill it).
    ring_ready(mnt, seconds=3)
    with open(os.environ.get("HUNG_DAEMON_PID_FILE", os.devnull), "w") as f:
        f.write(str(m.pid))
    os.kill(m.pid, signal.SIGSTOP)
    os.stat(os.path.join(mnt, "never-cached"))  # waits for the daemon


main(per_test_seconds=5)
