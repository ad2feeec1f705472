#!/usr/bin/env python3
"""-o restart=systemd: systemd's file-descriptor store holds a mount across
the death of its daemon (docs/restart.md).

No systemd runs on these machines (the tests' PID 1 is not one), so the
test plays its part as sd_notify(3), sd_listen_fds(3) and systemd.service(5)
describe it for a unit with Type=notify, NotifyAccess=main,
FileDescriptorStoreMax=2 and Restart=on-failure: a datagram socket at
$NOTIFY_SOCKET whose messages (READY=1, FDSTORE=1 with FDNAME= and the fds
as SCM_RIGHTS, FDSTOREREMOVE=1) it takes only from the main process (the
sender's credentials), and, when the main process dies of a signal or
fails, the same command started again with the stored fds from 3 on
(LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID). Each test mounts for real and
unmounts however it ends (the harness aborts a connection left behind)."""
import array
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, abort_connection, force_unmount,  # noqa: E402
                     is_mounted, main, on_exit, scratch_dirs, stats)
from test_successor import direct_writers, resends  # noqa: E402

NAMES = ("bouncefs-fuse", "bouncefs-state")


class ServiceManager:
    """A Type=notify service with a descriptor store, as systemd runs one:
    the command, restarted on failure with what it stored."""

    def __init__(self, cmd, restart=True):
        self.cmd, self.restart = cmd, restart
        self.dir = tempfile.mkdtemp(prefix="bouncefs-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.1)
        self.store = {}          # FDNAME -> fd (ours)
        self.lock = threading.Condition()
        self.ready = 0           # READY=1 messages from main processes
        self.foreign = []        # messages from other processes
        self.messages = []
        self.proc = None
        self.starts = 0
        self.stopping = False
        self.logs = []
        self.done = False
        self.listener = threading.Thread(target=self.listen, daemon=True)
        self.listener.start()
        self.watcher = None
        on_exit(self.close)

    def listen(self):
        fds_space = socket.CMSG_SPACE(16 * 4)
        cred_space = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self.done:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, fds_space + cred_space)
            except socket.timeout:
                continue
            except OSError:
                return
            fds, pid = [], None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(payload[:len(payload) - len(payload) % 4])
                    fds += list(a)
                elif level == socket.SOL_SOCKET and \
                        kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:12])[0]
            self.handle(data.decode(), fds, pid)

    def handle(self, text, fds, pid):
        fields = dict(line.split("=", 1) for line in text.split("\n")
                      if "=" in line)
        with self.lock:
            self.messages.append(text)
            main_pid = self.proc.pid if self.proc else None
            if pid != main_pid:
                # NotifyAccess=main: systemd ignores it (and its fds).
                self.foreign.append((pid, text))
                for fd in fds:
                    os.close(fd)
                return
            name = fields.get("FDNAME", "stored")
            if fields.get("FDSTORE") == "1":
                for fd in fds:
                    old = self.store.pop(name, None)
                    if old is not None:
                        os.close(old)
                    self.store[name] = fd
                fds = []
            if fields.get("FDSTOREREMOVE") == "1" and name in self.store:
                os.close(self.store.pop(name))
            if fields.get("READY") == "1":
                self.ready += 1
            for fd in fds:
                os.close(fd)
            self.lock.notify_all()

    # Started in a process of its own (no threads: no preexec_fn in this
    # one, whose threads may hold locks at the fork): the stored fds moved
    # to 3, 4..., its pid given as LISTEN_PID, then the command exec'd.
    PLACE = (
        "import fcntl, os, sys\n"
        "src = [int(x) for x in os.environ.pop('PLACE_FDS', '').split(',') if x]\n"
        "tops = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in src]\n"
        "for i, fd in enumerate(tops):\n"
        "    os.dup2(fd, 3 + i)\n"
        "    os.close(fd)\n"
        "for fd in src:\n"
        "    if fd >= 3 + len(src):\n"
        "        os.close(fd)\n"
        "if src:\n"
        "    os.environ['LISTEN_PID'] = str(os.getpid())\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n")

    def spawn(self):
        """Start the command, the stored fds at 3, 4..."""
        names = sorted(self.store)
        held = [self.store[n] for n in names]
        env = dict(os.environ, NOTIFY_SOCKET=self.path,
                   PLACE_FDS=",".join(str(fd) for fd in held))
        for k in ("LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"):
            env.pop(k, None)
        if held:
            env["LISTEN_FDS"] = str(len(held))
            env["LISTEN_FDNAMES"] = ":".join(names)
        log = tempfile.TemporaryFile(mode="w+")
        self.logs.append(log)
        with self.lock:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", self.PLACE] + self.cmd, env=env,
                stdout=log, stderr=subprocess.STDOUT, pass_fds=held)
            self.starts += 1
        return self.proc

    def start(self):
        self.spawn()
        self.watcher = threading.Thread(target=self.watch, daemon=True)
        self.watcher.start()

    def watch(self):
        """Restart=on-failure (RestartSec=100ms), until stopped."""
        while True:
            proc = self.proc
            rc = proc.wait()
            with self.lock:
                if self.stopping or not self.restart or rc == 0 or \
                        self.proc is not proc:
                    self.lock.notify_all()
                    return
            time.sleep(0.1)
            with self.lock:  # (a stop meanwhile: no new main process)
                if self.stopping:
                    return
                self.spawn()

    def wait_ready(self, count, seconds=20):
        deadline = time.time() + seconds
        with self.lock:
            while self.ready < count:
                assert time.time() < deadline, \
                    "no READY=%d: %s" % (count, self.output())
                self.lock.wait(0.1)

    def output(self):
        out = []
        for log in self.logs:
            log.seek(0)
            out.append(log.read())
        return "\n---\n".join(out)

    def stop(self):
        """systemctl stop: SIGTERM to the main process; the store is
        emptied once it has gone (FileDescriptorStorePreserve=no).
        Returns its exit status."""
        with self.lock:
            self.stopping = True
            proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        return rc

    def close(self):
        self.stop()
        with self.lock:
            for fd in self.store.values():
                os.close(fd)
            self.store.clear()
        self.done = True
        self.sock.close()
        for log in self.logs:
            log.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


