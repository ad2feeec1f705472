#!/usr/bin/env python3
"""Direct I/O through the staging path: fio verification at every block
size and alignment, EOF, concurrent writers, errors, stats."""
import errno
import mmap
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, Mount, ScratchFS, expect_errno, force_unmount,  # noqa: E402
                     is_mounted, mixed_writer_threads, mounted, on_exit, run,
                     main, stats)


def fio(mnt, name, *args, timeout=240):
    # --blockalign turns fio's random map off, so a job may have two
    # overlapping writes in flight; fio's verify expects the one it issued
    # last to win, which no storage promises for writes in flight together
    # (fio's serialize_overlap documents this), and requests that reach
    # different FUSE ring threads may run in either order here too.
    # serialize_overlap keeps such writes apart; what concurrent overlapping
    # writers leave behind is checked by test_concurrent_overlapping_writers.
    cmd = ["fio", "--name=" + name, "--directory=" + mnt, "--direct=1",
           "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
           "--verify_state_save=0", "--serialize_overlap=1",
           "--group_reporting", "--output-format=terse", "--terse-version=3"]
    cmd += list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "fio %s failed:\n%s\n%s" % (args, r.stdout, r.stderr)
    fields = r.stdout.strip().splitlines()[-1].split(";")
    assert fields[4] == "0", "fio %s: error %s" % (args, fields[4])
    return fields


def aligned_buf(n):
    return mmap.mmap(-1, max(n, 4096))


def test_fio_matrix():
    fs, m, mnt, back = mounted()
    for bs in ("512", "4k", "64k", "1M"):
        for engine in ("io_uring", "libaio", "psync"):
            size = "4M" if bs in ("512", "4k") else "16M"
            fio(mnt, "seq-%s-%s" % (bs, engine), "--rw=write", "--bs=" + bs,
                "--size=" + size, "--ioengine=" + engine, "--iodepth=8")
            fio(mnt, "rand-%s-%s" % (bs, engine), "--rw=randwrite",
                "--bs=" + bs, "--size=" + size, "--ioengine=" + engine,
                "--iodepth=16")
    # Nothing went through the page cache.
    s = stats(mnt)
    assert s["direct_requests"] > 0 and s["write_errors"] == 0


def test_fio_unaligned():
    fs, m, mnt, back = mounted()
    for engine in ("io_uring", "libaio", "psync"):
        # Odd sizes and offsets that no 512- or 4096-byte format accepts.
        fio(mnt, "odd-%s" % engine, "--rw=randwrite", "--bs=1000",
            "--blockalign=1", "--offset=333", "--size=2M",
            "--ioengine=" + engine, "--iodepth=8")
        fio(mnt, "odd-big-%s" % engine, "--rw=write", "--bs=70001",
            "--offset=4097", "--size=8M", "--ioengine=" + engine,
            "--iodepth=4")
        fio(mnt, "sectors-%s" % engine, "--rw=randrw", "--bs=512",
            "--blockalign=512", "--size=2M", "--ioengine=" + engine,
            "--iodepth=16")
    fio(mnt, "bsrange", "--rw=randwrite", "--bsrange=512-1M",
        "--blockalign=512", "--size=32M", "--ioengine=io_uring", "--iodepth=8")


def test_fio_on_4k_sectors():
    """A device with 4096-byte sectors, like a 4096+8 PI format: staging is
    in 4096-byte blocks, and 512-byte I/O is read-modify-write."""
    fs, m, mnt, back = mounted(sector_size=4096)
    assert "staging alignment 4096" in m.output(), m.output()
    for engine in ("io_uring", "psync"):
        fio(mnt, "s512-%s" % engine, "--rw=randrw", "--bs=512",
            "--blockalign=512", "--size=4M", "--ioengine=" + engine,
            "--iodepth=16", "--numjobs=2")
    fio(mnt, "s4k-range", "--rw=randwrite", "--bsrange=512-1M",
        "--blockalign=512", "--size=32M", "--ioengine=libaio", "--iodepth=8")
    assert stats(mnt)["rmw_cycles"] > 0
    assert m.stop() == 0


def test_fio_many_jobs():
    fs, m, mnt, back = mounted()
    # Several jobs on one file, then on a file each.
    fio(mnt, "shared", "--filename=shared.img", "--rw=randwrite", "--bs=4k",
        "--size=8M", "--numjobs=4", "--offset_increment=8M",
        "--ioengine=io_uring", "--iodepth=16")
    fio(mnt, "many", "--rw=randwrite", "--bs=64k", "--size=8M", "--numjobs=4",
        "--nrfiles=4", "--ioengine=libaio", "--iodepth=8")
    s = stats(mnt)
    assert s["inflight_max"] > 1, s


