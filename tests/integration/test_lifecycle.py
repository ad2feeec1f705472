#!/usr/bin/env python3
"""Life cycle: detaching, signals, unmounting, dead mounts, failed mounts."""
import errno
import mmap
import os
import signal
import threading
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, Mount, abort_connection,  # noqa: E402
                     direct_rw_loop, force_unmount, is_mounted,
                     mixed_writer_threads, on_exit, run, main, scratch_dirs,
                     spawn, stats, wait_status)


def scratch():
    fs, back, mnt = scratch_dirs("1G")
    return back, mnt


def daemon_pids(mnt):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"bouncefs") and mnt.encode() in args:
            pids.append(int(d))
    return pids


def wait_gone(pid, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1][0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_detaches_after_mount_then_fusermount():
    back, mnt = scratch()
    r = run([BOUNCEFS, back, mnt], timeout=20)
    # The parent returns only once the mount is there.
    assert r.returncode == 0 and is_mounted(mnt), r.stderr
    pids = daemon_pids(mnt)
    assert len(pids) == 1, pids
    with open(os.path.join(mnt, "f"), "w") as f:
        f.write("detached")
    assert open(os.path.join(back, "f")).read() == "detached"
    run(["fusermount3", "-u", mnt])
    assert wait_gone(pids[0]), "daemon still running after fusermount3 -u"
    assert not is_mounted(mnt)


def stop_by(how):
    back, mnt = scratch()
    m = Mount(back, mnt)
    with open(os.path.join(mnt, "f"), "w") as f:
        f.write(how)
    if how == "umount":
        run(["umount", mnt])
    elif how == "fusermount3":
        run(["fusermount3", "-u", mnt])
    else:
        m.proc.send_signal(getattr(signal, how))
    assert m.proc.wait(timeout=15) == 0, m.output()
    assert not is_mounted(mnt)
    assert open(os.path.join(back, "f")).read() == how


def test_umount_exits_0():
    stop_by("umount")


def test_fusermount_exits_0():
    stop_by("fusermount3")


def test_sigint_exits_0():
    stop_by("SIGINT")


def relative_mount(foreground, sig):
    """bouncefs given BACKING_DIR and MOUNTPOINT relative to its working
    directory, then stopped by sig: it unmounts and exits 0, and leaves no
    dead mount (the daemon leaves its working directory when it
    detaches)."""
    back, mnt = scratch()
    top = os.path.dirname(mnt)
    rel_back = os.path.relpath(back, top)
    cmd = [BOUNCEFS, rel_back, "mnt"] + (["-f"] if foreground else [])
    proc = subprocess.Popen(cmd, cwd=top, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    on_exit(lambda: proc.poll() is None and proc.kill())
    deadline = time.time() + 15
    while not is_mounted(mnt):
        assert time.time() < deadline, "mount did not appear"
        if not foreground:
            assert proc.poll() in (None, 0), proc.stdout.read()
        time.sleep(0.02)
    if foreground:
        pid = proc.pid
    else:
        assert proc.wait(timeout=15) == 0
        pids = daemon_pids("mnt")
        assert len(pids) == 1, pids
        pid = pids[0]
    with open(os.path.join(mnt, "f"), "w") as f:
        f.write("relative")
    os.kill(pid, sig)
    assert wait_gone(pid), "daemon still running after %s" % sig
    if foreground:
        assert proc.wait(timeout=5) == 0
        out = proc.stdout.read()
        assert "failed to unmount" not in out, out
        assert "unmounted " + mnt in out, out
    assert not is_mounted(mnt)
    assert os.listdir(mnt) == []  # no dead mount: ENOTCONN otherwise
    assert open(os.path.join(back, "f")).read() == "relative"


def test_relative_paths_sigterm_detached():
    relative_mount(False, signal.SIGTERM)


def test_relative_paths_sigint_foreground():
    relative_mount(True, signal.SIGINT)


SANITIZED = os.environ.get("BOUNCEFS_SANITIZED", "none") != "none"


def startup_fails_cleanly(preexec, fragment=None):
    """A detached start whose staging buffers cannot be had: the command
    fails, says why, and leaves no mount (it exited 0 before, with nothing
    or a dead mount left)."""
    back, mnt = scratch()
    r = subprocess.run([BOUNCEFS, "-o", "queue_depth=512", back, mnt],
                       preexec_fn=preexec, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    if fragment:
        assert fragment in r.stderr, r.stderr
    deadline = time.time() + 5
    while is_mounted(mnt) and time.time() < deadline:
        time.sleep(0.05)
    assert not is_mounted(mnt), "a mount is left after a failed start"
    assert os.listdir(mnt) == []
    assert daemon_pids(mnt) == []


def test_startup_out_of_address_space_is_reported():
    """ulimit -v below what the pool takes (512 + 16 buffers of 1 MiB +
    16 KiB: 536 MiB)."""
    if SANITIZED:
        print("skipped: the sanitizers' shadow memory needs no ulimit -v")
        return
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))
    startup_fails_cleanly(limit, "the staging pool needs 536 MiB")


def test_startup_killed_in_memory_cgroup_leaves_no_mount():
    """In a 200 MiB memory cgroup, pinning 536 MiB of staging buffers gets
    the daemon killed while it starts (or refused): the command fails and
    takes the mount down."""
    if SANITIZED:
        print("skipped: the sanitizers' own memory would be what the limit hits")
        return
    cg = "/sys/fs/cgroup/memory/bfs-test-%d" % os.getpid()
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        print("skipped: no cgroup-v1 memory controller")
        return
    os.mkdir(cg)

    def remove():
        for _ in range(50):
            try:
                os.rmdir(cg)
                return
            except OSError:
                time.sleep(0.1)
    on_exit(remove)
    with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
        f.write(str(200 << 20))

    def join():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    startup_fails_cleanly(join)


def sigterm_with_open_files(opts):
    """SIGTERM with files open: the daemon exits 0, unmounted, and what
    the files had written is in the backing dir. Returns the result of a
    write to one of them after the shutdown (its errno, or the count)."""
    back, mnt = scratch()
    m = Mount(back, mnt, opts)
    fds = []
    for i in range(8):
        fd = os.open(os.path.join(mnt, "open%d" % i), os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, b"data%d" % i)
        fds.append(fd)
    os.fsync(fds[0])
    dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=15) == 0, m.output()
    assert not is_mounted(mnt)
    # The files that were open still reached the backing dir.
    for i in range(8):
        assert open(os.path.join(back, "open%d" % i), "rb").read() == b"data%d" % i
    try:
        after = os.pwrite(fds[1], b"more", 5)
    except OSError as e:
        after = e.errno
    for fd in fds + [dfd]:
        try:
            os.close(fd)   # the fd is released even if the flush fails
        except OSError as e:
            assert e.errno == errno.ENOTCONN, e
    # The mountpoint can be used again at once.
    m2 = Mount(back, mnt)
    assert open(os.path.join(mnt, "open3"), "rb").read() == b"data3"
    assert m2.stop() == 0
    return after, back


