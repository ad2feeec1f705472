#!/usr/bin/env python3
"""FUSE over io_uring: requests arrive on the ring when the kernel has it,
and everything that must not wait in a queue thread (overlapping writes,
read-modify-write, flock, a cached open beside a direct one) still
completes, with the right bytes, while cached I/O and attribute reads are
served in the queue threads. On a kernel without it, the
mount stays on /dev/fuse and says so."""
import fcntl
import mmap
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import mounted, main, on_exit, ring_ready, stats  # noqa: E402

PARAM = "/sys/module/fuse/parameters/enable_uring"


def kernel_has_ring():
    return os.path.exists(PARAM)


def param():
    with open(PARAM) as f:
        return f.read().strip()


def set_param(v):
    with open(PARAM, "w") as f:
        f.write(v)


def keep_param():
    """Put the kernel parameter back as it was when the test ends."""
    if kernel_has_ring():
        was = param()
        on_exit(lambda: set_param(was))


def direct_rw(path, size=1 << 20):
    buf = mmap.mmap(-1, size)
    buf.write(os.urandom(size))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        assert os.pwrite(fd, buf, 0) == size
        back = mmap.mmap(-1, size)
        assert os.preadv(fd, [back], 0) == size
        assert back[:] == buf[:]
    finally:
        os.close(fd)
    return bytes(buf)


def test_default_mount_uses_the_ring():
    keep_param()
    fs, m, mnt, back = mounted()
    data = direct_rw(os.path.join(mnt, "f"))
    with open(os.path.join(back, "f"), "rb") as f:
        assert f.read() == data
    got = stats(mnt)
    if not kernel_has_ring():
        assert got["ring_requests"] == 0, got
        print("  (this kernel has no FUSE over io_uring: /dev/fuse only)")
        return
    assert param() == "Y", "uring=on left fuse.enable_uring at %s" % param()
    assert got["ring_requests"] > 0, got
    assert "FUSE over io_uring:" in m.output(), m.output()


def unaligned_direct_load(mnt):
    """On a 4096-byte staging mount: 16 reads and 16 writes of 4096 bytes
    that start 512 bytes into a block; the counters after."""
    fd = os.open(os.path.join(mnt, "u"), os.O_RDWR | os.O_CREAT | os.O_DIRECT,
                 0o644)
    big = mmap.mmap(-1, 1 << 20)
    big.write(os.urandom(1 << 20))
    assert os.pwrite(fd, big, 0) == 1 << 20
    buf = mmap.mmap(-1, 8192)
    view = memoryview(buf)[512:512 + 4096]
    before = stats(mnt)
    for i in range(16):
        assert os.preadv(fd, [view], i * 16384 + 512) == 4096
        assert bytes(view) == big[i * 16384 + 512:i * 16384 + 4608]
        assert os.pwritev(fd, [view], i * 16384 + 8192 + 512) == 4096
    os.close(fd)
    after = stats(mnt)
    return {k: after[k] - before[k]
            for k in ("copied_bytes", "ring_moved_bytes", "rmw_cycles")}


def test_copied_bytes_are_the_same_over_both_transports():
    """The daemon's copies to align writes count the same whichever
    transport brought the requests; the ring's own moves of read replies
    within its buffers are counted apart (they were counted as copies,
    which made the figure twice the /dev/fuse one)."""
    keep_param()
    got = {}
    for opts in ("uring=off", None):
        fs, m, mnt, back = mounted(opts, sector_size=4096)
        on_ring = opts is None and kernel_has_ring() and ring_ready(mnt)
        got[opts] = unaligned_direct_load(mnt)
        if opts is None and not on_ring:
            print("  (no FUSE over io_uring here: /dev/fuse only)")
    dev, ring = got["uring=off"], got[None]
    assert dev["rmw_cycles"] == 16 and dev["copied_bytes"] == 16 * 4096, dev
    assert dev["ring_moved_bytes"] == 0, dev
    assert ring["copied_bytes"] == dev["copied_bytes"], (ring, dev)
    if kernel_has_ring():
        assert ring["ring_moved_bytes"] == 16 * 4096, ring


def test_off_and_auto_stay_on_dev_fuse():
    keep_param()
    fs, m, mnt, back = mounted("uring=off")
    direct_rw(os.path.join(mnt, "f"))
    assert stats(mnt)["ring_requests"] == 0
    assert m.stop() == 0
    if not kernel_has_ring():
        return
    set_param("N")
    fs, m, mnt, back = mounted("uring=auto")
    direct_rw(os.path.join(mnt, "f"))
    assert stats(mnt)["ring_requests"] == 0
    assert param() == "N", "uring=auto changed fuse.enable_uring"
    assert m.stop() == 0


