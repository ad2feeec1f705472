#!/usr/bin/env python3
"""Where the daemon's messages go: -o log=FILE, log=stderr when detached,
log_level= (debug: one line per failed request, none held back), the
start-up line that says where they go, the warning on a host without
syslog, and bad values."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, fill, force_unmount, is_mounted,  # noqa: E402
                     main, on_exit, run, scratch_dirs)

top = tempfile.mkdtemp(prefix="bfs-log-", dir="/var/tmp")
on_exit(lambda: run(["rm", "-rf", top], check=False), per_test=False)
back = os.path.join(top, "back")
mnt = os.path.join(top, "mnt")
os.mkdir(back)
os.mkdir(mnt)
on_exit(lambda: force_unmount(mnt))

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ bouncefs\[\d+\]: "
                  r"(error|warning|info|debug): ")


def detached(*args, stderr=subprocess.PIPE):
    r = subprocess.run([BOUNCEFS] + list(args), stdout=subprocess.PIPE,
                       stderr=stderr, text=True, timeout=30)
    return r


def unmount(path=mnt):
    run(["umount", path])
    assert not is_mounted(path)


def read(path):
    with open(path) as f:
        return f.read()


def wait_for(path, fragment, seconds=15):
    """The text of path once it holds fragment (the daemon writes its
    last lines after umount returns)."""
    import time
    deadline = time.monotonic() + seconds
    while fragment not in read(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return read(path)


def test_log_file():
    log = os.path.join(top, "bouncefs.log")
    r = detached("-o", "log=%s" % log, back, mnt)
    assert r.returncode == 0 and is_mounted(mnt), r.stderr
    # Not a terminal: the start-up's info lines go to the log only.
    assert "mounted " not in r.stderr, r.stderr
    with open(os.path.join(mnt, "f"), "w") as f:
        f.write("x")
    unmount()
    text = wait_for(log, "unmounted")
    lines = text.splitlines()
    assert lines and all(LINE.match(ln) for ln in lines), text
    assert any(("mounted %s at %s; messages go to %s (level info)"
                % (back, mnt, log)) in ln for ln in lines), text
    # A line from after the start-up: the daemon kept writing there.
    assert any(ln.endswith("info: unmounted %s" % mnt) for ln in lines), text
    # Appended to, not replaced.
    r = detached("-o", "log=%s,log_level=error" % log, back, mnt)
    assert r.returncode == 0, r.stderr
    unmount()
    import time
    time.sleep(1)
    assert read(log).startswith(text), "the log was truncated"
    # log_level=error: no info line from the second mount.
    assert read(log)[len(text):].count(": info: ") == 0, read(log)


def test_log_stderr_detached():
    err = os.path.join(top, "stderr.txt")
    with open(err, "w") as f:
        r = detached("-o", "log=stderr", back, mnt, stderr=f)
    assert r.returncode == 0 and is_mounted(mnt)
    unmount()
    text = wait_for(err, "unmounted")
    # The detached daemon kept the command's stderr.
    assert "bouncefs: unmounted %s" % mnt in text, text


def test_debug_level_logs_every_failed_request():
    fs, b, m = scratch_dirs("300M")
    for level in ("info", "debug"):
        open(os.path.join(b, "new-" + level), "w").close()
    fill(b)
    logs = {}
    for level in ("info", "debug"):
        log = os.path.join(fs.top, "%s.log" % level)
        r = detached("-o", "log=%s,log_level=%s" % (log, level), b, m)
        assert r.returncode == 0, r.stderr
        fd = os.open(os.path.join(m, "new-" + level),
                     os.O_WRONLY | os.O_DIRECT)
        import mmap
        buf = mmap.mmap(-1, 65536)
        buf.write(b"y" * 65536)
        fails = 0
        for i in range(12):
            try:
                os.pwritev(fd, [buf], i * 65536)
            except OSError:
                fails += 1
        os.close(fd)
        unmount(m)
        assert fails == 12, "only %d of 12 writes failed" % fails
        logs[level] = [ln for ln in wait_for(log, "unmounted").splitlines()
                       if "cannot write 'new-%s'" % level in ln]
    # The default level holds back after 5 of a kind; debug logs each,
    # with the path, the offset and the error.
    assert len(logs["info"]) <= 5, logs["info"]
    assert len(logs["debug"]) >= 12, logs["debug"]
    assert any("at offset 65536 " in ln and "no space left on device" in ln
               for ln in logs["debug"]), logs["debug"]


def test_where_the_log_goes_is_said():
    r = subprocess.run(["script", "-qec", "%s %s %s" % (BOUNCEFS, back, mnt),
                        "/dev/null"], stdout=subprocess.PIPE, text=True,
                       timeout=30)
    assert r.returncode == 0 and is_mounted(mnt), r.stdout
    unmount()
    # On a terminal the start-up says where the rest goes.
    assert "messages go to syslog (level info)" in r.stdout, r.stdout
    r = detached(back, mnt)
    assert r.returncode == 0
    unmount()
    if os.path.exists("/dev/log"):
        assert "no syslog here" not in r.stderr, r.stderr
    else:
        # Detached with no syslog: said on stderr, not lost silently.
        assert "no syslog here (no /dev/log): messages after the start-up " \
            "are lost; use -o log=FILE or log=stderr" in r.stderr, r.stderr


def test_bad_log_options():
    for opt, status, fragment in [
            ("log=relative.log", 4, "want syslog, stderr or an absolute FILE"),
            ("log=", 4, "bad value for log"),
            ("log_level=verbose", 4, "want error, warn, info or debug"),
            ("log=%s/nodir/x.log" % top, 4,
             "cannot open the log file '%s/nodir/x.log': No such file" % top)]:
        r = detached("-o", opt, back, mnt)
        assert r.returncode == status, (opt, r.returncode, r.stderr)
        assert fragment in r.stderr, (opt, r.stderr)
        assert not is_mounted(mnt), opt


if __name__ == "__main__":
    main()
