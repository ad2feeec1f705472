#!/usr/bin/env python3
"""Bad input: each case has its own exit status and a one-line message,
and nothing gets mounted."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import BOUNCEFS, is_mounted, on_exit, run, main, Mount  # noqa: E402

top = tempfile.mkdtemp(prefix="bfs-cli-", dir="/var/tmp")
on_exit(lambda: run(["rm", "-rf", top], check=False), per_test=False)
back = os.path.join(top, "back")
mnt = os.path.join(top, "mnt")
os.mkdir(back)
os.mkdir(mnt)
os.mkdir(os.path.join(mnt, "inner"))
with open(os.path.join(top, "file"), "w") as f:
    f.write("x")


def bfs(*args):
    r = run([BOUNCEFS] + list(args), check=False, timeout=20)
    return r.returncode, r.stdout, r.stderr


def expect(status, fragment, *args):
    rc, out, err = bfs(*args)
    assert rc == status, "%r: exit %d, want %d (%s)" % (args, rc, status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, "%r: want one line, got %r" % (args, err)
    assert lines[0].startswith("bouncefs: "), lines[0]
    assert fragment in lines[0], "%r: %r not in %r" % (args, fragment, lines[0])
    assert not is_mounted(mnt)


def test_usage():
    expect(2, "missing BACKING_DIR")
    expect(2, "missing MOUNTPOINT", back)
    expect(2, "too many arguments", back, mnt, mnt)
    expect(2, "unknown option '--bogus'", "--bogus", back, mnt)
    expect(2, "-o needs an argument", back, mnt, "-o")


def test_backing_dir():
    expect(5, "No such file or directory", os.path.join(top, "nope"), mnt)
    expect(5, "is not a directory", os.path.join(top, "file"), mnt)


def test_mountpoint():
    expect(6, "No such file or directory", back, os.path.join(top, "nope"))
    # A regular file: mounted, every access failed with EIO.
    expect(6, "is not a directory", back, os.path.join(top, "file"))


def test_unknown_option():
    expect(3, "unknown mount option 'frobnicate'", back, mnt, "-o", "frobnicate")
    expect(3, "unknown mount option 'nonsense'", "-o", "ro,nonsense=1", back, mnt)


def test_malformed_value():
    expect(4, "bad value for max_write", back, mnt, "-o", "max_write=12345")
    expect(4, "bad value for queue_depth", back, mnt, "-o", "queue_depth=zero")
    expect(4, "bad value for max_write", back, mnt, "-o", "max_write=")
    expect(4, "takes no value", back, mnt, "-o", "allow_other=yes")
    expect(4, "needs a value", back, mnt, "-o", "fsname=")
    # Ignored options take no value; subtype would make another type of
    # mount (past the already-mounted check); blksize is for fuseblk.
    expect(4, "takes no value", back, mnt, "-o", "nofail=ON")
    expect(4, "fuse.bouncefs", back, mnt, "-o", "subtype=other")
    expect(4, "fuseblk", back, mnt, "-o", "blksize=4096")


def mounts_and_serves(opts):
    m = Mount(back, mnt, opts)
    data = os.urandom(1 << 20)
    with open(os.path.join(mnt, "big"), "wb") as f:
        f.write(data)
    with open(os.path.join(mnt, "big"), "rb") as f:
        assert f.read() == data
    assert m.stop() == 0, m.output()
    assert not is_mounted(mnt)


def test_mount8_access_time_options():
    """The fstab idiom "defaults,noatime,nodiratime" and the rest of
    mount(8)'s access-time options mount (libfuse refused them)."""
    mounts_and_serves("defaults,noatime,nodiratime,strictatime,"
                      "nostrictatime,norelatime,lazytime,nolazytime")


def test_max_read():
    """-o max_read=N mounts and serves (the INIT failed, exit 0 with
    nothing mounted)."""
    mounts_and_serves("max_read=131072")


def test_overlap():
    expect(7, "same directory", back, back)
    expect(7, "same directory", back, back + "/.")
    expect(7, "inside the mountpoint", os.path.join(mnt, "inner"), mnt)
    os.mkdir(os.path.join(back, "sub"))
    expect(7, "inside the backing dir", back, os.path.join(back, "sub"))


def test_help_and_version():
    rc, out, err = bfs("--help")
    assert rc == 0 and "usage: bouncefs [options] BACKING_DIR MOUNTPOINT" in out
    for opt in ("max_write=", "queue_depth=", "max_threads=", "attr_timeout=",
                "entry_timeout=", "allow_other", "-f", "-d", "-s", "--version"):
        assert opt in out, opt
    rc2, out2, _ = bfs("-h")
    assert rc2 == 0 and out2 == out
    rc, out, err = bfs("--version")
    assert rc == 0 and out.startswith("bouncefs ") and "libfuse 3." in out
    rc2, out2, _ = bfs("-V")
    assert rc2 == 0 and out2 == out


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Refused with a message of their own; documented in the man page only.
REFUSED = {"subtype", "blksize"}


def accepted_options():
    """Every option name the parser accepts, from its source: the -o
    tables and the names it compares, the command-line flags, and the stat
    command's."""
    import re
    names = set()
    with open(os.path.join(ROOT, "src", "core", "options.c")) as f:
        src = f.read()
    for body in re.findall(r"static const char \*const \w+\[\] = \{(.*?)\};",
                           src, re.S):
        names |= set(re.findall(r'"([^"]+)"', body))
    names |= set(re.findall(r'strcmp\(name, "([^"]+)"\)', src))
    names |= set(re.findall(r'strn?cmp\(a, "(-[^"]+)"', src))
    with open(os.path.join(ROOT, "src", "cli", "stats_command.c")) as f:
        names |= set(re.findall(r'strcmp\(argv\[i\], "(--[^"]+)"\)', f.read()))
    names.discard("--")
    return names - REFUSED


def documents(text, name):
    import re
    return re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text)


def test_help_and_man_page_agree():
    """--help and the man page list the same options, every one the parser
    takes."""
    import re
    rc, help_text, _ = bfs("--help")
    assert rc == 0
    # "[no]dev" in --help stands for dev and nodev.
    help_text = re.sub(r"\[no\](\w+)", r"\1 no\1", help_text)
    with open(os.path.join(ROOT, "man", "bouncefs.8")) as f:
        man = f.read().replace("\\-", "-").replace("\\&", "")
    names = accepted_options()
    assert len(names) > 50, sorted(names)
    missing_help = sorted(n for n in names if not documents(help_text, n))
    missing_man = sorted(n for n in names if not documents(man, n))
    assert not missing_help and not missing_man, \
        "not in --help: %s; not in the man page: %s" % (missing_help,
                                                         missing_man)


def test_second_mount_is_refused():
    m = Mount(back, mnt)
    with open(os.path.join(mnt, "hello"), "w") as f:
        f.write("first")
    expect_busy = bfs(back, mnt)
    assert expect_busy[0] == 8, expect_busy
    assert "already a bouncefs mount" in expect_busy[2]
    # The first mount is untouched.
    with open(os.path.join(mnt, "hello")) as f:
        assert f.read() == "first"
    assert m.stop() == 0
    assert not is_mounted(mnt)


main()
