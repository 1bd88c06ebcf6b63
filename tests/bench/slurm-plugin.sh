#!/bin/bash
# srun with hpai's SPANK plugin against srun of hpai-run and of ch-run (pyxis needs
# enroot, which Debian lacks; ch-run without --join, which loses ranks at 16: see
# launchers.sh): a whole step's wall time, 16 tasks on one node, for a
# directory image and a SquashFS one, and a bare `srun true` for the floor. Starts its
# own one-node cluster (tests/slurm/slurm-cluster.sh) with the plugin in plugstack.conf.
# Benchmarks, not tests. Usage: tests/bench/slurm-plugin.sh BUILD_DIR   (RUNS=N, default 10)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
runs=${RUNS:-10}
out="$build/bench"
mkdir -p "$out"
source "$here/as-user.sh"
busybox="$build/test-images/busybox"
sqfs="$out/busybox.sqfs"
[ "$sqfs" -nt "$busybox" ] || mksquashfs "$busybox" "$sqfs" -noappend -quiet -all-root >/dev/null
chmod a+r "$sqfs"
cluster="$out/slurm"
HPAI_SLURM_PLUGSTACK="required $build/lib/spank_hpai.so helper=$build/bin/hpai-slurm-task" \
  "$here/../slurm/slurm-cluster.sh" start "$cluster" >/dev/null
trap '"$here/../slurm/slurm-cluster.sh" stop "$cluster"' EXIT
export SLURM_CONF="$cluster/slurm.conf"
n=16
echo "== srun -n $n, one node ($runs runs each)"
run_as env SLURM_CONF="$SLURM_CONF" hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/slurm-plugin.json" \
  -n "srun true" "srun -n $n true" \
  -n "srun --container-image=busybox (plugin)" "srun -n $n --container-image=$busybox true" \
  -n "srun hpai-run busybox" "srun -n $n $build/bin/hpai-run $busybox -- true" \
  -n "srun ch-run busybox" "srun -n $n ch-run $busybox -- true" \
  -n "srun --container-image=busybox.sqfs (plugin)" "srun -n $n --container-image=$sqfs true" \
  -n "srun hpai-run busybox.sqfs" "srun -n $n $build/bin/hpai-run $sqfs -- true" >/dev/null
python3 - "$out/slurm-plugin.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = {x["command"]: x["median"] for x in r}
for x in r:
    print(f'{x["command"]:48s} median {x["median"]*1000:7.1f} ms  (min {x["min"]*1000:.1f}, max {x["max"]*1000:.1f})')
PY
