#!/usr/bin/env python3
"""A daemon killed under a restartable mount (-o restart=supervisor) is
followed by a successor that serves the same mount (docs/restart.md).

Each test mounts for real, SIGKILLs the daemon while files, a directory
mid-listing and a flock are held open (and while fio and the exerciser
write and verify), and checks that no application sees an error, that
every byte verifies, and that the successor says what it took over. The
supervisor is the daemon's child; every daemon of a test is found through
it. The mount is unmounted however a test ends (the harness aborts the
connection of a mount left behind), and the kernel's resend is needed:
Linux 6.9 or later."""
import ctypes
import fcntl
import json
import mmap
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, RealUser, force_unmount,  # noqa: E402
                     is_mounted, main, mounted, on_exit, ring_ready, stats)

HERE = os.path.dirname(os.path.abspath(__file__))
RESTART = "restart=supervisor"


def kernel_resends():
    v = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    return v >= (6, 9)


def resends():
    """Does this kernel resend (a restartable mount needs it)? Says so
    when not: the test is skipped."""
    if not kernel_resends():
        print("  skipped: Linux %s has no FUSE_NOTIFY_RESEND" %
              platform.release())
    return kernel_resends()


def proc_stat(pid):
    """(comm, state, ppid) of pid, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def alive(pid):
    s = proc_stat(pid)
    return s is not None and s[1] not in ("Z", "X")


def children(pid, comm):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s and s[2] == pid and s[0] == comm and s[1] not in "ZX":
                out.append(int(d))
    return out


class Restartable:
    """A restartable mount: the first daemon (m), its supervisor, and the
    daemon serving now."""

    def __init__(self, opts=None, restart=RESTART):
        self.fs, self.m, self.mnt, self.back = mounted(
            ",".join(o for o in (restart, opts) if o))
        deadline = time.time() + 10
        while not children(self.m.pid, "bouncefs-sv"):
            assert time.time() < deadline, "no supervisor: " + self.m.output()
            time.sleep(0.02)
        self.sv = children(self.m.pid, "bouncefs-sv")[0]
        self.daemon = self.m.pid
        self.kills = 0
        on_exit(self.stop)

    def kill(self):
        """SIGKILL the daemon serving now; wait for its successor to serve
        (the supervisor's new child answering a lookup). Returns the
        seconds from the kill to the successor's first answer."""
        old = self.daemon
        probe = os.path.join(self.mnt, "probe-%d" % self.kills)
        self.kills += 1
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        while alive(old):  # (a dying daemon may still answer)
            time.sleep(0.001)
        # A name never looked up: the lookup waits for a daemon.
        assert not os.path.exists(probe)
        took = time.monotonic() - t0
        new = [p for p in children(self.sv, "bouncefs") if p != old]
        assert len(new) == 1, (new, self.m.output())
        self.daemon = new[0]
        return took

    def stop(self):
        """Unmount; the daemon serving and the supervisor end."""
        if is_mounted(self.mnt):
            subprocess.run(["umount", self.mnt], timeout=30)
        deadline = time.time() + 20
        while (alive(self.daemon) or alive(self.sv)) and \
                time.time() < deadline:
            time.sleep(0.05)
        ended = not alive(self.daemon) and not alive(self.sv)
        for pid in (self.daemon, self.sv):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.m.stop()
        force_unmount(self.mnt)
        return ended

    def stats(self):
        return stats(self.mnt)


class Dir:
    """A directory stream of libc's (opendir/readdir): a listing that
    stops halfway, as ls would between two getdents."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir.restype = ctypes.c_void_p
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]

    def __init__(self, path):
        self.dp = self.libc.opendir(path.encode())
        assert self.dp, path

    def names(self, n=None):
        out = []
        while n is None or len(out) < n:
            ctypes.set_errno(0)
            ent = self.libc.readdir(self.dp)
            if not ent:
                assert ctypes.get_errno() == 0, os.strerror(ctypes.get_errno())
                break
            # struct dirent: d_ino, d_off, d_reclen, d_type, d_name
            name = ctypes.string_at(ent + 19).decode()
            if name not in (".", ".."):
                out.append(name)
        return out

    def close(self):
        self.libc.closedir(self.dp)


def test_the_successor_serves_what_the_kernel_holds():
    if not resends():
        return
    r = Restartable(os.environ.get("SUCCESSOR_TEST_OPTS"))
    mnt = r.mnt
    os.mkdir(os.path.join(mnt, "many"))
    for i in range(3000):
        open(os.path.join(mnt, "many", "f%04d" % i), "w").close()
    block = mmap.mmap(-1, 1 << 20)
    block.write(b"D" * (1 << 20))
    direct = os.open(os.path.join(mnt, "direct"),
                     os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    os.pwritev(direct, [block], 0)
    with open(os.path.join(mnt, "cached"), "w") as f:
        f.write("cached data")
    cached = os.open(os.path.join(mnt, "cached"), os.O_RDONLY)
    locked = os.open(os.path.join(mnt, "locked"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(locked, fcntl.LOCK_EX)
    listing = Dir(os.path.join(mnt, "many"))
    first = listing.names(1500)
    with open(os.path.join(mnt, "gone"), "w") as f:
        f.write("x")
    gone = os.open(os.path.join(mnt, "gone"), os.O_RDWR | os.O_DIRECT)
    os.unlink(os.path.join(mnt, "gone"))
    # Nothing cached for the stats below to hide a daemon behind.
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")

    took = r.kill()
    print("  from the kill to the successor's first answer: %.0f ms" %
          (took * 1000))
    # The node ids the kernel holds: the files it looked up before.
    assert os.stat(os.path.join(mnt, "direct")).st_size == 1 << 20
    # A direct open of the dead daemon's: read, written, read again.
    back = mmap.mmap(-1, 1 << 20)
    assert os.preadv(direct, [back], 0) == 1 << 20 and back[:] == block[:]
    block[:] = b"E" * (1 << 20)
    assert os.pwritev(direct, [block], 1 << 20) == 1 << 20
    assert os.preadv(direct, [back], 1 << 20) == 1 << 20 and back[:] == block[:]
    # The buffered one.
    assert os.pread(cached, 100, 0) == b"cached data"
    # The directory mid-listing: every name once.
    rest = listing.names()
    listing.close()
    assert sorted(first + rest) == ["f%04d" % i for i in range(3000)], \
        (len(first), len(rest), len(set(first + rest)))
    # The flock is the kernel's: still held.
    other = os.open(os.path.join(mnt, "locked"), os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        raise AssertionError("the flock was lost")
    except BlockingIOError:
        pass
    os.close(other)
    # New lookups and opens, held while the deleted file's open fails and
    # is released: they never get its fh.
    opened = []
    for i in range(6):
        with open(os.path.join(mnt, "new%d" % i), "w") as f:
            f.write("new%d" % i)
        opened.append(os.open(os.path.join(mnt, "new%d" % i), os.O_RDONLY))
    # A file deleted while open: its data went with the dead daemon's
    # descriptors, so its I/O fails (never reads as empty), and nothing
    # else does.
    try:
        got = os.pread(gone, 4096, 0)
        raise AssertionError("a deleted file's open read %r: %s" %
                             (got, r.m.output()[-3000:]))
    except OSError as e:
        print("  the deleted file's open: %s" % os.strerror(e.errno))
    os.close(gone)
    for i, fd in enumerate(opened):
        assert os.pread(fd, 10, 0) == b"new%d" % i
        os.close(fd)
    s = r.stats()
    assert s["reopened_opens"] >= 3, s
    # Released after the restart: answered by the successor.
    for fd in (direct, cached, locked):
        os.close(fd)
    assert r.stop(), "the daemon or the supervisor outlived the unmount"


def direct_writers(path, stop, errors, threads=4, blocks=16):
    """Threads writing 256 KiB direct blocks of path, each its own blocks,
    each block's bytes naming its writer, block and round; the last
    round each block got, per block."""
    last = {}
    lock = threading.Lock()

    def writer(t):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
        buf = mmap.mmap(-1, 256 << 10)
        n = 0
        while not stop.is_set():
            b = t * blocks + n % blocks
            buf[:] = (b"%02d-%04d-%08d|" % (t, b, n)) * ((256 << 10) // 17) + \
                b"." * ((256 << 10) % 17)
            try:
                os.pwritev(fd, [buf], b << 18)
            except OSError as e:
                errors.append(os.strerror(e.errno))
                break
            with lock:
                last[b] = n
            n += 1
        os.close(fd)

    ts = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    return ts, last


def test_writes_in_flight_are_resent_and_verify():
    if not resends():
        return
    r = Restartable(os.environ.get("SUCCESSOR_TEST_OPTS"))
    path = os.path.join(r.mnt, "image")
    stop, errors = threading.Event(), []
    ts, last = direct_writers(path, stop, errors)
    # Five kills at least, and more (up to 15) until one has found a
    # request read and not answered (most do).
    resent, times = 0, []
    while len(times) < 5 or (resent == 0 and len(times) < 15):
        time.sleep(0.7)
        times.append(r.kill())
        resent += r.stats()["resent_requests"]
    stop.set()
    for t in ts:
        t.join(30)
    assert not errors, errors
    # Every block holds the last round its writer was told was written.
    fd = os.open(path, os.O_RDONLY)
    for b, n in sorted(last.items()):
        got = os.pread(fd, 17, b << 18)
        assert got == b"%02d-%04d-%08d|" % (b // 16, b, n), (b, n, got)
    os.close(fd)
    print("  %d requests resent over %d kills; kill to first answer %s ms" %
          (resent, len(times), ", ".join("%.0f" % (t * 1000) for t in times)))
    assert resent > 0, "no write was in flight at any of %d kills" % len(times)
    assert r.stop()


class KillingEvery:
    """with KillingEvery(r, s) as took: the daemon is SIGKILLed every s
    seconds meanwhile; took gets each kill's time to the first answer."""

    def __init__(self, r, seconds):
        self.r, self.seconds, self.took = r, seconds, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop.wait(self.seconds):
            self.took.append(self.r.kill())

    def __enter__(self):
        self.thread.start()
        return self.took

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)