def test_sigterm_with_open_files():
    """Through the page cache, the descriptors then fail cleanly instead
    of hanging."""
    after, back = sigterm_with_open_files("passthrough=off")
    assert after in (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO), after


def test_sigterm_with_passthrough_open_files():
    """Files served by FUSE passthrough (Linux 6.9+) need no daemon for
    their reads and writes: after the shutdown a write through one of
    them still reaches the backing file (or, without passthrough, fails
    cleanly as above)."""
    after, back = sigterm_with_open_files(None)
    if after == 4:
        assert open(os.path.join(back, "open1"), "rb").read() == b"data1more"
    else:
        assert after in (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO), after


def in_child(threads):
    """A child process (harness.spawn) that starts the threads and waits
    for them; its pid."""
    def run_all():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return spawn(run_all)


def io_load(mnt, threads=8):
    """A child process whose threads write and read 1 MiB direct blocks of
    their own files until the mount fails them; its pid."""
    return in_child([threading.Thread(
        target=direct_rw_loop, args=(os.path.join(mnt, "load%d" % i), i))
        for i in range(threads)])


def stop_with_io_in_flight(opts, how):
    """With direct I/O in flight from 8 threads, the daemon is stopped (a
    SIGTERM, or its connection aborted as an administrator does with a hung
    mount): it ends within 15 s, and so do the I/O threads."""
    back, mnt = scratch()
    m = Mount(back, mnt, opts)
    load = io_load(mnt)
    deadline = time.time() + 10
    while stats(mnt)["write_requests"] < 20:
        assert time.time() < deadline, "no I/O reached the mount"
        time.sleep(0.05)
    if how == "abort":
        abort_connection(m.dev)
    else:
        m.proc.send_signal(signal.SIGTERM)
    try:
        status = m.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise AssertionError("the daemon still runs 15 s after the %s" % how)
    if how == "sigterm":
        assert status == 0, (status, m.output())
    assert wait_status(load, 15) is not None, "the I/O threads still wait"


