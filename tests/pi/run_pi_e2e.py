#!/usr/bin/env python3
"""End-to-end on PI storage: boot Debian 12's kernel (6.1, no bounce of its
own) in QEMU under TCG with an emulated NVMe namespace formatted 4096+8,
separate metadata, PI type 1, and run tests/pi/guest_init.sh there:
(a) the stable-pages hazard on raw XFS must fail, (b) through bouncefs it
must not, and an fio verify job at 512 B..1 MiB must pass, (c) the probe
must report the format. Prints a summary table; exits non-zero on failure.

Environment: BOUNCEFS (the daemon), BOUNCEFS_HAZARD (the hazard program),
BOUNCEFS_PI_CACHE (where the kernel package is kept, default
/var/cache/bouncefs-pi), BOUNCEFS_PI_TIMEOUT (seconds, default 540).
"""
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "guest"))
from qemu_guest import (build_initramfs, fetch_kernel, qemu_base,  # noqa: E402
                        results, run_guest)

MODULES = ["crct10dif_generic", "crc64_rocksoft_generic", "t10-pi", "nvme",
           "xfs", "fuse"]
GUEST_TOOLS = ["mkfs.xfs", "fio"]


def parse(line):
    """'mode=write ios=3 errors=0 ...' -> dict of ints (and the mode)."""
    d = {}
    for kv in line.split():
        if "=" in kv:
            k, v = kv.split("=", 1)
            d[k] = int(v) if v.lstrip("-").isdigit() else v
    return d


