#!/usr/bin/env python3
"""bouncefs stat for operators: the JSON's timestamp, interval, version
and configuration; --reset (root only); the Prometheus exposition
(--prometheus and -o metrics=FILE, parsed); the per-file view (--files:
the files with the most errors and the most I/O, root only, bounded)."""
import json
import mmap
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, Mount, RealUser, fill,  # noqa: E402
                     force_unmount, is_mounted, main, mounted, on_exit, run,
                     scratch_dirs, stats)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:   # a python3 of its own: Debian's package is here
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families


def stat(*args, check=True):
    return run([BOUNCEFS, "stat"] + list(args), check=check, timeout=30)


def stat_as(user, *args):
    """bouncefs stat ARGS as a real user: "STATUS STDERR"."""
    def call():
        r = subprocess.run([BOUNCEFS, "stat"] + list(args),
                           capture_output=True, text=True, timeout=30)
        return "%d %s" % (r.returncode, r.stderr.strip())
    return user.run(call)


def direct_io(path, writes=8, reads=8, size=65536):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = mmap.mmap(-1, size)
    buf.write(b"d" * size)
    for i in range(writes):
        assert os.pwritev(fd, [buf], i * size) == size
    for i in range(reads):
        os.preadv(fd, [buf], (i % max(writes, 1)) * size)
    os.close(fd)


def test_json_says_when_what_and_how():
    fs, m, mnt, back = mounted("queue_depth=32,seccomp=log,max_threads=8")
    direct_io(os.path.join(mnt, "f"))
    before = time.time()
    j = json.loads(stat("--json", mnt).stdout)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", j["timestamp"]), j
    assert abs(j["unix_time"] - before) < 5, j
    # The first sample's rates are since counting began: no interval.
    assert j["interval_s"] is None, j
    version = run([BOUNCEFS, "--version"]).stdout.split()[1]
    assert j["version"] == version and j["command_version"] == version, j
    c = j["config"]
    assert c["queue_depth"] == 32 and c["seccomp"] == "log", c
    assert c["max_threads"] == 8 and c["max_write"] == 1 << 20, c
    assert c["uring"] == "on" and c["staging_align"] == 512, c
    assert c["passthrough"] == "on", c
    assert c["attr_timeout_s"] == 1.0 and c["entry_timeout_s"] == 1.0, c
    # --watch: each later sample names its interval.
    p = subprocess.Popen([BOUNCEFS, "stat", "--json", "--watch", "1", mnt],
                         stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        second = json.loads(p.stdout.readline())
    finally:
        p.terminate()
        p.wait(timeout=10)
    assert first["interval_s"] is None, first
    assert 0.5 < second["interval_s"] < 3, second


def test_reset_is_for_root():
    fs, m, mnt, back = mounted()
    direct_io(os.path.join(mnt, "f"))
    assert stats(mnt)["write_requests"] == 8
    user = RealUser("st")
    os.chmod(mnt, 0o777)
    got = stat_as(user, "--reset", mnt)
    assert got.startswith("1 ") and "only root may" in got, got
    assert stats(mnt)["write_requests"] == 8, "a user reset the counters"
    time.sleep(1.2)
    r = stat("--reset", mnt)
    assert "counters reset" in r.stdout, r.stdout
    s = stats(mnt)
    assert s["write_requests"] == 0 and s["read_bytes"] == 0, s
    assert s["counted_s"] < s["uptime_s"] - 1, s
    assert "counts since the last reset" in stat(mnt).stdout
    direct_io(os.path.join(mnt, "g"), writes=2, reads=0)
    assert stats(mnt)["write_requests"] == 2


def check_exposition(text, mnt):
    """Parse text as Prometheus's own parser does, and check what a
    scraper needs: each family's HELP and TYPE before its samples, once;
    every series labelled with the mountpoint; no series twice."""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    seen_type = set()
    series = set()
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
        elif line.startswith("# TYPE "):
            name = line.split()[2]
            assert name == current and name not in seen_type, line
            seen_type.add(name)
        else:
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$', line)
            assert m, line
            assert m.group(1).startswith(current), (current, line)
            assert (m.group(1), m.group(2)) not in series, line
            series.add((m.group(1), m.group(2)))
            float(m.group(3))
    for f in families.values():
        for s in f.samples:
            assert s.labels["mountpoint"] == mnt, s
    return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items()
                                  if k != "mountpoint"))): s.value
            for f in families.values() for s in f.samples}


