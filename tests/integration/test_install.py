#!/usr/bin/env python3
"""Installing and mounting like an administrator: meson install into a
DESTDIR, a mount from the installed binary, fstab entries through
mount.fuse3 (mount -T, mount -a, umount), bad fstab options, the man page
against --help, and the example systemd unit."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, Mount, ScratchFS, force_unmount,  # noqa: E402
                     is_mounted, main, on_exit, run)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.dirname(os.path.abspath(BOUNCEFS))
# mount(8) runs mount.fuse3 with a fixed PATH: the daemon must be there.
SYSTEM_BIN = "/usr/local/sbin/bouncefs"

state = {}


def destdir_install():
    if "destdir" not in state:
        d = tempfile.mkdtemp(prefix="bfs-install-", dir="/var/tmp")
        on_exit(lambda: shutil.rmtree(d, ignore_errors=True), per_test=False)
        run(["meson", "install", "-C", BUILD, "--destdir", d, "--no-rebuild",
             "--quiet"], timeout=120)
        state["destdir"] = d
    return state["destdir"]


def installed(rel):
    return os.path.join(destdir_install(), rel.lstrip("/"))


def put_on_system_path():
    """Make the installed binary the one mount.fuse3 finds, and put back
    whatever was there afterwards."""
    binary = installed("/usr/local/sbin/bouncefs")
    backup = None
    if os.path.lexists(SYSTEM_BIN):
        backup = SYSTEM_BIN + ".bfs-test-backup"
        os.rename(SYSTEM_BIN, backup)
    os.makedirs(os.path.dirname(SYSTEM_BIN), exist_ok=True)
    os.symlink(binary, SYSTEM_BIN)

    def restore():
        os.unlink(SYSTEM_BIN)
        if backup:
            os.rename(backup, SYSTEM_BIN)
    on_exit(restore)


def test_meson_install_destdir():
    binary = installed("/usr/local/sbin/bouncefs")
    man = installed("/usr/local/share/man/man8/bouncefs.8")
    assert os.access(binary, os.X_OK), binary
    assert os.path.isfile(man), man
    # mount(8)'s helpers, in /sbin whatever the prefix.
    for helper in ("mount.bouncefs", "mount.fuse.bouncefs"):
        link = installed("/sbin/" + helper)
        assert os.readlink(link) == "/usr/local/sbin/bouncefs", link
    assert run([binary, "--version"]).stdout.startswith("bouncefs ")
    r = run(["groff", "-man", "-ww", "-z", man])
    assert r.stdout == "" and r.stderr == "", r.stderr
    # A mount from the installed binary.
    fs = ScratchFS("1G")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    mnt = os.path.join(fs.top, "mnt")
    os.mkdir(mnt)
    run([binary, back, mnt])
    on_exit(lambda: force_unmount(mnt))
    assert is_mounted(mnt)
    with open(os.path.join(mnt, "hello"), "w") as f:
        f.write("installed")
    with open(os.path.join(back, "hello")) as f:
        assert f.read() == "installed"
    run(["umount", mnt])
    assert not is_mounted(mnt)


def fstab_rig():
    fs = ScratchFS("1G")
    back = os.path.join(fs.path, "back")
    os.mkdir(back)
    mnts = {}
    lines = []
    entries = [
        ("auto", "defaults,allow_other,_netdev,nofail,x-systemd.automount,"
                 "x-systemd.mount-timeout=30,queue_depth=32"),
        ("noauto", "noauto,max_write=64k,nofail"),
        ("malformed", "noauto,queue_depth=banana"),
        ("unknown", "noauto,frobnicate"),
    ]
    for name, opts in entries:
        mnts[name] = os.path.join(fs.top, name)
        os.mkdir(mnts[name])
        on_exit(lambda p=mnts[name]: force_unmount(p))
        lines.append("%s %s fuse.bouncefs %s 0 0" % (back, mnts[name], opts))
    fstab = os.path.join(fs.top, "fstab")
    with open(fstab, "w") as f:
        f.write("# bouncefs test fstab\n" + "\n".join(lines) + "\n")
    return fs, back, fstab, mnts


def fstype(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                return line.split(" - ")[1].split()[0]
    return None


def test_fstab_mount_and_umount():
    put_on_system_path()
    fs, back, fstab, mnts = fstab_rig()
    run(["mount", "-T", fstab, mnts["auto"]], timeout=30)
    assert fstype(mnts["auto"]) == "fuse.bouncefs", fstype(mnts["auto"])
    with open(os.path.join(mnts["auto"], "via-fstab"), "w") as f:
        f.write("x" * 5000)
    assert os.path.getsize(os.path.join(back, "via-fstab")) == 5000
    # The daemon got our option, and none of mount(8)'s or systemd's.
    ps = run(["ps", "-eo", "args"]).stdout
    line = [l for l in ps.splitlines() if mnts["auto"] in l and "bouncefs" in l][0]
    assert "queue_depth=32" in line, line
    for hidden in ("_netdev", "nofail", "x-systemd"):
        assert hidden not in line, line
    run(["umount", mnts["auto"]], timeout=30)
    assert not is_mounted(mnts["auto"])
    # mount -a mounts the entries without noauto, and only those.
    run(["mount", "-a", "-T", fstab], timeout=60)
    assert is_mounted(mnts["auto"])
    for name in ("noauto", "malformed", "unknown"):
        assert not is_mounted(mnts[name]), name
    run(["umount", mnts["auto"]], timeout=30)
    # A noauto entry mounts when asked for by name.
    run(["mount", "-T", fstab, mnts["noauto"]], timeout=30)
    assert fstype(mnts["noauto"]) == "fuse.bouncefs"
    run(["umount", mnts["noauto"]], timeout=30)


def test_fstab_bad_options():
    put_on_system_path()
    fs, back, fstab, mnts = fstab_rig()
    for name, want in (("malformed", "queue_depth"),
                       ("unknown", "unknown mount option 'frobnicate'")):
        r = run(["mount", "-T", fstab, mnts[name]], check=False, timeout=30)
        assert r.returncode != 0, (name, r.returncode)
        assert want in r.stderr, (name, r.stderr)
        assert "bouncefs: " in r.stderr, r.stderr
        assert not is_mounted(mnts[name]), name
    with open(os.path.join(back, "untouched"), "w") as f:
        f.write("ok")
    assert os.listdir(back) == ["untouched"]


def test_man_page_matches_help():
    man_src = os.path.join(ROOT, "man", "bouncefs.8")
    r = run(["groff", "-man", "-ww", "-z", man_src])
    assert r.stdout == "" and r.stderr == "", r.stderr
    with open(man_src) as f:
        man = f.read().replace("\\-", "-")
    help_text = run([BOUNCEFS, "--help"]).stdout
    # Every option --help names is in the man page.
    opts = set(re.findall(r"^\s+(-[a-zA-Z]|--[a-z-]+)\b", help_text, re.M))
    opts |= set(re.findall(r"^\s+([a-z_]+=)", help_text, re.M))
    assert {"--probe", "--json", "-f", "queue_depth=", "max_write="} <= opts, opts
    for o in sorted(opts):
        assert o in man, "%s is in --help but not in the man page" % o
    # Every bouncefs option the man page documents is in --help.
    for o in re.findall(r"^\.BI ([a-z_]+=)", man, re.M):
        assert o in help_text, "%s is in the man page but not in --help" % o
    for section in ("FSTAB", "VIRTUAL MACHINES", "STATISTICS", "EXIT STATUS",
                    "FILES", "WHEN IT IS NEEDED"):
        assert ".SH " + section in man, section


def test_systemd_unit():
    unit = os.path.join(ROOT, "scripts", "systemd", "var-lib-libvirt-images.mount")
    with open(unit) as f:
        text = f.read()
    assert "Type=fuse.bouncefs" in text
    if not shutil.which("systemd-analyze"):
        print("systemd-analyze not available: checked the file's content only")
        return
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                       capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    main()