def test_eof_and_sizes():
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "eof")
    data = os.urandom(1000)
    with open(os.path.join(back, "eof"), "wb") as f:
        f.write(data)
    fd = os.open(p, os.O_RDWR | os.O_DIRECT)
    buf = aligned_buf(8192)
    assert os.preadv(fd, [memoryview(buf)[:4096]], 0) == 1000
    assert buf[:1000] == data
    assert os.preadv(fd, [memoryview(buf)[:4096]], 512) == 488
    assert buf[:488] == data[512:]
    assert os.preadv(fd, [memoryview(buf)[:100]], 900) == 100
    assert buf[:100] == data[900:]
    assert os.preadv(fd, [memoryview(buf)[:4096]], 1000) == 0
    assert os.preadv(fd, [memoryview(buf)[:4096]], 8192) == 0
    # Extending writes leave exactly the right size.
    assert os.pwrite(fd, b"x" * 10, 995) == 10
    assert os.fstat(fd).st_size == 1005
    assert os.stat(os.path.join(back, "eof")).st_size == 1005
    assert os.pwrite(fd, b"y" * 3, 10000) == 3
    assert os.stat(os.path.join(back, "eof")).st_size == 10003
    with open(os.path.join(back, "eof"), "rb") as f:
        whole = f.read()
    assert whole[:995] == data[:995] and whole[995:1005] == b"x" * 10
    assert whole[1005:10000] == b"\0" * 8995 and whole[10000:] == b"yyy"
    # A write inside a short file keeps its size.
    assert os.pwrite(fd, b"z", 0) == 1
    assert os.stat(os.path.join(back, "eof")).st_size == 10003
    # Truncate shrinks and grows.
    os.ftruncate(fd, 700)
    assert os.preadv(fd, [memoryview(buf)[:4096]], 0) == 700
    os.close(fd)
    # O_APPEND with O_DIRECT.
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_DIRECT)
    assert os.write(fd, b"A" * 300) == 300
    assert os.write(fd, b"B" * 5) == 5
    os.close(fd)
    with open(os.path.join(back, "eof"), "rb") as f:
        whole = f.read()
    assert len(whole) == 1005 and whole[700:] == b"A" * 300 + b"B" * 5
    # Sizes from 1 byte to 1 MiB at odd offsets, each read back.
    fd = os.open(os.path.join(mnt, "sizes"), os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    model = bytearray()
    off = 7
    for n in (1, 2, 511, 512, 513, 4095, 4096, 4097, 65537, 1 << 20):
        chunk = os.urandom(n)
        assert os.pwrite(fd, chunk, off) == n
        if len(model) < off + n:
            model.extend(b"\0" * (off + n - len(model)))
        model[off:off + n] = chunk
        off += n + 3
    big = aligned_buf(len(model) + 4096)
    got = os.preadv(fd, [big], 0)
    assert got == len(model) and big[:got] == bytes(model)
    os.close(fd)


def test_stats_copy_and_rmw():
    fs, m, mnt, back = mounted()
    fd = os.open(os.path.join(mnt, "s"), os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = aligned_buf(1 << 20)
    buf.write(os.urandom(1 << 20))
    before = stats(mnt)
    for i in range(16):
        assert os.pwritev(fd, [buf], i << 20) == 1 << 20
    mid = stats(mnt)
    assert mid["copied_bytes"] == before["copied_bytes"], (before, mid)
    assert mid["rmw_cycles"] == before["rmw_cycles"]
    assert mid["write_bytes"] - before["write_bytes"] == 16 << 20
    for i in range(10):
        os.pwrite(fd, b"u" * 100, 4096 * i + 17)
    after = stats(mnt)
    assert after["rmw_cycles"] - mid["rmw_cycles"] == 10
    assert after["write_p50_us"] > 0 and after["write_p99_us"] >= after["write_p50_us"]
    os.close(fd)
    r = run([BOUNCEFS, "stat", back], check=False)
    assert r.returncode == 1 and "not a bouncefs mount" in r.stderr


def test_concurrent_overlapping_writers():
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "shared")
    with open(p, "wb") as f:
        f.write(b"\0" * 65536)
    region = 37           # many writers share each block
    writers = 12
    rounds = 300
    last = {}
    errors = []

    def writer(w):
        try:
            fd = os.open(p, os.O_RDWR | os.O_DIRECT)
            for r in range(rounds):
                val = bytes([(w * 31 + r) % 251 + 1]) * region
                for k in range(4):   # four regions per writer, spread out
                    off = (k * writers + w) * region + k * 4096
                    os.pwrite(fd, val, off)
                last[w] = val
            os.close(fd)
        except Exception as e:  # reported below
            errors.append(e)
    ts = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in ts:
        t.start()
    # Aligned writers in other blocks at the same time.
    fd = os.open(p, os.O_RDWR | os.O_DIRECT)
    blk = aligned_buf(4096)
    for i in range(200):
        blk[:] = bytes([i % 200 + 1]) * 4096
        os.pwritev(fd, [blk], 49152 + (i % 4) * 4096)
    os.close(fd)
    for t in ts:
        t.join()
    assert not errors, errors
    with open(os.path.join(back, "shared"), "rb") as f:
        data = f.read()
    for w in range(writers):
        for k in range(4):
            off = (k * writers + w) * region + k * 4096
            assert data[off:off + region] == last[w], (w, k)


def test_mixed_cached_and_direct_writers():
    """Direct and page-cache opens of one file, writing the same blocks at
    once: nothing hangs, and cached readers see direct writes."""
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "mixed")
    with open(p, "wb") as f:
        f.write(b"\0" * 262144)
    errors = []
    ts = mixed_writer_threads(p, time.monotonic() + 4, (1, 60), (200, 201),
                              errors)
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
        assert not t.is_alive(), "a writer hangs"
    assert not errors, errors
    # A cached reader sees what a direct writer wrote just before.
    cfd = os.open(p, os.O_RDONLY)
    os.pread(cfd, 4096, 0)  # now in the page cache
    dfd = os.open(p, os.O_RDWR | os.O_DIRECT)
    buf = aligned_buf(4096)
    buf[:] = b"N" * 4096
    os.pwritev(dfd, [buf], 0)
    assert os.pread(cfd, 4096, 0) == b"N" * 4096
    os.close(dfd)
    os.close(cfd)
    assert os.stat(os.path.join(back, "mixed")).st_size == 262144


