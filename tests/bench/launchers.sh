#!/bin/bash
# Batch-launch benchmark, side by side in one run:
#  1. N = 1, 4, 16 ranks on this node started at once (as a launcher does), until all
#     have run their payload (/bin/true): hpai-run with and without join, ch-run with
#     and without its --join.
#  2. MPI ping-pong (examples/mpi/mpi_hello.c bw) between 2 ranks under the host's
#     Open MPI mpiexec: on the host vs in the container (joined), same Open MPI 4.1.
# Runs as the unprivileged test user when started as root. Prints Markdown tables and
# writes hyperfine's JSON to BUILD_DIR/bench.
# Usage: tests/bench/launchers.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
out="$build/bench"
mkdir -p "$out"
image="$build/test-images/busybox"
mpi_image="$build/test-images/debian-mpi"
[ -d "$image" ] || "$here/../images/make-busybox-image.sh" "$image" >/dev/null
for c in hyperfine ch-run mpiexec mpicc; do
  command -v $c >/dev/null || { echo "launchers bench: $c not installed" >&2; exit 1; }
done

source "$(dirname "$0")/as-user.sh"

# N copies at once, as mpiexec or srun would start them; $$ keeps join tags unique.
# Every rank's status counts: the failures of each command are added to fail.NAME (a
# failed rank is fast, and a bare "wait" would count it as a good one).
many() {  # N COMMAND NAME
  echo "f=0; ps=; for i in \$(seq $1); do $2 >/dev/null 2>&1 & ps=\"\$ps \$!\"; done; for p in \$ps; do wait \$p || f=\$((f+1)); done; echo \$f >>$out/fail.$3"
}
json="$out/launchers.json"
rm -f "$out"/fail.*
args=()
for n in 1 4 16; do
  args+=(-n "hpai-run N=$n join" "sh -c '$(many $n "$build/bin/hpai-run --join-ct=$n --join-tag=b$n.\$\$ $image -- /bin/true" hj$n)'")
  args+=(-n "hpai-run N=$n no-join" "sh -c '$(many $n "$build/bin/hpai-run --no-join $image -- /bin/true" hn$n)'")
  args+=(-n "ch-run N=$n join" "sh -c '$(many $n "ch-run --join-ct=$n --join-tag=b$n.\$\$ $image -- /bin/true" cj$n)'")
  args+=(-n "ch-run N=$n no-join" "sh -c '$(many $n "ch-run $image -- /bin/true" cn$n)'")
done
run_as hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" "${args[@]}" >/dev/null
# ch-run --join leaves its semaphore and shared memory behind when a rank fails.
rm -f /dev/shm/ch-run_shm-b[0-9]*.* /dev/shm/sem.ch-run_sem-b[0-9]*.*

python3 - "$json" "$user" "$out" <<'PY'
import json, os, sys, statistics
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
out = sys.argv[3]
def failed(key):  # failed ranks over all runs (warm-up included), and the ranks started
    path = f"{out}/fail.{key}"
    runs = [int(x) for x in open(path).read().split()] if os.path.exists(path) else []
    return sum(runs), len(runs)
fails = {}
print(f"N ranks started at once until all ran /bin/true, as {sys.argv[2]} (median ms of hyperfine runs; failed ranks of all runs)")
print("| N | hpai-run join | hpai-run no-join | ch-run --join | ch-run | hpai join / hpai N=1 | hpai join / ch-run --join |")
print("|---|---|---|---|---|---|---|")
one = res["hpai-run N=1 join"]
for n in (1, 4, 16):
    cells = []
    for t, m, k in (("hpai-run", "join", "hj"), ("hpai-run", "no-join", "hn"), ("ch-run", "join", "cj"), ("ch-run", "no-join", "cn")):
        f, runs = failed(f"{k}{n}")
        fails[f"{t} N={n} {m}"] = {"failed_ranks": f, "ranks": runs * n}
        cells.append(f"{res[f'{t} N={n} {m}']:.1f}" + (f" (**{f} of {runs * n} ranks failed**)" if f else ""))
    hj, cj = res[f"hpai-run N={n} join"], res[f"ch-run N={n} join"]
    print(f"| {n} | {' | '.join(cells)} | {hj/one:.2f} | {hj/cj:.2f} |")
json.dump(fails, open(f"{out}/launchers-failures.json", "w"), indent=1)
PY

# MPI ping-pong: host binary vs the image's, both Open MPI 4.1.4, host mpiexec.
rm -f "$out/mpi-pingpong.json"
if [ -x "$mpi_image/usr/local/bin/mpi_hello_openmpi" ]; then
  host_bin="$out/mpi_hello_host"
  mpicc -O2 -o "$host_bin" "$here/../../examples/mpi/mpi_hello.c"
  chmod 755 "$host_bin"
  extra=()
  [ "$(id -u)" = 0 ] && [ ${#as[@]} = 0 ] && extra=(--allow-run-as-root)
  echo
  echo "MPI ping-pong, 2 ranks, mpiexec on this node (9 interleaved runs each, median)"
  echo "| where | latency us | bandwidth MB/s |"
  echo "|---|---|---|"
  declare -A lat bw
  declare -A lats bws
  for _ in 1 2 3 4 5 6 7 8 9; do
    for where in host container; do
      if [ $where = host ]; then
        line=$(run_as mpiexec "${extra[@]}" -n 2 "$host_bin" bw | grep pingpong)
      else
        line=$(run_as mpiexec "${extra[@]}" -n 2 "$build/bin/hpai-run" "$mpi_image" -- /usr/local/bin/mpi_hello_openmpi bw | grep pingpong)
      fi
      lats[$where]+="$(echo "$line" | sed 's/.*latency \([0-9.]*\) us.*/\1/') "
      bws[$where]+="$(echo "$line" | sed 's/.*bandwidth \([0-9.]*\) MB.*/\1/') "
    done
  done
  for where in host container; do
    lat[$where]=$(printf '%s\n' ${lats[$where]} | sort -g | sed -n 5p)
    bw[$where]=$(printf '%s\n' ${bws[$where]} | sort -g | sed -n 5p)
    echo "| $where | ${lat[$where]} | ${bw[$where]} |"
  done
  printf '{"host": {"latency_us": %s, "bandwidth_mbs": %s}, "container": {"latency_us": %s, "bandwidth_mbs": %s}}\n' \
    "${lat[host]}" "${bw[host]}" "${lat[container]}" "${bw[container]}" >"$out/mpi-pingpong.json"
  python3 -c "print(f'container/host bandwidth: {${bw[container]}/${bw[host]}:.3f}, latency: {${lat[container]}/${lat[host]}:.3f}')"
fi
