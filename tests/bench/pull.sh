#!/bin/bash
# Registry pull, side by side in one run (hyperfine, medians, ratios), against the
# `basic` registry of the test fixtures (docker-registry 2.8, TLS + htpasswd Basic
# auth, on 127.0.0.1; tests/registry/README.md):
#   cold pull of hpai/debian:12 (2 layers, 60 MiB compressed; fresh storage, nothing cached):
#     hpai-image pull (default --jobs 4, and --jobs 1)
#     skopeo copy docker:// oci: && umoci unpack --rootless
#     ch-image pull (Charliecloud; left out, with a note, when it can't run here)
#   second pull sharing the base layers: hpai/debian-extra:12 (the same + 1 layer of
#   189 B) into a store that already holds hpai/debian:12:
#     hpai-image pull into the same storage (its blob cache has the 2 base layers)
#     skopeo copy into the OCI layout that holds debian (it reuses blobs already in the
#       destination layout) && umoci unpack --rootless (all 3 layers, as it must)
#     ch-image pull into the same storage (its download cache has the 2 base layers)
# Then one more, untimed, pull per row counts the requests, blob GETs and blob bytes
# each client sent (the registry's access log). Raw hyperfine runs go to
# BUILD/bench/pull-cold.json and pull-shared.json; medians, ratios and counts to
# BUILD/bench/pull.json. Runs as the unprivileged test user when started as root.
# Usage (PULL_BENCH_DIR: where the stores go, default /var/tmp):
#   tests/bench/pull.sh BUILD_DIR [RUNS]     (default 5; needs the registry fixture running:
#     /usr/bin/python3 tests/registry/registry-fixture.py start BUILD/registry BUILD/test-images)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [RUNS]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
runs=${2:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "pull bench: RUNS must be a positive number, not '$runs'" >&2; exit 2; }
out="$build/bench"
fixture="$build/registry/fixture.json"
start_hint="/usr/bin/python3 $(cd "$here/../registry" && pwd)/registry-fixture.py start $build/registry $build/test-images"
die() { echo "pull bench: $*" >&2; exit 1; }

for t in hyperfine skopeo umoci curl setpriv; do command -v $t >/dev/null || die "$t missing"; done
[ -x "$build/bin/hpai-image" ] || die "$build/bin/hpai-image missing; build first"
[ -f "$fixture" ] || die "the registry fixture is not running ($fixture missing); start it: $start_hint"

# What the fixture says: host, credentials, CA, log, and the two images' sizes.
eval "$(python3 - "$fixture" <<'PY'
import json, shlex, sys
f = json.load(open(sys.argv[1]))
im = f.get("images", {})
if "debian" not in im or "debian-extra" not in im:
    print("missing_images=1")
    sys.exit()
b = f["basic"]
for k, v in (("host", b["host"]), ("reg_user", b["user"]), ("reg_pw", b["password"]), ("ca", f["ca"]),
             ("certs", f["certs_dir"]), ("log", f["logs"]["basic"]),
             ("ref", f"{b['host']}/{im['debian']['repository']}:{im['debian']['tag']}"),
             ("ref2", f"{b['host']}/{im['debian-extra']['repository']}:{im['debian-extra']['tag']}")):
    print(f"{k}={shlex.quote(v)}")
print("missing_images=0")
PY
)"
[ "$missing_images" = 0 ] || die "$fixture has no debian/debian-extra images (build/test-images/debian-oci missing?); run 'ctest --test-dir $build -L fixture', then: $start_hint"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ca" "https://$host/v2/" || true)
[ "$code" = 401 ] || die "the basic registry https://$host/v2/ answered '${code:-nothing}', not 401: the fixture is not running (or not the one in $fixture); restart it: $start_hint"
[ -r "$log" ] || die "the basic registry's log $log is not readable"

