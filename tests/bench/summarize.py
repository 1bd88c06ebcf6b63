#!/usr/bin/env python3
"""Collects what tests/bench/run measured into OUT/results.json and Markdown reports;
with the docs given, replaces the generated sections of docs/performance.md and
docs/scale.md (scale.py) with them.

Usage: summarize.py OUT_DIR [PERFORMANCE_MD SCALE_MD]
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

import scale

BEGIN, END = "<!-- bench/run: begin (generated, do not edit) -->", "<!-- bench/run: end -->"


def load(path, default=None):
    return json.load(open(path)) if os.path.exists(path) else default


def hyperfine(path):
    data = load(path)
    if not data:
        return {}
    return {r["command"]: {"median_s": statistics.median(r["times"]), "mean_s": r["mean"], "runs": len(r["times"])}
            for r in data["results"]}


def version(cmd):
    try:
        env = dict(os.environ, USER=os.environ.get("USER", "root"))  # ch-run refuses to start without $USER
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10, env=env)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def collect(out):
    cpu = {}
    if os.path.exists(f"{out}/payload-cpu.txt"):
        times = {}
        for line in open(f"{out}/payload-cpu.txt"):
            where, t = line.split()
            times.setdefault(where, []).append(float(t))
        cpu = {k: {"median_s": statistics.median(v), "runs": len(v), "times": v} for k, v in times.items()}
    launcher = [json.loads(l) for l in open(f"{out}/launcher.jsonl")] if os.path.exists(f"{out}/launcher.jsonl") else []
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, kernel {platform.release()}",
            "versions": {"ch-run": version(["ch-run", "--version"]), "umoci": version(["umoci", "--version"])},
            "launch_latency": hyperfine(f"{out}/latency.json"), "launcher": launcher, "payload_cpu": cpu,
            "mpi_pingpong": load(f"{out}/mpi-pingpong.json"), "import_tar": hyperfine(f"{out}/import-tar.json"),
            "import_oci": hyperfine(f"{out}/import-oci.json"), "fan_out": hyperfine(f"{out}/launchers.json"),
            "fan_out_failures": load(f"{out}/launchers-failures.json", {}), "join": hyperfine(f"{out}/join.json"),
            "instructions": {i["name"]: i["instructions"] for i in load(f"{out}/instructions.json", [])},
            "shared_fs": load(f"{out}/shared-fs.json", {})}


def latency_section(w, lat):
    if not lat:
        return
    ms = lambda k: lat[k]["median_s"] * 1000
    w(f"### Launch latency, `IMG -- /bin/true` ({lat['ch-run busybox']['runs']} runs each, one hyperfine run, medians)\n")
    w("| command | median ms | ratio | target |")
    w("|---|---|---|---|")
    rows = [("unshare -Urm /bin/true", "ch-run busybox", "kernel floor", None),
            ("ch-run busybox", "ch-run busybox", "", None),
            ("hpai-run busybox", "ch-run busybox", "≤ 0.8× ch-run", 0.8),
            ("ch-run busybox.sqfs", "ch-run busybox", "", None),
            ("hpai-run busybox.sqfs", "ch-run busybox.sqfs", "≤ 0.8× ch-run's SquashFS", 0.8),
            ("ch-run debian-mpi", "ch-run debian-mpi", "", None),
            ("hpai-run debian-mpi", "ch-run debian-mpi", "", None),
            ("hpai-run debian-mpi + full profile", "ch-run debian-mpi", "≤ 1.0× plain ch-run", 1.0),
            ("hpai-run debian-mpi + full profile, 3,700-entry cache", "ch-run debian-mpi", "≤ 1.0× plain ch-run", 1.0)]
    for name, base, target, limit in rows:
        if name not in lat:
            continue
        r = ms(name) / ms(base)
        t = f"{target}: {verdict(r <= limit)}" if limit else target
        w(f"| {name} | {ms(name):.2f} | {r:.2f}× {base} | {t} |")
    small, big = "hpai-run debian-mpi + full profile", "hpai-run debian-mpi + full profile, 3,700-entry cache"
    if small in lat and big in lat:
        w(f"\nThe profile's cost with a host linker cache of ~3,700 entries instead of ~700: {ms(big) / ms(small):.2f}× "
          "(it must not grow with the cache: real nodes carry 1,000–3,000 entries).")
    w("\nThe full profile: the fake NVIDIA driver tree of the tests (libcuda stub, 6 libraries, nvidia-smi), "
      "the host's Open MPI 4.1 (3 libraries, strict ABI check), a bind, a device, environment changes; the "
      "3,700-entry variant adds 3,000 libraries to the driver's directory and its cache.\n")


def instructions_section(w, ins):
    if not ins:
        return
    w("### User-space instructions until the payload's exec (callgrind, one run each; stable where wall times swing)\n")
    w("| launch | hpai-run | ch-run | hpai / ch-run | target |")
    w("|---|---|---|---|---|")
    m = lambda v: f"{v / 1e6:.2f} M" if v else "—"
    for what, target in (("busybox", ""), ("busybox, joining rank", "≤ 0.5 M"), ("debian-mpi", ""),
                         ("debian-mpi + full profile", ""), ("debian-mpi + full profile, 3,700-entry cache", "")):
        h, c = ins.get(f"hpai-run {what}"), ins.get(f"ch-run {what}")
        ratio = f"{h / c:.2f}" if h and c else ""
        t = f"{target}: {verdict(h is not None and h <= 0.5e6)}" if target else ""
        w(f"| {what} | {m(h)} | {m(c)} | {ratio} | {t} |")
    w("")


def join_section(w, join):
    if not join:
        return
    w(f"### A joined node: the rank that builds the container and one that enters it ({join['hpai-run builder']['runs']} runs, medians)\n")
    w("| launcher | building rank ms | joining rank ms | joining / building | target |")
    w("|---|---|---|---|---|")
    for tool in ("hpai-run", "ch-run --join"):
        b, j = join[f"{tool} builder"]["median_s"] * 1000, join[f"{tool} joining rank"]["median_s"] * 1000
        t = f"≤ 0.6: {verdict(j / b <= 0.6)}" if tool == "hpai-run" else ""
        w(f"| {tool} | {b:.2f} | {j:.2f} | {j / b:.2f} | {t} |")
    w("")


def footprint_section(w, launcher):
    if not launcher:
        return
    w("### Launcher footprint (max RSS over the launch, median of 15; syscalls of one `strace -f` run)\n")
    w("| launch | max RSS MiB | syscalls | mount-family syscalls | mount() | execve | target |")
    w("|---|---|---|---|---|---|---|")
    for l in launcher:
        target = f"≤ 8 MiB: {verdict(l['max_rss_kib'] <= 8192)}" if l["name"].startswith("hpai") else ""
        w(f"| {l['name']} | {l['max_rss_kib'] / 1024:.1f} | {l['syscalls']} | {l['mount_syscalls']} | {l['mounts']} | "
          f"{l['execve']} | {target} |")
    w("")


def payload_section(w, cpu, mpi):
    if not cpu:
        return
    host = cpu["host"]["median_s"]
    w("### Payload overhead\n")
    w("| payload | where | median | host / it | target |")
    w("|---|---|---|---|---|")
    for k in ("host", "hpai-run", "ch-run"):
        r = host / cpu[k]["median_s"]
        t = f"≥ 0.99: {verdict(r >= 0.99)}" if k == "hpai-run" else ""
        w(f"| CPU-bound loop (tests/bench/cpu-burn.c, {cpu[k]['runs']} interleaved runs, its own timing) | {k} | "
          f"{cpu[k]['median_s']:.4f} s | {r:.3f} | {t} |")
    if mpi:
        r = mpi["container"]["bandwidth_mbs"] / mpi["host"]["bandwidth_mbs"]
        w(f"| MPI ping-pong bandwidth (2 ranks, 9 interleaved runs, median) | host | {mpi['host']['bandwidth_mbs']} MB/s | 1.000 | |")
        w(f"| MPI ping-pong bandwidth | hpai-run (joined) | {mpi['container']['bandwidth_mbs']} MB/s | {r:.3f} | "
          f"≥ 0.99: {verdict(r >= 0.99)} |")
        w(f"| MPI ping-pong latency | host / hpai-run | {mpi['host']['latency_us']} / {mpi['container']['latency_us']} µs | | |")
    w("")


def import_section(w, imp_tar, imp_oci):
    for title, res in (("Import: Debian rootfs.tar.gz (61 MB, 5,239 files)", imp_tar), ("Import: 2-layer OCI layout", imp_oci)):
        if not res:
            continue
        base = "hpai-image import"
        w(f"### {title} ({res[base]['runs']} runs, medians)\n")
        w("| command | median s | hpai-image / it |")
        w("|---|---|---|")
        for k, v in res.items():
            w(f"| {k} | {v['median_s']:.2f} | {res[base]['median_s'] / v['median_s']:.2f} |")
        w("")


def fan_out_section(w, fan, fails):
    if not fan:
        return
    w("### Per-node fan-out: N ranks started at once until all ran `/bin/true` (medians, ms; every rank's status checked)\n")
    w("| N | hpai-run join | hpai-run no-join | ch-run --join | ch-run | hpai join / ch-run --join |")
    w("|---|---|---|---|---|---|")

    def cell(key):
        f = fails.get(key, {})
        note = f" (**{f['failed_ranks']} of {f['ranks']} ranks failed**)" if f.get("failed_ranks") else ""
        return f"{fan[key]['median_s'] * 1000:.1f}{note}"

    for n in (1, 4, 16):
        keys = [f"{t} N={n} {m}" for t, m in (("hpai-run", "join"), ("hpai-run", "no-join"), ("ch-run", "join"), ("ch-run", "no-join"))]
        ratio = fan[keys[0]]["median_s"] / fan[keys[2]]["median_s"]
        w(f"| {n} | {' | '.join(cell(k) for k in keys)} | {ratio:.2f} |")
    w("\nA failed rank is fast: a ratio against a launcher whose ranks failed compares work with no work.\n")


def shared_fs_section(w, sfs):
    if not sfs:
        return
    w("### Requests reaching the shared file system per node (countfs, cold cache, images 4 directories deep; "
      "details and the model in [scale.md](scale.md))\n")
    w("| launch | 1 rank | 4 ranks | 16 ranks | per extra rank |")
    w("|---|---|---|---|---|")
    for name in scale.configs(sfs):
        c = [sfs.get(f"{name} N={n}", {}) for n in (1, 4, 16)]
        tot = [x.get("requests", {}).get("total", 0) for x in c]
        failed = sum(x.get("failed_ranks", 0) for x in c)
        note = f" ({failed} ranks failed)" if failed else ""
        w(f"| {name}{note} | {tot[0]} | {tot[1]} | {tot[2]} | {(tot[2] - tot[1]) / 12:.1f} |")
    w("")


def replace_section(path, report):
    text = open(path).read()
    if BEGIN not in text:
        sys.exit(f"summarize: {path} has no '{BEGIN}' marker")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    open(path, "w").write(head + BEGIN + "\n" + report + "\n" + END + tail)


def main():
    out = sys.argv[1]
    docs = sys.argv[2:4] if len(sys.argv) > 3 else None
    res = collect(out)
    md = []
    w = md.append
    w(f"Generated by `tests/bench/run build` on {res['date'][:10]} ({res['machine']}; "
      f"ch-run {res['versions']['ch-run']}, {res['versions']['umoci']}), as the unprivileged test user.")
    w("Raw numbers: `build/bench/results.json`.\n")
    latency_section(w, res["launch_latency"])
    instructions_section(w, res["instructions"])
    join_section(w, res["join"])
    footprint_section(w, res["launcher"])
    payload_section(w, res["payload_cpu"], res["mpi_pingpong"])
    import_section(w, res["import_tar"], res["import_oci"])
    fan_out_section(w, res["fan_out"], res["fan_out_failures"])
    shared_fs_section(w, res["shared_fs"])
    report = "\n".join(md)
    scale_report, res["scale"] = scale.report(res)
    json.dump(res, open(f"{out}/results.json", "w"), indent=1)
    print(report)
    print(scale_report)
    if docs:
        replace_section(docs[0], report)
        replace_section(docs[1], scale_report)


if __name__ == "__main__":
    main()
