#!/usr/bin/env python3
"""Every passthrough operation through a real mount, with its error codes."""
import ctypes
import errno
import fcntl
import mmap
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (libc, mounted, expect_errno, main)  # noqa: E402

ctx = {}


def setup():
    fs, m, mnt, back = mounted()
    ctx.update(fs=fs, m=m, mnt=mnt, back=back)
    return mnt, back


def p(*parts):
    return os.path.join(ctx["mnt"], *parts)


def b(*parts):
    return os.path.join(ctx["back"], *parts)


def write(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_files_and_dirs():
    setup()
    write(p("f"), b"hello world")
    assert read(p("f")) == b"hello world"
    assert read(b("f")) == b"hello world"
    st = os.stat(p("f"))
    assert st.st_size == 11 and stat.S_ISREG(st.st_mode)
    assert st.st_ino == os.stat(b("f")).st_ino
    os.mkdir(p("d"), 0o750)
    assert stat.S_IMODE(os.stat(b("d")).st_mode) == 0o750
    expect_errno(errno.EEXIST, os.mkdir, p("d"))
    expect_errno(errno.EEXIST, os.open, p("f"), os.O_CREAT | os.O_EXCL)
    expect_errno(errno.ENOENT, os.stat, p("missing"))
    expect_errno(errno.ENOENT, os.unlink, p("missing"))
    expect_errno(errno.ENOTDIR, os.mkdir, p("f", "sub"))
    expect_errno(errno.ENOTDIR, os.rmdir, p("f"))
    expect_errno(errno.EISDIR, os.open, p("d"), os.O_WRONLY)
    expect_errno(errno.EISDIR, os.unlink, p("d"))
    write(p("d", "inner"), b"x")
    expect_errno(errno.ENOTEMPTY, os.rmdir, p("d"))
    os.unlink(p("d", "inner"))
    os.rmdir(p("d"))
    assert not os.path.exists(b("d"))
    os.unlink(p("f"))
    assert not os.path.exists(b("f"))


def test_read_write_offsets_and_append():
    setup()
    fd = os.open(p("g"), os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"abc", 10)
    assert os.fstat(fd).st_size == 13
    assert os.pread(fd, 100, 0) == b"\0" * 10 + b"abc"
    assert os.pread(fd, 10, 13) == b""
    os.close(fd)
    fd = os.open(p("g"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"XY")
    os.write(fd, b"Z")
    os.close(fd)
    assert read(b("g")) == b"\0" * 10 + b"abcXYZ"
    big = os.urandom(3 << 20)
    write(p("big"), big)
    assert read(p("big")) == big
    fd = os.open(p("big"), os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert os.stat(p("big")).st_size == 0


def test_direct_io_aligned():
    setup()
    buf = mmap.mmap(-1, 1 << 20)
    data = os.urandom(1 << 20)
    buf.write(data)
    fd = os.open(p("direct"), os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    assert os.pwritev(fd, [buf], 4096) == 1 << 20
    out = mmap.mmap(-1, 1 << 20)
    assert os.preadv(fd, [out], 4096) == 1 << 20
    os.close(fd)
    assert out[:] == data
    assert read(b("direct"))[4096:] == data


def test_links_and_symlinks():
    setup()
    write(p("orig"), b"data")
    os.link(p("orig"), p("hard"))
    assert os.stat(p("orig")).st_nlink == 2
    assert os.stat(p("hard")).st_ino == os.stat(p("orig")).st_ino
    expect_errno(errno.EEXIST, os.link, p("orig"), p("hard"))
    os.unlink(p("orig"))
    assert os.stat(p("hard")).st_nlink == 1
    assert read(p("hard")) == b"data"
    os.symlink("hard", p("sym"))
    assert os.readlink(p("sym")) == "hard"
    assert os.readlink(b("sym")) == "hard"
    assert stat.S_ISLNK(os.lstat(p("sym")).st_mode)
    assert read(p("sym")) == b"data"
    expect_errno(errno.ELOOP, os.open, p("sym"), os.O_RDONLY | os.O_NOFOLLOW)
    os.symlink("loop2", p("loop1"))
    os.symlink("loop1", p("loop2"))
    expect_errno(errno.ELOOP, os.stat, p("loop1"))
    expect_errno(errno.EINVAL, os.readlink, p("hard"))
    long_target = "x/" * 500  # XFS allows 1024 bytes
    os.symlink(long_target, p("long"))
    assert os.readlink(p("long")) == long_target
    # A link to outside the mount crosses file systems.
    expect_errno(errno.EXDEV, os.link, p("hard"), "/var/tmp/bfs-exdev")


def test_mknod():
    setup()
    os.mkfifo(p("fifo"), 0o640)
    assert stat.S_ISFIFO(os.lstat(b("fifo")).st_mode)
    os.mknod(p("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    st = os.lstat(p("chr"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert os.lstat(b("chr")).st_rdev == os.makedev(1, 3)
    os.mknod(p("sock"), 0o600 | stat.S_IFSOCK)
    assert stat.S_ISSOCK(os.lstat(b("sock")).st_mode)
    os.mknod(p("reg"), 0o600 | stat.S_IFREG)
    assert stat.S_ISREG(os.lstat(b("reg")).st_mode)
    expect_errno(errno.EEXIST, os.mkfifo, p("fifo"))


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old, new, flags):
    AT_FDCWD = -100
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(),
                      flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


def test_rename():
    setup()
    write(p("a"), b"A")
    write(p("b"), b"B")
    os.rename(p("a"), p("b"))          # onto an existing file
    assert read(p("b")) == b"A" and not os.path.exists(p("a"))
    assert read(b("b")) == b"A"
    write(p("c"), b"C")
    expect_errno(errno.EEXIST, renameat2, p("c"), p("b"), RENAME_NOREPLACE)
    renameat2(p("c"), p("new"), RENAME_NOREPLACE)
    assert read(p("new")) == b"C"
    renameat2(p("b"), p("new"), RENAME_EXCHANGE)
    assert read(p("b")) == b"C" and read(p("new")) == b"A"
    expect_errno(errno.ENOENT, renameat2, p("b"), p("none"), RENAME_EXCHANGE)
    os.mkdir(p("d1"))
    os.mkdir(p("d2"))
    write(p("d2", "x"), b"")
    # POSIX allows either; XFS says EEXIST, ext4 ENOTEMPTY.
    expect_errno((errno.ENOTEMPTY, errno.EEXIST), os.rename, p("d1"), p("d2"))
    expect_errno(errno.ENOTDIR, os.rename, p("d1"), p("b"))
    expect_errno(errno.EISDIR, os.rename, p("b"), p("d1"))
    os.rename(p("b"), p("d1", "moved"))
    assert read(b("d1", "moved")) == b"C"
    expect_errno(errno.EXDEV, os.rename, p("new"), "/var/tmp/bfs-exdev")


def test_setattr():
    setup()
    write(p("f"), b"0123456789")
    os.chmod(p("f"), 0o4751)
    assert stat.S_IMODE(os.stat(b("f")).st_mode) == 0o4751
    os.chown(p("f"), 1234, 5678)
    st = os.stat(b("f"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.chown(p("f"), -1, 42)
    assert (os.stat(p("f")).st_uid, os.stat(p("f")).st_gid) == (1234, 42)
    os.truncate(p("f"), 4)
    assert read(b("f")) == b"0123"
    os.truncate(p("f"), 1 << 20)
    assert os.stat(p("f")).st_size == 1 << 20
    fd = os.open(p("f"), os.O_RDWR)
    os.ftruncate(fd, 2)
    os.close(fd)
    assert read(p("f")) == b"01"
    os.utime(p("f"), ns=(1_000_000_123, 2_000_000_456))
    st = os.stat(p("f"))
    assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_123, 2_000_000_456)
    assert os.stat(b("f")).st_mtime_ns == 2_000_000_456
    # UTIME_OMIT keeps atime; UTIME_NOW sets mtime to now.
    UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2

    class TS(ctypes.Structure):
        _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
    ts = (TS * 2)(TS(0, UTIME_OMIT), TS(0, UTIME_NOW))
    assert libc.utimensat(-100, p("f").encode(), ts, 0) == 0
    st = os.stat(p("f"))
    assert st.st_atime_ns == 1_000_000_123
    assert st.st_mtime_ns > 2_000_000_456
    # Symlink times, without following.
    os.symlink("f", p("l"))
    os.utime(p("l"), ns=(5_000_000_000, 6_000_000_000), follow_symlinks=False)
    assert os.lstat(b("l")).st_mtime_ns == 6_000_000_000
    assert os.stat(b("f")).st_mtime_ns != 6_000_000_000
    os.chown(p("l"), 77, 77, follow_symlinks=False)
    assert os.lstat(b("l")).st_uid == 77 and os.stat(b("f")).st_uid == 1234
    expect_errno(errno.EISDIR, os.truncate, p("."), 0)


def test_xattrs():
    setup()
    write(p("x"), b"")
    os.setxattr(p("x"), "user.k", b"v1")
    assert os.getxattr(p("x"), "user.k") == b"v1"
    assert os.getxattr(b("x"), "user.k") == b"v1"
    assert "user.k" in os.listxattr(p("x"))
    expect_errno(errno.EEXIST, os.setxattr, p("x"), "user.k", b"v", os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, p("x"), "user.z", b"v", os.XATTR_REPLACE)
    os.setxattr(p("x"), "user.k", b"v2" * 1000, os.XATTR_REPLACE)
    assert os.getxattr(p("x"), "user.k") == b"v2" * 1000
    os.removexattr(p("x"), "user.k")
    expect_errno(errno.ENODATA, os.getxattr, p("x"), "user.k")
    expect_errno(errno.ENODATA, os.removexattr, p("x"), "user.k")
    os.mkdir(p("dx"))
    os.setxattr(p("dx"), "user.dir", b"yes")
    assert os.getxattr(b("dx"), "user.dir") == b"yes"
    os.setxattr(p("x"), "trusted.t", b"root only")
    assert os.getxattr(p("x"), "trusted.t") == b"root only"


FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 0x10
SEEK_DATA, SEEK_HOLE = 3, 4


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_fallocate_and_sparse_seek():
    setup()
    mb = 1 << 20
    fd = os.open(p("s"), os.O_RDWR | os.O_CREAT, 0o644)
    fallocate(fd, 0, 0, 4 * mb)
    assert os.fstat(fd).st_size == 4 * mb
    os.pwrite(fd, b"\xff" * (4 * mb), 0)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, mb, mb)
    assert os.pread(fd, 16, mb) == b"\0" * 16
    assert os.pread(fd, 1, mb - 1) == b"\xff"
    assert os.fstat(fd).st_size == 4 * mb
    fallocate(fd, FALLOC_FL_ZERO_RANGE, 3 * mb, 2 * mb)
    assert os.fstat(fd).st_size == 5 * mb
    assert os.pread(fd, 16, 3 * mb) == b"\0" * 16
    assert os.lseek(fd, mb, SEEK_HOLE) == mb
    assert os.lseek(fd, mb, SEEK_DATA) == 2 * mb
    assert os.lseek(fd, 0, SEEK_DATA) == 0
    expect_errno(errno.ENXIO, os.lseek, fd, 6 * mb, SEEK_DATA)
    os.close(fd)
    # A file with a hole in the middle, made by seeking past the end.
    fd = os.open(p("h"), os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"a" * 4096, 0)
    os.pwrite(fd, b"b" * 4096, 8 * mb)
    assert os.lseek(fd, 0, SEEK_HOLE) >= 4096
    assert os.lseek(fd, 4096, SEEK_DATA) >= 4096
    assert os.lseek(fd, 4096, SEEK_DATA) <= 8 * mb
    assert os.stat(b("h")).st_blocks * 512 < 2 * mb
    os.close(fd)


def test_copy_file_range_and_sync():
    setup()
    data = os.urandom(300000)
    write(p("src"), data)
    fi = os.open(p("src"), os.O_RDONLY)
    fo = os.open(p("dst"), os.O_WRONLY | os.O_CREAT, 0o644)
    done = 0
    while done < len(data):
        n = os.copy_file_range(fi, fo, len(data) - done, done, done)
        assert n > 0
        done += n
    os.fsync(fo)
    os.fdatasync(fo)
    os.close(fi)
    os.close(fo)
    assert read(p("dst")) == data and read(b("dst")) == data
    dfd = os.open(ctx["mnt"], os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)


def test_flock():
    setup()
    write(p("lock"), b"")
    a = os.open(p("lock"), os.O_RDWR)
    c = os.open(p("lock"), os.O_RDWR)
    fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
    expect_errno(errno.EWOULDBLOCK, fcntl.flock, c, fcntl.LOCK_EX | fcntl.LOCK_NB)
    # The lock is the kernel's, on the mount's inode (a lock that waits
    # must hold nothing of the daemon's): the backing file has none.
    d = os.open(b("lock"), os.O_RDWR)
    fcntl.flock(d, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(d, fcntl.LOCK_UN)
    fcntl.flock(a, fcntl.LOCK_UN)
    fcntl.flock(c, fcntl.LOCK_SH | fcntl.LOCK_NB)
    fcntl.flock(d, fcntl.LOCK_SH | fcntl.LOCK_NB)
    for fd in (a, c, d):
        os.close(fd)
    # POSIX record locks work too (the kernel keeps them).
    e = os.open(p("lock"), os.O_RDWR)
    fcntl.lockf(e, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(e)


def test_statfs_and_access():
    setup()
    sm, sb = os.statvfs(ctx["mnt"]), os.statvfs(ctx["back"])
    assert sm.f_blocks == sb.f_blocks and sm.f_bsize == sb.f_bsize
    assert sm.f_files == sb.f_files
    write(p("acc"), b"")
    os.chmod(p("acc"), 0o640)
    assert os.access(p("acc"), os.R_OK | os.W_OK)
    assert not os.access(p("nothing"), os.F_OK)


def test_readdir_large():
    setup()
    os.mkdir(p("many"))
    names = set()
    for i in range(10000):
        n = "entry-%05d-%s" % (i, "x" * (i % 50))
        names.add(n)
        os.close(os.open(p("many", n), os.O_CREAT | os.O_WRONLY, 0o644))
    got = os.listdir(p("many"))
    assert len(got) == 10000, len(got)
    assert set(got) == names == set(os.listdir(b("many")))
    # scandir (readdirplus) gives the types and the same inode numbers.
    back = {e.name: e.inode() for e in os.scandir(b("many"))}
    for e in os.scandir(p("many")):
        assert e.is_file(follow_symlinks=False)
        assert e.inode() == back[e.name]
    # A listing taken while entries go away is still consistent.
    for n in list(names)[:5000]:
        os.unlink(p("many", n))
    assert set(os.listdir(p("many"))) == set(os.listdir(b("many")))
    assert len(os.listdir(p("many"))) == 5000


def test_containment():
    mnt, back = setup()
    outside = os.path.join(os.path.dirname(back), "outside")
    os.mkdir(outside)
    with open(os.path.join(outside, "secret"), "w") as f:
        f.write("secret")
    os.symlink(outside, os.path.join(back, "abs"))
    os.symlink("../outside", os.path.join(back, "rel"))
    os.symlink("../../../../../../../../etc", os.path.join(back, "deep"))
    for name in ("abs", "rel", "deep"):
        assert stat.S_ISLNK(os.lstat(p(name)).st_mode)
        expect_errno(errno.ELOOP, os.open, p(name), os.O_RDONLY | os.O_NOFOLLOW)
        expect_errno(errno.ENOTDIR, os.open, p(name),
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY)
    # Relative links resolve beside the mount, never in the backing tree.
    assert not os.path.exists(p("rel", "secret"))
    assert os.path.realpath(p("rel")) == os.path.join(
        os.path.dirname(mnt), "outside")
    # The daemon's lookups stay in the tree: ".." of the root is the root.
    assert os.stat(p("..", os.path.basename(mnt))).st_ino == os.stat(mnt).st_ino
    assert sorted(os.listdir(mnt)) == ["abs", "deep", "rel"]
    # Creating through a dangling symlink must not create it in the backing
    # tree's neighbourhood through the daemon.
    os.symlink("../escaped", os.path.join(back, "dangle"))
    try:
        fd = os.open(p("dangle"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
    except OSError:
        pass
    assert not os.path.exists(os.path.join(os.path.dirname(back), "escaped"))


main()
