#!/usr/bin/env python3
"""The Debian package: dpkg-buildpackage -us -uc -b turns a copy of the
source tree into a .deb; apt-get install ./bouncefs_*.deb puts the daemon,
mount.bouncefs and mount.fuse.bouncefs, the man page, the example systemd
unit and the docs in place; a line of fstab mounts through them; apt-get
remove leaves none of its files behind. Once per test command (the plain
pass): the package builds from the source, not from the build under test.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import force_unmount, is_mounted, main, on_exit, run  # noqa: E402

WANT = [
    "/usr/sbin/bouncefs",
    "/sbin/mount.bouncefs",
    "/sbin/mount.fuse.bouncefs",
    "/usr/share/man/man8/bouncefs.8.gz",
    "/usr/share/doc/bouncefs/examples/var-lib-libvirt-images.mount",
    "/usr/share/doc/bouncefs/README.md.gz",
    "/usr/share/doc/bouncefs/copyright",
]


def installed_status():
    r = run(["dpkg-query", "-W", "-f=${Status}", "bouncefs"], check=False)
    return r.stdout.strip() if r.returncode == 0 else "not-installed"


def source_copy(dest):
    """The source tree as git has it (with what is not committed yet), no
    build directories."""
    r = run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard"],
            check=False)
    if r.returncode != 0:   # not a git checkout: all but the builds
        shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
            "build*", "__pycache__", "*.pyc", ".git"))
        return
    files = r.stdout.splitlines()
    for rel in files:
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue   # deleted, not committed yet
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)


def test_build_install_mount_remove():
    assert "install ok installed" not in installed_status(), \
        "bouncefs is installed on this machine: the test would replace it"
    work = tempfile.mkdtemp(prefix="bfs-deb-", dir="/var/tmp")
    on_exit(lambda: shutil.rmtree(work, ignore_errors=True))
    src = os.path.join(work, "bouncefs")
    source_copy(src)
    assert os.path.isfile(os.path.join(src, "LICENSE"))
    r = run(["dpkg-buildpackage", "-us", "-uc", "-b"], check=False,
            timeout=900, cwd=src)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [f for f in os.listdir(work)
            if f.startswith("bouncefs_") and f.endswith(".deb")]
    assert len(debs) == 1, os.listdir(work)

    def remove():
        if "installed" in installed_status():
            run(["apt-get", "remove", "-y", "-qq", "bouncefs"], check=False,
                timeout=300)
    on_exit(remove)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
             "./" + debs[0]], check=False, timeout=600, cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert installed_status() == "install ok installed", installed_status()
    listed = set(run(["dpkg", "-L", "bouncefs"]).stdout.split())
    for path in WANT:
        assert path in listed and os.path.lexists(path), path
    assert os.path.realpath("/sbin/mount.bouncefs") == \
        os.path.realpath("/usr/sbin/bouncefs")
    assert run(["/usr/sbin/bouncefs", "--version"]).stdout.startswith("bouncefs ")
    assert run(["man", "-w", "bouncefs"], check=False).returncode in (0, 16)

    # A line of fstab, through the packaged helper.
    back = os.path.join(work, "back")
    mnt = os.path.join(work, "mnt")
    os.mkdir(back)
    os.mkdir(mnt)
    on_exit(lambda: force_unmount(mnt))
    fstab = os.path.join(work, "fstab")
    with open(fstab, "w") as f:
        f.write("%s %s bouncefs defaults,noatime,queue_depth=16 0 0\n"
                % (back, mnt))
    r = run(["mount", "--fstab", fstab, mnt], check=False, timeout=30)
    assert r.returncode == 0 and is_mounted(mnt), r.stderr
    with open(os.path.join(mnt, "packaged"), "w") as f:
        f.write("ok")
    assert open(os.path.join(back, "packaged")).read() == "ok"
    r = run(["umount", mnt], check=False)
    assert r.returncode == 0 and not is_mounted(mnt), r.stderr

    r = run(["apt-get", "remove", "-y", "-qq", "bouncefs"], check=False,
            timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # No conffiles: removed is gone, nothing kept.
    assert installed_status() in ("not-installed", "unknown ok not-installed"), \
        installed_status()
    left = sorted(p for p in listed if os.path.lexists(p) and
                  not os.path.isdir(p))
    assert not left, left


if __name__ == "__main__":
    main(per_test_seconds=1500)
