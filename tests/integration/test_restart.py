#!/usr/bin/env python3
"""Restart without unmounting (docs/restart.md).

What the kernel does for a daemon's successor, shown on a bare FUSE
connection that this program serves itself: a process that holds the
/dev/fuse descriptor keeps the mount alive after the process that read a
request dies unanswered, and the holder can get that request served
again, by FUSE_NOTIFY_RESEND (Linux 6.9+) or by answering its unique
itself. Every stat here is a child with a time bound, and the mount is
aborted and unmounted however the test ends.

And what the daemon keeps for a successor: its state memfd, read from
outside as a successor would, names every node id and open file the
kernel holds, and the INIT it took."""
import os
import platform
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (abort_connection, force_unmount, libc,  # noqa: E402
                     main, mounted, on_exit)

IN_HEADER = struct.Struct("<IIQQIIIHH")   # struct fuse_in_header
FUSE_INIT, FUSE_GETATTR = 26, 3
FUSE_NOTIFY_RESEND = 7
FUSE_UNIQUE_RESEND = 1 << 63
SERVED_DIRECT_IO, SERVED_PASSTHROUGH, SERVED_CACHED = 1, 2, 4


class BareConnection:
    """A FUSE mount with no daemon: this process holds /dev/fuse."""

    def __init__(self):
        self.mnt = tempfile.mkdtemp(prefix="bfs-restart-", dir="/var/tmp")
        self.fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        opts = "fd=%d,rootmode=40000,user_id=0,group_id=0" % self.fd
        if libc.mount(b"bouncefs-test", self.mnt.encode(), b"fuse.restart",
                      0, opts.encode()) != 0:
            raise OSError("mount failed")
        on_exit(self.close)
        header, body = self.read()
        assert header[1] == FUSE_INIT, header
        self.minor = struct.unpack_from("<II", body)[1]
        # major, minor, max_readahead, flags, max_background,
        # congestion_threshold, max_write, time_gran, max_pages, ...
        out = struct.pack("<IIIIHHIIHHII", 7, self.minor, 131072, 0, 16, 12,
                          131072, 1, 32, 0, 0, 0) + bytes(24)
        self.answer(header[2], 0, out)

    def read(self, seconds=5):
        ready, _, _ = select.select([self.fd], [], [], seconds)
        assert ready, "no request within %ss" % seconds
        buf = os.read(self.fd, 1 << 20)
        return IN_HEADER.unpack_from(buf), buf[IN_HEADER.size:]

    def answer(self, unique, error, body=b""):
        os.write(self.fd, struct.pack("<IiQ", 16 + len(body), error, unique)
                 + body)

    @staticmethod
    def root_attr():
        # fuse_attr_out: valid for 0 s, then fuse_attr of a directory
        return struct.pack("<QII", 0, 0, 0) + struct.pack(
            "<QQQQQQIIIIIIIIII", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0o40755, 2,
            0, 0, 0, 4096, 0)

    def close(self):
        # Abort first: a stat of the mount with nobody answering would hang.
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4] == self.mnt:
                    major, minor = fields[2].split(":")
                    abort_connection(os.makedev(int(major), int(minor)))
        force_unmount(self.mnt)
        os.close(self.fd)
        os.rmdir(self.mnt)


