#!/usr/bin/env python3
"""allow_other as root: new inodes belong to the caller, and permissions
are the kernel's."""
import errno
import mmap
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import as_user, mounted, main, stats  # noqa: E402

def eq(got, want):
    assert got == want, "got %r, want %r" % (got, want)


U, G = 65534, 65534      # nobody:nogroup
U2, G2 = 4242, 4343


def test_new_inodes_belong_to_the_caller():
    fs, m, mnt, back = mounted("allow_other")
    os.mkdir(os.path.join(back, "pub"))
    os.chmod(os.path.join(back, "pub"), 0o777)
    pub = os.path.join(mnt, "pub")

    def create_all():
        os.close(os.open(os.path.join(pub, "file"), os.O_CREAT | os.O_WRONLY, 0o640))
        os.mkdir(os.path.join(pub, "dir"), 0o750)
        os.symlink("file", os.path.join(pub, "link"))
        os.mkfifo(os.path.join(pub, "fifo"), 0o600)
        os.mknod(os.path.join(pub, "node"), 0o600 | stat.S_IFREG)
        return 1
    eq(as_user(U, G, create_all), "1")
    for name in ("file", "dir", "link", "fifo", "node"):
        st = os.lstat(os.path.join(back, "pub", name))
        assert (st.st_uid, st.st_gid) == (U, G), (name, st.st_uid, st.st_gid)
        stm = os.lstat(os.path.join(pub, name))
        assert (stm.st_uid, stm.st_gid) == (U, G)
    assert stat.S_IMODE(os.stat(os.path.join(back, "pub", "file")).st_mode) == 0o640
    # Another user gets its own ownership in the same directory.
    eq(as_user(U2, G2, lambda: os.mkdir(os.path.join(pub, "d2")) or 1), "1")
    st = os.stat(os.path.join(back, "pub", "d2"))
    assert (st.st_uid, st.st_gid) == (U2, G2)
    # The umask of the caller applies.

    def with_umask():
        os.umask(0o077)
        os.close(os.open(os.path.join(pub, "masked"), os.O_CREAT | os.O_WRONLY, 0o666))
        return 1
    eq(as_user(U, G, with_umask), "1")
    assert stat.S_IMODE(os.stat(os.path.join(back, "pub", "masked")).st_mode) == 0o600


def test_setgid_directory_and_supplementary_groups():
    fs, m, mnt, back = mounted("allow_other")
    sg = os.path.join(back, "sg")
    os.mkdir(sg)
    os.chown(sg, 0, 3000)
    os.chmod(sg, 0o2775)

    # Write access through a supplementary group.
    def create():
        os.close(os.open(os.path.join(mnt, "sg", "f"), os.O_CREAT | os.O_WRONLY, 0o644))
        os.mkdir(os.path.join(mnt, "sg", "sub"))
        return 1
    eq(as_user(U, G, create, groups=[3000]), "1")
    st = os.stat(os.path.join(sg, "f"))
    assert (st.st_uid, st.st_gid) == (U, 3000)
    st = os.stat(os.path.join(sg, "sub"))
    assert st.st_gid == 3000 and st.st_mode & stat.S_ISGID
    # Without the group: no write permission.
    r = as_user(U2, G2, lambda: os.mkdir(os.path.join(mnt, "sg", "no")))
    assert r == "errno:EACCES", r


