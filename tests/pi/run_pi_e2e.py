#!/usr/bin/env python3
"""End-to-end on PI storage, the test command's part of the kernel matrix
(scripts/pi_matrix.py runs all of it): each path once, on a 4096+8 PI
type 1 namespace emulated by QEMU (TCG), with Debian's own kernels.

  5.10  (Debian 11, the oldest supported)  XFS without PI: start-up, the
        fallbacks and their log line
  6.1   (Debian 12)  XFS and ext4, over /dev/fuse
  6.18  (Debian 13 backports, FUSE over io_uring)  XFS, over the ring
  7.3   (the newest 7.x)  XFS, which the kernel bounces by itself, and
        ext4, which it does not; over the ring

Every cell runs the stable-pages race at 4 KiB, 64 KiB and 1 MiB on the raw
file system and through bouncefs, a byte-exact verify, and an fio verify
job. Fails if bouncefs shows any error or integrity message, a raw cell
that should fail does not, a ring kernel's requests did not come over the
ring, or bouncefs --probe's verdict disagrees with the raw race.

Environment: BOUNCEFS, BOUNCEFS_HAZARD, BOUNCEFS_PI_CACHE (pi_guest.py),
BOUNCEFS_PI_SECONDS (each race, default 2).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pi_guest  # noqa: E402

PLAN = [
    # The oldest kernel, start-up and the fallbacks (its NVMe driver and
    # QEMU 7.2's PI disagree without bouncefs: a namespace without PI).
    ("5.10", ["4096 no PI"], ["xfs"]),
    ("6.1", ["4096+8 type1"], ["xfs", "ext4"]),
    ("6.18", ["4096+8 type1"], ["xfs"]),
    ("7.3", ["4096+8 type1"], ["xfs", "ext4"]),
]


def main():
    t0 = time.time()
    secs = int(os.environ.get("BOUNCEFS_PI_SECONDS", "2"))
    rows, failures, extras = pi_guest.run(PLAN, secs=secs,
                                          log=lambda s: print(s, flush=True))
    print()
    print(pi_guest.table(rows))
    nopi = extras.get("6.1", ("", {}))[1].get("nopi-c-json", "")
    if '"bouncefs_needed":false' not in nopi:
        failures.append("probe of a namespace without PI: %s" % (nopi or "no result"))
    return pi_guest.finish(t0, failures)


if __name__ == "__main__":
    sys.exit(main())