def test_sync_flags_and_fsync():
    fs, m, mnt, back = mounted()
    for flag in (os.O_DSYNC, os.O_SYNC):
        p = os.path.join(mnt, "sync%d" % flag)
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT | flag, 0o644)
        buf = aligned_buf(65536)
        buf.write(b"s" * 65536)
        assert os.pwritev(fd, [buf], 0) == 65536
        assert os.pwrite(fd, b"odd", 65536) == 3
        before = stats(mnt)["fsync_requests"]
        os.fsync(fd)
        os.fdatasync(fd)
        assert stats(mnt)["fsync_requests"] == before + 2
        os.close(fd)
        assert os.stat(os.path.join(back, "sync%d" % flag)).st_size == 65539


def has_passthrough():
    """The running kernel has FUSE passthrough (6.9)."""
    return tuple(int(x) for x in os.uname().release.split(".")[:2]) >= (6, 9)


def fcntl_setfl_direct(opts):
    fs, m, mnt, back = mounted(opts)
    import fcntl
    p = os.path.join(mnt, "setfl")
    opened = stats(mnt)["passthrough_opens"]
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"buffered")
    before = stats(mnt)
    before["passthrough_open"] = before["passthrough_opens"] > opened
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
    buf = aligned_buf(4096)
    buf.write(b"D" * 4096)
    assert os.pwritev(fd, [buf], 4096) == 4096
    after = stats(mnt)
    os.close(fd)
    with open(os.path.join(back, "setfl"), "rb") as f:
        d = f.read()
    assert d[:8] == b"buffered" and d[4096:] == b"D" * 4096
    return before, after


def test_fcntl_setfl_direct():
    """O_DIRECT set with F_SETFL on an open through the page cache: staged."""
    before, after = fcntl_setfl_direct("passthrough=off")
    assert after["direct_requests"] > before["direct_requests"]


def test_fcntl_setfl_direct_passthrough():
    """The same on an open served by FUSE passthrough (Linux 6.9+): the
    kernel sends us nothing, and a synchronous write reaches the backing
    file through its page cache, not with O_DIRECT from the caller's
    pages (docs/architecture.md, "Buffered opens", says what asynchronous
    I/O does)."""
    before, after = fcntl_setfl_direct(None)
    if not has_passthrough():
        return
    assert before["passthrough_open"], before
    assert after["direct_requests"] == before["direct_requests"], (before, after)


