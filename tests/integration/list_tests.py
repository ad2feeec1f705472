#!/usr/bin/env python3
"""The integration test programs (test_*.py here) and a time bound for
each, for meson: one line "name seconds" per program. The runner bounds
every test of a program (harness.main's per_test_seconds, and what it
allows for clean-up), so the bound is the tests' count times that."""
import glob
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
# harness.GRACE_SECONDS + harness.KILL_SECONDS + the reaping, and start-up.
PER_TEST_SLACK = 100
PER_PROGRAM_SLACK = 60

for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
    with open(path) as f:
        text = f.read()
    count = len(re.findall(r"^def test_", text, re.M))
    m = re.search(r"main\(per_test_seconds=(\d+)\)", text)
    per_test = int(m.group(1)) if m else 120
    name = os.path.basename(path)[len("test_"):-len(".py")]
    print(name, count * (per_test + PER_TEST_SLACK) + PER_PROGRAM_SLACK)
