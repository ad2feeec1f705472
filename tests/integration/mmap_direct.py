#!/usr/bin/env python3
"""Shared mmap and O_DIRECT on one file, the way a local file system
allows it: prints what each step saw, for test_posix_diff.py to compare.

usage: mmap_direct.py DIR"""
import mmap
import os
import sys

p = os.path.join(sys.argv[1], "mm.dat")
out = []
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
os.ftruncate(fd, 16384)
m = mmap.mmap(fd, 16384, mmap.MAP_SHARED)       # a mapping of a direct open
buf = mmap.mmap(-1, 4096)
m[0:4] = b"AAAA"                                  # dirty page, no msync
os.preadv(fd, [buf], 0)
out.append(bytes(buf[0:4]))                       # a direct read sees it
buf[0:4] = b"BBBB"
os.pwritev(fd, [buf], 4096)
out.append(bytes(m[4096:4100]))                   # the mapping sees a direct write
m[8192:8196] = b"CCCC"
m.flush()
fd2 = os.open(p, os.O_RDONLY | os.O_DIRECT)
os.preadv(fd2, [buf], 8192)
out.append(bytes(buf[0:4]))
fd3 = os.open(p, os.O_RDWR)                      # a cached open as well
os.pwrite(fd3, b"DDDD", 12288)
out.append(bytes(m[12288:12292]))
m[0:4] = b"EEEE"                                  # dirty again, then a direct
buf[0:4] = b"FFFF"                                # write over the same page
os.pwritev(fd, [buf], 0)
out.append(bytes(m[0:4]))
m3 = mmap.mmap(fd3, 16384, mmap.MAP_SHARED)      # the cached open's mapping
m3[100:104] = b"GGGG"
m3.flush()
os.preadv(fd2, [buf], 0)
out.append(bytes(buf[100:104]))
m.close()
m3.close()
for f in (fd, fd2, fd3):
    os.close(f)
with open(p, "rb") as f:
    d = f.read()
out.append([d[0:4], d[100:104], d[4096:4100], d[8192:8196], d[12288:12292]])
print(repr(out))