source "$here/as-user.sh"
mkdir -p "$out"
# PULL_BENCH_DIR=/dev/shm takes the disk out: on this VM's ext4 the kernel's file
# creation dominates every tool's time and swings 2x between identical runs.
work=$(mktemp -d "${PULL_BENCH_DIR:-/var/tmp}/hpai-bench-pull.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The user's own, not writable by others: hpai-image refuses storage and credentials
# that others could swap.
chown "$user" "$work"
chmod 0700 "$work"
mkdir "$work/cmd"
# A snapshot of the binary, so a rebuild during the run can't swap it between rows.
cp "$build/bin/hpai-image" "$work/hpai-image"
hpai="$work/hpai-image"

# Credentials as `docker login` writes them, for hpai-image.
mkdir -m 0700 "$work/docker"
( umask 077; printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$host" "$(printf '%s:%s' "$reg_user" "$reg_pw" | base64 -w0)" \
    >"$work/docker/config.json" )
chmod -R go-rwx "$work/docker"
chown -R "$user" "$work"
rm -f "$out/pull-cold.json" "$out/pull-shared.json" "$out/pull.json"

# Each measured command is a small script (no quoting through hyperfine), run as `sh FILE`.
mk() {  # NAME COMMAND...: writes $work/cmd/NAME.sh running COMMAND (an `&&` word stays one)
  local f="$work/cmd/$1.sh" w line=""
  shift
  for w in "$@"; do
    if [ "$w" = "&&" ]; then line+=" &&"; else line+=" $(printf '%q' "$w")"; fi
  done
  case $line in *" &&"*) ;; *) line="exec$line" ;; esac
  printf 'set -e\n%s\n' "${line# }" >"$f"
  chown "$user" "$f"
}
hpai_env=(env HPAI_STORAGE="$work/hpai" DOCKER_CONFIG="$work/docker" SSL_CERT_FILE="$ca")
hpai2_env=(env HPAI_STORAGE="$work/hpai2" DOCKER_CONFIG="$work/docker" SSL_CERT_FILE="$ca")
skopeo_src=(skopeo --insecure-policy copy --src-cert-dir "$certs" --src-creds "$reg_user:$reg_pw")
ch_env=(env CH_IMAGE_AUTH=yes CH_IMAGE_USERNAME="$reg_user" CH_IMAGE_PASSWORD="$reg_pw" REQUESTS_CA_BUNDLE="$ca")
ch=(/usr/bin/python3 /usr/bin/ch-image)  # the PATH python3 may be a pyenv one without lark

mk hpai "${hpai_env[@]}" "$hpai" -q pull "$ref"
mk hpai-j1 "${hpai_env[@]}" "$hpai" -q pull --jobs 1 "$ref"
mk skopeo "${skopeo_src[@]}" "docker://$ref" "oci:$work/oci:debian" \
  "&&" umoci unpack --rootless --image "$work/oci:debian" "$work/bundle"
mk ch "${ch_env[@]}" "${ch[@]}" -s "$work/ch" --no-cache pull "$ref"
mk hpai2 "${hpai2_env[@]}" "$hpai" -q pull "$ref2"
mk skopeo2 "${skopeo_src[@]}" "docker://$ref2" "oci:$work/oci2:extra" \
  "&&" umoci unpack --rootless --image "$work/oci2:extra" "$work/bundle2"
mk ch2 "${ch_env[@]}" "${ch[@]}" -s "$work/ch2" --no-cache pull "$ref2"
cold_clean="rm -rf $work/hpai $work/oci $work/bundle $work/ch"
prep_hpai2="rm -rf $work/hpai2 && cp -a $work/seed/hpai2 $work/hpai2"
prep_skopeo2="rm -rf $work/oci2 $work/bundle2 && cp -a $work/seed/oci2 $work/oci2"
prep_ch2="rm -rf $work/ch2 && cp -a $work/seed/ch2 $work/ch2"

# ch-image: tried once; a row only if it pulls here.
notes=()
ch_ok=1
if ! [ -x /usr/bin/ch-image ]; then
  ch_ok=0; notes+=("ch-image left out: /usr/bin/ch-image is not installed")
elif ! /usr/bin/python3 -c 'import lark, requests' 2>/dev/null; then
  ch_ok=0; notes+=("ch-image left out: /usr/bin/python3 lacks the lark or requests module (python3-lark, python3-requests)")
elif ! msg=$(run_as sh "$work/cmd/ch.sh" 2>&1); then
  ch_ok=0; notes+=("ch-image left out: its trial pull failed: $(printf '%s' "$msg" | tail -3 | tr '\n' ' ')")
fi
run_as sh -c "$cold_clean"
for n in "${notes[@]}"; do echo "pull bench: $n" >&2; done

