#!/usr/bin/env python3
"""Benchmark: fio (io_uring, direct=1) on the raw backing directory and
through bouncefs, alternating the two in one run so the machine's noise
cancels out. Rigs, each XFS on a loop device:
  shm   over a file in /dev/shm: software overhead;
  thr   the same, throttled with cgroup-v1 blkio to 1500 MiB/s and 100k
        IOPS each way (fio and every daemon inside the cgroup):
        device-bound like an NVMe drive, and steady;
  disk  over a file on this machine's disk (the host caches it: ratios
        above 1 happen; labelled, not a target).

usage (root): python3 scripts/bench.py [--runtime S] [--reps N] [--rigs shm,thr] [--markdown F] [--png F]
       python3 scripts/bench.py --also uring=off [--rigs shm] [--cases RE]
       BOUNCEFS_ALSO=OTHER/bouncefs python3 scripts/bench.py --also queue_depth=64 ...
       python3 scripts/bench.py --redraw TABLE.md --png F
"""
import argparse
import re
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNCEFS = os.environ.get("BOUNCEFS", os.path.join(HERE, "..", "build", "bouncefs"))
# The --also mount may run another build (A/B of two builds in one run).
BOUNCEFS_ALSO = os.environ.get("BOUNCEFS_ALSO", BOUNCEFS)

CASES = [
    # name, rw, bs, iodepth, metric
    ("seq read 4k QD16", "read", "4k", 16, "bw"),
    ("seq write 4k QD16", "write", "4k", 16, "bw"),
    ("seq read 64k QD16", "read", "64k", 16, "bw"),
    ("seq write 64k QD16", "write", "64k", 16, "bw"),
    ("seq read 1M QD16", "read", "1M", 16, "bw"),
    ("seq write 1M QD16", "write", "1M", 16, "bw"),
    ("rand read 4k QD16", "randread", "4k", 16, "iops"),
    ("rand write 4k QD16", "randwrite", "4k", 16, "iops"),
    ("rand read 4k QD1", "randread", "4k", 1, "lat"),
    ("rand write 4k QD1", "randwrite", "4k", 1, "lat"),
]


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def cpu_ticks():
    """CPU time the machine spent busy (user, nice, system, irq, softirq),
    and busy or idle (adding idle and I/O wait), in clock ticks: neither
    counts time the hypervisor stole."""
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]]
    busy = t[0] + t[1] + t[2] + t[5] + t[6]
    return busy, busy + t[3] + t[4]


def fio(path, rw, bs, qd, runtime, size, direct=True, engine="io_uring"):
    b0, a0 = cpu_ticks()
    r = sh("fio", "--name=b", "--filename=" + path, "--direct=%d" % direct,
           "--ioengine=" + engine, "--rw=" + rw, "--bs=" + bs,
           "--iodepth=" + str(qd if engine != "psync" else 1), "--size=" + size, "--runtime=" + str(runtime),
           "--time_based", "--output-format=json")
    b1, a1 = cpu_ticks()
    ticks = b1 - b0
    job = json.loads(r.stdout)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return {"bw": side["bw_bytes"] / (1 << 20), "iops": side["iops"],
            "lat": side["clat_ns"]["mean"] / 1000.0,
            "cpu": ticks * 1e6 / os.sysconf("SC_CLK_TCK") / max(side["total_ios"], 1),
            "busy": ticks / max(a1 - a0, 1)}


THROTTLE_BPS = 1500 << 20
THROTTLE_IOPS = 100000
BLKIO = "/sys/fs/cgroup/blkio"


