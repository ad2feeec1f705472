"""Helpers for tests that boot a QEMU guest (TCG): Debian's own kernel,
fetched with apt-get download and unpacked (never installed), and a busybox
initramfs holding the project's programs with their shared libraries."""
import glob
import os
import shutil
import subprocess


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


APT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def apt_mirror():
    """The Debian mirror this machine's apt is configured with (its first
    source that is not a -security suite), read from its sources files, so
    that the guest kernels come from where the machine's packages come from
    and no host is named here."""
    uris = []
    for path in ["/etc/apt/sources.list"] + sorted(
            glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            lines = open(path).read().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split("#", 1)[0].split()
            if len(parts) < 3 or parts[0] != "deb":
                continue
            if parts[1].startswith("["):
                while parts and not parts[0].endswith("]"):
                    parts.pop(0)
                parts = ["deb"] + parts[1:]
            if len(parts) >= 3 and not parts[2].endswith("-security"):
                uris.append(parts[1])
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in open(path).read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith((" ", "#")):
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and fields.get("uris") and \
                    not all(s.endswith("-security") for s in fields.get("suites", [])):
                uris.append(fields["uris"][0])
    if not uris:
        raise RuntimeError("no Debian mirror in this machine's apt sources")
    return uris[0].rstrip("/")


def _apt(cache, suite):
    """apt-get/apt-cache options for a private source list holding suite
    only (on the machine's own mirror), its lists kept under cache."""
    d = os.path.join(cache, "apt", suite)
    os.makedirs(os.path.join(d, "lists", "partial"), exist_ok=True)
    src = os.path.join(d, "sources.list")
    with open(src, "w") as f:
        f.write("deb [signed-by=%s] %s %s main\n" % (APT_KEYRING, apt_mirror(), suite))
    return ["-o", "Dir::Etc::SourceList=" + src, "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + os.path.join(d, "lists"),
            "-o", "Dir::Cache=" + os.path.join(d, "cache"),
            "-o", "APT::Get::List-Cleanup=0"]


def _version_key(name):
    return [int(x) for x in __import__("re").findall(r"\d+", name)]


def pick_kernel(cache, suite, series):
    """The newest linux-image-<series>.*-amd64 of suite whose packages are
    all there: [image package, and the linux-binary/linux-modules packages
    it depends on, where the kernel is split so]."""
    import re
    opts = _apt(cache, suite)
    sh("apt-get", *opts, "-q", "update")
    names = sh("apt-cache", *opts, "pkgnames", "linux-image-").stdout.split()
    pat = re.compile(r"^linux-image-%s[.-][0-9][^ ]*-amd64$" % re.escape(series))
    names = sorted((n for n in names if pat.match(n) and "-cloud-" not in n
                    and "-rt-" not in n), key=_version_key, reverse=True)
    for name in names:
        show = sh("apt-cache", *opts, "show", name).stdout
        deps = []
        for line in show.splitlines():
            if line.startswith("Depends:"):
                deps = [d.split("(")[0].strip() for d in line[8:].replace("|", ",").split(",")]
                break
        parts = [d for d in deps if d.startswith(("linux-binary-", "linux-modules-"))]
        if all(subprocess.run(["apt-cache", *opts, "show", d], capture_output=True).returncode == 0
               for d in parts):
            return [name] + parts
    raise RuntimeError("no complete linux-image-%s in %s" % (series, suite))


def fetch_kernel(cache, suite="bookworm", series="6.1"):
    """Debian's newest kernel of series in suite, downloaded with apt-get
    download through a private source list on the machine's own mirror and
    unpacked (never installed) in cache/kernel-<suite>-<series>; kept there
    between runs. Returns (vmlinuz, unpacked root, kernel release)."""
    d = os.path.join(cache, "kernel-%s-%s" % (suite, series))
    root = os.path.join(d, "root")
    vmlinuz = _vmlinuz(root)
    if not vmlinuz:
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        pkgs = pick_kernel(cache, suite, series)
        sh("apt-get", *_apt(cache, suite), "download", *pkgs, cwd=d)
        for deb in glob.glob(os.path.join(d, "*.deb")):
            sh("dpkg-deb", "-x", deb, root + ".part")
            os.unlink(deb)
        # Merged /usr (trixie on): the modules are in usr/lib/modules.
        part = root + ".part"
        if not os.path.exists(os.path.join(part, "lib")) and \
                os.path.isdir(os.path.join(part, "usr/lib")):
            os.symlink("usr/lib", os.path.join(part, "lib"))
        os.rename(part, root)
        vmlinuz = _vmlinuz(root)
        if not vmlinuz:
            raise RuntimeError("no kernel image in %s" % " ".join(pkgs))
    return vmlinuz[0], root, vmlinuz[1]


def _vmlinuz(root):
    """(path, release) of the kernel image in an unpacked root: boot/ in
    Debian 12 and 13's packages, modules/<release>/ in the split ones."""
    for path in glob.glob(os.path.join(root, "boot/vmlinuz-*")):
        return path, os.path.basename(path)[len("vmlinuz-"):]
    for path in glob.glob(os.path.join(root, "usr/lib/modules/*/vmlinuz")):
        return path, os.path.basename(os.path.dirname(path))
    return None


def copy_with_libs(binary, dest_root, dest_path):
    """Copy binary to dest_root/dest_path and its shared libraries to the
    same paths as on the host."""
    target = os.path.join(dest_root, dest_path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(binary, target)
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    for line in (r.stdout if r.returncode == 0 else "").splitlines():
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
    """insmod order for modules and what they need, from modprobe itself.
    A module this kernel has not (built in, or gone: crct10dif_generic is
    library code from 6.15 on) is left out."""
    sh("depmod", "-b", kroot, kver)
    order = []
    for m in modules:
        r = subprocess.run(["modprobe", "-d", kroot, "-S", kver, "--show-depends", m],
                           capture_output=True, text=True)
        if r.returncode:
            continue
        out = r.stdout
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] == "insmod" and parts[1] not in order:
                order.append(parts[1])
    return order


def build_initramfs(work, kroot, kver, init, programs, modules, files=None):
    """A newc cpio with busybox, init as /init, programs ({guest path: host
    path}) with their libraries, files ({guest path: host path}) as they
    are, and modules (with what they need) in
    /lib/modules, their insmod order in /lib/modules/order."""
    root = os.path.join(work, "initramfs")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "lib/modules", "proc",
              "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin/busybox"))
    shutil.copy2(init, os.path.join(root, "init"))
    for guest_path, host_path in programs.items():
        copy_with_libs(host_path, root, guest_path)
    for guest_path, host_path in (files or {}).items():
        target = os.path.join(root, guest_path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(host_path, target)
    names = []
    for path in module_order(kroot, kver, modules):
        name = os.path.basename(path)
        # busybox's insmod takes a plain .ko: newer kernels' are compressed.
        if name.endswith(".xz"):
            import lzma
            name = name[:-3]
            with lzma.open(path) as src, open(os.path.join(root, "lib/modules", name), "wb") as dst:
                shutil.copyfileobj(src, dst)
        elif name.endswith(".zst"):
            name = name[:-4]
            with open(os.path.join(root, "lib/modules", name), "wb") as dst:
                subprocess.run(["zstd", "-dc", path], stdout=dst, check=True)
        else:
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