def test_enospc():
    fs = ScratchFS("64M", fstype="ext4")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    mnt = os.path.join(fs.top, "mnt")
    m = Mount(back, mnt)
    keep = os.urandom(1 << 20)
    with open(os.path.join(mnt, "keep"), "wb") as f:
        f.write(keep)
    fd = os.open(os.path.join(mnt, "fill"), os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = aligned_buf(1 << 20)
    buf.write(b"F" * (1 << 20))
    total, err = 0, None
    while True:
        try:
            n = os.pwritev(fd, [buf], total)
        except OSError as e:
            err = e.errno
            break
        if n == 0:
            break
        total += n
        assert total < 200 << 20
    assert err == errno.ENOSPC, err
    # Unaligned writes fill what is left, then fail the same way.
    odd = total + 77
    while True:
        try:
            n = os.pwrite(fd, b"x" * 100000, odd)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
            break
        assert 0 < n <= 100000
        odd += n
        assert odd < total + (64 << 20)
    os.close(fd)
    # What was reported written is there, and nothing else was lost.
    with open(os.path.join(back, "fill"), "rb") as f:
        data = f.read()
    assert data[:total] == b"F" * total
    assert data[total:total + 77] == b"\0" * 77
    assert data[total + 77:odd] == b"x" * (odd - total - 77)
    with open(os.path.join(back, "keep"), "rb") as f:
        assert f.read() == keep
    # More failures of the same kind: the log names the file, the offset
    # and the error, and holds back all but a few (rate limit: 5 a minute).
    fd = os.open(os.path.join(mnt, "fill"), os.O_RDWR | os.O_DIRECT)
    for i in range(30):
        expect_errno(errno.ENOSPC, os.pwritev, fd, [buf], odd + (1 << 20) * (i + 1))
    os.close(fd)
    log = [l for l in m.output().splitlines() if l.startswith("bouncefs: cannot write")]
    assert log, m.output()
    assert log[0].startswith("bouncefs: cannot write 'fill' at offset "), log[0]
    assert log[0].endswith(": no space left on device"), log[0]
    assert len(log) <= 5, log
    s = stats(mnt)
    assert s["write_errors"] >= 32
    assert s["errno_ENOSPC"] >= 32, s
    human = run([BOUNCEFS, "stat", mnt]).stdout
    assert "errors by errno: ENOSPC" in human, human
    assert m.stop() == 0


def test_stat_command():
    """The stat command for people (a table, EILSEQ called out), for
    scripts (--json), and --watch."""
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "s")
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = aligned_buf(1 << 16)
    for i in range(16):
        os.pwritev(fd, [buf], i << 16)
    os.preadv(fd, [buf], 0)
    os.close(fd)
    out = run([BOUNCEFS, "stat", mnt]).stdout
    for want in ("op", "requests", "MiB/s", "p50 us", "p99 us", "max us",
                 "read-modify-write cycles 0",
                 "bytes copied by the daemon 0",
                 "high-water mark", "errors by errno: none",
                 "EILSEQ (protection information check failed) 0"):
        assert want in out, "%r not in:\n%s" % (want, out)
    write_line = [l for l in out.splitlines() if l.split()[:1] == ["write"]][0]
    assert write_line.split()[1] == "16", write_line
    j = stats(mnt)
    assert j["write_requests"] == 16 and j["write_bytes"] == 16 << 16, j
    assert j["read_requests"] == 1 and j["copied_bytes"] == 0, j
    assert j["write_bytes_per_s"] > 0 and j["uptime_s"] > 0, j
    assert j["eilseq_errors"] == 0, j
    # One writer at a time: served synchronously, and counted in flight
    # all the same (the high-water mark showed 0).
    assert j["inflight_max"] >= 1 and j["inflight"] == 0, j
    for op in ("read", "write"):
        assert 0 < j[op + "_p50_us"] <= j[op + "_p99_us"] <= j[op + "_max_us"], j
    # --watch: a sample at once, then one a second, until interrupted.
    w = subprocess.Popen([BOUNCEFS, "stat", "--json", "--watch", "1", mnt],
                         stdout=subprocess.PIPE, text=True)
    on_exit(w.kill)
    time.sleep(2.5)
    w.send_signal(signal.SIGINT)
    out, _ = w.communicate(timeout=10)
    samples = [json.loads(l) for l in out.splitlines()]
    assert w.returncode == 0 and len(samples) >= 2, (w.returncode, out)
    assert samples[-1]["ops"]["write"]["requests_per_s"] == 0, samples[-1]
    for bad, why in ((["--watch", "0", mnt], "--watch takes whole seconds"),
                     (["--watch"], "--watch needs"),
                     (["--bogus", mnt], "unknown option '--bogus'"),
                     ([], "missing MOUNTPOINT")):
        r = run([BOUNCEFS, "stat"] + bad, check=False)
        assert r.returncode == 2 and why in r.stderr, (bad, r.returncode, r.stderr)
    # The counters xattr is the mount root's own: it cannot be set or
    # removed there (that stored a real xattr on the backing directory).
    for call in (lambda: os.setxattr(mnt, "user.bouncefs.stats", b"x 1\n"),
                 lambda: os.removexattr(mnt, "user.bouncefs.stats")):
        try:
            call()
            raise AssertionError("the stats xattr was changed")
        except OSError as e:
            assert e.errno == errno.EPERM, e
    assert "user.bouncefs.stats" not in os.listxattr(back)
    # Only a bouncefs mount's counters are printed: not a file inside it,
    # nor any other path that happens to carry the xattr.
    other = os.path.join(fs.top, "impostor")
    os.mkdir(other)
    os.setxattr(other, "user.bouncefs.stats", b"read_requests 999\n")
    for path in (other, os.path.join(mnt, "s")):
        r = run([BOUNCEFS, "stat", path], check=False)
        assert r.returncode == 1 and "not a bouncefs mount" in r.stderr, \
            (path, r.returncode, r.stdout, r.stderr)
    assert m.stop() == 0