def test_sigterm_with_io_in_flight():
    stop_with_io_in_flight(None, "sigterm")


def test_sigterm_with_io_in_flight_dev_fuse():
    stop_with_io_in_flight("uring=off", "sigterm")


def test_abort_with_io_in_flight():
    stop_with_io_in_flight(None, "abort")


def test_abort_with_io_in_flight_dev_fuse():
    stop_with_io_in_flight("uring=off", "abort")


def clean_stop_errno(opts):
    """SIGTERM with 8 threads doing direct I/O: each thread's first failure
    is ENOTCONN, what the man page says (not the ECANCELED of a cancelled
    I/O, nor the kernel's ECONNABORTED for requests left unanswered)."""
    back, mnt = scratch()
    m = Mount(back, mnt, opts)
    seen = []
    threads = [threading.Thread(
        target=direct_rw_loop, args=(os.path.join(mnt, "stop%d" % i), i, seen),
        daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while stats(mnt)["write_requests"] < 20:
        assert time.time() < deadline, "no I/O reached the mount"
        time.sleep(0.05)
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=15) == 0, m.output()
    for t in threads:
        t.join(15)
    assert len(seen) == 8, seen
    assert set(seen) == {errno.ENOTCONN}, [errno.errorcode[e] for e in seen]


def test_clean_stop_answers_enotconn():
    clean_stop_errno(None)


def test_clean_stop_answers_enotconn_dev_fuse():
    clean_stop_errno("uring=off")


def clean_stop_finishes_held_io(opts):
    """A direct write the daemon holds when SIGTERM comes (slowed to 512 KiB/s
    by blkio throttling of the backing device) completes and is kept; a
    request that arrives during the stop gets ENOTCONN (at once over
    /dev/fuse; over the ring, a queue thread that writes synchronously, as
    it does a lone request, answers its queue's next one after). One
    request: of a write larger than max_write, the parts the kernel sends
    after the stop began get ENOTCONN, a short write."""
    fs, back, mnt = scratch_dirs("1G")
    m = Mount(back, mnt, opts)
    rdev = os.stat(fs.loop).st_rdev
    cg = "/sys/fs/cgroup/blkio/bfs-test-%d" % os.getpid()
    os.mkdir(cg)

    def drop_cgroup():
        for p in open(os.path.join(cg, "cgroup.procs")).read().split():
            try:
                with open("/sys/fs/cgroup/blkio/cgroup.procs", "w") as f:
                    f.write(p)
            except OSError:
                pass
        os.rmdir(cg)
    on_exit(drop_cgroup)
    with open(os.path.join(cg, "blkio.throttle.write_bps_device"), "w") as f:
        f.write("%d:%d %d" % (os.major(rdev), os.minor(rdev), 512 << 10))
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(m.pid))
    path = os.path.join(mnt, "held")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = mmap.mmap(-1, 1 << 20)
    buf.write(b"h" * (1 << 20))
    result = {}

    def write():
        try:
            result["n"] = os.pwritev(fd, [buf], 0)
        except OSError as e:
            result["err"] = e.errno
    t = threading.Thread(target=write, daemon=True)
    t.start()
    # 1 MiB at 512 KiB/s: held for about 2 s.
    time.sleep(0.5)
    assert t.is_alive(), "the write was not held: %r" % result
    m.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    assert t.is_alive(), "the held write ended before the test could look"
    start = time.monotonic()
    try:
        os.stat(os.path.join(mnt, "never-looked-up"))
        raise AssertionError("a lookup was served during the stop")
    except OSError as e:
        assert e.errno == errno.ENOTCONN, e
    if opts and "uring=off" in opts:
        assert time.monotonic() - start < 1, \
            "the refusal waited %.2f s" % (time.monotonic() - start)
    t.join(15)
    assert result.get("n") == 1 << 20, result
    assert m.proc.wait(timeout=15) == 0, m.output()
    try:
        os.close(fd)
    except OSError as e:   # its FLUSH: the daemon is gone
        assert e.errno == errno.ENOTCONN, e
    force_unmount(mnt)
    with open(os.path.join(back, "held"), "rb") as f:
        assert f.read() == b"h" * (1 << 20)


