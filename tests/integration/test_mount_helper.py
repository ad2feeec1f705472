#!/usr/bin/env python3
"""bouncefs under mount(8): mount -t bouncefs and -t fuse.bouncefs through
the mount.bouncefs and mount.fuse.bouncefs helpers, fstab lines of both
types with mount -a, mount(8)'s exit statuses, messages that name the
mountpoint, mount -f, and remount (ro/rw, flags kept, the daemon's own
options fixed)."""
import errno
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BOUNCEFS, force_unmount, is_mounted, main,  # noqa: E402
                     on_exit, run)

HELPERS = ["/sbin/mount.bouncefs", "/sbin/mount.fuse.bouncefs"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = "/lib/systemd/system-generators/systemd-fstab-generator"

top = tempfile.mkdtemp(prefix="bfs-mount-", dir="/var/tmp")
on_exit(lambda: run(["rm", "-rf", top], check=False), per_test=False)
back = os.path.join(top, "back")
os.mkdir(back)


def install_helpers():
    """The helpers, as meson install makes them, pointing at the build
    under test; whatever was there is put back afterwards."""
    for h in HELPERS:
        backup = None
        if os.path.lexists(h):
            backup = h + ".bfs-test-backup"
            os.rename(h, backup)
        os.symlink(os.path.abspath(BOUNCEFS), h)

        def restore(h=h, backup=backup):
            os.unlink(h)
            if backup:
                os.rename(backup, h)
        on_exit(restore)


def new_mountpoint(name):
    mnt = os.path.join(top, name)
    os.makedirs(mnt, exist_ok=True)
    on_exit(lambda: force_unmount(mnt))
    return mnt


def fstype(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                return fields[fields.index("-") + 1]
    return None


def mount_flags(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                return set(fields[5].split(","))
    return set()


def mount(*args):
    return run(["mount"] + list(args), check=False, timeout=30)


def test_mount_t_bouncefs_and_fuse_bouncefs():
    install_helpers()
    for t in ("bouncefs", "fuse.bouncefs"):
        mnt = new_mountpoint("m-" + t)
        r = mount("-t", t, "-o", "queue_depth=16", back, mnt)
        assert r.returncode == 0, (t, r.returncode, r.stderr)
        assert fstype(mnt) == "fuse.bouncefs", (t, fstype(mnt))
        with open(os.path.join(mnt, "via-" + t), "w") as f:
            f.write(t)
        with open(os.path.join(back, "via-" + t)) as f:
            assert f.read() == t
        r = run(["umount", mnt], check=False)
        assert r.returncode == 0 and not is_mounted(mnt), r.stderr


def test_fstab_both_types_with_mount_a():
    install_helpers()
    m1 = new_mountpoint("fstab-1")
    m2 = new_mountpoint("fstab-2")
    fstab = os.path.join(top, "fstab")
    with open(fstab, "w") as f:
        f.write("%s %s bouncefs defaults,noatime,nodiratime,_netdev,"
                "x-systemd.requires-mounts-for=%s,queue_depth=32 0 0\n"
                % (back, m1, top))
        f.write("%s %s fuse.bouncefs defaults,nofail,x-systemd.before="
                "libvirtd.service 0 0\n" % (back, m2))
    r = mount("--fstab", fstab, "-a")
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert fstype(m1) == "fuse.bouncefs" and fstype(m2) == "fuse.bouncefs"
    assert "noatime" in mount_flags(m1), mount_flags(m1)
    for m in (m1, m2):
        assert run(["umount", m], check=False).returncode == 0
        assert not is_mounted(m)


def test_exit_statuses_are_mounts():
    install_helpers()
    mnt = new_mountpoint("status")
    r = mount("-t", "bouncefs", back, mnt)
    assert r.returncode == 0, r.stderr
    # Already mounted: mount(8)'s 32 (mount failure), not bouncefs's 8,
    # which mount(8) documents as "user interrupt".
    r = mount("-t", "bouncefs", back, mnt)
    assert r.returncode == 32, (r.returncode, r.stderr)
    assert "bouncefs: %s: " % mnt in r.stderr, r.stderr
    assert "already a bouncefs mount" in r.stderr, r.stderr
    run(["umount", mnt])
    for args, fragment in [
            ((os.path.join(top, "nope"), mnt), "No such file or directory"),
            (("-o", "frobnicate", back, mnt), "unknown mount option 'frobnicate'"),
            (("-o", "queue_depth=0", back, mnt), "bad value for queue_depth"),
            (("-o", "nofail=ON", back, mnt), "takes no value"),
            (("-o", "user_id=5", back, mnt), "set by FUSE itself")]:
        r = mount("-t", "bouncefs", *args)
        assert r.returncode == 32, (args, r.returncode, r.stderr)
        assert fragment in r.stderr and mnt in r.stderr, (args, r.stderr)
        assert not is_mounted(mnt), args
    # A wrong invocation of the helper itself: 1.
    r = run([HELPERS[0], back], check=False)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "usage: mount.bouncefs" in r.stderr, r.stderr
    # mount -s tolerates options it does not know.
    r = mount("-s", "-t", "bouncefs", "-o", "frobnicate", back, mnt)
    assert r.returncode == 0 and is_mounted(mnt), r.stderr
    run(["umount", mnt])
    # mount -f checks and mounts nothing.
    r = mount("-f", "-t", "bouncefs", back, mnt)
    assert r.returncode == 0 and not is_mounted(mnt), r.stderr


def test_mount_a_names_the_mountpoint():
    install_helpers()
    good = new_mountpoint("a-good")
    bad = new_mountpoint("a-bad")
    fstab = os.path.join(top, "fstab-a")
    with open(fstab, "w") as f:
        f.write("%s %s bouncefs defaults 0 0\n" % (back, good))
        f.write("%s %s bouncefs queue_depth=lots 0 0\n" % (back, bad))
    r = mount("--fstab", fstab, "-a")
    # Some mounted, some not: mount(8) says 64.
    assert r.returncode == 64, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert "bouncefs: %s: bad value for queue_depth: 'lots' (want 1 to " \
        "4096)" % bad in lines, r.stderr
    # Every line of ours names its mountpoint; a good mount says nothing
    # but warnings.
    for ln in lines:
        if ln.startswith("bouncefs:"):
            assert ln.startswith("bouncefs: %s: " % bad) or \
                ln.startswith("bouncefs: %s: " % good), ln
    assert not any("mounted " in ln for ln in lines), r.stderr
    assert is_mounted(good) and not is_mounted(bad)
    run(["umount", good])


def test_remount_ro_rw():
    install_helpers()
    mnt = new_mountpoint("remount")
    r = mount("-t", "bouncefs", "-o", "queue_depth=16", back, mnt)
    assert r.returncode == 0, r.stderr
    path = os.path.join(mnt, "rw-file")
    with open(path, "w") as f:
        f.write("before")
    flags = mount_flags(mnt)
    assert {"rw", "nosuid", "nodev"} <= flags, flags

    r = mount("-o", "remount,ro", mnt)
    assert r.returncode == 0, (r.returncode, r.stderr)
    flags = mount_flags(mnt)
    # ro, and the flags it did not name stay (nosuid, nodev).
    assert {"ro", "nosuid", "nodev"} <= flags, flags
    try:
        open(path, "w")
        assert False, "written on a read-only remount"
    except OSError as e:
        assert e.errno == errno.EROFS, e
    with open(path) as f:
        assert f.read() == "before"

    r = mount("-o", "remount,rw", mnt)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert {"rw", "nosuid", "nodev"} <= mount_flags(mnt), mount_flags(mnt)
    with open(path, "w") as f:
        f.write("after")
    assert mount("-o", "remount", mnt).returncode == 0
    r = mount("-o", "remount,noexec", mnt)
    assert r.returncode == 0 and "noexec" in mount_flags(mnt), r.stderr

    # The daemon's own options cannot change: say so, change nothing.
    r = mount("-o", "remount,queue_depth=8", mnt)
    assert r.returncode == 32, (r.returncode, r.stderr)
    assert "a remount cannot change queue_depth (the mount runs with " \
        "queue_depth=16)" in r.stderr, r.stderr
    r = mount("-o", "remount,ro,uring=off", mnt)
    assert r.returncode == 32 and "cannot change uring" in r.stderr, r.stderr
    r = mount("-o", "remount,passthrough=off", mnt)
    assert r.returncode == 32 and "a remount cannot change passthrough " \
        "(the mount runs with passthrough=on)" in r.stderr, r.stderr
    assert "rw" in mount_flags(mnt), mount_flags(mnt)
    # The same value (fstab's options come along on a remount) is fine.
    r = mount("-o", "remount,queue_depth=16", mnt)
    assert r.returncode == 0, r.stderr
    # Straight from the command too.
    r = run([BOUNCEFS, "-o", "remount,ro", back, mnt], check=False)
    assert r.returncode == 0 and "ro" in mount_flags(mnt), r.stderr
    run(["umount", mnt])
    # Not a bouncefs mount.
    r = run([BOUNCEFS, "-o", "remount,ro", back, top], check=False)
    assert r.returncode == 6 and "not a bouncefs mount" in r.stderr, r.stderr


def man_fstab_lines():
    """The fstab lines of the man page's FSTAB section."""
    with open(os.path.join(ROOT, "man", "bouncefs.8")) as f:
        man = f.read().replace("\\-", "-")
    section = man[man.index(".SH FSTAB"):man.index(".SH VIRTUAL MACHINES")]
    return [ln for ln in section.splitlines()
            if re.match(r"^/\S+ /\S+ (fuse\.)?bouncefs ", ln)]


def generate(fstab_text):
    """systemd-fstab-generator's units for an fstab: {file: text}."""
    d = tempfile.mkdtemp(prefix="gen-", dir=top)
    with open(os.path.join(d, "fstab"), "w") as f:
        f.write(fstab_text)
    out = os.path.join(d, "out")
    for sub in ("n", "e", "l"):
        os.makedirs(os.path.join(out, sub))
    env = dict(os.environ, SYSTEMD_FSTAB=os.path.join(d, "fstab"))
    run([GENERATOR] + [os.path.join(out, x) for x in ("n", "e", "l")],
        env=env)
    units = {}
    for dirpath, _, files in os.walk(os.path.join(out, "n")):
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.join(out, "n"))
            units[rel] = open(path).read() if not os.path.islink(path) else ""
    return units


def test_boot_order_of_the_documented_fstab_lines():
    """The man page's fstab lines order the mount after the backing file
    system and before libvirtd (systemd-fstab-generator makes the units),
    _netdev makes it a remote-fs.target mount, and each line mounts."""
    lines = man_fstab_lines()
    assert len(lines) >= 2, lines
    units = generate("\n".join(lines[:1]) + "\n")
    unit = units["var-lib-libvirt-images.mount"]
    assert "RequiresMountsFor=/srv/pi" in unit, unit
    assert "Before=libvirtd.service" in unit, unit
    assert "local-fs.target.requires/var-lib-libvirt-images.mount" in units
    netdev = lines[0].replace(" defaults,", " defaults,_netdev,")
    units = generate(netdev + "\n")
    assert "remote-fs.target.requires/var-lib-libvirt-images.mount" in units, \
        sorted(units)
    assert "local-fs.target.requires/var-lib-libvirt-images.mount" not in units
    # Every documented line mounts (on scratch paths) through mount(8).
    install_helpers()
    for i, line in enumerate(lines):
        fields = line.split()
        mnt = new_mountpoint("doc-%d" % i)
        fields[0], fields[1] = back, mnt
        fstab = os.path.join(top, "fstab-doc-%d" % i)
        with open(fstab, "w") as f:
            f.write(" ".join(fields) + "\n")
        r = mount("--fstab", fstab, mnt)
        assert r.returncode == 0, (line, r.returncode, r.stderr)
        assert fstype(mnt) == "fuse.bouncefs"
        run(["umount", mnt])


def test_libvirt_host_notes_are_documented():
    """The man page carries what a libvirt host needs: a whole <disk> with
    cache='none' io='native', the SELinux boolean and label, AppArmor."""
    with open(os.path.join(ROOT, "man", "bouncefs.8")) as f:
        man = f.read()
    vm = man[man.index(".SH VIRTUAL MACHINES"):man.index(".SH WHEN IT IS NEEDED")]
    for want in ("<disk type='file' device='disk'>",
                 "<driver name='qemu' type='qcow2' cache='none' io='native'/>",
                 "<source file='/var/lib/libvirt/images/vm.qcow2'/>",
                 "virt_use_fusefs", "context=system_u:object_r:virt_image_t:s0",
                 "AppArmor", "fusefs_t"):
        assert want in vm, want
    for want in ("x\\-systemd.requires\\-mounts\\-for=", "x\\-systemd.before=",
                 "remote\\-fs.target", "_netdev"):
        assert want in man, want


if shutil.which(GENERATOR) is None:
    raise SystemExit("systemd-fstab-generator is missing: install systemd "
                     "(scripts/install-deps.sh does)")

if __name__ == "__main__":
    main()