def test_permissions_are_enforced():
    fs, m, mnt, back = mounted("allow_other")
    secret = os.path.join(back, "secret")
    with open(secret, "w") as f:
        f.write("root only")
    os.chmod(secret, 0o600)
    ro = os.path.join(back, "readonly")
    with open(ro, "w") as f:
        f.write("read me")
    os.chmod(ro, 0o644)
    os.mkdir(os.path.join(back, "closed"), 0o755)
    sticky = os.path.join(back, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    with open(os.path.join(sticky, "rootfile"), "w") as f:
        f.write("x")

    def try_read():
        with open(os.path.join(mnt, "secret")) as f:
            return f.read()
    eq(as_user(U, G, try_read), "errno:EACCES")
    eq(as_user(U, G, lambda: open(os.path.join(mnt, "readonly")).read()), "read me")
    eq(as_user(U, G, lambda: os.open(os.path.join(mnt, "readonly"), os.O_WRONLY)), "errno:EACCES")
    eq(as_user(U, G, lambda: os.truncate(os.path.join(mnt, "readonly"), 0)), "errno:EACCES")
    eq(as_user(U, G, lambda: os.mkdir(os.path.join(mnt, "closed", "x"))), "errno:EACCES")
    eq(as_user(U, G, lambda: os.unlink(os.path.join(mnt, "readonly"))), "errno:EACCES")
    eq(as_user(U, G, lambda: os.chmod(os.path.join(mnt, "readonly"), 0o777)), "errno:EPERM")
    eq(as_user(U, G, lambda: os.chown(os.path.join(mnt, "readonly"), U, G)), "errno:EPERM")
    eq(as_user(U, G, lambda: os.setxattr(os.path.join(mnt, "readonly"), "user.x", b"1")), "errno:EACCES")
    # Sticky directory: others' files cannot be removed.
    eq(as_user(U, G, lambda: os.unlink(os.path.join(mnt, "sticky", "rootfile"))), "errno:EPERM")
    # Nothing changed on the backing dir.
    assert open(ro).read() == "read me" and os.path.exists(os.path.join(sticky, "rootfile"))
    assert not os.path.exists(os.path.join(back, "closed", "x"))

    # The owner may chmod and utime its own file, and chown clears set-id bits.
    def own():
        p = os.path.join(mnt, "sticky", "mine")
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        os.chmod(p, 0o4755)
        os.utime(p, (1, 2))
        os.chown(p, -1, G)
        return oct(stat.S_IMODE(os.stat(p).st_mode))
    eq(as_user(U, G, own), "0o755")
    st = os.stat(os.path.join(sticky, "mine"))
    assert st.st_mtime == 2 and stat.S_IMODE(st.st_mode) == 0o755


def test_write_clears_setuid():
    fs, m, mnt, back = mounted("allow_other")
    os.chmod(back, 0o777)
    p = os.path.join(mnt, "suid")

    def make():
        with open(p, "w") as f:
            f.write("a")
        os.chmod(p, 0o4777)
        return 1
    eq(as_user(U, G, make), "1")

    def write_other():
        with open(p, "a") as f:
            f.write("b")
        return oct(stat.S_IMODE(os.stat(p).st_mode))
    eq(as_user(U2, G2, write_other), "0o777")
    assert stat.S_IMODE(os.stat(os.path.join(back, "suid")).st_mode) == 0o777


def aligned(n):
    buf = mmap.mmap(-1, n)
    buf.write(b"d" * n)
    return buf


# What a caller (uid, or (uid, gid)) does to a file owned by U:G with the
# mode given.
SET_ID_CASES = [
    ("write by another user", U2, 0o6777,
     lambda p: os.close(os.open(p, os.O_WRONLY)) or
     open(p, "a").write("b")),
    ("write by another user, setgid not group-executable", U2, 0o6767,
     lambda p: open(p, "a").write("b")),
    ("write by a member of the group, setgid not group-executable",
     (U2, G), 0o6767, lambda p: open(p, "a").write("b")),
    ("direct write by another user", U2, 0o6777,
     lambda p: (lambda fd: (os.pwrite(fd, aligned(4096), 0), os.close(fd)))(
         os.open(p, os.O_WRONLY | os.O_DIRECT))),
    ("write by root", 0, 0o6777, lambda p: open(p, "a").write("b")),
    ("truncate by another user", U2, 0o6777, lambda p: os.truncate(p, 1)),
    ("ftruncate by another user", U2, 0o6777,
     lambda p: (lambda fd: (os.ftruncate(fd, 1), os.close(fd)))(
         os.open(p, os.O_WRONLY))),
    ("open with O_TRUNC by another user", U2, 0o6777,
     lambda p: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))),
    ("open with O_TRUNC by root", 0, 0o6777,
     lambda p: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))),
    ("chown(-1, -1) by the owner", U, 0o6777,
     lambda p: os.chown(p, -1, -1)),
    ("chown to its own group by the owner", U, 0o6775,
     lambda p: os.chown(p, -1, G)),
    ("chown to another group by an owner not in the file's group, "
     "setgid not group-executable", (U, G2), 0o6767,
     lambda p: os.chown(p, -1, G2)),
    ("chown by root", 0, 0o6777, lambda p: os.chown(p, U2, G2)),
    ("chown by root, setgid not group-executable", 0, 0o6767,
     lambda p: os.chown(p, U2, G2)),
    ("chmod by the owner", U, 0o6777, lambda p: os.chmod(p, 0o6755)),
    ("write by another user, security.capability set by root", U2, 0o777,
     lambda p: open(p, "a").write("b")),
]