def test_clean_stop_finishes_held_io():
    clean_stop_finishes_held_io(None)


def test_clean_stop_finishes_held_io_dev_fuse():
    clean_stop_finishes_held_io("uring=off")


def sigterm_with_mixed_writers(opts):
    """SIGTERM while direct and cached opens write the same blocks (direct
    writes then wait for page-cache invalidations, which may wait for
    cached writes nobody reads any more once the workers stop): the daemon
    still ends within 15 s, and so do the writers."""
    back, mnt = scratch()
    m = Mount(back, mnt, opts)
    p = os.path.join(mnt, "mixed")
    with open(p, "wb") as f:
        f.write(b"\0" * 262144)
    pid = in_child(mixed_writer_threads(p, time.monotonic() + 60,
                                        range(1, 17), (200, 201, 202), []))
    time.sleep(2)
    m.proc.send_signal(signal.SIGTERM)
    try:
        m.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise AssertionError("the daemon still runs 15 s after SIGTERM")
    assert wait_status(pid, 15) is not None, "the writers still wait"


def test_sigterm_with_mixed_writers():
    sigterm_with_mixed_writers(None)


def test_sigterm_with_mixed_writers_dev_fuse():
    sigterm_with_mixed_writers("max_threads=1,uring=off")


def test_sigkill_leaves_dead_mount_with_clear_error():
    back, mnt = scratch()
    m = Mount(back, mnt)
    with open(os.path.join(mnt, "kept"), "w") as f:
        f.write("synced")
        f.flush()
        os.fsync(f.fileno())
    m.proc.kill()
    m.proc.wait(timeout=10)
    r = run([BOUNCEFS, back, mnt], check=False, timeout=20)
    assert r.returncode == 6, (r.returncode, r.stderr)
    assert "Transport endpoint is not connected" in r.stderr, r.stderr
    assert "umount it first" in r.stderr
    run(["umount", mnt])
    m2 = Mount(back, mnt)
    assert open(os.path.join(mnt, "kept")).read() == "synced"
    assert m2.stop() == 0


def test_failed_mount_reports_reason():
    back, mnt = scratch()
    os.chmod(os.path.dirname(back), 0o755)
    # An unprivileged user cannot mount on a root-owned directory.
    r = run(["setpriv", "--reuid", "65534", "--regid", "65534",
             "--clear-groups", BOUNCEFS, back, mnt], check=False, timeout=20)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "bouncefs: cannot mount at '%s'" % mnt in r.stderr
    assert len(r.stderr.strip().splitlines()) >= 2, r.stderr  # the reason too
    assert not is_mounted(mnt)
    assert daemon_pids(mnt) == []


main()