def test_sigkill_keeps_fsynced_data():
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "journal")
    writer = subprocess.Popen([sys.executable, "-c", """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
buf = mmap.mmap(-1, 65536)
i = 0
while True:
    buf[:] = (b"%08d" % i) * 8192
    os.pwritev(fd, [buf], i * 65536)
    if i % 4 == 3:
        os.fsync(fd)
        print(i, flush=True)
    i += 1
""", p], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    on_exit(lambda: writer.kill())
    synced = -1
    deadline = time.time() + 30
    while synced < 40 and time.time() < deadline:
        synced = int(writer.stdout.readline())
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(timeout=10)
    writer.kill()
    writer.wait(timeout=10)
    force_unmount(mnt)
    assert not is_mounted(mnt)
    with open(os.path.join(back, "journal"), "rb") as f:
        for i in range(synced + 1):
            assert f.read(65536) == (b"%08d" % i) * 8192, i


def test_sigterm_drains_inflight_io():
    fs, m, mnt, back = mounted()
    p = os.path.join(mnt, "drain")
    r = subprocess.Popen(["fio", "--name=drain", "--filename=" + p, "--direct=1",
                          "--rw=randwrite", "--bs=64k", "--size=64M",
                          "--ioengine=io_uring", "--iodepth=32",
                          "--time_based", "--runtime=30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    on_exit(lambda: r.kill())
    time.sleep(2)
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=20) == 0, m.output()
    r.wait(timeout=20)
    assert not is_mounted(mnt)


def test_read_only_direct_open_allows_remount_ro():
    """A VM image open read-only with O_DIRECT (a qcow2 backing file under
    cache=none) holds no writable backing fd: the backing file system can
    be remounted read-only meanwhile, and read again."""
    fs, m, mnt, back = mounted()
    path = os.path.join(mnt, "base.img")
    buf = aligned_buf(65536)
    buf.write(b"b" * 65536)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o644)
    os.pwrite(fd, buf, 0)
    os.close(fd)
    ro = os.open(path, os.O_RDONLY | os.O_DIRECT)
    got = aligned_buf(65536)
    assert os.preadv(ro, [got], 0) == 65536 and got[:] == buf[:]
    # The writer's RELEASE is asynchronous: a moment for it.
    deadline = time.monotonic() + 10
    while True:
        r = subprocess.run(["mount", "-o", "remount,ro", fs.path],
                           capture_output=True, text=True)
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.returncode == 0, "remount,ro: " + r.stderr
    try:
        assert os.preadv(ro, [got], 0) == 65536 and got[:] == buf[:]
        expect_errno(errno.EROFS, os.open, path, os.O_WRONLY)
    finally:
        run(["mount", "-o", "remount,rw", fs.path])
    os.close(ro)
    assert m.stop() == 0


main(per_test_seconds=300)