# A valid security.capability (VFS_CAP_REVISION_2, cap_net_raw+ep).
CAPS = bytes.fromhex("0100000200200000" + "00" * 12)


def set_id_bits_as_on_the_backing_fs(opts):
    fs, m, mnt, back = mounted(opts)
    raw = os.path.join(fs.path, "raw")
    os.mkdir(raw)
    diffs = []
    for i, (what, who, mode, act) in enumerate(SET_ID_CASES):
        got = []
        for root in (raw, mnt):
            p = os.path.join(root, "f%d" % i)
            with open(p, "w") as f:
                f.write("a" * 4096)
            os.chown(p, U, G)
            os.chmod(p, mode)
            if "capability" in what:
                os.setxattr(p, "security.capability", CAPS)
            uid, gid = who if isinstance(who, tuple) else (who, who)
            res = as_user(uid, gid, lambda: act(p) and 1) if uid else \
                str(act(p) and 1)
            st = os.stat(p)
            try:
                caps = len(os.getxattr(p, "security.capability"))
            except OSError:
                caps = 0
            got.append((res, oct(stat.S_IMODE(st.st_mode)), caps))
        if got[0] != got[1]:
            diffs.append("%s: raw %s, bouncefs %s" % (what, got[0], got[1]))
    assert not diffs, "\n".join(diffs)
    assert m.stop() == 0


def test_set_id_bits_as_on_the_backing_fs():
    """Writes, truncates, O_TRUNC opens and chown clear set-user-ID and
    set-group-ID bits (and security.capability) exactly as on the backing
    XFS, by callers with and without CAP_FSETID."""
    set_id_bits_as_on_the_backing_fs("allow_other")


def test_set_id_bits_as_on_the_backing_fs_dev_fuse():
    """The same over /dev/fuse."""
    set_id_bits_as_on_the_backing_fs("allow_other,uring=off")


def test_writes_need_no_capability_lookups():
    """The kernel does not ask for security.capability before every cached
    write (FUSE_HANDLE_KILLPRIV_V2, Linux 5.11)."""
    if tuple(int(x) for x in os.uname().release.split(".")[:2]) < (5, 11):
        return
    # (Through the FUSE page cache: with passthrough no write comes.)
    fs, m, mnt, back = mounted("allow_other,passthrough=off")
    p = os.path.join(mnt, "w")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
    before = stats(mnt)
    for i in range(200):
        os.pwrite(fd, b"x" * 4096, i * 4096)
    after = stats(mnt)
    os.close(fd)
    n = (after["buffered_requests"] - before["buffered_requests"])
    assert n == 200, (before, after)
    if after["ring_requests"]:
        # 200 writes and a few others, not 200 GETXATTRs besides.
        assert after["ring_requests"] - before["ring_requests"] < 260, \
            (before, after)
    assert m.stop() == 0


main()
