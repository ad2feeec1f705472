"""Shared pieces of the integration tests: a scratch XFS on a loop device,
a real bouncefs mount, a test runner that runs each test in a process of
its own with a hard time bound (a hung daemon cannot wedge it), and cleanup
on every exit."""
import atexit
import ctypes
import ctypes.util
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BOUNCEFS = os.environ.get("BOUNCEFS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bouncefs")
BOUNCEFS = os.path.abspath(BOUNCEFS)

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

_cleanups = []        # (per_test, fn), undone in reverse order


def on_exit(fn, per_test=True):
    """Run fn at the end of the current test (per_test) or of the whole
    script, however it ends: failure, time-out or signal."""
    _cleanups.append((per_test, fn))


def _run_cleanups(only_per_test=False):
    keep = []
    while _cleanups:
        per_test, fn = _cleanups.pop()
        if only_per_test and not per_test:
            keep.append((per_test, fn))
            continue
        try:
            fn()
        except Exception:  # keep cleaning up
            traceback.print_exc()
    _cleanups.extend(reversed(keep))


atexit.register(_run_cleanups)


def _on_signal(signum, frame):
    _run_cleanups()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def run(cmd, check=True, timeout=60, **kw):
    return subprocess.run(cmd, check=check, timeout=timeout,
                          capture_output=True, text=True, **kw)


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4] == path:
                return True
    return False


FUSECTL = "/sys/fs/fuse/connections"


def mount_fusectl():
    """Mount the FUSE control file system (its abort files), as systemd
    does at boot, if nothing has: once, before any test, so that it is not
    taken for a mount a test left behind."""
    if not os.path.ismount(FUSECTL):
        subprocess.run(["mount", "-t", "fusectl", "none", FUSECTL],
                       capture_output=True)


def abort_connection(dev):
    """Abort the FUSE connection of the mount whose st_dev is dev."""
    mount_fusectl()
    try:
        with open(os.path.join(FUSECTL, str(os.minor(dev)), "abort"), "w") as f:
            f.write("1")
    except OSError:
        pass


def force_unmount(path):
    for _ in range(50):
        if not is_mounted(path):
            return
        subprocess.run(["umount", path], capture_output=True, timeout=30)
        if is_mounted(path):
            subprocess.run(["umount", "-l", path], capture_output=True,
                           timeout=30)
        time.sleep(0.1)


class ScratchFS:
    """An XFS file system on a loop device over a sparse file."""

    def __init__(self, size="2G", fstype="xfs", sector_size=None):
        self.top = tempfile.mkdtemp(prefix="bfs-test-", dir="/var/tmp")
        os.chmod(self.top, 0o755)
        self.image = os.path.join(self.top, "disk.img")
        self.path = os.path.join(self.top, "fs")
        os.mkdir(self.path)
        with open(self.image, "wb") as f:
            f.truncate(parse_size(size))
        mkfs = ["mkfs.xfs", "-q", "-f"] if fstype == "xfs" else \
            ["mkfs.ext4", "-q", "-F"]
        if sector_size:
            # A device with bigger sectors: made on the loop device.
            self.loop = run(["losetup", "-f", "--show", "--sector-size",
                             str(sector_size), self.image]).stdout.strip()
            run(mkfs + [self.loop])
        else:
            run(mkfs + [self.image])
            self.loop = run(["losetup", "-f", "--show", self.image]).stdout.strip()
        on_exit(self.destroy)
        run(["mount", self.loop, self.path])
        os.chmod(self.path, 0o755)

    def destroy(self):
        force_unmount(self.path)
        if self.loop:
            subprocess.run(["losetup", "-d", self.loop], capture_output=True)
            self.loop = None
        subprocess.run(["rm", "-rf", self.top], capture_output=True)


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * mult[s[-1]] if s[-1] in mult else int(s)


