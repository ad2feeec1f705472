#!/usr/bin/env python3
"""Benchmark against libfuse's own passthrough_ll (Debian's example, built
here from /usr/share/doc/libfuse3-dev/examples): fio (io_uring, direct=1)
on the raw backing directory, through bouncefs and through passthrough_ll,
over the same XFS on a loop device in /dev/shm, alternating the three in
one run. --buffered: the same cases without O_DIRECT (through the page
cache; bouncefs serves such files from the backing page cache).
--hp EXE: also libfuse's passthrough_hp, built by hand from libfuse's
source (not among Debian 12's examples, and nothing here fetches or
builds it), in three modes: --nopassthrough over /dev/fuse with splice
("hp"), the same with -o io_uring ("hp uring", if its libfuse was built
with liburing and libnuma), and its default, FUSE passthrough on Linux
6.9+ ("hp pt": the kernel does the I/O from the application's pages,
zero-copy, so a direct write is not bounced).
--rig thr: the device-bound rig of bench.py (blkio-throttled).

usage (root): python3 scripts/bench_passthrough.py [--runtime S] [--reps N] [--buffered]
              [--hp PATH/passthrough_hp] [--rig shm|thr] [--cases RE] [--no-ll]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import CASES, RIGS, Rig, fio, sh  # noqa: E402

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


def one(path, rw, bs, qd, runtime, size, metric, direct, engine):
    try:
        return "%.1f" % fio(path, rw, bs, qd, runtime, size, direct, engine)[metric]
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
                    help="also measure this passthrough_hp, in three modes")
    ap.add_argument("--rig", default="shm", choices=("shm", "thr"))
    ap.add_argument("--engine", default="io_uring", choices=("io_uring", "psync"),
                    help="fio's engine (psync: one I/O at a time, QD1)")
    ap.add_argument("--cases", help="only the cases whose name matches this regular expression")
    ap.add_argument("--no-ll", action="store_true", help="leave passthrough_ll out")
    ap.add_argument("--also", metavar="OPTS",
                    help="also a second bouncefs mount with -o OPTS (BOUNCEFS_ALSO: another build)")
    a = ap.parse_args()
    cases = [c for c in CASES if not a.cases or re.search(a.cases, c[0])]
    tmp = tempfile.mkdtemp(prefix="bfs-pt-")
    exe = None if a.no_ll else build_passthrough_ll(tmp)
    where, throttled = RIGS[a.rig]
    rig = Rig(a.rig, where, 2, a.also, throttled)
    mounts = []
    try:
        files = [("raw", os.path.join(rig.back, "raw.dat")),
                 ("bouncefs", os.path.join(rig.mnt, "bfs.dat"))]
        if rig.mnt2:
            files.append(("bouncefs also", os.path.join(rig.mnt2, "also.dat")))
        if exe:
            pt = os.path.join(rig.dir, "pt")
            os.mkdir(pt)
            sh(exe, "-o", "source=" + rig.back + ",allow_other", pt)
            mounts.append(pt)
            files.append(("passthrough_ll", os.path.join(pt, "pt.dat")))
        if a.hp:
            for tag, opts in (("hp", ["--nopassthrough"]),
                              ("hp uring", ["--nopassthrough", "-o", "io_uring"]),
                              ("hp pt", [])):
                hp = os.path.join(rig.dir, tag.replace(" ", "_"))
                os.mkdir(hp)
                if subprocess.run([a.hp] + opts + [rig.back, hp],
                                  capture_output=True).returncode:
                    print("passthrough_hp %s: cannot mount" % " ".join(opts))
                    continue
                mounts.append(hp)
                files.append((tag, os.path.join(hp, tag.replace(" ", "_") + ".dat")))
        # Lay every file out through the raw directory (passthrough_ll
        # cannot write with O_DIRECT).
        for _, path in files:
            sh("fio", "--name=layout",
               "--filename=" + os.path.join(rig.back, os.path.basename(path)),
               "--direct=1", "--rw=write", "--bs=1M", "--size=" + a.size,
               "--ioengine=io_uring", "--iodepth=8")
        row = "%-20s %-6s" + " %14s" * len(files)
        print(row % (("case", "unit") + tuple(who for who, _ in files)), flush=True)
        for name, rw, bs, qd, metric in cases:
            got = {who: [] for who, _ in files}
            for r in range(a.reps):
                for who, path in (files if r % 2 == 0 else files[::-1]):
                    if a.buffered:   # each from the same start: all cached
                        subprocess.run(["sync"])
                        subprocess.run(["dd", "if=" + path, "of=/dev/null",
                                        "bs=1M"], capture_output=True)
                    got[who].append(one(path, rw, bs, qd, a.runtime, a.size, metric,
                                        not a.buffered, a.engine))
            unit = "µs" if metric == "lat" else "MiB/s" if metric == "bw" else "IOPS"

            def mean(v):
                nums = [float(x) for x in v if not x.startswith("fails")]
                if len(nums) < len(v):
                    return next(x for x in v if x.startswith("fails"))
                return sum(nums) / len(nums)
            means = [mean(got[who]) for who, _ in files]
            raw = means[0]

            def ratio(v):
                if isinstance(v, str) or isinstance(raw, str) or not raw:
                    return v if isinstance(v, str) else "-"
                if metric == "lat":
                    return "+%.1f µs" % (v - raw)
                return "%.2f×" % (v / raw)
            print(row % ((name, unit) + tuple(
                v if isinstance(v, str) else "%.1f" % v for v in means)), flush=True)
            print(row % (("", "ratio") + tuple(ratio(v) for v in means)), flush=True)
    finally:
        for mnt in mounts:
            subprocess.run(["umount", mnt], capture_output=True)
        rig.close()
        subprocess.run(["rm", "-rf", tmp], capture_output=True)
    print("\ncommand: python3 scripts/bench_passthrough.py --runtime %d --reps %d --size %s --rig %s --engine %s%s%s%s%s"
          "\ndate: %s" % (a.runtime, a.reps, a.size, a.rig, a.engine,
                          " --buffered" if a.buffered else "",
                          " --hp " + a.hp if a.hp else "",
                          " --no-ll" if a.no_ll else "",
                          " --cases '%s'" % a.cases if a.cases else "",
                          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))


if __name__ == "__main__":
    sys.exit(main())