# The second pull's starting points, made once and copied back before every run: each
# store holds debian (pulled in place, so the copy is the same store) and no debian-extra.
run_as mkdir "$work/seed"
run_as "${hpai2_env[@]}" "$hpai" -q pull "$ref"
run_as "${skopeo_src[@]}" -q "docker://$ref" "oci:$work/oci2:debian" >/dev/null
run_as mv "$work/hpai2" "$work/seed/hpai2"
run_as mv "$work/oci2" "$work/seed/oci2"
if [ $ch_ok = 1 ]; then
  run_as "${ch_env[@]}" "${ch[@]}" -s "$work/ch2" --no-cache pull "$ref" >/dev/null 2>&1
  run_as mv "$work/ch2" "$work/seed/ch2"
fi

bench() {  # JSON ARGS...: one hyperfine run as the user; its output kept for errors
  if ! run_as hyperfine -N --runs "$runs" --warmup 1 --export-json "$1" "${@:2}" >"$work/hyperfine.log" 2>&1; then
    tail -30 "$work/hyperfine.log" >&2
    die "hyperfine failed (above)"
  fi
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cold=(-n "hpai-image pull" "sh $work/cmd/hpai.sh"
      -n "hpai-image pull --jobs 1" "sh $work/cmd/hpai-j1.sh"
      -n "skopeo copy + umoci unpack" "sh $work/cmd/skopeo.sh")
[ $ch_ok = 1 ] && cold+=(-n "ch-image pull" "sh $work/cmd/ch.sh")
echo "== cold pull of $ref ($runs runs each)" >&2
bench "$out/pull-cold.json" --prepare "sh -c '$cold_clean'" "${cold[@]}"
shared=(--prepare "sh -c '$prep_hpai2'" -n "hpai-image pull" "sh $work/cmd/hpai2.sh"
        --prepare "sh -c '$prep_skopeo2'" -n "skopeo copy + umoci unpack" "sh $work/cmd/skopeo2.sh")
[ $ch_ok = 1 ] && shared+=(--prepare "sh -c '$prep_ch2'" -n "ch-image pull" "sh $work/cmd/ch2.sh")
echo "== second pull, $ref2 into a store holding $ref ($runs runs each)" >&2
bench "$out/pull-shared.json" "${shared[@]}"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# One more pull per row, untimed, to count what each client asked of the registry (its
# access log: `127.0.0.1 - - [date] "GET /v2/... HTTP/2.0" 200 BYTES "" "UA"`), and to
# check that every client left a whole tree.
echo "== counting requests (one more pull each)" >&2
: >"$work/counts.tsv"
count() {  # SET ROW UA PREPARE SCRIPT TREE
  local from
  run_as sh -c "$4"
  from=$(stat -c %s "$log")
  run_as sh "$5" >"$work/count.out" 2>&1 || { cat "$work/count.out" >&2; die "$2 ($1) failed in the counting run"; }
  sleep 0.5  # the registry writes the access line after the response
  [ -f "$6/etc/debian_version" ] || die "$2 ($1) left no Debian tree at $6"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$from" "$(stat -c %s "$log")" \
    "$(find "$6" | wc -l)" >>"$work/counts.tsv"
}
img() { echo "$1/img/$(printf '%s' "$2" | tr / +)"; }         # hpai-image: / -> +
chimg() { echo "$1/img/$(printf '%s' "$2" | tr /: %+)"; }     # ch-image: / -> %, : -> +
count cold "hpai-image pull" hpai/ "$cold_clean" "$work/cmd/hpai.sh" "$(img "$work/hpai" "$ref")"
count cold "hpai-image pull --jobs 1" hpai/ "$cold_clean" "$work/cmd/hpai-j1.sh" "$(img "$work/hpai" "$ref")"
count cold "skopeo copy + umoci unpack" skopeo/ "$cold_clean" "$work/cmd/skopeo.sh" "$work/bundle/rootfs"
[ $ch_ok = 1 ] && count cold "ch-image pull" python-requests/ "$cold_clean" "$work/cmd/ch.sh" "$(chimg "$work/ch" "$ref")"
count shared "hpai-image pull" hpai/ "$prep_hpai2" "$work/cmd/hpai2.sh" "$(img "$work/hpai2" "$ref2")"
count shared "skopeo copy + umoci unpack" skopeo/ "$prep_skopeo2" "$work/cmd/skopeo2.sh" "$work/bundle2/rootfs"
[ $ch_ok = 1 ] && count shared "ch-image pull" python-requests/ "$prep_ch2" "$work/cmd/ch2.sh" "$(chimg "$work/ch2" "$ref2")"
[ -f "$(img "$work/hpai2" "$ref2")/opt/extra/file" ] || die "hpai-image's debian-extra lacks /opt/extra/file"

notes_json=$(printf '%s\n' "${notes[@]+"${notes[@]}"}" | python3 -c 'import json,sys; print(json.dumps([l for l in sys.stdin.read().splitlines() if l]))')
python3 - "$out" "$runs" "$log" "$work/counts.tsv" "$ref" "$ref2" "$load_before" "$load_after" "$notes_json" <<'PY'
import datetime, json, os, platform, re, statistics, sys
out, runs, log, counts, ref, ref2, load_before, load_after, notes = sys.argv[1:10]
line_re = re.compile(r'^\S+ - \S+ \[[^]]*\] "(\w+) (\S+) [^"]*" (\d+) (\d+) "[^"]*" "([^"]*)"')

def requests(start, end, ua):
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode(errors="replace")
    c = {"requests": 0, "status_401": 0, "manifest_gets": 0, "blob_gets": 0, "blob_heads": 0, "blob_bytes": 0}
    for line in text.splitlines():
        m = line_re.match(line)
        if not m or not m.group(5).startswith(ua):
            continue
        method, path, status, size = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        c["requests"] += 1
        c["status_401"] += status == 401
        if "/manifests/" in path and method == "GET":
            c["manifest_gets"] += 1
        if "/blobs/sha256:" in path:
            if method == "GET":
                c["blob_gets"] += 1
                c["blob_bytes"] += size
            elif method == "HEAD":
                c["blob_heads"] += 1
    return c

req = {"cold": {}, "shared": {}}
for row in open(counts):
    which, name, ua, start, end, entries = row.rstrip("\n").split("\t")
    req[which][name] = dict(requests(int(start), int(end), ua), tree_entries=int(entries))

def section(path, which):
    res = {r["command"]: r for r in json.load(open(path))["results"]}
    base = statistics.median(res["hpai-image pull"]["times"])
    rows = {}
    for name, r in res.items():
        med = statistics.median(r["times"])
        rows[name] = {"median_s": round(med, 4), "mean_s": round(r["mean"], 4), "min_s": round(r["min"], 4),
                      "max_s": round(r["max"], 4), "user_s_mean": round(r["user"], 3),
                      "system_s_mean": round(r["system"], 3), "runs": len(r["times"]), "times_s": [round(t, 4) for t in r["times"]],
                      "ratio_to_hpai": round(med / base, 3), "hpai_over_it": round(base / med, 3),
                      "registry": req[which].get(name, {})}
    return rows

res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, kernel {platform.release()}",
       "load_avg_before": load_before, "load_avg_after": load_after, "runs": int(runs),
       "registry": "fixture 'basic': docker-registry 2.8 on 127.0.0.1, TLS, htpasswd Basic auth",
       "cold": {"image": ref, "results": section(f"{out}/pull-cold.json", "cold")},
       "second_pull": {"image": ref2, "store_holds": ref, "results": section(f"{out}/pull-shared.json", "shared")},
       "notes": json.loads(notes)}
json.dump(res, open(f"{out}/pull.json", "w"), indent=1)

def table(title, rows):
    print(f"\n{title}, {runs} runs each, medians (user, sys: CPU means; requests: one more pull)")
    print("| command | median s | it / hpai-image | hpai-image / it | user s | sys s | requests | blob GETs | blob MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, v in rows.items():
        r = v["registry"]
        print(f"| {k} | {v['median_s']:.3f} | {v['ratio_to_hpai']:.2f} | {v['hpai_over_it']:.2f} | "
              f"{v['user_s_mean']:.2f} | {v['system_s_mean']:.2f} | {r.get('requests', '?')} | {r.get('blob_gets', '?')} | {r.get('blob_bytes', 0) / 1e6:.3f} |")

table(f"Cold pull of {ref} (TLS + Basic auth, fresh storage)", res["cold"]["results"])
table(f"Second pull: {ref2} into a store holding {ref}", res["second_pull"]["results"])
for n in res["notes"]:
    print(f"\nnote: {n}")
print(f"\nload average before/after: {load_before} / {load_after}; raw numbers: {out}/pull.json")
PY
