#!/usr/bin/env python3
"""A mount shared by every local user, tried as a hostile one would: two
real users (useradd, removed after), racing, locking, and acting on the
backing directory behind the mount's back."""
import errno
import fcntl
import mmap
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Mount, RealUser, ScratchFS, abort_connection,  # noqa: E402
                     main, mixed_writer_threads, mounted, on_exit, wait_status)

A = B = None
SERIAL = 0
MARKERS = tempfile.mkdtemp(prefix="bfs-markers-", dir="/var/tmp")
os.chmod(MARKERS, 0o777)
on_exit(lambda: shutil.rmtree(MARKERS, ignore_errors=True), per_test=False)


def users():
    global A, B
    if A is None:
        A, B = RealUser("a"), RealUser("b")
    return A, B


def eq(got, want):
    assert got == want, "got %r, want %r" % (got, want)


SECRET = b"A's secret data\n" * 64


def test_create_race_never_opens_another_users_file():
    """A's 0600 file appears between the kernel's LOOKUP and CREATE of B's
    open(O_CREAT|O_TRUNC) (A creates it through a second mount of the same
    backing directory): B never gets a descriptor of it, and it is never
    truncated."""
    a, b = users()
    fs = ScratchFS("1G")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    os.chmod(back, 0o1777)
    m1 = Mount(back, os.path.join(fs.top, "m1"), "allow_other")
    m2 = Mount(back, os.path.join(fs.top, "m2"), "allow_other")
    name = "shared-name"
    seconds = float(os.environ.get("BOUNCEFS_RACE_SECONDS", "30"))
    end = time.monotonic() + seconds
    pa, pb = os.path.join(m1.mnt, name), os.path.join(m2.mnt, name)
    report = os.path.join(fs.top, "report")
    os.mkdir(report)
    os.chmod(report, 0o777)

    def opened(path, flags, mode):
        """Tries to open until the race ends: fds, then None."""
        while time.monotonic() < end:
            try:
                yield os.open(path, flags, mode)
            except OSError:
                continue

    def owner_loop():
        made = spoiled = 0
        for fd in opened(pa, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600):
            made += 1
            os.write(fd, SECRET)
            if os.pread(fd, len(SECRET) + 1, 0) != SECRET:
                spoiled += 1
            os.close(fd)
            os.unlink(pa)
            # Absent for a while, so that B's LOOKUP finds nothing.
            time.sleep(random.random() / 2000)
        with open(os.path.join(report, "a"), "w") as f:
            f.write("%d %d" % (made, spoiled))

    def intruder_loop():
        got = n = 0
        for fd in opened(pb, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644):
            n += 1
            if os.fstat(fd).st_uid != os.getuid():
                got += 1
            os.close(fd)
            try:
                os.unlink(pb)
            except OSError:
                pass
        with open(os.path.join(report, "b%d" % os.getpid()), "w") as f:
            f.write("%d %d" % (n, got))

    pids = [a.spawn(owner_loop)] + [b.spawn(intruder_loop) for _ in range(2)]
    for pid in pids:
        eq(wait_status(pid, seconds + 60), 0)
    made, spoiled = map(int, open(os.path.join(report, "a")).read().split())
    got = total = 0
    for f in os.listdir(report):
        if f.startswith("b"):
            o, g = map(int, open(os.path.join(report, f)).read().split())
            total, got = total + o, got + g
    print("A made its file %d times (%d spoiled); B opened %d files, %d of "
          "them A's" % (made, spoiled, total, got))
    eq((got, spoiled), (0, 0))
    assert made > 100 and total >= 5, (made, total)
    assert m1.stop() == 0 and m2.stop() == 0


def marker(path, what):
    """A file next to the scratch file system, never on the mount (a hung
    mount must not hang the test itself)."""
    global SERIAL
    SERIAL += 1
    # (Each test runs in a process of its own: the pid keeps apart the
    # markers of different tests.)
    return os.path.join(MARKERS, "%s-%d-%d-%s" % (what, os.getpid(), SERIAL,
                                                 os.path.basename(path)))


def start_waiters(user, path, n):
    """n threads of one process of user, each blocked in flock(LOCK_EX) of
    its own open of path; the pid."""
    ready = marker(path, "ready%d" % n)

    def waiters():
        threading.excepthook = lambda a: sys.stderr.write(
            "waiter %d: %r\n" % (os.getpid(), a.exc_value))
        fds = [os.open(path, os.O_RDONLY) for _ in range(n)]
        ts = [threading.Thread(target=fcntl.flock, args=(fd, fcntl.LOCK_EX),
                               daemon=True) for fd in fds]
        for t in ts:
            t.start()
        open(ready, "w").close()
        time.sleep(600)
    pid = user.spawn(waiters)
    deadline = time.monotonic() + 60
    while not os.path.exists(ready):
        assert time.monotonic() < deadline, "the waiters did not start"
        time.sleep(0.05)
    return pid


