#!/usr/bin/env python3
"""Benchmark against libfuse's own passthrough_ll (Debian's example, built
here from /usr/share/doc/libfuse3-dev/examples): fio (io_uring, direct=1)
on the raw backing directory, through bouncefs and through passthrough_ll,
over the same XFS on a loop device in /dev/shm, alternating the three in
one run. --buffered: the same cases without O_DIRECT (through the page
cache; bouncefs serves such files from the backing page cache).
--hp EXE: also libfuse's passthrough_hp, built from libfuse's source (it
is not among Debian 12's examples; Debian's source package fuse3_3.14.0
has it in example/passthrough_hp.cc), with its defaults: splice, and the
writeback cache.

usage (root): python3 scripts/bench_passthrough.py [--runtime S] [--reps N] [--buffered]
              [--hp PATH/passthrough_hp]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import CASES, Rig, fio, sh  # noqa: E402

EXAMPLES = "/usr/share/doc/libfuse3-dev/examples"


def build_passthrough_ll(where):
    src = os.path.join(where, "passthrough_ll.c")
    exe = os.path.join(where, "passthrough_ll")
    for name in os.listdir(EXAMPLES):
        if name == "passthrough_ll.c" or name.endswith(".h"):
            with open(os.path.join(EXAMPLES, name)) as f, \
                    open(os.path.join(where, name), "w") as g:
                g.write(f.read())
    flags = sh("pkg-config", "--cflags", "--libs", "fuse3").stdout.split()
    sh("gcc", "-O2", "-o", exe, src, *flags)
    return exe


def one(path, rw, bs, qd, runtime, size, metric, direct):
    try:
        return "%.1f" % fio(path, rw, bs, qd, runtime, size, direct)[metric]
    except subprocess.CalledProcessError as e:
        # "fio: io_u error on file F: Invalid argument: write offset=..."
        err = [ln.split(": ") for ln in (e.stderr or "").splitlines()
               if "io_u error" in ln]
        return "fails" + (": " + err[0][2] if err and len(err[0]) > 2 else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--size", default="256M")
    ap.add_argument("--buffered", action="store_true",
                    help="fio without O_DIRECT")
    ap.add_argument("--hp", metavar="EXE",
                    help="also measure this passthrough_hp")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bfs-pt-")
    exe = build_passthrough_ll(tmp)
    rig = Rig("shm", "/dev/shm", 2)
    mounts = []
    try:
        pt = os.path.join(rig.dir, "pt")
        os.mkdir(pt)
        sh(exe, "-o", "source=" + rig.back + ",allow_other", pt)
        mounts.append(pt)
        files = [("raw", os.path.join(rig.back, "raw.dat")),
                 ("bouncefs", os.path.join(rig.mnt, "bfs.dat")),
                 ("passthrough_ll", os.path.join(pt, "pt.dat"))]
        if a.hp:
            hp = os.path.join(rig.dir, "hp")
            os.mkdir(hp)
            sh(a.hp, rig.back, hp)
            mounts.append(hp)
            files.append(("passthrough_hp", os.path.join(hp, "hp.dat")))
        # Lay every file out through the raw directory (passthrough_ll
        # cannot write with O_DIRECT).
        for _, path in files:
            sh("fio", "--name=layout",
               "--filename=" + os.path.join(rig.back, os.path.basename(path)),
               "--direct=1", "--rw=write", "--bs=1M", "--size=" + a.size,
               "--ioengine=io_uring", "--iodepth=8")
        row = "%-20s %-6s" + " %16s" * len(files)
        print(row % (("case", "unit") + tuple(who for who, _ in files)), flush=True)
        for name, rw, bs, qd, metric in CASES:
            got = {who: [] for who, _ in files}
            for r in range(a.reps):
                for who, path in (files if r % 2 == 0 else files[::-1]):
                    got[who].append(one(path, rw, bs, qd, a.runtime, a.size, metric,
                                        not a.buffered))
            unit = "µs" if metric == "lat" else "MiB/s" if metric == "bw" else "IOPS"

            def show(v):
                nums = [float(x) for x in v if not x.startswith("fails")]
                if len(nums) < len(v):
                    return next(x for x in v if x.startswith("fails"))
                return "%.1f" % (sum(nums) / len(nums))
            print(row % ((name, unit) + tuple(show(got[who]) for who, _ in files)),
                  flush=True)
    finally:
        for mnt in mounts:
            subprocess.run(["umount", mnt], capture_output=True)
        rig.close()
        subprocess.run(["rm", "-rf", tmp], capture_output=True)
    print("\ncommand: python3 scripts/bench_passthrough.py --runtime %d --reps %d --size %s%s%s"
          "\ndate: %s" % (a.runtime, a.reps, a.size,
                          " --buffered" if a.buffered else "",
                          " --hp " + a.hp if a.hp else "",
                          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))


if __name__ == "__main__":
    sys.exit(main())