def serve_manager(fd, cmd):
    """The manager's own process (this file with --service-manager): a
    ServiceManager for cmd, told what to do by the test over fd, one JSON
    line each way. It never opens a file on the mount (a process that
    did would block in the FLUSH of its close-on-exec files each time it
    starts a daemon, with no daemon to answer). At EOF it stops."""
    conn = socket.socket(fileno=fd)
    f = conn.makefile("rw")
    sm = ServiceManager(cmd)
    for line in f:
        req = json.loads(line)
        op, out = req["op"], None
        try:
            if op == "start":
                sm.stopping = False
                sm.start()
            elif op == "restart":
                sm.restart = req["value"]
            elif op == "wait_ready":
                sm.wait_ready(req["count"], req.get("seconds", 20))
            elif op == "kill":
                p = sm.proc
                p.kill()
                p.wait()
                out = p.pid
            elif op == "status":
                with sm.lock:
                    out = {"ready": sm.ready, "store": sorted(sm.store),
                           "messages": sm.messages, "foreign": sm.foreign,
                           "starts": sm.starts,
                           "pid": sm.proc.pid if sm.proc else None}
            elif op == "stop":
                out = sm.stop()
            elif op == "output":
                out = sm.output()
            reply = {"ok": out}
        except AssertionError as e:
            reply = {"error": str(e)}
        f.write(json.dumps(reply) + "\n")
        f.flush()
    sm.close()


class Service:
    """The test's end of a ServiceManager in a process of its own."""

    def __init__(self, cmd, restart=True):
        a, b = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--service-manager",
             str(b.fileno())] + cmd, pass_fds=[b.fileno()])
        b.close()
        self.conn = a
        self.f = a.makefile("rw")
        on_exit(self.close)
        self.call("restart", value=restart)

    def call(self, op, **kw):
        self.f.write(json.dumps(dict(op=op, **kw)) + "\n")
        self.f.flush()
        line = self.f.readline()
        assert line, "the service manager is gone"
        r = json.loads(line)
        assert "error" not in r, r["error"]
        return r["ok"]

    def status(self):
        return self.call("status")

    def output(self):
        return self.call("output")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("stop")
            except (AssertionError, OSError, ValueError):
                pass
            # (the file object holds the socket open too)
            self.f.close()
            self.conn.close()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def service(opts="restart=systemd", restart=True):
    fs, back, mnt = scratch_dirs()
    sm = Service([BOUNCEFS, back, mnt, "-f", "-o", opts], restart)
    on_exit(lambda: force_unmount(mnt))
    sm.call("start")
    sm.call("wait_ready", count=1)
    assert is_mounted(mnt)
    return sm, back, mnt


def kill_main(sm, mnt, n):
    """SIGKILL the main process; the next one (with the store) serves:
    the seconds from the kill to the first answer of a new lookup."""
    t0 = time.monotonic()
    old = sm.call("kill")
    assert not os.path.exists(os.path.join(mnt, "probe-%d" % n))
    took = time.monotonic() - t0
    sm.call("wait_ready", count=n + 1)
    assert sm.status()["pid"] != old
    return took