def hold_lock(user, path):
    """A process of user that holds flock(LOCK_EX) of path: (pid, a
    function that makes it close the file and exit)."""
    held, go = marker(path, "held"), marker(path, "go")

    def holder():
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        open(held, "w").close()
        while not os.path.exists(go):
            time.sleep(0.01)
        os.close(fd)
    pid = user.spawn(holder)
    deadline = time.monotonic() + 20
    while not os.path.exists(held):
        assert time.monotonic() < deadline, "the holder did not lock"
        time.sleep(0.01)
    return pid, lambda: open(go, "w").close()


def timed(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def answers_others_while_locked(opts):
    """B holds a lock and 1,000 of B's threads wait for it: A still gets
    stat, readdir, a read and a direct write within a second; the waiters
    are SIGKILLed and go; the mount stays usable."""
    a, b = users()
    fs, m, mnt, back = mounted(opts)
    os.chmod(back, 0o1777)
    lockf = os.path.join(mnt, "lockfile")
    with open(lockf, "w") as f:
        f.write("x")
    os.chmod(lockf, 0o666)
    hpid, release = hold_lock(b, lockf)
    wpid = start_waiters(b, lockf, int(os.environ.get("BOUNCEFS_WAITERS", "1000")))
    mine = os.path.join(mnt, "a-file")

    result = marker(mine, "result")

    def other_user():
        took = []
        took.append(timed(lambda: os.stat(mnt)))
        took.append(timed(lambda: os.listdir(mnt)))
        buf = mmap.mmap(-1, 4096)
        buf.write(b"a" * 4096)
        fd = os.open(mine, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
        took.append(timed(lambda: os.pwrite(fd, buf, 0)))
        took.append(timed(lambda: os.preadv(fd, [buf], 0)))
        os.close(fd)
        took.append(timed(lambda: open(lockf).read()))
        with open(result, "w") as f:
            f.write(str(max(took)))
    apid = a.spawn(other_user)
    # A hung mount leaves A's process waiting: bounded here.
    eq(wait_status(apid, 15), 0)
    worst = float(open(result).read())
    assert worst < 1.0, "A waited %.2f s" % worst
    # Killed waiters stop waiting (FUSE_INTERRUPT), and their process goes.
    os.kill(wpid, 9)
    st = wait_status(wpid, 10)
    assert st is not None, "the killed waiters are still there"
    release()
    eq(wait_status(hpid, 10), 0)
    assert m.stop() == 0


def test_lock_waiters_hold_no_thread():
    answers_others_while_locked("allow_other")


def test_lock_waiters_hold_no_thread_dev_fuse():
    answers_others_while_locked("allow_other,uring=off")


def mixed_writers(path, seconds, direct_threads):
    """A function to spawn as a user: direct_threads direct writers and 3
    cached writers of path (harness.mixed_writer_threads) for seconds."""
    def run():
        errors = []
        ts = mixed_writer_threads(path, time.monotonic() + seconds,
                                  range(1, direct_threads + 1),
                                  (200, 201, 202), errors)
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
    return run


def answers_others_while_invalidating(opts):
    """B writes B's file through direct and cached opens at once, so that
    direct writes wait for B's cached writes to release their pages: B's
    writers finish, and A's stat, direct write and read are answered
    meanwhile, each within 2 s."""
    a, b = users()
    fs, m, mnt, back = mounted(opts)
    os.chmod(back, 0o1777)
    bfile = os.path.join(mnt, "b-file")
    with open(bfile, "wb") as f:
        f.write(b"\0" * 262144)
    os.chown(bfile, b.uid, b.gid)
    seconds = 8
    bpid = b.spawn(mixed_writers(bfile, seconds, 24))
    mine = os.path.join(mnt, "a-file")
    result = marker(mine, "result")

    def other_user():
        buf = mmap.mmap(-1, 4096)
        buf.write(b"a" * 4096)
        fd = os.open(mine, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
        worst = 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            worst = max(worst, timed(lambda: os.stat(mnt)),
                        timed(lambda: os.pwrite(fd, buf, 0)),
                        timed(lambda: os.preadv(fd, [buf], 0)))
            time.sleep(0.2)
        os.close(fd)
        with open(result, "w") as f:
            f.write(str(worst))
    apid = a.spawn(other_user)
    # A hung mount leaves both processes waiting: bounded here.
    eq(wait_status(apid, seconds + 20), 0)
    eq(wait_status(bpid, 20), 0)
    worst = float(open(result).read())
    assert worst < 2.0, "A waited %.2f s" % worst
    assert m.stop() == 0


def test_invalidations_hold_no_thread():
    answers_others_while_invalidating("allow_other,max_threads=1")


def test_invalidations_hold_no_thread_dev_fuse():
    answers_others_while_invalidating("allow_other,max_threads=1,uring=off")


def test_close_hands_the_lock_on():
    """The holder's close hands the lock to a waiter at once; a waiter that
    is killed stops waiting; a non-blocking try fails with EWOULDBLOCK."""
    a, b = users()
    fs, m, mnt, back = mounted("allow_other")
    os.chmod(back, 0o1777)
    lockf = os.path.join(mnt, "lockfile")
    open(lockf, "w").close()
    os.chmod(lockf, 0o666)
    hpid, release = hold_lock(a, lockf)

    def try_nb():
        fd = os.open(lockf, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    eq(b.run(try_nb), "errno:EWOULDBLOCK" if hasattr(errno, "EWOULDBLOCK")
       and errno.errorcode[errno.EWOULDBLOCK] == "EWOULDBLOCK" else
       "errno:EAGAIN")
    # One waiter to be killed, one to get the lock.
    killed = start_waiters(b, lockf, 1)
    got = marker(lockf, "got")

    def waiter():
        fd = os.open(lockf, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        open(got, "w").close()
    wpid = b.spawn(waiter)
    time.sleep(0.3)
    assert not os.path.exists(got)
    os.kill(killed, 9)
    assert wait_status(killed, 5) is not None, "a killed waiter stays"
    assert not os.path.exists(got)
    release()
    eq(wait_status(hpid, 5), 0)
    start = time.monotonic()
    eq(wait_status(wpid, 5), 0)
    took = time.monotonic() - start
    assert os.path.exists(got)
    assert took < 1.0, "the lock took %.2f s to pass on" % took
    assert m.stop() == 0


def acl_cases(a, b):
    """(what, set-up as root on a path, act as b on the path) for files and
    directories owned by a."""
    def setfacl(*args):
        return lambda p: subprocess.run(["setfacl"] + list(args) + [p],
                                        check=True, capture_output=True)

    def read(p):
        with open(p) as f:
            return f.read()

    def write(p):
        with open(p, "a") as f:
            f.write("b")
        return "wrote"

    def make_in(mode, umask, mk):
        def act(p):
            os.umask(umask)
            q = os.path.join(p, "new")
            mk(q, mode)
            return oct(stat.S_IMODE(os.stat(q).st_mode))
        return act
    creat = lambda q, mode: os.close(os.open(q, os.O_CREAT | os.O_WRONLY, mode))
    return [
        ("a user denied by a named-user entry", "f", 0o644,
         setfacl("-m", "u:%s:---" % b.name), read),
        ("a user allowed by a named-user entry", "f", 0o600,
         setfacl("-m", "u:%s:rw-" % b.name), write),
        ("a user allowed by a named-group entry", "f", 0o600,
         setfacl("-m", "g:%s:r--" % b.name), read),
        ("the mask limits a named-user entry", "f", 0o600,
         setfacl("-m", "u:%s:rw-,m::r--" % b.name), write),
        ("a new file under a default ACL, umask 022", "d", 0o777,
         setfacl("-d", "-m", "u::rwx,g::rwx,o::rwx"),
         make_in(0o666, 0o022, creat)),
        ("a new directory under a default ACL, umask 077", "d", 0o777,
         setfacl("-d", "-m", "u::rwx,g::r-x,o::r-x"),
         make_in(0o777, 0o077, os.mkdir)),
        ("a new file without a default ACL, umask 027", "d", 0o777,
         lambda p: None, make_in(0o666, 0o027, creat)),
        ("a new file under a default named-user entry", "d", 0o777,
         setfacl("-d", "-m", "u:%s:r--" % a.name),
         lambda p: make_in(0o640, 0o022, creat)(p) + subprocess.run(
             ["getfacl", "-cp", os.path.join(p, "new")], capture_output=True,
             text=True).stdout.replace("\n", " ")),
    ]


def test_acls_as_on_the_backing_fs():
    """POSIX ACLs set through the mount are enforced, and default ACLs
    apply to new files and directories, exactly as on the backing XFS."""
    a, b = users()
    fs, m, mnt, back = mounted("allow_other")
    raw = os.path.join(fs.path, "raw")
    os.mkdir(raw)
    os.chmod(raw, 0o755)
    diffs = []
    for i, (what, kind, mode, setup, act) in enumerate(acl_cases(a, b)):
        got = []
        for root in (raw, mnt):
            p = os.path.join(root, "c%d" % i)
            if kind == "d":
                os.mkdir(p)
            else:
                with open(p, "w") as f:
                    f.write("a")
            os.chown(p, a.uid, a.gid)
            os.chmod(p, mode)
            setup(p)
            got.append(b.run(lambda: act(p)))
        if got[0] != got[1]:
            diffs.append("%s: raw %s, bouncefs %s" % (what, got[0], got[1]))
    assert not diffs, "\n".join(diffs)
    assert m.stop() == 0


def test_mount_inside_its_own_backing_tree():
    """With a bind mount's alias under shared propagation the mount shows
    up inside its own backing directory: a lookup there fails (ELOOP), a
    listing shows the name, nothing hangs, SIGTERM still stops it."""
    top = tempfile.mkdtemp(prefix="bfs-nest-", dir="/var/tmp")
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True,
                                    timeout=30)

    def undo():
        subprocess.run(["umount", "-R", "-l", top], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
    on_exit(undo)
    run("mount", "--bind", top, top)
    run("mount", "--make-rshared", top)
    back, mnt = os.path.join(top, "back"), os.path.join(top, "mnt")
    os.mkdir(back)
    os.mkdir(mnt)
    alias = os.path.join(back, "alias")
    os.mkdir(alias)
    run("mount", "--bind", top, alias)
    m = Mount(back, mnt, "allow_other")
    inner = os.path.join(mnt, "alias", "mnt")
    done = os.path.join(MARKERS, "nest-%d" % os.getpid())

    def look():
        out = []
        for fn in (lambda: sorted(os.listdir(os.path.join(mnt, "alias"))),
                   lambda: os.stat(inner), lambda: os.listdir(inner)):
            try:
                out.append(repr(fn()))
            except OSError as e:
                out.append(errno.errorcode[e.errno])
        with open(done, "w") as f:
            f.write("|".join(out))
    pid = os.fork()
    if pid == 0:
        try:
            look()
        finally:
            os._exit(0)
    on_exit(lambda: wait_status(pid, 1))
    st = wait_status(pid, 15)
    if st is None:
        # Hung: the connection goes first, or nothing can clean up.
        m.proc.kill()
        abort_connection(m.dev)
        raise AssertionError("a lookup of the mount inside its backing "
                             "tree hung")
    got = open(done).read().split("|")
    assert "'mnt'" in got[0] and "'back'" in got[0], got
    eq(got[1:], ["ELOOP", "ELOOP"])
    m.proc.terminate()
    assert m.proc.wait(timeout=15) == 0


# The capabilities the daemon keeps (docs/architecture.md, "Least
# privilege"): chown, dac_override, dac_read_search, fowner, fsetid,
# setgid, setuid, mknod, setfcap, sys_admin.
KEPT_CAPS = sum(1 << c for c in (0, 1, 2, 3, 4, 6, 7, 27, 31, 21))


def test_daemon_keeps_least_privilege():
    """A running daemon has the documented capabilities and no others, in
    every thread, no_new_privs and the seccomp filter (the default, kill),
    and none of the descriptors it was started with."""
    r, w = os.pipe()
    os.set_inheritable(w, True)
    fs, m, mnt, back = mounted("allow_other", pass_fds=(w,))
    os.close(r)
    os.close(w)
    with open(os.path.join(mnt, "f"), "w") as f:   # threads are running
        f.write("x")
    tasks = os.listdir("/proc/%d/task" % m.pid)
    assert len(tasks) > 2, tasks
    checked = 0
    for t in tasks:
        status = {}
        try:
            with open("/proc/%d/task/%s/status" % (m.pid, t)) as f:
                lines = f.readlines()
        except (FileNotFoundError, ProcessLookupError):
            continue    # a thread that ended since the listing
        for line in lines:
            k, _, v = line.partition(":")
            status[k] = v.strip()
        checked += 1
        for k in ("CapEff", "CapPrm", "CapBnd"):
            eq((t, k, int(status[k], 16)), (t, k, KEPT_CAPS))
        eq((t, int(status["CapInh"], 16), int(status["CapAmb"], 16)),
           (t, 0, 0))
        eq((t, status["NoNewPrivs"], status["Seccomp"]), (t, "1", "2"))
    assert checked > 2, (checked, tasks)
    fds = []
    for fd in os.listdir("/proc/%d/fd" % m.pid):
        try:
            fds.append(os.readlink("/proc/%d/fd/%s" % (m.pid, fd)))
        except FileNotFoundError:
            pass    # closed since the listing (the daemon's own, short-lived)
    assert not [f for f in fds if f.startswith("pipe:")], fds
    assert m.stop() == 0


main(per_test_seconds=240)