def test_prometheus_exposition_parses():
    fs, back, _ = scratch_dirs("1G")
    # A mountpoint a label must escape.
    mnt = os.path.join(fs.top, 'mnt"q"')
    os.mkdir(mnt)
    on_exit(lambda: force_unmount(mnt))
    m = Mount(back, mnt, "queue_depth=16")
    direct_io(os.path.join(mnt, "f"), writes=6, reads=3)
    values = check_exposition(stat("--prometheus", mnt).stdout, mnt)
    j = stats(mnt)
    assert values[("bouncefs_requests_total", (("op", "write"),))] == 6
    assert values[("bouncefs_bytes_total", (("op", "write"),))] == j["write_bytes"]
    assert values[("bouncefs_direct_requests_total", ())] == j["direct_requests"]
    assert values[("bouncefs_config_queue_depth", ())] == 16
    assert values[("bouncefs_inflight", ())] == 0
    info = [k for k in values if k[0] == "bouncefs_info"]
    assert info and dict(info[0][1])["seccomp"] == "kill", info
    assert m.stop() == 0


def test_metrics_file():
    fs, m, mnt, back = mounted()
    m.stop()
    prom = os.path.join(fs.top, "textfile", "bouncefs.prom")
    os.mkdir(os.path.dirname(prom))
    r = run([BOUNCEFS, "-o", "metrics=%s,metrics_interval=1" % prom, back, mnt],
            check=False)
    assert r.returncode == 0, r.stderr
    on_exit(lambda: force_unmount(mnt))
    # Written at once, then every second.
    values = check_exposition(open(prom).read(), mnt)
    assert values[("bouncefs_requests_total", (("op", "write"),))] == 0
    direct_io(os.path.join(mnt, "f"), writes=5, reads=0)
    time.sleep(2.5)
    values = check_exposition(open(prom).read(), mnt)
    assert values[("bouncefs_requests_total", (("op", "write"),))] == 5, values
    assert os.listdir(os.path.dirname(prom)) == ["bouncefs.prom"]
    run(["umount", mnt])
    deadline = time.time() + 10
    while os.path.exists(prom) and time.time() < deadline:
        time.sleep(0.05)
    # No stale figures for a mount that is gone.
    assert not os.path.exists(prom), "the metrics file outlived the mount"
    # Bad values, and a file that cannot be written: no mount.
    for opt, status, frag in [
            ("metrics=relative.prom", 4, "want an absolute FILE"),
            ("metrics=/x/,metrics_interval=1", 4, "want an absolute FILE"),
            ("metrics=%s,metrics_interval=0" % prom, 4, "want 1 to 3600 seconds"),
            ("metrics=/nonexistent/dir/b.prom", 1,
             "cannot write the metrics file '/nonexistent/dir/b.prom': "
             "No such file or directory")]:
        r = run([BOUNCEFS, "-o", opt, back, mnt], check=False)
        assert r.returncode == status and frag in r.stderr, (opt, r.stderr)
        assert not is_mounted(mnt), opt


def test_files_view():
    fs, back, mnt = scratch_dirs("300M")
    open(os.path.join(back, "full"), "w").close()
    with open(os.path.join(back, "busy"), "wb") as f:
        f.write(b"b" * (1 << 20))
    filler = fill(back)
    m = Mount(back, mnt)
    fd = os.open(os.path.join(mnt, "full"), os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 65536)
    fails = 0
    for i in range(5):
        try:
            os.pwritev(fd, [buf], i * 65536)
        except OSError:
            fails += 1
    assert fails == 5
    when = time.time()
    busy = os.open(os.path.join(mnt, "busy"), os.O_RDONLY | os.O_DIRECT)
    for i in range(16):
        os.preadv(busy, [buf], (i % 16) * 65536)
    # Open files count; so do closed ones (full is closed, busy not).
    os.close(fd)
    files = json.loads(stat("--files", "--json", mnt).stdout)["files"]
    assert files[0]["path"] == "full", files
    assert files[0]["errors"] == 5 and \
        files[0]["errors_by_errno"] == {"ENOSPC": 5}, files[0]
    assert files[0]["last_error_op"] == "write", files[0]
    assert abs(files[0]["last_error_unix"] - when) < 10, files[0]
    b = [f for f in files if f["path"] == "busy"]
    assert b and b[0]["read_requests"] == 16 and \
        b[0]["read_bytes"] == 16 * 65536, files
    text = stat("--files", mnt).stdout
    assert re.search(r"^  full .* 5  ENOSPC:5  \(last: write ", text, re.M), text
    os.close(busy)
    # Names of files are for root: a user is refused.
    user = RealUser("sf")
    os.chmod(mnt, 0o755)
    got = stat_as(user, "--files", mnt)
    assert got.startswith("1 ") and "only root may" in got, got
    # Bounded: many more files than the table holds.
    os.unlink(filler)
    for i in range(300):
        direct_io(os.path.join(mnt, "many%03d" % i), writes=1, reads=0,
                  size=4096)
    files = json.loads(stat("--files", "--json", mnt).stdout)["files"]
    assert len(files) <= 64, len(files)
    assert files[0]["path"] == "full", files[0]
    stat("--reset", mnt)
    assert json.loads(stat("--files", "--json", mnt).stdout)["files"] == []
    assert m.stop() == 0


if __name__ == "__main__":
    main()
