#!/bin/bash
# The two halves of a joined node's start-up, side by side with ch-run --join: the rank
# that builds the node's container, and a rank that enters it (its keeper, or ch-run's
# first rank, held by a long first payload meanwhile). One hyperfine run; builders are
# cleaned up before each timing (hpai's keeper, ch-run's /dev/shm semaphore).
# Writes BUILD/bench/join.json.  Usage: tests/bench/join.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-200}
out="$build/bench"
hpai="$build/bin/hpai-run"
img="$build/test-images/busybox"
source "$(dirname "$0")/as-user.sh"

t=$$
# Not through run_as (a function runs in a subshell): $! is then the payload itself.
"${as_env[@]}" "${as[@]}" "$hpai" --join-ct=100000 --join-tag="jn.$t" "$img" -- sleep 600 &
hold_hpai=$!
"${as_env[@]}" "${as[@]}" ch-run --join-ct=100000 --join-tag="cjn.$t" "$img" -- sleep 600 &
hold_ch=$!
trap 'kill $hold_hpai $hold_ch 2>/dev/null; run_as pkill -f -- "--join-tag=(c?jn|c?bld)\.$t" 2>/dev/null; rm -f /dev/shm/*ch-run_*.$t /dev/shm/sem.ch-run_*.$t' EXIT
sleep 1
# A builder is a first rank of 2 whose second never comes: its keeper (hpai) or its
# semaphore (ch-run) is removed before the next run, so every run builds.
run_as hyperfine -N --warmup 10 --runs "$runs" --export-json "$out/join.json" \
  -n "hpai-run builder" -p "sh -c 'pkill -f \"^$hpai --join-ct=2 --join-tag=bld.$t\"; exit 0'" \
  "$hpai --join-ct=2 --join-tag=bld.$t $img -- /bin/true" \
  -n "hpai-run joining rank" -p true "$hpai --join-ct=100000 --join-tag=jn.$t $img -- /bin/true" \
  -n "ch-run --join builder" -p "sh -c 'pkill -f \"^ch-run --join-ct=2 --join-tag=cbld.$t\"; rm -f /dev/shm/*ch-run_*cbld.$t; exit 0'" \
  "ch-run --join-ct=2 --join-tag=cbld.$t $img -- /bin/true" \
  -n "ch-run --join joining rank" -p true "ch-run --join-ct=100000 --join-tag=cjn.$t $img -- /bin/true" >/dev/null
python3 - "$out/join.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
for tool in ("hpai-run", "ch-run --join"):
    b, j = r[f"{tool} builder"], r[f"{tool} joining rank"]
    print(f"{tool}: builder {b:.2f} ms, joining rank {j:.2f} ms, joiner/builder {j / b:.2f}")
PY
