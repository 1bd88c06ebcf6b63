#!/usr/bin/env python3
"""Builds the hostile-input corpus described in tests/hostile/cases.json.

Usage: make-corpus.py OUT_DIR

Each case gets OUT_DIR/NAME (a file, an OCI layout directory or a plain directory),
built by the @case function of that name in corpus/*.py. Escapes aim at ESCAPE (an
absolute directory the tests create world-writable and check stays empty), at VICTIM
(a world-writable file the tests check byte for byte) and at relative paths climbing
out of the image. Every case in cases.json must have a builder and the other way
round, so the list and the inputs can't drift.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "corpus"))

from common import BUILDERS, VICTIM  # noqa: E402
import docker_cases  # noqa: E402,F401  (each module registers its builders)
import metadata_cases  # noqa: E402,F401
import oci_cases  # noqa: E402,F401
import profile_cases  # noqa: E402,F401
import tar_cases  # noqa: E402,F401


def main():
    out = sys.argv[1]
    cases = json.load(open(os.path.join(HERE, "cases.json")))["cases"]
    names = [c["name"] for c in cases]
    missing = [n for n in names if n not in BUILDERS]
    unused = [n for n in BUILDERS if n not in names]
    if missing or unused or len(set(names)) != len(names):
        sys.exit(f"make-corpus: cases.json and builders differ: no builder for {missing}, not listed {unused}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for c in cases:
        suffix = ".json" if c["kind"] == "profile" else ""
        BUILDERS[c["name"]](os.path.join(out, c["name"] + suffix))
    os.system(f"chmod -R a+rX {out}")
    # The file the cases aim at: world-writable, so that a write through one would
    # succeed as any user and show in its bytes (tests/integration/hostile_test.cpp).
    with open(VICTIM + ".new", "w") as f:
        f.write("victim: must keep these bytes\n")
    os.chmod(VICTIM + ".new", 0o666)
    os.replace(VICTIM + ".new", VICTIM)
    print(f"make-corpus: {len(cases)} cases in {out}")


if __name__ == "__main__":
    main()
