#!/usr/bin/env python3
"""The random-operation exerciser through a real mount: 100 000 operations
mixing direct and buffered I/O, mapped I/O, copy_file_range, truncate and
fallocate, checked byte for byte against a model;
30 000 more on a device with 4096-byte sectors, where the staging blocks
are 4096 bytes (like a 4096+8 PI format) and 512-byte I/O is
read-modify-write; and 30 000 each with no O_DIRECT open (the backing page
cache path), over the FUSE ring and over /dev/fuse; and 20 000 that
also close and open again, with O_TRUNC half of the time."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import mounted, main  # noqa: E402

OPS = int(os.environ.get("BOUNCEFS_EXERCISER_OPS", "100000"))
state_output = []  # each run's daemon output


def exercise(opts=None, ops=OPS, sector_size=None, seed=None, cached=False,
             reopen=False):
    fs, m, mnt, back = mounted(opts, sector_size=sector_size)
    r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                     "exerciser.py"),
                        os.path.join(mnt, "model.dat"), "--ops", str(ops)] +
                       (["--seed", str(seed)] if seed is not None else []) +
                       (["--cached"] if cached else []) +
                       (["--reopen"] if reopen else []),
                       capture_output=True, text=True, timeout=1500)
    print(r.stdout, end="")
    assert r.returncode == 0, r.stdout + r.stderr
    assert m.stop() == 0
    state_output.append(m.output())


def test_exerciser():
    exercise()


def test_exerciser_4k_sectors():
    exercise(ops=max(OPS * 3 // 10, 1000), sector_size=4096)
    assert "staging alignment 4096" in state_output[-1], state_output[-1]


def test_exerciser_copy_of_a_direct_file():
    """A replay that failed: copy_file_range of a file with direct I/O was
    a clone on the backing XFS, and a direct read of it some 300 operations
    later failed with EIO ("Direct I/O collision with buffered writes" in
    the kernel log). Such copies now go through the mount's own reads and
    writes."""
    exercise(ops=26000, seed=3468398628)


def test_exerciser_cached():
    """No O_DIRECT open: reads from the backing page cache, served in the
    FUSE ring's queue threads (a miss waits in the ring), cached writes,
    mapped I/O through the kernel's page cache."""
    exercise(ops=max(OPS * 3 // 10, 1000), cached=True)


def test_exerciser_cached_dev_fuse():
    """The same over /dev/fuse: cached reads that are not alone go through
    the completion thread."""
    exercise("uring=off", ops=max(OPS * 3 // 10, 1000), cached=True)


def test_exerciser_reopen():
    """Opens closed and made again, half of them with O_TRUNC, which the
    OPEN itself truncates (atomic O_TRUNC), beside the direct and mapped
    I/O of the other open; half over /dev/fuse."""
    exercise(ops=max(OPS // 10, 1000), reopen=True)
    exercise("uring=off", ops=max(OPS // 10, 1000), reopen=True)


main(per_test_seconds=1600)