class Throttle:
    """A cgroup-v1 blkio group that limits one block device, which this
    process (and so fio and every daemon it starts) joins until close."""

    def __init__(self, dev):
        st = os.stat(dev)
        majmin = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        self.dir = os.path.join(BLKIO, "bouncefs-bench-%d" % os.getpid())
        os.mkdir(self.dir)
        for what, limit in (("bps", THROTTLE_BPS), ("iops", THROTTLE_IOPS)):
            for rw in ("read", "write"):
                with open(os.path.join(self.dir, "blkio.throttle.%s_%s_device"
                                       % (rw, what)), "w") as f:
                    f.write("%s %d\n" % (majmin, limit))
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def close(self):
        with open(os.path.join(BLKIO, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        for _ in range(100):
            try:
                os.rmdir(self.dir)
                return
            except OSError:   # a daemon still leaving
                time.sleep(0.1)


RIGS = {"shm": ("/dev/shm", False), "thr": ("/dev/shm", True),
        "disk": ("/var/tmp", False)}
RIG_TITLES = {"shm": "XFS on a loop device over /dev/shm",
              "thr": "the same, blkio-throttled to 1500 MiB/s and 100k IOPS",
              "disk": "XFS on a loop device over the host-cached disk"}


class Rig:
    def __init__(self, name, where, size_gb, also=None, throttled=False):
        self.name = name
        self.throttle = None
        self.dir = tempfile.mkdtemp(prefix="bfs-bench-", dir=where)
        self.img = os.path.join(self.dir, "disk.img")
        with open(self.img, "wb") as f:
            f.truncate(size_gb << 30)
        self.loop = sh("losetup", "-f", "--show", "--direct-io=on", self.img,
                       check=False).stdout.strip()
        if not self.loop:
            self.loop = sh("losetup", "-f", "--show", self.img).stdout.strip()
        if throttled:
            self.throttle = Throttle(self.loop)
        sh("mkfs.xfs", "-q", "-f", self.loop)
        self.fs = os.path.join(self.dir, "fs")
        os.mkdir(self.fs)
        sh("mount", self.loop, self.fs)
        self.back = os.path.join(self.fs, "back")
        os.mkdir(self.back)
        self.mnt = os.path.join(self.dir, "mnt")
        os.mkdir(self.mnt)
        sh(BOUNCEFS, self.back, self.mnt)
        # A second mount of the same directory with other options (--also).
        self.mnt2 = None
        if also:
            self.mnt2 = os.path.join(self.dir, "mnt2")
            os.mkdir(self.mnt2)
            sh(BOUNCEFS_ALSO, "-o", also, self.back, self.mnt2)

    def close(self):
        subprocess.run(["umount", self.mnt], capture_output=True)
        if self.mnt2:
            subprocess.run(["umount", self.mnt2], capture_output=True)
        # The daemon lets go of the backing file system a moment later.
        for _ in range(100):
            if subprocess.run(["umount", self.fs], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", self.fs], capture_output=True)
        if self.throttle:
            self.throttle.close()
        subprocess.run(["losetup", "-d", self.loop], capture_output=True)
        subprocess.run(["rm", "-rf", self.dir], capture_output=True)


def run_rig(rig, runtime, reps, size, cases):
    raw_file = os.path.join(rig.back, "raw.dat")
    bfs_file = os.path.join(rig.mnt, "bfs.dat")
    files = [("raw", raw_file), ("bfs", bfs_file)]
    if rig.mnt2:
        files.append(("also", os.path.join(rig.mnt2, "also.dat")))
    # Lay the files out fully first, so reads read data.
    for _, p in files:
        sh("fio", "--name=layout", "--filename=" + p, "--direct=1",
           "--rw=write", "--bs=1M", "--size=" + size, "--ioengine=io_uring",
           "--iodepth=8")
    rows = []
    for name, rw, bs, qd, metric in cases:
        got = {who: [] for who, _ in files}
        cpus = {who: [] for who, _ in files}
        busy = {who: [] for who, _ in files}
        for r in range(reps):
            order = files if r % 2 == 0 else files[::-1]
            for who, path in order:
                res = fio(path, rw, bs, qd, runtime, size)
                got[who].append(res[metric])
                cpus[who].append(res["cpu"])
                busy[who].append(res["busy"])
        mean = {who: sum(v) / len(v) for who, v in got.items()}
        # Machine-wide CPU time per I/O, as a ratio to raw: unlike
        # throughput, hardly moved by time the hypervisor steals.
        cpu = {who: sum(v) / len(v) for who, v in cpus.items()}
        raw_v, bfs_v = mean["raw"], mean["bfs"]

        def ratio(v):
            if metric == "lat":
                return "+%.1f µs" % (v - raw_v)
            return "%.2f×" % (v / raw_v if raw_v else 0)
        unit = "µs" if metric == "lat" else "MiB/s" if metric == "bw" else "IOPS"
        rows.append((name, unit, raw_v, bfs_v, ratio(bfs_v)))
        # How busy the CPUs were: below 100% the run waited on something
        # other than the CPUs.
        share = {who: 100 * sum(v) / len(v) for who, v in busy.items()}
        extra = "   CPU/op %.2f×   busy %.0f%%/%.0f%%" % (
            cpu["bfs"] / cpu["raw"], share["raw"], share["bfs"])
        if "also" in mean:
            extra += "   also: %8.1f %s CPU/op %.2f×" % (
                mean["also"], ratio(mean["also"]), cpu["also"] / cpu["raw"])
        print("  %-20s %8.1f %8.1f %-6s %s%s" % (name, raw_v, bfs_v, unit,
                                                 ratio(bfs_v), extra), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", type=int, default=4)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--size", default="512M")
    ap.add_argument("--markdown")
    ap.add_argument("--png")
    ap.add_argument("--also", metavar="OPTS",
                    help="also measure a second mount with -o OPTS, in the same run")
    ap.add_argument("--rigs", default="shm,thr",
                    help="comma-separated: shm, thr, disk (default shm,thr)")
    ap.add_argument("--cases", help="only the cases whose name matches this regular expression")
    ap.add_argument("--redraw", metavar="MARKDOWN",
                    help="only draw --png again from a table --markdown wrote")
    a = ap.parse_args()
    if a.redraw:
        return redraw(a.redraw, a.png)
    cases = [c for c in CASES if not a.cases or re.search(a.cases, c[0])]
    rigs = [r for r in a.rigs.split(",") if r]
    for r in rigs:
        if r not in RIGS:
            ap.error("unknown rig %r (shm, thr or disk)" % r)
    results = {}
    for name in rigs:
        where, throttled = RIGS[name]
        rig = Rig(name, where, 2, a.also, throttled)
        try:
            print("rig %s (%s, %s):" % (name, RIG_TITLES[name], rig.loop), flush=True)
            results[name] = run_rig(rig, a.runtime, a.reps, a.size, cases)
        finally:
            rig.close()
    if a.also or a.cases:
        return  # an experiment: no table for docs/
    cmd = "python3 scripts/bench.py --runtime %d --reps %d --size %s --rigs %s" % (
        a.runtime, a.reps, a.size, ",".join(rigs))
    head = "| case | unit |" + "".join(
        " %s raw | %s bouncefs | %s ratio |" % (r, r, r) for r in rigs)
    lines = [head, "| --- | --- |" + " ---: | ---: | ---: |" * len(rigs)]
    for i, c in enumerate(CASES):
        row = "| %s | %s |" % (c[0], results[rigs[0]][i][1])
        for r in rigs:
            x = results[r][i]
            row += " %.1f | %.1f | %s |" % (x[2], x[3], x[4])
        lines.append(row)
    table = "\n".join(lines)
    print("\n" + table + "\n\ncommand: " + cmd + "\ndate: " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table + "\n")
    if a.png:
        draw(a.png, rigs, [(c[0],) + tuple(results[r][i][3] / results[r][i][2]
                                           for r in rigs)
                           for i, c in enumerate(CASES) if c[4] != "lat"])

def draw(png, rigs, points):
    """A bar chart of (case, ratio per rig) with gnuplot."""
    data = tempfile.NamedTemporaryFile("w", delete=False, suffix=".dat")
    for p in points:
        data.write('"%s"' % p[0] + "".join(" %.3f" % v for v in p[1:]) + "\n")
    data.close()
    top = max([1.3] + [max(p[1:]) * 1.1 for p in points])
    plots = ", ".join("'%s' using %d%s title '%s rig (%s)'" % (
        data.name if i == 0 else "", i + 2, ":xtic(1)" if i == 0 else "",
        r, RIG_TITLES[r]) for i, r in enumerate(rigs))
    script = """set terminal png size 1000,500 noenhanced
set output '%s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:%.2f]
set ylabel 'bouncefs / raw (higher is better)'
set xtics rotate by -30
set grid y
set title 'bouncefs throughput as a ratio of the raw backing XFS (fio io_uring, direct=1)'
plot %s, 1 with lines lc rgb 'black' notitle
""" % (png, top, plots)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(data.name)


def redraw(markdown, png):
    """Draw the chart again from a table that --markdown wrote."""
    points, rigs = [], []
    with open(markdown) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "case":
                rigs = [c.split()[0] for c in cells[2::3]]
            elif len(cells) == 2 + 3 * len(rigs) and all(
                    cells[4 + 3 * i].endswith("×") for i in range(len(rigs))):
                points.append((cells[0],) + tuple(
                    float(cells[4 + 3 * i][:-1]) for i in range(len(rigs))))
    draw(png, rigs, points)

if __name__ == "__main__":
    sys.exit(main())
