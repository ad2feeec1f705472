#!/usr/bin/env python3
"""Random-operation exerciser: mixes O_DIRECT and buffered reads and
writes, reads and writes through a shared mapping of the O_DIRECT open,
copy_file_range within the file, truncates, fallocate (with and without
FALLOC_FL_KEEP_SIZE) and fsync on one file at random offsets and sizes,
checks every byte read against an in-memory model, and the file's size
(fstat and lseek) after every operation.

usage: exerciser.py PATH [--ops N] [--seed S] [--max-size BYTES] [--cached]
                    [--reopen]
--cached: both opens without O_DIRECT (the file is served from the backing
page cache; the ops named "direct" use the first open).
--reopen: now and then close one of the opens and open it again, with
O_TRUNC half of the time (a seed gives the same operations as without it,
plus these).
A failure prints the seed and the operation number, so it can be replayed.
"""
import argparse
import ctypes
import ctypes.util
import mmap
import os
import random
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 1, 2, 0x10


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


PAGE = mmap.PAGESIZE


class Failure(Exception):
    pass


def run(path, ops, seed, max_size, cached=False, reopen=False):
    rng = random.Random(seed)
    # Its own generator, so that the other operations stay as without it.
    reopen_rng = random.Random(seed ^ 0x5EED)
    pool = os.urandom(1 << 20)
    model = bytearray()
    fds = {
        "direct": os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC |
                          (0 if cached else os.O_DIRECT), 0o644),
        "buffered": os.open(path, os.O_RDWR),
    }
    big = mmap.mmap(-1, max_size + (1 << 20))
    counts = {}
    # Shared mappings of an O_DIRECT open need Linux 6.6 (ENODEV before).
    os.ftruncate(fds["direct"], PAGE)
    try:
        mmap.mmap(fds["direct"], PAGE, mmap.MAP_SHARED, mmap.PROT_READ).close()
        can_map = True
    except OSError:
        can_map = False
    os.ftruncate(fds["direct"], 0)

    def check(data, off, what, i):
        want = bytes(model[off:off + len(data)])
        if data != want:
            bad = next(k for k in range(len(data)) if data[k] != want[k:k + 1][0]) \
                if len(data) <= len(want) else len(want)
            raise Failure("op %d (%s): byte %d differs (offset %d, %d bytes read, "
                          "file %d bytes)" % (i, what, off + bad, off, len(data), len(model)))

    def verify_all(i):
        size = os.fstat(fds["buffered"]).st_size
        if size != len(model):
            raise Failure("op %d: size %d, model %d" % (i, size, len(model)))
        n = os.preadv(fds["direct"], [big], 0)
        if n != len(model) or big[:n] != model:
            raise Failure("op %d: whole-file check failed (%d bytes read)" % (i, n))

    def check_size(i):
        st = os.fstat(fds["direct"]).st_size
        end = os.lseek(fds["direct"], 0, os.SEEK_END)
        if st != len(model) or end != len(model):
            raise Failure("op %d (%s): size %d by fstat, %d by lseek, model %d" % (
                i, last[0], st, end, len(model)))

    def mapped_read(i, off, size):
        flen = len(model)
        if flen == 0:
            return
        off %= flen
        size = max(1, min(size, flen - off))
        start = off - off % PAGE
        # (Python maps no further than the end of the file.)
        m = mmap.mmap(fds["direct"], off + size - start, mmap.MAP_SHARED,
                      mmap.PROT_READ, offset=start)
        try:
            data = m[off - start:off - start + size]
        finally:
            m.close()
        check(data, off, "mread", i)

    def mapped_write(i, off, data):
        end = off + len(data)
        if end > len(model):
            os.ftruncate(fds["direct"], end)
            model.extend(b"\0" * (end - len(model)))
        start = off - off % PAGE
        m = mmap.mmap(fds["direct"], end - start, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE, offset=start)
        try:
            m[off - start:end - start] = data
            m.flush()  # msync(MS_SYNC)
        finally:
            m.close()
        model[off:end] = data

    def copy_range(dst, size):
        """copy_file_range from a random part of the file to dst, between
        either open; the ranges must not overlap. The kernel may copy less
        than asked (XFS clones whole blocks only), never more."""
        if not model:
            return
        src = rng.randint(0, len(model) - 1)
        if rng.random() < 0.3:
            src -= src % rng.choice([512, 4096])
            dst -= dst % rng.choice([512, 4096])
        size = min(size, len(model) - src)
        if src < dst + size and dst < src + size:
            return
        last[0] = "copy of %d bytes from %d to %d" % (size, src, dst)
        n = os.copy_file_range(rng.choice(list(fds.values())),
                               rng.choice(list(fds.values())), size, src, dst)
        if not 0 < n <= size:
            raise Failure("copy_file_range copied %d of %d bytes" % (n, size))
        data = bytes(model[src:src + n])
        if len(model) < dst + n:
            model.extend(b"\0" * (dst + n - len(model)))
        model[dst:dst + n] = data

    def step(i):
        kind = rng.choices(
            ["dwrite", "bwrite", "dread", "bread", "truncate", "punch",
             "zero", "alloc", "fsync", "mread", "mwrite", "copy"],
            weights=[30, 20, 20, 15, 4, 3, 3, 2, 3, 5, 5, 4])[0]
        if kind in ("mread", "mwrite") and not can_map:
            kind = kind[1:]
        counts[kind] = counts.get(kind, 0) + 1
        fdname = "direct" if kind.startswith("d") else "buffered"
        fd = fds[fdname]
        # Mostly small I/O, sometimes large; aligned now and then.
        size = rng.choice([rng.randint(1, 600), rng.randint(1, 9000),
                           rng.randint(1, 300000), 512 * rng.randint(1, 16),
                           4096 * rng.randint(1, 64)])
        off = rng.randint(0, max_size - 1)
        if rng.random() < 0.3:
            off -= off % rng.choice([512, 4096])
        size = min(size, max_size - off)
        last[0] = "%s of %d bytes at %d" % (kind, size, off)
        if kind == "mread":
            mapped_read(i, off, size)
        elif kind == "mwrite":
            start = rng.randint(0, len(pool) - size)
            mapped_write(i, off, pool[start:start + size])
        elif kind in ("dwrite", "bwrite"):
            start = rng.randint(0, len(pool) - size)
            data = pool[start:start + size]
            n = os.pwrite(fd, data, off)
            if n != size:
                raise Failure("op %d (%s): wrote %d of %d" % (i, kind, n, size))
            if len(model) < off + size:
                model.extend(b"\0" * (off + size - len(model)))
            model[off:off + size] = data
        elif kind in ("dread", "bread"):
            data = os.pread(fd, size, off)
            if off >= len(model):
                if data:
                    raise Failure("op %d (%s): %d bytes past the end" % (i, kind, len(data)))
            elif len(data) != min(size, len(model) - off):
                raise Failure("op %d (%s): read %d, want %d" % (
                    i, kind, len(data), min(size, len(model) - off)))
            check(data, off, kind, i)
        elif kind == "truncate":
            new = rng.randint(0, max_size)
            last[0] = "truncate to %d" % new
            os.ftruncate(rng.choice(list(fds.values())), new)
            if new < len(model):
                del model[new:]
            else:
                model.extend(b"\0" * (new - len(model)))
        elif kind == "copy":
            copy_range(off, size)
        elif kind in ("punch", "zero"):
            keep = kind == "punch" or rng.random() < 0.5
            mode = FALLOC_FL_PUNCH_HOLE if kind == "punch" else FALLOC_FL_ZERO_RANGE
            if keep:
                mode |= FALLOC_FL_KEEP_SIZE
            last[0] += " keep size" if keep else ""
            fallocate(rng.choice(list(fds.values())), mode, off, size)
            end = off + size
            if not keep and end > len(model):
                model.extend(b"\0" * (end - len(model)))
            lim = min(end, len(model))
            if lim > off:
                model[off:lim] = b"\0" * (lim - off)
        elif kind == "alloc":
            keep = rng.random() < 0.5
            last[0] += " keep size" if keep else ""
            fallocate(rng.choice(list(fds.values())),
                      FALLOC_FL_KEEP_SIZE if keep else 0, off, size)
            if not keep and off + size > len(model):
                model.extend(b"\0" * (off + size - len(model)))
        else:
            (os.fsync if rng.random() < 0.5 else os.fdatasync)(fd)

    def reopen_one():
        name = reopen_rng.choice(list(fds))
        trunc = reopen_rng.random() < 0.5
        last[0] = "reopen of the %s open%s" % (name, " with O_TRUNC" if trunc else "")
        counts["reopen"] = counts.get("reopen", 0) + 1
        os.close(fds[name])
        flags = os.O_RDWR | (os.O_TRUNC if trunc else 0)
        if name == "direct" and not cached:
            flags |= os.O_DIRECT
        fds[name] = os.open(path, flags)
        if trunc:
            del model[:]

    last = [""]
    for i in range(ops):
        try:
            if reopen and reopen_rng.random() < 0.01:
                reopen_one()
                check_size(i)
            step(i)
            check_size(i)
        except OSError as e:
            raise Failure("op %d (%s): %s" % (i, last[0], e))
        if i % 5000 == 4999:
            verify_all(i)
    verify_all(ops)
    for fd in fds.values():
        os.close(fd)
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--max-size", type=int, default=4 << 20)
    ap.add_argument("--cached", action="store_true",
                    help="no O_DIRECT open: the backing page cache path")
    ap.add_argument("--reopen", action="store_true",
                    help="close and open again now and then, with O_TRUNC half of the time")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    extra = (" --cached" if a.cached else "") + (" --reopen" if a.reopen else "")
    print("exerciser: seed %d, %d ops on %s (replay: --seed %d%s)" %
          (seed, a.ops, a.path, seed, extra), flush=True)
    try:
        counts = run(a.path, a.ops, seed, a.max_size, a.cached, a.reopen)
    except (Failure, OSError) as e:
        print("exerciser: FAILED with seed %d: %s" % (seed, e), flush=True)
        sys.exit(1)
    print("exerciser: %d ops verified: %s" % (
        a.ops, ", ".join("%s %d" % kv for kv in sorted(counts.items()))), flush=True)


if __name__ == "__main__":
    main()
