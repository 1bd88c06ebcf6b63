#!/bin/bash
# User-space instructions of one launch until the payload's execve, side by side with
# ch-run (callgrind: stable on a shared VM where wall times swing): the plain launch, a
# joining rank, and the full site profile with a host linker cache of ~700 and ~3,700
# entries. Needs valgrind >= 3.25 ($VALGRIND, or one on PATH, else get-valgrind.sh
# fetches Debian unstable's). Writes BUILD/bench/instructions.json.
# Usage: tests/bench/instructions.sh BUILD_DIR    (after tests/bench/run made its profiles)
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out="$build/bench"
hpai="$build/bin/hpai-run"
busybox="$build/test-images/busybox"
mpi_image="$build/test-images/debian-mpi"
source "$(dirname "$0")/as-user.sh"

vg=${VALGRIND:-}
if [ -z "$vg" ] && command -v valgrind >/dev/null; then
  v=$(valgrind --version | sed 's/valgrind-//')
  [ "$(printf '%s\n3.25\n' "$v" | sort -V | head -1)" = 3.25 ] && vg=valgrind
fi
[ -n "$vg" ] || vg=$("$here/get-valgrind.sh" "$out/valgrind")
read -r -a vg_cmd <<<"$vg"

# NAME COMMAND...: one JSON line, the instructions until the first execve (the payload's:
# hpai-run and ch-run exec it themselves, without a fork). The dump is written from
# inside the container, where the host's /tmp is (both tools bind it), not BUILD.
dumps=$(mktemp -d /tmp/hpai-callgrind.XXXXXX)
chmod 777 "$dumps"
trap 'rm -rf "$dumps"' EXIT
count() {
  local name=$1 f="$dumps/callgrind.$RANDOM"
  shift
  run_as "${vg_cmd[@]}" --tool=callgrind --dump-before=execve --callgrind-out-file="$f" "$@" >/dev/null 2>"$f.err" || true
  local n
  n=$(awk '/^summary:/ {print $2}' "$f.1" 2>/dev/null || true)
  [ -n "$n" ] || { echo "instructions: $name did not reach its payload:" >&2; grep -v '^==' "$f.err" | tail -3 >&2; }
  rm -f "$f" "$f".*
  printf '{"name": "%s", "instructions": %s}\n' "$name" "${n:-null}"
}

# A joining rank: a first rank of a large group holds the node's container meanwhile.
joiner() {  # NAME TOOL
  local tag="bench-joiner.$$.$RANDOM"
  # Not through run_as (a function runs in a subshell): $! is then the payload itself.
  "${as_env[@]}" "${as[@]}" "$2" --join-ct=100000 --join-tag="$tag" "$busybox" -- sleep 60 &
  local first=$!
  sleep 1
  count "$1" "$2" --join-ct=100000 --join-tag="$tag" "$busybox" -- /bin/true
  kill "$first" 2>/dev/null || true
  wait "$first" 2>/dev/null || true
  run_as pkill -f -- "--join-tag=$tag" 2>/dev/null || true
}

{
  count "hpai-run busybox" "$hpai" "$busybox" -- /bin/true
  count "ch-run busybox" ch-run "$busybox" -- /bin/true
  joiner "hpai-run busybox, joining rank" "$hpai"
  joiner "ch-run busybox, joining rank" ch-run
  count "hpai-run debian-mpi" "$hpai" "$mpi_image" -- /bin/true
  count "ch-run debian-mpi" ch-run "$mpi_image" -- /bin/true
  count "hpai-run debian-mpi + full profile" "$hpai" --profile "$out/full-profile.json" "$mpi_image" -- /bin/true
  count "hpai-run debian-mpi + full profile, 3,700-entry cache" "$hpai" --profile "$out/full-profile-big.json" "$mpi_image" -- /bin/true
} | python3 -c 'import json, sys; json.dump([json.loads(l) for l in sys.stdin], open(sys.argv[1], "w"), indent=1)' "$out/instructions.json"
cat "$out/instructions.json"
