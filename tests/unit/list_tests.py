#!/usr/bin/env python3
"""The cmocka programs of the core (tests/unit/test_*.c), for meson: one
name a line. Those that need more than the core library (a fake, wrapped
symbols, fixtures) are built on their own in tests/meson.build and left
out here."""
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BUILT_APART = {"dio", "nvme_format", "block_probe", "device_io",
               "service_manager"}

for path in sorted(glob.glob(os.path.join(HERE, "test_*.c"))):
    name = os.path.basename(path)[len("test_"):-len(".c")]
    if name not in BUILT_APART:
        print(name)