def main():
    bouncefs = os.environ.get("BOUNCEFS", os.path.join(ROOT, "build", "bouncefs"))
    hazard = os.environ.get("BOUNCEFS_HAZARD",
                            os.path.join(ROOT, "build", "tests", "stable_pages_hazard"))
    cache = os.environ.get("BOUNCEFS_PI_CACHE", "/var/cache/bouncefs-pi")
    timeout = int(os.environ.get("BOUNCEFS_PI_TIMEOUT", "540"))
    t0 = time.time()
    vmlinuz, kroot, kver = fetch_kernel(cache)
    work = tempfile.mkdtemp(prefix="bfs-pi-", dir="/var/tmp")
    try:
        programs = {"/usr/sbin/bouncefs": bouncefs, "/usr/bin/hazard": hazard}
        for tool in GUEST_TOOLS:
            programs["/usr/sbin/" + tool] = shutil.which(tool)
        initrd = build_initramfs(work, kroot, kver,
                                 os.path.join(HERE, "guest_init.sh"),
                                 programs, MODULES)
        img = os.path.join(work, "nvme.img")
        img2 = os.path.join(work, "nvme-nopi.img")
        for path, size in ((img, 2 << 30), (img2, 256 << 20)):
            with open(path, "wb") as f:
                f.truncate(size)
        cmd = qemu_base(vmlinuz, initrd) + [
               "-drive", "file=%s,if=none,id=nvm,format=raw" % img,
               "-device", "nvme,id=nvme0,serial=bfspi0",
               "-device", "nvme-ns,drive=nvm,bus=nvme0,nsid=1,"
               "logical_block_size=4096,physical_block_size=4096,"
               "ms=8,mset=0,pi=1,pif=0",
               # A second controller whose namespace has no PI.
               "-drive", "file=%s,if=none,id=nvm2,format=raw" % img2,
               "-device", "nvme,id=nvme1,serial=bfsnopi",
               "-device", "nvme-ns,drive=nvm2,bus=nvme1,nsid=1,"
               "logical_block_size=4096,physical_block_size=4096,ms=0"]
        print("booting %s with %d MiB initramfs" %
              (kver, os.path.getsize(initrd) >> 20), flush=True)
        console, timed_out = run_guest(cmd, timeout)
        if timed_out:
            print(console[-4000:])
            print("FAIL: the guest did not finish within %d s" % timeout)
            return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.time() - t0
    res = {}
    for line in results(console, ("PI-RESULT", "PI-PROBE", "PI-LOG", "PI-STAT")):
        print(line)
        if line.startswith("PI-RESULT "):
            _, key, rest = (line.split(" ", 2) + [""])[:3]
            res[key] = rest
    if "fatal" in res or "c-json" not in res:
        print(console[-6000:])
        print("FAIL: the guest run did not complete (%s)" % res.get("fatal", "no result"))
        return 1

    a_w, a_r = parse(res["a-write"]), parse(res["a-read"])
    b_w, b_r, b_v = parse(res["b-write"]), parse(res["b-read"]), parse(res["b-verify"])
    b_fio = parse(res["b-fio"])
    probe = json.loads(res["c-json"])
    nv = probe.get("nvme") or {}
    nopi = json.loads(res.get("c-nopi-json") or "{}")
    nv2 = nopi.get("nvme") or {}
    checks = [
        ("kernel 6.1 reports T10-DIF-TYPE1-CRC", res.get("sysfs-format") == "T10-DIF-TYPE1-CRC",
         res.get("sysfs-format")),
        ("(a) raw XFS: the hazard causes I/O errors",
         a_w["errors"] + a_r["errors"] > 0,
         "write %d/%d errors (EILSEQ %d), read %d/%d errors (EILSEQ %d), %s kernel log lines" %
         (a_w["errors"], a_w["ios"], a_w["eilseq"], a_r["errors"], a_r["ios"],
          a_r["eilseq"], res["a-dmesg"])),
        ("(b) bouncefs: no I/O errors under the hazard",
         b_w["errors"] == 0 and b_r["errors"] == 0 and b_w["ios"] > 0 and b_r["ios"] > 0,
         "write %d/%d errors, read %d/%d errors" %
         (b_w["errors"], b_w["ios"], b_r["errors"], b_r["ios"])),
        ("(b) bouncefs: every block verifies",
         b_v["errors"] == 0 and b_v["mismatches"] == 0 and b_v["ios"] > 0,
         "%d I/Os, %d errors, %d mismatched blocks" %
         (b_v["ios"], b_v["errors"], b_v["mismatches"])),
        ("(b) bouncefs: fio verify, bsrange 512-1M",
         b_fio.get("rc") == 0 and b_fio.get("errors") == 0, res["b-fio"]),
        ("(b) bouncefs: no integrity errors in the kernel log",
         res["b-dmesg"].strip() == "0", res["b-dmesg"] + " lines"),
        ("(c) probe: 4096+8, PI type 1, 16-bit guard",
         nv.get("lba_data_size") == 4096 and nv.get("metadata_size") == 8 and
         nv.get("pi_type") == 1 and nv.get("guard_bits") == 16 and
         probe.get("staging_align") == 4096,
         "%s+%s, PI type %s, %s-bit guard, staging %s" %
         (nv.get("lba_data_size"), nv.get("metadata_size"), nv.get("pi_type"),
          nv.get("guard_bits"), probe.get("staging_align"))),
        ("(c) probe: bouncefs is needed on the PI namespace under 6.1, not on the other",
         probe.get("bouncefs_needed") is True and nopi.get("bouncefs_needed") is False,
         "PI: %s (%s); no PI: %s (%s)" %
         (probe.get("bouncefs_needed"), probe.get("because"),
          nopi.get("bouncefs_needed"), nopi.get("because"))),
        ("(c) probe: a namespace without PI says so",
         nv2.get("lba_data_size") == 4096 and nv2.get("metadata_size") == 0 and
         nv2.get("pi_type") == 0 and nopi.get("integrity_format") == "none",
         "%s+%s, PI type %s, integrity %s" %
         (nv2.get("lba_data_size"), nv2.get("metadata_size"), nv2.get("pi_type"),
          nopi.get("integrity_format"))),
    ]
    print()
    print("| check | result | measured |")
    print("| --- | --- | --- |")
    ok = True
    for name, passed, detail in checks:
        ok &= bool(passed)
        print("| %s | %s | %s |" % (name, "pass" if passed else "FAIL", detail))
    print("\nwall time %.0f s (kernel %s)" % (wall, kver))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