class Mount:
    """bouncefs running in the foreground over backing at mnt."""

    def __init__(self, backing, mnt, opts=None, prefix=(), extra=(),
                 pass_fds=()):
        self.backing, self.mnt = backing, mnt
        os.makedirs(mnt, exist_ok=True)
        cmd = list(prefix) + [BOUNCEFS, backing, mnt, "-f"] + list(extra)
        if opts:
            cmd += ["-o", opts]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     pass_fds=pass_fds)
        on_exit(self.stop)
        deadline = time.time() + 15
        while not is_mounted(mnt):
            if self.proc.poll() is not None:
                raise RuntimeError("bouncefs exited %d: %s" %
                                   (self.proc.returncode, self.output()))
            if time.time() > deadline:
                raise RuntimeError("mount did not appear")
            time.sleep(0.02)
        self.dev = os.stat(mnt).st_dev

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout=20):
        """Unmount and wait for the daemon; returns its exit status."""
        um = None
        if self.proc.poll() is None and is_mounted(self.mnt):
            um = subprocess.Popen(["umount", self.mnt],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            if um:
                um.wait(timeout=timeout)
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # A hung daemon: kill it and abort its connection, so that
            # processes waiting on the mount (umount included) get
            # ENOTCONN and can exit. Abort before waiting: a daemon thread
            # stuck in the kernel on the mount (a page lock that a request
            # holds) dies only once its requests end.
            self.proc.kill()
            abort_connection(self.dev)
            self.proc.wait()
            return None
        finally:
            if um:
                um.wait()
            force_unmount(self.mnt)


def scratch_dirs(size="2G", sector_size=None):
    """A fresh scratch XFS with a backing directory on it and a mountpoint
    beside it, unmounted at the end: (scratch, back, mnt)."""
    fs = ScratchFS(size, sector_size=sector_size)
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    os.chmod(back, 0o755)
    mnt = os.path.join(fs.top, "mnt")
    os.mkdir(mnt)
    on_exit(lambda: force_unmount(mnt))
    return fs, back, mnt


def mounted(opts=None, size="2G", sector_size=None, **kw):
    """A fresh scratch XFS and a mount over it: (scratch, mount, mnt_path)."""
    fs, back, mnt = scratch_dirs(size, sector_size)
    m = Mount(back, mnt, opts, **kw)
    return fs, m, mnt, back


def fill(directory):
    """Write zeros to a new file in directory until its file system is
    full (ENOSPC); the file's path."""
    path = os.path.join(directory, "fill")
    with open(path, "wb") as f:
        block = b"\0" * (1 << 20)
        try:
            while True:
                f.write(block)
                f.flush()
        except OSError:
            pass
    return path


def direct_rw_loop(path, tag, errors=None):
    """Write and read 1 MiB direct blocks of path until the mount fails
    one; the errno goes to errors (a list), if given."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
        buf = mmap.mmap(-1, 1 << 20)
        buf.write(bytes([tag % 256]) * (1 << 20))
        n = 0
        while True:
            os.pwritev(fd, [buf], (n % 8) << 20)
            os.preadv(fd, [buf], (n % 8) << 20)
            n += 1
    except OSError as e:
        if errors is not None:
            errors.append(e.errno)


def as_user(uid, gid, fn, groups=()):
    """Run fn() in a child process with the given ids; returns its result
    (an int, or the errno name of an OSError it raised)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
            res = str(fn())
        except OSError as e:
            res = "errno:" + (errno_name(e.errno))
        except BaseException as e:  # report, never fall through
            res = "exception:" + repr(e)
        os.write(w, res.encode())
        os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return out.decode()


def errno_name(e):
    import errno
    return errno.errorcode.get(e, str(e))


def expect_errno(err, fn, *args):
    """fn(*args) must fail with err (or with one of a tuple of errnos)."""
    errs = err if isinstance(err, tuple) else (err,)
    want = "/".join(errno_name(e) for e in errs)
    try:
        fn(*args)
    except OSError as e:
        assert e.errno in errs, "%s%s: got %s, want %s" % (
            fn.__name__, repr(args)[:120], errno_name(e.errno), want)
        return
    raise AssertionError("%s%s succeeded, want %s" % (
        fn.__name__, repr(args)[:120], want))


def discover_tests():
    """The test_* functions of the program being run (__main__), in the
    order they are written."""
    mod = sys.modules["__main__"]
    found = [f for name, f in vars(mod).items()
             if name.startswith("test_") and callable(f) and
             getattr(f, "__module__", None) == "__main__"]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def _snapshot():
    """What a test may leave behind if it is killed: the mounts (by mount
    id: mount point, fstype, device), attached loop devices, our test
    users, scratch directories and bouncefs daemons."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            mounts[fields[0]] = (fields[4], fields[sep + 1], fields[2])
    loops = set()
    for name in os.listdir("/sys/block"):
        if name.startswith("loop") and \
                os.path.exists("/sys/block/%s/loop/backing_file" % name):
            loops.add("/dev/" + name)
    with open("/etc/passwd") as f:
        users = {line.split(":")[0] for line in f if line.startswith("bfs")}
    dirs = {os.path.join("/var/tmp", n) for n in os.listdir("/var/tmp")
            if n.startswith("bfs-")}
    return mounts, loops, users, dirs, _daemons()


def _daemons():
    """The pids of the bouncefs daemons running now."""
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.path.basename(os.readlink("/proc/%s/exe" % d)) == "bouncefs":
                pids.add(int(d))
        except OSError:
            pass
    return pids


def _gone(pid):
    """Has pid ended (no such process, or a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _kill_new_daemons(before, seconds=30):
    """SIGKILL the daemons started since before (a stopped one too), and
    wait until they have ended (one with many threads, or under a
    sanitizer, takes a moment to die)."""
    pids = _daemons() - before[4]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + seconds
    while any(not _gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _abort_new_fuse(before):
    """Abort the FUSE connections of mounts made since before: whatever
    waits on them (the test, its daemons) gets ENOTCONN and can go on."""
    for mid, (mnt, fstype, majmin) in _snapshot()[0].items():
        if mid not in before[0] and (fstype in ("fuse", "fuseblk") or
                                     fstype.startswith("fuse.")):
            major, minor = (int(x) for x in majmin.split(":"))
            abort_connection(os.makedev(major, minor))


def _undo_new(before):
    """After a test that had to be killed: unmount what it mounted (last
    first), detach its loop devices, remove its users and scratch
    directories."""
    _abort_new_fuse(before)
    mounts, loops, users, dirs, _ = _snapshot()
    for mid in sorted((m for m in mounts if m not in before[0]),
                      key=int, reverse=True):
        subprocess.run(["umount", "-l", mounts[mid][0]], capture_output=True,
                       timeout=30)
    for loop in sorted(loops - before[1]):
        subprocess.run(["losetup", "-d", loop], capture_output=True,
                       timeout=30)
    for user in sorted(users - before[2]):
        subprocess.run(["userdel", user], capture_output=True, timeout=30)
        subprocess.run(["groupdel", user], capture_output=True, timeout=30)
    for d in sorted(dirs - before[3]):
        subprocess.run(["rm", "-rf", "--one-file-system", d],
                       capture_output=True, timeout=120)


# After a test's own time-out, how long its process has to clean up
# before the runner aborts its mounts, and then before it is killed.
GRACE_SECONDS = 10
KILL_SECONDS = 60


def _run_in_child(t, seconds):
    """Run test t in a process of its own, bounded: it raises TimeoutError
    in the test after seconds; if the test is stuck where no signal reaches
    it (in the kernel, on a hung mount), its new FUSE connections are
    aborted GRACE_SECONDS later; if it has still not ended KILL_SECONDS
    after that, it is killed and what it left is undone here. True if it
    passed."""
    before = _snapshot()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        # The script's own clean-ups stay with the parent.
        del _cleanups[:]
        code = 1

        def alarm(signum, frame):
            raise TimeoutError("timed out after %ds" % seconds)
        signal.signal(signal.SIGALRM, alarm)
        signal.alarm(seconds)
        try:
            t()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            signal.alarm(0)
            try:
                _run_cleanups()
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    status = wait_status(pid, seconds + GRACE_SECONDS)
    if status is None:
        print("runner: %s still running %ds after its time-out: aborting "
              "its FUSE connections" % (t.__name__, GRACE_SECONDS), flush=True)
        _abort_new_fuse(before)
        status = wait_status(pid, KILL_SECONDS)
    if status is None:
        print("runner: %s did not end: killed" % t.__name__, flush=True)
        # Its daemons first: a request that a FUSE over io_uring entry
        # holds ends only when its daemon does (aborting the connection
        # does not end it), and the test waits for it unkillably.
        _kill_new_daemons(before)
        os.kill(pid, signal.SIGKILL)
        status = wait_status(pid, 30)
        _undo_new(before)
    return status == 0


def main(per_test_seconds=120):
    """Run each test function of the program (discover_tests), or those
    named on the command line, each in a process of its own with a time
    bound (_run_in_child); print a summary line."""
    tests = discover_tests()
    mount_fusectl()
    passed = failed = 0
    only = sys.argv[1:]
    unknown = set(only) - {t.__name__ for t in tests}
    if unknown:
        sys.exit("no such test: %s" % ", ".join(sorted(unknown)))
    for t in tests:
        if only and t.__name__ not in only:
            continue
        start = time.time()
        if _run_in_child(t, per_test_seconds):
            passed += 1
            print("ok   %s (%.1fs)" % (t.__name__, time.time() - start),
                  flush=True)
        else:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)


def stats(mnt):
    """The counters of a mount (bouncefs stat --json), flattened:
    read_requests, write_p99_us, rmw_cycles, errno_ENOSPC..."""
    import json
    j = json.loads(run([BOUNCEFS, "stat", "--json", mnt]).stdout)
    flat = {}
    for op, vals in j.pop("ops").items():
        for k, v in vals.items():
            flat["%s_%s" % (op, k)] = v
    for name, v in j.pop("errors_by_errno").items():
        flat["errno_" + name] = v
    flat.update(j)
    return flat


def ring_ready(mnt, seconds=10):
    """Wait until requests reach the mount over FUSE over io_uring: its
    queue threads register after the mount, and until all have, requests
    come through /dev/fuse (slowly so on a busy machine). False if none
    came that way in time (a kernel or mount without the ring)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stats(mnt)["ring_requests"] > 0:  # stats is a GETXATTR
            return True
        time.sleep(0.05)
    return False


class RealUser:
    """A real local user, made with useradd for the test and removed
    after it (userdel), with a group of its own."""

    def __init__(self, tag):
        self.name = "bfs%s%d" % (tag, os.getpid() % 100000)
        subprocess.run(["userdel", self.name], capture_output=True)
        subprocess.run(["groupdel", self.name], capture_output=True)
        run(["useradd", "--no-create-home", "--user-group",
             "--shell", "/usr/sbin/nologin", self.name])
        on_exit(self.remove, per_test=False)
        import pwd
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def remove(self):
        subprocess.run(["userdel", self.name], capture_output=True)
        subprocess.run(["groupdel", self.name], capture_output=True)

    def run(self, fn, groups=()):
        """fn() as this user in a child process (see as_user)."""
        return as_user(self.uid, self.gid, fn, groups)

    def spawn(self, fn, groups=()):
        """fn() as this user in a child process left running (see spawn):
        its pid."""
        def as_me():
            os.setgroups(list(groups))
            os.setgid(self.gid)
            os.setuid(self.uid)
            fn()
        return spawn(as_me)


def spawn(fn):
    """fn() in a child process left running: its pid. The child exits 0
    when fn returns, 1 when it raises; it is killed and reaped after the
    test if it is still there."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        except BaseException:
            traceback.print_exc()
        os._exit(code)
    on_exit(lambda: _reap(pid))
    return pid


def _reap(pid):
    """Kill and reap a child; one stuck in a hung mount (uninterruptible
    until the connection is aborted, later in the clean-up) is reaped at
    exit instead of waited for here."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if wait_status(pid, 2) is None:
        on_exit(lambda: _reap_late(pid), per_test=False)


def _reap_late(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        wait_status(pid, 5)
    except (ProcessLookupError, ChildProcessError):
        pass


def wait_status(pid, seconds):
    """The exit status of child pid within seconds, or None (still there)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    return None


def mixed_writer_threads(path, stop, direct_seeds, cached_seeds, errors):
    """Threads (not started) writing one file through direct opens and
    through the page cache at once, the same blocks, until time.monotonic()
    passes stop: a direct write must drop the cached pages of its range,
    which a cached write keeps locked until it is answered. Their errors
    go to the list errors."""
    def direct(seed):
        try:
            fd = os.open(path, os.O_RDWR | os.O_DIRECT)
            buf = mmap.mmap(-1, 65536)
            i = 0
            while time.monotonic() < stop:
                buf[:] = bytes([seed + i % 50]) * 65536
                os.pwritev(fd, [buf], (i % 4) * 65536)
                os.pwrite(fd, b"u" * 1000, (i * 4093) % 200000)
                i += 1
            os.close(fd)
        except Exception as e:
            errors.append(e)

    def cached(seed):
        try:
            fd = os.open(path, os.O_RDWR)
            i = 0
            while time.monotonic() < stop:
                os.pwrite(fd, bytes([seed]) * 20000, (i * 7919) % 240000)
                os.pread(fd, 30000, (i * 104729) % 230000)
                i += 1
            os.close(fd)
        except Exception as e:
            errors.append(e)
    return ([threading.Thread(target=direct, args=(s,)) for s in direct_seeds] +
            [threading.Thread(target=cached, args=(s,)) for s in cached_seeds])
