#!/bin/bash
# What one node's start-up asks of the shared file system, side by side: countfs (the
# counting FUSE passthrough of the tests, tests/fuse-count) stands in for GPFS/Lustre,
# mounted afresh per run (a cold client cache), read-only, with the images four
# directories deep. N = 1, 4, 16 ranks under the host's mpiexec; every rank's status is
# checked and failures are reported beside the counts. Writes BUILD/bench/shared-fs.json.
# Usage: tests/bench/shared-fs.sh BUILD_DIR [PROFILE]   (PROFILE: a site profile to add a row with)
set -euo pipefail
build=$(cd "$1" && pwd)
profile=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
out="$build/bench"
countfs="$build/bin/countfs"
for c in mpiexec ch-run mksquashfs fusermount3 "$countfs"; do
  command -v "$c" >/dev/null || { echo "shared-fs bench: $c not found" >&2; exit 1; }
done
source "$(dirname "$0")/as-user.sh"

# The "parallel file system": a tree of the user's, the images four directories deep.
work=$(mktemp -d "${TMPDIR:-/tmp}/hpai-sharedfs.XXXXXX")
trap 'run_as fusermount3 -u -q "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
chmod 755 "$work"
deep=/project/group/user/images
mkdir -p "$work/pfs$deep" "$work/mnt"
cp -a "$build/test-images/busybox" "$work/pfs$deep/bb"
mksquashfs "$build/test-images/busybox" "$work/pfs$deep/bb.sqfs" -quiet -no-progress -no-xattrs >/dev/null
chown -R "$user" "$work/pfs" "$work/mnt"

json="$out/shared-fs.json"
echo "{" >"$json"
first=1
# NAME N COMMAND...: one cold run of N ranks; the counts and failed ranks go to the JSON.
measure() {
  local name=$1 n=$2
  shift 2
  run_as "$countfs" "$work/pfs" "$work/mnt" -o ro,entry_timeout=600,attr_timeout=600,negative_timeout=600
  run_as cat "$work/mnt/.countfs-reset" >/dev/null
  local failed
  failed=$(run_as mpiexec --oversubscribe -n "$n" sh -c '"$@" >/dev/null 2>&1 || echo x' sh "$@" | grep -c x || true)
  sleep 0.3  # squashfuse may read after the last rank is gone
  local counts
  counts=$(run_as cat "$work/mnt/.countfs-counts")
  run_as fusermount3 -u "$work/mnt"
  python3 - "$name" "$n" "$failed" "$counts" "$first" >>"$json" <<'PY'
import json, sys
name, n, failed, text, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
counts = {}
it = iter(text.split())
for op, v in zip(it, it):
    counts[op] = int(v)
print(("" if first else ",") + json.dumps(f"{name} N={n}") + ": " + json.dumps({"name": name, "ranks": n, "failed_ranks": failed, "requests": counts}))
PY
  first=0
  printf '%-40s N=%-2s %5s requests%s\n' "$name" "$n" "$(echo "$counts" | awk '$1=="total"{print $2}')" \
    "$([ "$failed" = 0 ] || echo " ($failed ranks failed)")"
}
img="$work/mnt$deep"
for n in 1 4 16; do
  measure "hpai-run SquashFS, join" $n "$build/bin/hpai-run" -j "$img/bb.sqfs" -- true
  measure "hpai-run SquashFS, no join" $n "$build/bin/hpai-run" --no-join "$img/bb.sqfs" -- true
  measure "hpai-run directory, join" $n "$build/bin/hpai-run" -j "$img/bb" -- true
  measure "hpai-run directory, no join" $n "$build/bin/hpai-run" --no-join "$img/bb" -- true
  [ -z "$profile" ] || measure "hpai-run directory, join, full profile" $n "$build/bin/hpai-run" -j --profile "$profile" "$img/bb" -- true
  measure "ch-run SquashFS, join" $n ch-run --join "$img/bb.sqfs" -- true
  measure "ch-run SquashFS" $n ch-run "$img/bb.sqfs" -- true
  measure "ch-run directory, join" $n ch-run --join "$img/bb" -- true
  measure "ch-run directory" $n ch-run "$img/bb" -- true
done
echo "}" >>"$json"
