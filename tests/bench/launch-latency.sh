#!/bin/bash
# Launch latency, side by side in one run: `hpai-run IMG -- /bin/true` vs Charliecloud's
# `ch-run IMG -- /bin/true` vs `unshare -Urm /bin/true` (the kernel's floor). Runs as the
# unprivileged test user when started as root. Prints a Markdown table with medians and
# ratios and writes the raw hyperfine JSON to OUT_DIR.
# Usage: tests/bench/launch-latency.sh BUILD_DIR [RUNS]
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-300}
out="$build/bench"
mkdir -p "$out"
image="$build/test-images/busybox"
[ -d "$image" ] || "$(dirname "$0")/../images/make-busybox-image.sh" "$image" >/dev/null
command -v hyperfine >/dev/null || { echo "launch-latency: hyperfine not installed" >&2; exit 1; }
command -v ch-run >/dev/null || { echo "launch-latency: ch-run (Debian charliecloud) not installed" >&2; exit 1; }

source "$(dirname "$0")/as-user.sh"
json="$out/launch-latency.json"
"${as_env[@]}" "${as[@]}" hyperfine -N --warmup 30 --runs "$runs" --export-json "$json" \
  -n "unshare -Urm" "unshare -Urm /bin/true" \
  -n "ch-run" "ch-run $image -- /bin/true" \
  -n "hpai-run" "$build/bin/hpai-run $image -- /bin/true" >/dev/null

python3 - "$json" "$user" <<'PY'
import json, sys, statistics
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: statistics.median(v["times"]) * 1000 for k, v in res.items()}
print(f"launch latency, {len(res['hpai-run']['times'])} runs each, as user {sys.argv[2]} (median ms; ratio to ch-run)")
print("| command | median ms | mean ms | ratio vs ch-run |")
print("|---|---|---|---|")
for k in ["unshare -Urm", "ch-run", "hpai-run"]:
    print(f"| {k} | {med[k]:.3f} | {res[k]['mean']*1000:.3f} | {med[k]/med['ch-run']:.2f} |")
PY
