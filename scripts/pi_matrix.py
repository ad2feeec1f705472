#!/usr/bin/env python3
"""The whole PI kernel matrix (the test command runs a part of it,
tests/pi/run_pi_e2e.py): every kernel of tests/pi/pi_guest.py on XFS, ext4
and btrfs (nodatasum) over a 4096+8 PI type 1 namespace, and the other
formats (512+8, type 3, the 64-bit CRC64 guard, extended LBAs) on XFS and
ext4 under 6.1 and 6.18. Prints one table; docs/kernels.md holds its last
run. Takes about 40 minutes on 2 cores.

  scripts/pi_matrix.py [--kernels 6.1,7.3] [--seconds 3]

Run from a build tree (BOUNCEFS, BOUNCEFS_HAZARD as for the test, default
build/). Exits 1 if any cell fails.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "pi"))
import pi_guest  # noqa: E402

OTHER_FORMATS = ["512+8 type1", "4096+8 type3", "4096+16 type1 crc64",
                 "4096+8 type1 extended"]


def plan(kernels):
    out = []
    for k in kernels:
        if k == "5.10":  # (its PI with QEMU 7.2 fails without bouncefs)
            out.append((k, ["4096 no PI"], ["xfs", "ext4"]))
            continue
        out.append((k, ["4096+8 type1"], list(pi_guest.FILESYSTEMS)))
        if k in ("6.1", "6.18"):
            out.append((k, OTHER_FORMATS, ["xfs", "ext4"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", default=",".join(pi_guest.KERNELS),
                    help="comma-separated, of: " + ", ".join(pi_guest.KERNELS))
    ap.add_argument("--seconds", type=int, default=3, help="each race (default 3)")
    a = ap.parse_args()
    t0 = time.time()
    rows, failures, extras = pi_guest.run(plan(a.kernels.split(",")), secs=a.seconds,
                                          log=lambda s: print(s, flush=True))
    print()
    print(pi_guest.table(rows))
    print("\nper size (raw errors/I/Os, bouncefs errors/I/Os):")
    for r in rows:
        if "per_size" in r:
            print("  %s %s %s: %s" % (r["kver"], r["fs"], r["format"], "; ".join(
                "%s %d/%d %d/%d" % ((k,) + v) for k, v in r["per_size"].items())))
    return pi_guest.finish(t0, failures)


if __name__ == "__main__":
    sys.exit(main())
