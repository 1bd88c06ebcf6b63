#!/usr/bin/env python3
"""The house rules, checked on every test run: each folder of src/ (and its headers in
include/hpai/) includes only the layers below it, and no source file grows past the
size a reader takes in at once.

    base  <-  image  <-  site, registry  <-  batch  <-  run, check  <-  slurm  <-  tools

Usage: check_layers.py SOURCE_DIR
"""
import pathlib
import re
import sys

BELOW = {
    "base": set(),
    "image": {"base"},
    "site": {"base", "image"},
    "registry": {"base", "image"},
    "batch": {"base", "image", "site"},
    "run": {"base", "image", "site", "registry", "batch"},
    "check": {"base", "image", "site", "batch"},
    "slurm": {"base", "image", "site", "registry", "batch", "run"},
    "tools": {"base", "image", "site", "registry", "batch", "run", "check", "slurm"},
}
MAX_LINES = 500
INCLUDE = re.compile(r'^\s*#\s*include\s+"hpai/([a-z_]+)/[^"]+"', re.M)
ANY_HPAI = re.compile(r'^\s*#\s*include\s+"hpai/([^"/]+)"', re.M)


def main(root: pathlib.Path) -> int:
    problems = []
    stray = [p.name for p in (root / "src").iterdir() if p.is_file() and p.name != "CMakeLists.txt"]
    stray += [p.name for p in (root / "include/hpai").iterdir() if p.is_file()]
    if stray:
        problems.append(f"files outside a layer folder: {', '.join(sorted(stray))}")
    files = []
    for layer in BELOW:
        files += [(layer, p) for p in sorted((root / "src" / layer).glob("*.[ch]pp"))]
        files += [(layer, p) for p in sorted((root / "include/hpai" / layer).glob("*.hpp"))]
    for layer, path in files:
        text = path.read_text()
        rel = path.relative_to(root)
        for used in INCLUDE.findall(text):
            if used not in BELOW:
                problems.append(f"{rel}: includes hpai/{used}/, which is no layer")
            elif used != layer and used not in BELOW[layer]:
                problems.append(f"{rel}: {layer} includes {used} (allowed: {', '.join(sorted(BELOW[layer])) or 'nothing'})")
        for flat in ANY_HPAI.findall(text):
            problems.append(f"{rel}: includes hpai/{flat}, outside any layer")
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES}: split it by concern)")
    for p in problems:
        print(p)
    print(f"{len(files)} files in {len(BELOW)} layers checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