def test_writes_that_must_wait_are_served():
    """Overlapping direct writes at depth and unaligned ones wait for range
    locks: on the ring they go to helpers, never block a queue thread that
    has to reap what they wait for. A buffered write whose blocks are
    locked goes to a helper too."""
    writes_that_must_wait(None)


def test_writes_that_must_wait_are_served_dev_fuse():
    """The same over /dev/fuse, whose workers reap their own I/O too
    (dev_fuse_ring.c) and must defer what waits as a queue thread does."""
    m = writes_that_must_wait("uring=off")
    assert "/dev/fuse: 2 workers, each with an io_uring of its own" in \
        m.output(), m.output()


def test_dev_fuse_workers_with_a_pool_of_three_buffers():
    """queue_depth=1, max_threads=2: three staging buffers for two
    /dev/fuse workers and two helpers. Deferred requests hold a buffer each
    while they wait, the workers' own I/O holds others: the workers must
    wait for their own completions, not for the pool, and nothing may
    hang."""
    m = writes_that_must_wait("uring=off,queue_depth=1,max_threads=2")
    assert m.stop() == 0, m.output()


def writes_that_must_wait(opts):
    keep_param()
    fs, m, mnt, back = mounted(opts)
    common = ["--directory=" + mnt, "--direct=1", "--ioengine=io_uring",
              "--iodepth=16", "--verify=crc32c", "--do_verify=1",
              "--verify_fatal=1", "--verify_state_save=0",
              "--output-format=terse", "--terse-version=3"]
    # Eight jobs writing the same 1 MiB: writes overlap all the time.
    r = subprocess.run(["fio", "--name=overlap",
                        "--filename=" + os.path.join(mnt, "shared"),
                        "--rw=randwrite", "--bs=4k", "--size=1M", "--numjobs=8",
                        "--verify=0", "--direct=1", "--ioengine=io_uring", "--iodepth=16", "--runtime=3",
                        "--time_based", "--output-format=terse"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(os.path.join(back, "shared")) == 1 << 20
    # Verified: unaligned sizes (read-modify-write), and aligned ones.
    for bs in ("1000", "4k", "64k"):
        r = subprocess.run(["fio", "--name=v" + bs, "--rw=randwrite",
                            "--bs=" + bs, "--size=4M"] + common,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (bs, r.stdout, r.stderr)
        assert r.stdout.strip().splitlines()[-1].split(";")[4] == "0"
    # Buffered writes and a direct reader of the same file.
    path = os.path.join(mnt, "mixed")
    with open(path, "wb") as f:
        for i in range(256):
            f.write(bytes([i]) * 4096)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 20)
    assert os.preadv(fd, [buf], 0) == 1 << 20
    os.close(fd)
    assert all(buf[i * 4096] == i for i in range(256))
    got = stats(mnt)
    assert got["rmw_cycles"] > 0, got
    if kernel_has_ring() and opts is None:
        assert got["ring_requests"] > 0, got
        # Read-modify-write is a helper's work.
        assert got["ring_helped"] > 0, got
    return m


def test_flock_that_waits_blocks_no_queue():
    """A flock that waits holds no queue (it waits in the kernel, see
    fs.c); the holder's unlock, and any other request meanwhile, still get
    through."""
    keep_param()
    fs, m, mnt, back = mounted()
    path = os.path.join(mnt, "locked")
    open(path, "w").close()
    holder = open(path)
    fcntl.flock(holder, fcntl.LOCK_EX)
    got = []

    def waiter():
        with open(path) as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            got.append(time.monotonic())
            fcntl.flock(f, fcntl.LOCK_UN)
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    assert not got, "the second flock did not wait"
    # Other requests are served while it waits.
    direct_rw(os.path.join(mnt, "meanwhile"), 64 * 1024)
    assert os.listdir(mnt)
    released = time.monotonic()
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    t.join(timeout=20)
    assert got and got[0] >= released, "the waiter never got the lock"


def test_cached_io_is_served_in_queue_threads():
    """Writes and reads of a file never opened for direct I/O, and the
    attribute reads the kernel sends with them, are served in the queue
    threads, not handed to helpers; the bytes are right either way."""
    keep_param()
    # (The FUSE page cache's path: passthrough would send no read or write.)
    fs, m, mnt, back = mounted("passthrough=off")
    # Counted below: none may still come through /dev/fuse.
    if kernel_has_ring():
        assert ring_ready(mnt), "no request came over the ring"
    path = os.path.join(mnt, "cached")
    blocks = 256
    before = stats(mnt)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for i in range(blocks):
            assert os.pwrite(fd, bytes([i]) * 4096, ((i * 97) % blocks) * 4096) == 4096
        os.fsync(fd)
    finally:
        os.close(fd)
    with open(os.path.join(back, "cached"), "rb") as f:
        data = f.read()
    assert len(data) == blocks * 4096
    for i in range(blocks):
        at = ((i * 97) % blocks) * 4096
        assert data[at:at + 4096] == bytes([i]) * 4096, i
    # Read back through the mount, from a new open (the kernel's cache of
    # the file is dropped at open).
    subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=True)
    with open(path, "rb") as f:
        assert f.read() == data
    after = stats(mnt)
    if not kernel_has_ring():
        return
    served = after["ring_requests"] - before["ring_requests"]
    helped = after["ring_helped"] - before["ring_helped"]
    # 256 writes and the reads (before FUSE_HANDLE_KILLPRIV_V2 also a
    # GETXATTR before some of the writes); helpers only for create, fsync,
    # flush, release and the like.
    assert served >= blocks + 8, (before, after)
    assert helped < 32, (before, after)


def cpu_idle_and_iowait():
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:]]
    return t[3], t[4]


