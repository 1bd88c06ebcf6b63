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

as=()
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  user=${HPAI_TEST_USER:-hpai-test}
  id "$user" >/dev/null 2>&1 || "$here/../setup-test-user.sh" "$build" "$user" >/dev/null
  as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
  chmod a+rwx "$out"
fi
run_as() { env -i PATH=/usr/bin:/bin USER="$user" HOME=/ "${as[@]}" "$@"; }

# N copies at once, as mpiexec or srun would start them; $$ keeps join tags unique.
many() { echo "for i in \$(seq $1); do $2 & done; wait"; }
json="$out/launchers.json"
args=()
for n in 1 4 16; do
  args+=(-n "hpai-run N=$n join" "sh -c '$(many $n "$build/bin/hpai-run --join-ct=$n --join-tag=b$n.\$\$ $image -- /bin/true")'")
  args+=(-n "hpai-run N=$n no-join" "sh -c '$(many $n "$build/bin/hpai-run --no-join $image -- /bin/true")'")
  args+=(-n "ch-run N=$n join" "sh -c '$(many $n "ch-run --join-ct=$n --join-tag=b$n.\$\$ $image -- /bin/true")'")
  args+=(-n "ch-run N=$n no-join" "sh -c '$(many $n "ch-run $image -- /bin/true")'")
done
run_as hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" "${args[@]}" >/dev/null

python3 - "$json" "$user" <<'PY'
import json, sys, statistics
res = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print(f"N ranks started at once until all ran /bin/true, as {sys.argv[2]} (median ms of hyperfine runs)")
print("| N | hpai-run join | hpai-run no-join | ch-run --join | ch-run | hpai join / hpai N=1 | hpai join / ch-run --join |")
print("|---|---|---|---|---|---|---|")
one = res["hpai-run N=1 join"]
for n in (1, 4, 16):
    hj, hn, cj, cn = (res[f"{t} N={n} {m}"] for t, m in
                      (("hpai-run", "join"), ("hpai-run", "no-join"), ("ch-run", "join"), ("ch-run", "no-join")))
    print(f"| {n} | {hj:.1f} | {hn:.1f} | {cj:.1f} | {cn:.1f} | {hj/one:.2f} | {hj/cj:.2f} |")
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
