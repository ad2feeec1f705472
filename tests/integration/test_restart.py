#!/usr/bin/env python3
"""What the kernel does for a daemon's successor (docs/restart.md), shown
on a bare FUSE connection that this program serves itself: a process
that holds the /dev/fuse descriptor keeps the mount alive after the
process that read a request dies unanswered, and the holder can get that
request served again, by FUSE_NOTIFY_RESEND (Linux 6.9+) or by answering
its unique itself. Every stat here is a child with a time bound, and the
mount is aborted and unmounted however the test ends."""
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
                     main, on_exit)

IN_HEADER = struct.Struct("<IIQQIIIHH")   # struct fuse_in_header
FUSE_INIT, FUSE_GETATTR = 26, 3
FUSE_NOTIFY_RESEND = 7
FUSE_UNIQUE_RESEND = 1 << 63


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
        header, _ = conn.read()
        os.write(w, struct.pack("<IQ", header[1], header[2]))
        os.kill(os.getpid(), signal.SIGKILL)
    os.close(w)
    opcode, unique = struct.unpack("<IQ", os.read(r, 12))
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


if __name__ == "__main__":
    main(per_test_seconds=60)
