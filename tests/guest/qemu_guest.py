"""Helpers for tests that boot a QEMU guest (TCG): Debian's own kernel,
fetched with apt-get download and unpacked (never installed), and a busybox
initramfs holding the project's programs with their shared libraries."""
import glob
import os
import shutil
import subprocess


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def fetch_kernel(cache):
    """Debian's linux-image-amd64 kernel, unpacked (not installed) in cache."""
    os.makedirs(cache, exist_ok=True)
    vmlinuz = glob.glob(os.path.join(cache, "root/boot/vmlinuz-*"))
    if not vmlinuz:
        deps = sh("apt-cache", "depends", "linux-image-amd64").stdout
        pkg = [l.split(":", 1)[1].strip() for l in deps.splitlines()
               if l.strip().startswith("Depends:") and "linux-image-" in l][0]
        for old in glob.glob(os.path.join(cache, "*.deb")):
            os.unlink(old)
        sh("apt-get", "download", pkg, cwd=cache)
        deb = glob.glob(os.path.join(cache, pkg + "_*.deb"))[0]
        sh("dpkg-deb", "-x", deb, os.path.join(cache, "root"))
        vmlinuz = glob.glob(os.path.join(cache, "root/boot/vmlinuz-*"))
    kver = os.path.basename(vmlinuz[0])[len("vmlinuz-"):]
    return vmlinuz[0], os.path.join(cache, "root"), kver


def copy_with_libs(binary, dest_root, dest_path):
    """Copy binary to dest_root/dest_path and its shared libraries to the
    same paths as on the host."""
    target = os.path.join(dest_root, dest_path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(binary, target)
    for line in sh("ldd", binary).stdout.splitlines():
        parts = line.split()
        lib = None
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            lib = parts[2]
        elif parts and parts[0].startswith("/"):
            lib = parts[0]
        if lib:
            for p in {lib, os.path.realpath(lib)}:
                t = os.path.join(dest_root, p.lstrip("/"))
                if not os.path.exists(t):
                    os.makedirs(os.path.dirname(t), exist_ok=True)
                    shutil.copy2(p, t)


def module_order(kroot, kver, modules):
    """insmod order for modules and what they need, from modprobe itself."""
    sh("depmod", "-b", kroot, kver)
    order = []
    for m in modules:
        out = sh("modprobe", "-d", kroot, "-S", kver, "--show-depends", m).stdout
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] == "insmod" and parts[1] not in order:
                order.append(parts[1])
    return order


def build_initramfs(work, kroot, kver, init, programs, modules):
    """A newc cpio with busybox, init as /init, programs ({guest path: host
    path}) with their libraries, and modules (with what they need) in
    /lib/modules, their insmod order in /lib/modules/order."""
    root = os.path.join(work, "initramfs")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "lib/modules", "proc",
              "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin/busybox"))
    shutil.copy2(init, os.path.join(root, "init"))
    for guest_path, host_path in programs.items():
        copy_with_libs(host_path, root, guest_path)
    names = []
    for path in module_order(kroot, kver, modules):
        name = os.path.basename(path)
        shutil.copy2(path, os.path.join(root, "lib/modules", name))
        names.append(name)
    with open(os.path.join(root, "lib/modules/order"), "w") as f:
        f.write("\n".join(names) + "\n")
    initrd = os.path.join(work, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, check=True,
                           capture_output=True).stdout
    with open(initrd, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                       input=files, stdout=out, check=True)
    return initrd


def qemu_base(vmlinuz, initrd, cmdline=""):
    """The machine every test guest runs on: TCG, 2 CPUs, 2 GiB, serial
    console, no network; the guest's /init powers it off. cmdline is added
    to the kernel's command line (the guest reads it in /proc/cmdline)."""
    return ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", "2",
            "-m", "2048", "-cpu", "max", "-nographic", "-no-reboot",
            "-nic", "none", "-kernel", vmlinuz, "-initrd", initrd,
            "-append", ("console=ttyS0 loglevel=3 panic=-1 rdinit=/init " +
                        cmdline).strip()]


def run_guest(cmd, timeout):
    """Run the guest; returns (console text, timed out?)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           errors="replace", timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return r.stdout + r.stderr, False
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        return out, True


def results(console, markers=("PI-RESULT",)):
    """Lines of the console that carry a marker (a kernel message may share
    the line: each starts at its marker)."""
    found = []
    for line in console.splitlines():
        line = line.strip("\r")
        for marker in markers:
            if marker in line:
                found.append(line[line.index(marker):])
                break
    return found
