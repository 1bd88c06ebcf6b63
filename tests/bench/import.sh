#!/bin/bash
# Import throughput, side by side in one run (hyperfine, medians, ratios):
#   rootfs tar.gz:        hpai-image import  vs  ch-convert -i tar -o dir  vs  tar -xzf
#   2-layer OCI layout:   hpai-image import  vs  umoci unpack --rootless
# Runs as the unprivileged test user when started as root (tar then exits 2 on the
# image's device nodes after extracting the rest, hence hyperfine -i). Usage:
#   tests/bench/import.sh BUILD_DIR [RUNS]     (needs the test fixtures: ctest -L fixture)
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-5}
fix="$build/test-images/debian-oci"
[ -f "$fix/.complete" ] || { echo "import bench: run 'ctest --test-dir $build -L fixture' first" >&2; exit 1; }
for t in hyperfine ch-convert umoci tar; do command -v $t >/dev/null || { echo "import bench: $t missing" >&2; exit 1; }; done
out="$build/bench"
source "$(dirname "$0")/as-user.sh"
mkdir -p "$out"
work=$(mktemp -d /var/tmp/hpai-bench.XXXXXX)
chmod 0777 "$work"
trap 'rm -rf "$work"' EXIT
clean="rm -rf $work/hpai $work/ch $work/tar $work/umoci; mkdir -p $work/tar"
bench() {  # NAME JSON COMMAND...
  env -i PATH=/usr/bin:/bin USER="$user" HOME=/ HPAI_STORAGE="$work/hpai" "${as[@]}" \
    hyperfine -N -i --runs "$runs" --warmup 1 --prepare "sh -c '$clean'" --export-json "$2" "${@:3}" >/dev/null 2>&1
}
bench tar "$out/import-tar.json" \
  -n "hpai-image import" "$build/bin/hpai-image -q import $fix/rootfs.tar.gz deb" \
  -n "ch-convert -i tar -o dir" "ch-convert -i tar -o dir $fix/rootfs.tar.gz $work/ch" \
  -n "tar -xzf" "tar -C $work/tar -xzf $fix/rootfs.tar.gz"
bench oci "$out/import-oci.json" \
  -n "hpai-image import" "$build/bin/hpai-image -q import $fix/oci:debian deb" \
  -n "umoci unpack --rootless" "umoci unpack --rootless --image $fix/oci:debian $work/umoci"

python3 - "$out/import-tar.json" "$out/import-oci.json" "$runs" <<'PY'
import json, statistics, sys
runs = sys.argv[3]
for path, base in ((sys.argv[1], "ch-convert -i tar -o dir"), (sys.argv[2], "umoci unpack --rootless")):
    res = {r["command"]: statistics.median(r["times"]) for r in json.load(open(path))["results"]}
    title = "Debian minbase rootfs.tar.gz (61 MB, 5,239 files)" if "tar" in path.rsplit("/", 1)[1] else "2-layer OCI layout (umoci-built)"
    print(f"\n{title}, {runs} runs each, medians")
    print("| command | median s | hpai-image import / it |")
    print("|---|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v:.3f} | {res['hpai-image import']/v:.2f} |")
PY