def test_idle_mount_shows_no_iowait():
    """The queue threads' commands wait in the kernel for requests; on
    Linux 6.15 and later that wait is not counted as waiting for I/O, so
    an idle mount does not make the machine look 100% in iowait."""
    keep_param()
    fs, m, mnt, back = mounted()
    direct_rw(os.path.join(mnt, "f"))
    if not kernel_has_ring() or tuple(map(int, os.uname().release.split(".")[:2])) < (6, 15):
        print("  (no FUSE over io_uring, or a kernel before 6.15: not checked)")
        return
    time.sleep(0.5)
    i0, w0 = cpu_idle_and_iowait()
    time.sleep(2)
    i1, w1 = cpu_idle_and_iowait()
    idle, iowait = i1 - i0, w1 - w0
    assert iowait * 4 < idle + iowait, "idle %d ticks, iowait %d" % (idle, iowait)


def test_cached_and_direct_opens_of_one_file():
    """A direct write to a file that is also open through the page cache
    drops the cached pages (a wait for page locks: a helper's job)."""
    keep_param()
    fs, m, mnt, back = mounted()
    path = os.path.join(mnt, "both")
    with open(path, "wb") as f:
        f.write(b"a" * 65536)
    cached = open(path, "rb")
    assert cached.read() == b"a" * 65536
    buf = mmap.mmap(-1, 65536)
    buf.write(b"b" * 65536)
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    assert os.pwrite(fd, buf, 0) == 65536
    os.close(fd)
    cached.seek(0)
    assert cached.read() == b"b" * 65536
    cached.close()


def cached_reads_in_flight_together(opts):
    keep_param()
    fs, m, mnt, back = mounted(opts)
    job = ["fio", "--name=cached", "--filename=" + os.path.join(mnt, "cached"),
           "--size=32M", "--rw=randwrite", "--bs=4k", "--ioengine=io_uring",
           "--iodepth=16", "--direct=0", "--verify=crc32c",
           "--verify_fatal=1", "--verify_state_save=0", "--output-format=terse",
           "--terse-version=3"]
    r = subprocess.run(job + ["--do_verify=0", "--end_fsync=1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # Drop the mount's and the backing file's cached pages: every read
    # reaches the daemon, and the backing read misses.
    subprocess.run(["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], check=True)
    before = stats(mnt)
    r = subprocess.run(job + ["--verify_only=1"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].split(";")[4] == "0", r.stdout
    after = stats(mnt)
    assert after["buffered_requests"] - before["buffered_requests"] >= 1024, \
        (before, after)
    # Several were in flight at once: a backing page-cache miss waits in
    # the ring, not in the thread that received the request.
    assert after["inflight_max"] >= 2, after
    assert m.stop() == 0


def test_cached_reads_in_flight_together():
    """Reads of a file without direct I/O (fio, io_uring, 16 at a time,
    verified) after the page caches were dropped: served right, several
    backing reads in flight at once."""
    cached_reads_in_flight_together("passthrough=off")


def test_cached_reads_in_flight_together_dev_fuse():
    """The same over /dev/fuse, through the completion thread."""
    cached_reads_in_flight_together("uring=off,passthrough=off")


if __name__ == "__main__":
    main()