def test_fio_verifies_across_kills():
    if not resends():
        return
    r = Restartable()
    with KillingEvery(r, 1.5) as took:
        for direct in (1, 0):
            p = subprocess.run(
                ["fio", "--name=v", "--filename=%s/fio%d" % (r.mnt, direct),
                 "--size=24M", "--bs=64k", "--rw=randwrite",
                 "--ioengine=libaio", "--iodepth=8", "--direct=%d" % direct,
                 "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                 "--loops=10", "--rate=50m", "--output-format=json"],
                capture_output=True, text=True, timeout=240)
            assert p.returncode == 0, (direct, p.stderr[-3000:],
                                       r.m.output()[-3000:])
            job = json.loads(p.stdout)["jobs"][0]
            assert job["error"] == 0, job["error"]
            print("  fio direct=%d: %d writes, verified" %
                  (direct, job["write"]["total_ios"]))
    assert len(took) >= 2, took
    print("  %d kills, kill to first answer at most %.0f ms" %
          (len(took), max(took) * 1000))
    assert r.stop()


def test_the_exerciser_verifies_across_kills():
    if not resends():
        return
    r = Restartable()
    with KillingEvery(r, 2.0) as took:
        p = subprocess.run(
            [sys.executable, os.path.join(HERE, "exerciser.py"),
             os.path.join(r.mnt, "ex"), "--ops", "20000", "--seed", "18"],
            capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:] + \
        r.m.output()[-3000:]
    assert len(took) >= 1, took
    print("  %d kills during the exerciser" % len(took))
    assert r.stop()


def exe_of(pid):
    return os.readlink("/proc/%d/exe" % pid)


def takeover_socket(dev):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(30)
    s.connect("\0bouncefs-takeover-%d:%d" % (os.major(dev), os.minor(dev)))
    return s


def test_an_upgrade_in_place_hands_the_mount_to_another_build():
    if not resends():
        return
    r = Restartable()
    # "Another build": a copy of this one elsewhere, as an upgrade would
    # install a new program.
    newdir = tempfile.mkdtemp(prefix="bfs-upgrade-", dir="/var/tmp")
    on_exit(lambda: shutil.rmtree(newdir, ignore_errors=True))
    new = os.path.join(newdir, "bouncefs")
    shutil.copy2(os.path.realpath(BOUNCEFS), new)
    path = os.path.join(r.mnt, "image")
    stop, errors = threading.Event(), []
    ts, last = direct_writers(path, stop, errors)
    time.sleep(0.5)
    t0 = time.monotonic()
    p = subprocess.run([new, "--takeover", r.mnt], capture_output=True,
                       text=True, timeout=60)
    took = time.monotonic() - t0
    time.sleep(0.5)
    stop.set()
    for t in ts:
        t.join(30)
    assert p.returncode == 0, (p.stdout, p.stderr, r.m.output()[-3000:])
    daemons = children(r.sv, "bouncefs")
    assert len(daemons) == 1 and exe_of(daemons[0]) == new, \
        (daemons, [exe_of(d) for d in daemons])
    r.daemon = daemons[0]
    assert not errors, errors
    fd = os.open(path, os.O_RDONLY)
    for b, n in sorted(last.items()):
        assert os.pread(fd, 17, b << 18) == b"%02d-%04d-%08d|" % (
            b // 16, b, n), b
    os.close(fd)
    print("  %s (%.0f ms)" % (p.stdout.strip(), took * 1000))
    # Refused: a mount with no supervisor, a path that is no mount, and
    # anyone but root (the supervisor checks who asks).
    p = subprocess.run([new, "--takeover", r.back], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 6 and "not a bouncefs mount" in p.stderr, p.stderr
    user = RealUser("tko")
    dev = os.stat(r.mnt).st_dev

    def ask():
        s = takeover_socket(dev)
        try:
            s.send(b"T" + new.encode())
        except BrokenPipeError:  # answered and closed at once
            pass
        return s.recv(512).decode()
    # Answered at once, never waited for (a reset when the request came
    # after the supervisor had looked, and closed).
    answer = user.run(ask)
    assert answer.startswith("Fonly root") or \
        answer in ("errno:ECONNRESET", "errno:EPIPE"), answer
    assert children(r.sv, "bouncefs") == [r.daemon]
    assert r.stop()


def test_an_unmount_or_sigterm_ends_the_supervisor_too():
    r = Restartable()
    # The mount says it restarts; a remount cannot change that.
    if kernel_resends():
        assert json.loads(subprocess.run(
            [BOUNCEFS, "stat", "--json", r.mnt], capture_output=True,
            text=True, timeout=30).stdout)["config"]["restart"] == "supervisor"
    p = subprocess.run([BOUNCEFS, "-o", "remount,restart=off", r.back, r.mnt],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "cannot change restart" in p.stderr, \
        (p.returncode, p.stderr)
    os.kill(r.daemon, signal.SIGTERM)
    deadline = time.time() + 20
    while (alive(r.sv) or is_mounted(r.mnt)) and time.time() < deadline:
        time.sleep(0.05)
    assert not is_mounted(r.mnt), "SIGTERM did not unmount"
    assert not alive(r.sv), "the supervisor outlived a SIGTERM's unmount"
    assert children(r.sv, "bouncefs") == []


def test_a_mount_without_a_supervisor_refuses_a_takeover():
    fs, m, mnt, back = mounted()
    p = subprocess.run([BOUNCEFS, "--takeover", mnt], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1 and "no supervisor" in p.stderr, p.stderr
    # A user who binds the mount's takeover name first is not asked.
    user = RealUser("tks")
    dev = os.stat(mnt).st_dev
    r, w = os.pipe()

    def squat():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind("\0bouncefs-takeover-%d:%d" % (os.major(dev), os.minor(dev)))
        s.listen(1)
        os.write(w, b"x")
        c, _ = s.accept()
        c.send(b"S1")  # a lie: it would say a new daemon serves
        time.sleep(30)
    pid = user.spawn(squat)
    assert os.read(r, 1) == b"x"
    p = subprocess.run([BOUNCEFS, "--takeover", mnt], capture_output=True,
                       text=True, timeout=60)
    os.kill(pid, signal.SIGKILL)
    assert p.returncode == 1 and "not its supervisor's" in p.stderr, \
        (p.stdout, p.stderr)
    assert m.stop() == 0


def test_restart_auto_is_the_supervisor_where_no_ring_serves():
    """The default (restart=auto): a mount that serves over /dev/fuse
    anyway is restartable; one served by FUSE over io_uring, or made with
    restart=off, is not."""
    if not resends():
        return
    r = Restartable("uring=off", restart=None)
    assert r.stats()["config"]["restart"] == "supervisor"
    with open(os.path.join(r.mnt, "kept"), "w") as f:
        f.write("across the kill")
    r.kill()
    with open(os.path.join(r.mnt, "kept")) as f:
        assert f.read() == "across the kill"
    assert r.stop()
    for opts in ("restart=off,uring=off", None):
        fs, m, mnt, back = mounted(opts)
        if opts is None and not ring_ready(mnt):
            print("  no FUSE over io_uring here: the default mount is "
                  "the one above")
            m.stop()
            continue
        time.sleep(0.3)
        assert not children(m.pid, "bouncefs-sv"), opts
        assert stats(mnt)["config"]["restart"] == "off", opts
        assert m.stop() == 0


def test_successor_is_refused_by_hand():
    # --successor is the supervisor's: given bad fds it fails clearly.
    p = subprocess.run([BOUNCEFS, "--successor=x", "/tmp", "/mnt"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--successor" in p.stderr, p.stderr
    p = subprocess.run([BOUNCEFS, "-o", "restart=sometimes", "/tmp", "/mnt"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 4 and "restart" in p.stderr, p.stderr
    p = subprocess.run([BOUNCEFS, "--takeover"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "--takeover takes one" in p.stderr, p.stderr


if __name__ == "__main__":
    main(per_test_seconds=300)
