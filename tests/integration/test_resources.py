#!/usr/bin/env python3
"""File descriptors and memory: 100 000 files leave no residue, and a
daemon short of fds fails single requests with EMFILE and carries on."""
import errno
import mmap
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Mount, ScratchFS, expect_errno, main, stats  # noqa: E402

SANITIZED = os.environ.get("BOUNCEFS_SANITIZED", "none") != "none"


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def drop_caches():
    # Evicting dentries and inodes makes the kernel send its forgets.
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")


def test_create_delete_100k_files():
    fs = ScratchFS("4G")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    mnt = os.path.join(fs.top, "mnt")
    m = Mount(back, mnt)
    os.listdir(mnt)
    fd0, rss0 = fd_count(m.pid), rss_kib(m.pid)
    d = os.path.join(mnt, "many")
    os.mkdir(d)
    n = 20000 if SANITIZED else 100000
    for i in range(n):
        os.close(os.open(os.path.join(d, "f%06d" % i),
                         os.O_CREAT | os.O_WRONLY, 0o644))
    peak_fds = fd_count(m.pid)
    for i in range(n):
        os.unlink(os.path.join(d, "f%06d" % i))
    os.rmdir(d)
    deadline = time.time() + 30
    while True:
        drop_caches()
        fds = fd_count(m.pid)
        if fds <= fd0 + 50 or time.time() > deadline:
            break
        time.sleep(0.2)
    rss = rss_kib(m.pid)
    print("  %d files: fds %d -> peak %d -> %d, RSS %d -> %d KiB" %
          (n, fd0, peak_fds, fds, rss0, rss))
    assert fds <= fd0 + 50, (fd0, fds)
    if not SANITIZED:
        assert rss - rss0 <= 20 * 1024, (rss0, rss)
    assert os.listdir(back) == []
    assert m.stop() == 0


def fd_limited_mount(opts=None):
    """A mount whose daemon has 64 fds at most (without CAP_SYS_RESOURCE it
    cannot raise the hard limit), and this process room to outnumber it:
    (scratch, mount, mnt, back)."""
    fs = ScratchFS("1G")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    mnt = os.path.join(fs.top, "mnt")
    m = Mount(back, mnt, opts, prefix=["setpriv", "--bounding-set",
                                       "-sys_resource", "prlimit",
                                       "--nofile=64:64"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    return fs, m, mnt, back


def test_fd_exhaustion_fails_one_request():
    fs, m, mnt, back = fd_limited_mount()
    held, failures = [], 0
    for i in range(200):
        try:
            held.append(os.open(os.path.join(mnt, "f%d" % i),
                                os.O_CREAT | os.O_RDWR, 0o644))
        except OSError as e:
            assert e.errno == errno.EMFILE, e
            failures += 1
    assert failures > 0, "the daemon never ran short of fds"
    assert m.proc.poll() is None, "daemon died: " + m.output()
    for fd in held:
        os.close(fd)
    # Once fds are free again, everything works.
    with open(os.path.join(mnt, "after"), "w") as f:
        f.write("still alive")
    assert open(os.path.join(back, "after")).read() == "still alive"
    assert len(os.listdir(mnt)) == len(held) + 1
    assert m.stop() == 0


def test_fd_exhaustion_leaves_direct_io_direct():
    """A direct fd that cannot be opened while the daemon is out of fds
    fails that request (EMFILE) only: once fds are free, the open's I/O
    is direct again, never served through the page cache for good."""
    fs, m, mnt, back = fd_limited_mount()
    path = os.path.join(mnt, "image")
    buf = mmap.mmap(-1, 8192)
    buf.write(b"d" * 8192)
    direct = os.open(path, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
    os.pwrite(direct, buf, 0)
    # A cached open of a file that has had direct I/O: its I/O goes
    # direct, through a direct fd of its own, opened at its first write.
    cached = os.open(path, os.O_RDWR)
    held = []
    for i in range(200):
        try:
            held.append(os.open(os.path.join(mnt, "f%d" % i),
                                os.O_CREAT | os.O_RDWR, 0o644))
        except OSError as e:
            assert e.errno == errno.EMFILE, e
            break
    else:
        raise AssertionError("the daemon never ran short of fds")
    # Take what a failed create may have left free.
    for _ in range(8):
        try:
            held.append(os.open(os.path.join(mnt, "f0"), os.O_RDONLY))
        except OSError as e:
            assert e.errno == errno.EMFILE, e
    expect_errno(errno.EMFILE, os.pwrite, cached, b"c" * 4096, 0)
    for fd in held:
        os.close(fd)
    time.sleep(0.5)  # releases are asynchronous
    before = stats(mnt)
    eq = os.pwrite(cached, b"c" * 4096, 4096)
    assert eq == 4096
    after = stats(mnt)
    assert after["direct_requests"] > before["direct_requests"], (before, after)
    assert after["buffered_requests"] == before["buffered_requests"], \
        "the open went buffered for good"
    os.close(cached)
    os.close(direct)
    assert m.stop() == 0


def test_recycled_inode_number_is_a_new_file():
    """A file deleted on the backing directory whose inode number goes to
    a new file, while the kernel still knows the old one and the daemon
    has closed its fd (the LRU): the new file is served, never the old
    entry's stale handle (ESTALE for good)."""
    # 64 fds: at most 16 idle ones stay open.
    fs, m, mnt, back = fd_limited_mount("entry_timeout=0.2,attr_timeout=0.2")
    victim = os.path.join(back, "victim")
    with open(victim, "w") as f:
        f.write("old")
    old_ino = os.stat(victim).st_ino
    held = os.open(os.path.join(mnt, "victim"), os.O_RDONLY)  # kernel keeps it
    os.close(held)
    # Push its fd out of the daemon's idle fds.
    for i in range(64):
        with open(os.path.join(back, "pad%d" % i), "w"):
            pass
        os.stat(os.path.join(mnt, "pad%d" % i))
    # Keep the kernel's inode alive, with a reference of its own.
    keep = os.open(os.path.join(mnt, "victim"), os.O_PATH)
    os.unlink(victim)
    reused = None
    for i in range(2000):
        p = os.path.join(back, "new%d" % i)
        with open(p, "w") as f:
            f.write("new")
        if os.stat(p).st_ino == old_ino:
            reused = p
            break
    assert reused, "XFS gave the inode number to no new file"
    os.rename(reused, victim)
    time.sleep(0.5)  # past entry_timeout: the kernel asks again
    with open(os.path.join(mnt, "victim")) as f:
        assert f.read() == "new"
    with open(os.path.join(mnt, "victim"), "a") as f:
        f.write("+")
    assert open(victim).read() == "new+"
    os.close(keep)
    assert m.stop() == 0


main(per_test_seconds=400)
