#!/usr/bin/env python3
"""POSIX behaviour, differentially: the same sequence of system calls runs
in a plain directory of the scratch XFS and in a bouncefs mount over
another directory of it, as root and as an unprivileged user, and every
result (value or errno, and what stat says after) must be the same."""
import errno
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import as_user, errno_name, main, mounted  # noqa: E402

NOBODY = 65534


def outcome(fn):
    try:
        v = fn()
        return "ok" if v is None else "ok:%s" % (v,)
    except OSError as e:
        return "err:" + errno_name(e.errno)


def st(path, follow=True):
    s = os.stat(path, follow_symlinks=follow)
    return "mode=%o nlink=%d uid=%d gid=%d size=%d" % (
        s.st_mode, s.st_nlink, s.st_uid, s.st_gid, s.st_size)


def changed(path, what, fn):
    """Does fn move path's timestamp `what` (st_ctime_ns...)?"""
    before = getattr(os.stat(path, follow_symlinks=False), what)
    time.sleep(0.01)
    fn()
    return getattr(os.stat(path, follow_symlinks=False), what) != before


def script(root):
    """The calls, run in root; returns the list of outcomes."""
    def j(*parts):
        return os.path.join(root, *parts)
    out = []
    add = out.append

    def fd_call(path, flags, fn, mode=0o644):
        fd = os.open(path, flags, mode)
        try:
            return fn(fd)
        finally:
            os.close(fd)

    add(outcome(lambda: os.mkdir(j("d"), 0o755)))
    add(outcome(lambda: os.mkdir(j("d"), 0o755)))                 # EEXIST
    add(outcome(lambda: os.rmdir(j("nope"))))                     # ENOENT
    add(outcome(lambda: fd_call(j("d", "f"), os.O_CREAT | os.O_WRONLY,
                                lambda fd: os.write(fd, b"hello"))))
    add(outcome(lambda: os.open(j("d", "f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
    add(outcome(lambda: os.rmdir(j("d"))))                        # ENOTEMPTY
    add(outcome(lambda: os.unlink(j("d"))))                       # EISDIR
    add(outcome(lambda: os.rmdir(j("d", "f"))))                   # ENOTDIR
    add(outcome(lambda: os.open(j("d"), os.O_WRONLY)))            # EISDIR
    add(outcome(lambda: os.open(j("d", "f", "x"), os.O_RDONLY)))  # ENOTDIR
    add(outcome(lambda: os.mkdir(j("d", "x" * 256))))             # ENAMETOOLONG
    add(outcome(lambda: fd_call(j("d", "y" * 255), os.O_CREAT | os.O_WRONLY,
                                lambda fd: None)))
    add(outcome(lambda: os.link(j("d"), j("dlink"))))             # EPERM
    add(outcome(lambda: os.link(j("d", "f"), j("d", "g"))))
    add(outcome(lambda: st(j("d", "f"))))
    add(outcome(lambda: os.link(j("d", "f"), j("d", "g"))))       # EEXIST
    add(outcome(lambda: os.symlink("f", j("d", "s"))))
    add(outcome(lambda: os.readlink(j("d", "s"))))
    add(outcome(lambda: os.symlink("dangling", j("d", "dang"))))
    add(outcome(lambda: os.open(j("d", "dang"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
    add(outcome(lambda: os.open(j("d", "s"), os.O_RDONLY | os.O_NOFOLLOW)))  # ELOOP
    add(outcome(lambda: os.symlink("loop2", j("d", "loop1"))))
    add(outcome(lambda: os.symlink("loop1", j("d", "loop2"))))
    add(outcome(lambda: os.open(j("d", "loop1"), os.O_RDONLY)))   # ELOOP
    add(outcome(lambda: os.readlink(j("d", "f"))))                # EINVAL
    add(outcome(lambda: os.mkdir(j("e"))))
    add(outcome(lambda: fd_call(j("e", "inner"), os.O_CREAT | os.O_WRONLY,
                                lambda fd: None)))
    add(outcome(lambda: os.rename(j("d", "f"), j("e"))))          # EISDIR
    add(outcome(lambda: os.rename(j("e"), j("d", "f"))))          # ENOTDIR
    add(outcome(lambda: os.rename(j("d"), j("e"))))               # ENOTEMPTY
    add(outcome(lambda: os.rename(j("d"), j("d", "sub"))))        # EINVAL
    add(outcome(lambda: os.rename(j("d", "g"), j("d", "f"))))     # same inode: ok
    add(outcome(lambda: st(j("d", "f"))))
    add(outcome(lambda: os.rename(j("d", "f"), j("d", "f2"))))
    add(outcome(lambda: sorted(os.listdir(j("d")))))
    add(outcome(lambda: os.truncate(j("d", "f2"), -1)))           # EINVAL
    add(outcome(lambda: os.truncate(j("d", "f2"), 100000)))
    add(outcome(lambda: st(j("d", "f2"))))
    add(outcome(lambda: fd_call(j("d", "f2"), os.O_RDONLY,
                                lambda fd: os.ftruncate(fd, 1))))  # EINVAL
    add(outcome(lambda: fd_call(j("d"), os.O_RDONLY, lambda fd: os.read(fd, 1))))
    add(outcome(lambda: fd_call(j("d", "f2"), os.O_WRONLY,
                                lambda fd: os.read(fd, 1))))       # EBADF
    add(outcome(lambda: fd_call(j("d", "f2"), os.O_RDONLY,
                                lambda fd: os.write(fd, b"x"))))   # EBADF
    add(outcome(lambda: os.chmod(j("d", "f2"), 0o4755)))
    add(outcome(lambda: st(j("d", "f2"))))
    add(outcome(lambda: changed(j("d", "f2"), "st_ctime_ns",
                                lambda: os.chmod(j("d", "f2"), 0o644))))
    add(outcome(lambda: changed(j("d", "f2"), "st_ctime_ns",
                                lambda: os.link(j("d", "f2"), j("d", "h")))))
    add(outcome(lambda: changed(j("d", "f2"), "st_ctime_ns",
                                lambda: os.unlink(j("d", "h")))))
    add(outcome(lambda: changed(j("d", "f2"), "st_mtime_ns",
                                lambda: os.truncate(j("d", "f2"), 10))))
    add(outcome(lambda: changed(j("d"), "st_mtime_ns",
                                lambda: os.mkdir(j("d", "m")))))
    add(outcome(lambda: changed(j("d"), "st_ctime_ns",
                                lambda: os.rmdir(j("d", "m")))))
    add(outcome(lambda: os.utime(j("d", "f2"), ns=(1000000123, 2000000456))))
    add(outcome(lambda: (os.stat(j("d", "f2")).st_atime_ns,
                         os.stat(j("d", "f2")).st_mtime_ns)))
    add(outcome(lambda: os.mkfifo(j("d", "fifo"), 0o640)))
    add(outcome(lambda: stat.S_IFMT(os.stat(j("d", "fifo")).st_mode)))
    add(outcome(lambda: os.mknod(j("d", "sock"), 0o600 | stat.S_IFSOCK)))
    add(outcome(lambda: st(j("d", "sock"))))
    add(outcome(lambda: os.mknod(j("d", "chr"), 0o600 | stat.S_IFCHR,
                                 os.makedev(1, 3))))               # EPERM as user
    add(outcome(lambda: os.chown(j("d", "f2"), NOBODY, -1)))       # EPERM as user
    add(outcome(lambda: os.chown(j("d", "f2"), -1, -1)))
    # chown(-1, -1) moves ctime; truncate(2) to the size a file has moves
    # nothing, ftruncate(2) moves mtime.
    add(outcome(lambda: changed(j("d", "f2"), "st_ctime_ns",
                                lambda: os.chown(j("d", "f2"), -1, -1))))
    add(outcome(lambda: changed(j("d", "s"), "st_ctime_ns",
                                lambda: os.lchown(j("d", "s"), -1, -1))))
    add(outcome(lambda: changed(j("d", "f2"), "st_mtime_ns",
                                lambda: os.truncate(j("d", "f2"), 10))))
    add(outcome(lambda: changed(j("d", "f2"), "st_ctime_ns",
                                lambda: os.truncate(j("d", "f2"), 10))))
    add(outcome(lambda: changed(j("d", "f2"), "st_mtime_ns",
                                lambda: fd_call(j("d", "f2"), os.O_WRONLY,
                                                lambda fd: os.ftruncate(fd, 10)))))
    # open(O_TRUNC) moves both even when the file is empty already (the
    # kernel's SETATTR for it would look like a truncate(2) to size 0).
    add(outcome(lambda: fd_call(j("d", "empty"), os.O_CREAT | os.O_WRONLY,
                                lambda fd: None)))
    for what in ("st_mtime_ns", "st_ctime_ns"):
        add(outcome(lambda w=what: changed(j("d", "empty"), w, lambda: fd_call(
            j("d", "empty"), os.O_WRONLY | os.O_TRUNC, lambda fd: None))))
    add(outcome(lambda: changed(j("d", "f2"), "st_mtime_ns", lambda: fd_call(
        j("d", "f2"), os.O_RDWR | os.O_TRUNC, lambda fd: os.fstat(fd).st_size))))
    add(outcome(lambda: fd_call(j("d", "f2"), os.O_RDONLY | os.O_TRUNC,
                                lambda fd: os.fstat(fd).st_size)))
    add(outcome(lambda: sorted(os.listdir(j("d")))))
    add(outcome(lambda: os.access(j("d", "f2"), os.W_OK)))
    # File contents and offsets.
    def append_twice(fd):
        os.write(fd, b"abc")
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"def")
        return os.lseek(fd, 0, os.SEEK_CUR)
    add(outcome(lambda: fd_call(j("ap"), os.O_CREAT | os.O_WRONLY | os.O_APPEND,
                                append_twice)))
    add(outcome(lambda: open(j("ap"), "rb").read()))
    add(outcome(lambda: fd_call(j("ap"), os.O_RDONLY, lambda fd: os.pread(fd, 10, 100))))
    add(outcome(lambda: fd_call(j("sparse"), os.O_CREAT | os.O_RDWR, lambda fd: (
        os.pwrite(fd, b"x" * 4096, 1 << 20),
        os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE),
        os.lseek(fd, (1 << 20) + 4096, os.SEEK_SET)))))
    add(outcome(lambda: fd_call(j("sparse"), os.O_RDONLY,
                                lambda fd: os.lseek(fd, (2 << 20), os.SEEK_DATA))))  # ENXIO
    add(outcome(lambda: fd_call(j("sparse"), os.O_RDWR, lambda fd: (
        os.posix_fallocate(fd, 0, 8192), os.fstat(fd).st_size))))
    add(outcome(lambda: fd_call(j("sparse"), os.O_RDWR, lambda fd: (
        os.write(fd, b"y" * 100), os.fsync(fd), os.fdatasync(fd),
        os.pread(fd, 4, 98)))))
    add(outcome(lambda: fd_call(j("sparse"), os.O_RDONLY,
                                lambda fd: os.fsync(fd))))
    add(outcome(lambda: os.rmdir(j("."))))                         # EINVAL
    add(outcome(lambda: os.rmdir(j("e", ".."))))                  # ENOTEMPTY
    return out


def compare(as_uid=None):
    fs, m, mnt, back = mounted()
    raw = os.path.join(fs.path, "raw")
    os.mkdir(raw)
    results = []
    for root in (raw, mnt):
        if as_uid is None:
            results.append(script(root))
        else:
            os.chown(root, as_uid, as_uid)
            res = as_user(as_uid, as_uid, lambda r=root: "\x1e".join(script(r)))
            assert not res.startswith(("errno:", "exception:")), res
            results.append(res.split("\x1e"))
    raw_res, bfs_res = results
    assert len(raw_res) == len(bfs_res)
    diffs = ["step %d: raw %s, bouncefs %s" % (i, a, b)
             for i, (a, b) in enumerate(zip(raw_res, bfs_res)) if a != b]
    assert not diffs, "\n".join(diffs)
    assert m.stop() == 0


def test_mmap_and_direct_io():
    """Shared mappings and O_DIRECT on the same file stay coherent, as on
    XFS itself. (A writeback of mapped pages used to deadlock with the
    page-cache invalidation of a direct write.)"""
    import subprocess
    from harness import abort_connection
    fs, m, mnt, back = mounted()
    raw = os.path.join(fs.path, "raw")
    os.mkdir(raw)
    helper = os.path.join(os.path.dirname(__file__), "mmap_direct.py")
    outs = []
    for root in (raw, mnt):
        proc = subprocess.Popen([sys.executable, helper, root],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            abort_connection(m.dev)
            proc.kill()
            proc.communicate()
            raise AssertionError("mmap and O_DIRECT hung in %s" % root)
        assert proc.returncode == 0, err
        outs.append(out.strip())
    assert outs[0] == outs[1], "raw %s\nbouncefs %s" % tuple(outs)
    assert m.stop() == 0


def test_as_root():
    compare()


def test_as_user():
    compare(NOBODY)


if __name__ == "__main__":
    main()