def test_systemd_holds_the_mount_across_kills():
    if not resends():
        return
    sm, back, mnt = service()
    assert sm.status()["store"] == sorted(NAMES), sm.status()
    assert stats(mnt)["config"]["restart"] == "systemd"
    with open(os.path.join(mnt, "kept"), "w") as f:
        f.write("kept across kills")
    held = os.open(os.path.join(mnt, "kept"), os.O_RDONLY)
    path = os.path.join(mnt, "image")
    stop, errors = threading.Event(), []
    ts, last = direct_writers(path, stop, errors)
    resent, times = 0, []
    while len(times) < 4 or (resent == 0 and len(times) < 15):
        time.sleep(0.7)
        times.append(kill_main(sm, mnt, len(times) + 1))
        resent += stats(mnt)["resent_requests"]
    stop.set()
    for t in ts:
        t.join(30)
    assert not errors, (errors, sm.output()[-3000:])
    fd = os.open(path, os.O_RDONLY)
    for b, n in sorted(last.items()):
        got = os.pread(fd, 17, b << 18)
        assert got == b"%02d-%04d-%08d|" % (b // 16, b, n), (b, n, got)
    os.close(fd)
    # An open of the first daemon's, served by the last.
    assert os.pread(held, 100, 0) == b"kept across kills"
    os.close(held)
    print("  %d requests resent over %d kills; kill to first answer %s ms "
          "(systemd's RestartSec=100ms included)" %
          (resent, len(times), ", ".join("%.0f" % (t * 1000) for t in times)))
    assert resent > 0, "no write was in flight at any of %d kills" % len(times)
    s = stats(mnt)
    assert s["config"]["restart"] == "systemd", s["config"]
    assert s["reopened_opens"] >= 1, s
    st = sm.status()
    # The store is what the first daemon put there, never added to, and
    # every message came from the main process.
    assert st["store"] == sorted(NAMES), st
    assert not st["foreign"], st["foreign"]
    # systemctl stop: the daemon unmounts, and lets go of the store.
    assert sm.call("stop") == 0, sm.output()[-3000:]
    assert not is_mounted(mnt)
    st = sm.status()
    assert st["store"] == [], st["messages"][-5:]
    assert any("STOPPING=1" in m for m in st["messages"])
    with open(os.path.join(back, "kept")) as f:
        assert f.read() == "kept across kills"


def test_a_store_of_an_ended_mount_is_dropped_and_the_mount_made_anew():
    if not resends():
        return
    sm, back, mnt = service(restart=False)
    with open(os.path.join(mnt, "data"), "w") as f:
        f.write("on the backing file")
    dev = os.stat(mnt).st_dev
    # The daemon dies; nobody restarts it yet, and the mount is taken
    # away meanwhile (the store still holds its ended connection).
    sm.call("kill")
    abort_connection(dev)
    subprocess.run(["umount", "-l", mnt], timeout=30, check=True)
    assert not is_mounted(mnt)
    assert sm.status()["store"] == sorted(NAMES)
    sm.call("restart", value=True)
    sm.call("start")
    sm.call("wait_ready", count=2)
    assert is_mounted(mnt)  # (its st_dev may be the old one's again)
    with open(os.path.join(mnt, "data")) as f:
        assert f.read() == "on the backing file"
    assert "mounting anew" in sm.output(), sm.output()
    # The old fds went (the daemon asked), the new mount's came.
    st = sm.status()
    removed = [m for m in st["messages"] if "FDSTOREREMOVE=1" in m]
    assert len(removed) == 2, st["messages"]
    assert st["store"] == sorted(NAMES), st
    assert stats(mnt)["config"]["restart"] == "systemd"
    assert sm.call("stop") == 0, sm.output()[-3000:]
    assert not is_mounted(mnt)


def test_restart_systemd_refuses_what_systemd_cannot_hold():
    fs, back, mnt = scratch_dirs()
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    # Detached, the daemon is not the process systemd started.
    p = subprocess.run([BOUNCEFS, back, mnt, "-o", "restart=systemd"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 2 and "needs -f" in p.stderr, p
    # Not started by systemd at all.
    p = subprocess.run([BOUNCEFS, back, mnt, "-f", "-o", "restart=systemd"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0 and "not started by systemd" in p.stderr, p
    assert not is_mounted(mnt)
    p = subprocess.run([BOUNCEFS, back, mnt, "-f", "-o", "restart=sometimes"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0 and "want auto, supervisor, systemd or off" in p.stderr, p
    assert not is_mounted(mnt)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--service-manager"]:
        serve_manager(int(sys.argv[2]), sys.argv[3:])
    else:
        main()
