#!/usr/bin/env python3
"""bouncefs --probe on what this host has: XFS on a loop device (512- and
4096-byte sectors), tmpfs, pseudo file systems, a missing path; and the
mount staging at the device's block size even where statx says less."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, Mount, ScratchFS, main, on_exit,  # noqa: E402
                     run, stats)


def probe(*args, status=0):
    r = run([BOUNCEFS, "--probe"] + list(args), check=False, timeout=20)
    assert r.returncode == status, "probe %r: exit %d (%s)" % (
        args, r.returncode, r.stderr)
    return r


def probe_json(path):
    return json.loads(probe("--json", path).stdout)


def test_loop_xfs():
    fs = ScratchFS("1G")
    j = probe_json(fs.path)
    loop = os.path.basename(fs.loop)
    assert j["fstype"] == "xfs", j
    assert j["source"] == fs.loop, j
    assert [d["name"] for d in j["devices"]] == [loop], j
    d = j["devices"][0]
    assert d["role"] == "disk" and d["logical_block_size"] == 512, d
    assert d["integrity"]["format"] == "none", d
    assert j["nvme"] is None and j["integrity_format"] == "none", j
    assert j["kernel"] == os.uname().release, j
    text = probe(fs.path).stdout
    for want in ("file system:       xfs", "device chain:      %s (disk)" % loop,
                 "logical block 512", "integrity none", "staging alignment:",
                 "kernel:            " + os.uname().release,
                 "bouncefs needed:   no, because no device below"):
        assert want in text, "%r not in:\n%s" % (want, text)
    # The verdict: a loop device over a file checks nothing in flight.
    assert j["bouncefs_needed"] is False, j
    assert "integrity profile or stable pages" in j["because"], j


def test_loop_btrfs():
    """btrfs: statx gives a subvolume's own anonymous device, which no
    mountinfo line has; the probe still finds the mount and the loop device
    under it (it reported "unknown ... not on a block device" before)."""
    top = tempfile.mkdtemp(prefix="bfs-probe-", dir="/var/tmp")
    on_exit(lambda: run(["rm", "-rf", top], check=False))
    img = os.path.join(top, "disk.img")
    with open(img, "wb") as f:
        f.truncate(300 << 20)
    run(["mkfs.btrfs", "-q", "-f", img])
    loop = run(["losetup", "-f", "--show", img]).stdout.strip()
    on_exit(lambda: run(["losetup", "-d", loop], check=False))
    fsdir = os.path.join(top, "fs")
    os.mkdir(fsdir)
    run(["mount", "-o", "nodatasum", loop, fsdir])
    on_exit(lambda: run(["umount", "-l", fsdir], check=False))
    os.mkdir(os.path.join(fsdir, "sub"))
    for path in (fsdir, os.path.join(fsdir, "sub")):
        j = probe_json(path)
        assert j["fstype"] == "btrfs" and j["source"] == loop, j
        assert [d["name"] for d in j["devices"]] == [os.path.basename(loop)], j
        assert j["kernel_bounces_direct_io"] is False, j


def test_loop_4k_sectors_raise_staging():
    """A 4096-byte-sector device: the probe says 4096, and the mount
    stages 512-byte direct writes as read-modify-write of 4096."""
    top = tempfile.mkdtemp(prefix="bfs-probe-", dir="/var/tmp")
    on_exit(lambda: run(["rm", "-rf", top], check=False))
    img = os.path.join(top, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 30)
    loop = run(["losetup", "-f", "--show", "--sector-size", "4096", img]).stdout.strip()
    on_exit(lambda: run(["losetup", "-d", loop], check=False))
    run(["mkfs.xfs", "-q", "-f", loop])
    fsdir = os.path.join(top, "fs")
    os.mkdir(fsdir)
    run(["mount", loop, fsdir])
    on_exit(lambda: run(["umount", "-l", fsdir], check=False))
    j = probe_json(fsdir)
    assert j["devices"][0]["logical_block_size"] == 4096, j
    assert j["staging_align"] == 4096, j
    back = os.path.join(fsdir, "back")
    os.mkdir(back)
    m = Mount(back, os.path.join(top, "mnt"))
    assert "staging alignment 4096" in m.output(), m.output()
    p = os.path.join(m.mnt, "f")
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        import mmap
        buf = mmap.mmap(-1, 4096)
        buf.write(b"a" * 4096)
        assert os.pwritev(fd, [memoryview(buf)[:512]], 512) == 512
    finally:
        os.close(fd)
    assert stats(m.mnt)["rmw_cycles"] >= 1
    with open(p, "rb") as f:
        assert f.read() == b"\0" * 512 + b"a" * 512
    assert m.stop() == 0


def test_tmpfs_and_pseudo():
    j = probe_json("/dev/shm")
    assert j["fstype"] == "tmpfs" and j["devices"] == [], j
    assert j["block_error"] == "not on a block device", j
    assert j["staging_align"] == 4096, j
    assert "not on a block device" in probe("/dev/shm").stdout
    assert j["bouncefs_needed"] is False, j
    # tmpfs reports no direct-I/O alignment: "not reported", null.
    if j["dio_mem_align"] is None:
        assert "direct-I/O align:  not reported" in probe("/dev/shm").stdout
    for path in ("/proc/self", "/sys/kernel", "/dev/null", "/"):
        probe_json(path)  # valid JSON, exit 0


def test_bad_paths_and_usage():
    r = probe("/nonexistent/x", status=5)
    assert r.stderr.strip() == \
        "bouncefs: cannot probe '/nonexistent/x': No such file or directory", r.stderr
    assert r.stdout == ""
    r = probe(status=2)
    assert "--probe takes one PATH" in r.stderr, r.stderr
    r = probe("/a", "/b", status=2)
    assert "--probe takes one PATH" in r.stderr, r.stderr
    r = run([BOUNCEFS, "--json", "/"], check=False)
    assert r.returncode == 2 and "--json goes with --probe" in r.stderr, r.stderr
    assert "--probe PATH" in run([BOUNCEFS, "--help"]).stdout


if __name__ == "__main__":
    main()
