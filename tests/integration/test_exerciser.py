#!/usr/bin/env python3
"""The random-operation exerciser through a real mount: 100 000 operations
mixing direct and buffered I/O, checked byte for byte against a model."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import mounted, main  # noqa: E402

OPS = int(os.environ.get("BOUNCEFS_EXERCISER_OPS", "100000"))


def exercise(opts=None):
    fs, m, mnt, back = mounted(opts)
    r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__),
                                                     "exerciser.py"),
                        os.path.join(mnt, "model.dat"), "--ops", str(OPS)],
                       capture_output=True, text=True, timeout=1500)
    print(r.stdout, end="")
    assert r.returncode == 0, r.stdout + r.stderr
    assert m.stop() == 0


def test_exerciser():
    exercise()


main([test_exerciser], per_test_seconds=1600)