def stat_in_child(path):
    return subprocess.Popen(["stat", "-c", "%F", path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def read_and_die(conn):
    """A reader that takes one request and is killed before it answers:
    a daemon killed mid-request. Returns the request's unique."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            header, _ = conn.read()
            os.write(w, struct.pack("<IQ", header[1], header[2]))
        finally:  # never the parent's clean-ups in this copy of it
            os.kill(os.getpid(), signal.SIGKILL)
    os.close(w)
    got = os.read(r, 12)
    assert len(got) == 12, "the reader died before it read a request"
    opcode, unique = struct.unpack("<IQ", got)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), status
    assert opcode == FUSE_GETATTR, opcode
    return unique


def kernel_at_least(major, minor):
    v = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    return v >= (major, minor)


def test_a_resend_brings_back_what_a_dead_reader_held():
    conn = BareConnection()
    st = stat_in_child(conn.mnt)
    unique = read_and_die(conn)
    time.sleep(0.3)
    assert st.poll() is None, "the stat should wait for an answer"
    start = time.monotonic()
    try:
        conn.answer(0, FUSE_NOTIFY_RESEND)
    except OSError as e:
        # Kernels before 6.9 have no resend: the holder must answer.
        assert not kernel_at_least(6, 9), e
        conn.answer(unique, 0, conn.root_attr())
    else:
        assert kernel_at_least(6, 9) or conn.minor >= 40
        header, _ = conn.read()
        assert header[1] == FUSE_GETATTR, header
        assert header[2] == unique | FUSE_UNIQUE_RESEND, (header, unique)
        conn.answer(header[2], 0, conn.root_attr())
    out, _ = st.communicate(timeout=10)
    assert st.returncode == 0 and out.strip() == "directory", out
    print("  resent and answered in %.1f ms" %
          ((time.monotonic() - start) * 1e3))


def test_the_holder_can_answer_a_dead_readers_request():
    """Without a resend (kernels before 6.9), a request a dead daemon read
    is still the connection's: an answer by its unique from another
    process ends the wait."""
    conn = BareConnection()
    st = stat_in_child(conn.mnt)
    unique = read_and_die(conn)
    time.sleep(0.3)
    assert st.poll() is None
    conn.answer(unique, -5)  # EIO
    out, _ = st.communicate(timeout=10)
    assert st.returncode != 0 and "Input/output error" in out, out


def test_the_mount_lives_while_a_holder_keeps_the_descriptor():
    """A reader killed with its copy of the descriptor: the connection
    stays (the holder's copy), and the next request reaches the holder."""
    conn = BareConnection()
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # a daemon that just dies
    os.waitpid(pid, 0)
    st = stat_in_child(conn.mnt)
    header, _ = conn.read()
    assert header[1] == FUSE_GETATTR, header
    conn.answer(header[2], 0, conn.root_attr())
    out, _ = st.communicate(timeout=10)
    assert st.returncode == 0, out


class DaemonState:
    """A daemon's state memfd (include/core/restart_state.h), read through
    /proc/PID/fd as a successor would read the one handed to it."""
    HEADER = struct.Struct("<IIQQQQQQQQII")  # up to incomplete (see below)
    INODE = struct.Struct("<IIQQQiiII128s16x")
    OPEN = struct.Struct("<IIQIi8x")

    def __init__(self, pid):
        for fd in os.listdir("/proc/%d/fd" % pid):
            if "memfd:bouncefs-state" in os.readlink("/proc/%d/fd/%s" %
                                                     (pid, fd)):
                self.path = "/proc/%d/fd/%s" % (pid, fd)
                break
        else:
            raise AssertionError("the daemon has no state memfd")

    def read(self):
        with open(self.path, "rb") as f:
            head = f.read(4096)
            (magic, version, inode_cap, open_cap, inodes_at, files_at,
             dirs_at, inode_end, file_end, dir_end, incomplete,
             init_in_len) = self.HEADER.unpack_from(head)
            assert magic == 0x72736662 and version == 1, (magic, version)
            init_out_len = struct.unpack_from("<I", head, self.HEADER.size)[0]
            init_at = self.HEADER.size + 4
            self.init_in = head[init_at:init_at + init_in_len]
            self.init_out = head[init_at + 256:init_at + 256 + init_out_len]
            self.complete = incomplete == 0
            self.inodes = {}
            for i in range(inode_end):
                f.seek(inodes_at + i * self.INODE.size)
                used, typ, dev, ino, nlookup, mount_id, htype, hbytes, _, \
                    _ = self.INODE.unpack(f.read(self.INODE.size))
                if used:
                    self.inodes[i] = (ino, typ, nlookup, hbytes)
            self.opens = {}
            for kind, at, end in (("file", files_at, file_end),
                                  ("dir", dirs_at, dir_end)):
                for fh in range(end):
                    f.seek(at + fh * self.OPEN.size)
                    used, flags, node, served, backing = self.OPEN.unpack(
                        f.read(self.OPEN.size))
                    if used:
                        self.opens[(kind, fh)] = (node, flags, served,
                                                  backing)
        return self

    def node_of(self, backing_path):
        ino = os.stat(backing_path).st_ino
        ids = [i for i, v in self.inodes.items() if v[0] == ino]
        assert len(ids) == 1, (backing_path, ids, self.inodes)
        return ids[0]


def test_the_daemons_state_names_what_the_kernel_holds():
    fs, m, mnt, back = mounted()
    os.mkdir(os.path.join(mnt, "d"))
    for name in ("d/a", "d/b"):
        with open(os.path.join(mnt, name), "w") as f:
            f.write("x" * 4096)
    direct = os.open(os.path.join(mnt, "d/a"), os.O_RDWR | os.O_DIRECT)
    cached = os.open(os.path.join(mnt, "d/b"), os.O_RDONLY)
    listing = os.open(os.path.join(mnt, "d"), os.O_RDONLY | os.O_DIRECTORY)
    st = DaemonState(m.pid).read()
    assert st.complete
    # INIT: the request (opcode 26 after len) and the answer (major 7).
    assert struct.unpack_from("<II", st.init_in)[1] == FUSE_INIT, st.init_in
    assert struct.unpack_from("<I", st.init_out, 16)[0] == 7, st.init_out
    # Every node the kernel has looked up: the directory and both files,
    # each with a reference and a handle to reopen it by.
    nodes = {name: st.node_of(os.path.join(back, name))
             for name in ("d", "d/a", "d/b")}
    for name, node in nodes.items():
        ino, typ, nlookup, hbytes = st.inodes[node]
        assert nlookup >= 1 and hbytes > 0, (name, st.inodes[node])
    assert st.inodes[nodes["d"]][1] == 0o040000
    # The open files and the directory, each with its node, its flags
    # and how the kernel was told to serve it: the direct open staged by
    # us (FOPEN_DIRECT_IO), the buffered one through the page cache or,
    # where the kernel has it, FUSE passthrough with its backing id.
    opens = {(kind, node): (flags, served, backing) for (kind, fh),
             (node, flags, served, backing) in st.opens.items()}
    flags, served, backing = opens[("file", nodes["d/a"])]
    assert flags & os.O_DIRECT and served == SERVED_DIRECT_IO, st.opens
    flags, served, backing = opens[("file", nodes["d/b"])]
    assert not flags & os.O_DIRECT, st.opens
    assert served == SERVED_CACHED or \
        (served == SERVED_PASSTHROUGH and backing > 0), st.opens
    print("  the buffered open: %s" % ("passthrough, backing id %d" % backing
                                      if backing else "page cache"))
    assert ("dir", nodes["d"]) in opens, st.opens
    # Released: gone from the state (a release is asynchronous).
    for fd in (direct, cached, listing):
        os.close(fd)
    deadline = time.time() + 5
    while DaemonState(m.pid).read().opens and time.time() < deadline:
        time.sleep(0.05)
    assert DaemonState(m.pid).read().opens == {}
    # Deleted and forgotten: gone too (the kernel forgets it at once).
    os.unlink(os.path.join(mnt, "d/b"))
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")
    deadline = time.time() + 5
    while nodes["d/b"] in DaemonState(m.pid).read().inodes and \
            time.time() < deadline:
        time.sleep(0.05)
    assert nodes["d/b"] not in DaemonState(m.pid).read().inodes
    assert m.stop() == 0


if __name__ == "__main__":
    main(per_test_seconds=60)
