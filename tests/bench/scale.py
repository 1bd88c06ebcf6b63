"""docs/scale.md's generated section: what a launch asks of the shared file system
(countfs counts, tests/bench/shared-fs.sh), and the start-up it projects for a job of
N nodes with the model

    T(N) = T_node + m_rank * L + N * m_node / X

T_node: a node's own start-up (16 ranks at once, local disk: the fan-out benchmark);
m_rank: the metadata requests one rank waits for in turn (a single rank's launch);
L: the latency of one metadata request; m_node: the metadata requests of a whole node
(16 ranks); X: the rate the metadata servers answer at. Data reads (countfs "read")
go to the object servers and are left out of m; they are reported beside.
"""

# Cited constants (docs/scale.md says where from).
L_LUSTRE_S = 0.5e-3      # one client thread: ~2,000 file stats/s on Lustre 2.5 (Dell/Intel EE for Lustre white paper)
X_PEAK = 400_000         # file stats/s of one MDS with 240 client threads (same paper)
X_BUSY = 50_000          # an MDS shared with the site's other jobs: an eighth of that peak (an assumption)
NODES = (768, 4096)
RANKS = 16

ORDER = ["hpai-run SquashFS, join", "hpai-run SquashFS, no join", "hpai-run directory, join",
         "hpai-run directory, no join", "hpai-run directory, join, full profile", "ch-run SquashFS, join",
         "ch-run SquashFS", "ch-run directory, join", "ch-run directory"]


def configs(sfs):
    names = {v["name"] for v in sfs.values()}
    return [n for n in ORDER if n in names] + sorted(names - set(ORDER))


def metadata(req):
    return req.get("total", 0) - req.get("read", 0)


def node_time_s(name, res):
    """T_node: the fan-out benchmark's 16 ranks for the matching launcher and join mode;
    a SquashFS image adds the difference of the single launches (its FUSE server)."""
    fan, lat = res.get("fan_out", {}), res.get("launch_latency", {})
    tool = "hpai-run" if name.startswith("hpai-run") else "ch-run"
    mode = "no-join" if ("no join" in name or name in ("ch-run SquashFS", "ch-run directory")) else "join"
    key = f"{tool} N={RANKS} {mode}"
    if key not in fan:
        return None, ""
    t = fan[key]["median_s"]
    failed = res.get("fan_out_failures", {}).get(key, {}).get("failed_ranks", 0)
    if "SquashFS" in name:
        sq, d = lat.get(f"{tool} busybox.sqfs"), lat.get(f"{tool} busybox")
        if sq and d:
            t += sq["median_s"] - d["median_s"]
    return t, (f"{failed} failed ranks in the fan-out" if failed else "")


def report(res):
    sfs = res.get("shared_fs", {})
    md, proj = [], {}
    w = md.append
    if not sfs:
        return "No shared-FS measurements (tests/bench/shared-fs.sh).", proj
    w("### Measured: requests reaching the shared file system (countfs, cold client cache)\n")
    w("Metadata requests (lookups and getattr, open, release, readlink, readdir, statfs, access) and data reads, "
      "from one cold run each under the host's `mpiexec`.\n")
    w("| launch | 1 rank: metadata / reads | 16 ranks (a node): metadata / reads | metadata per extra rank | failed ranks |")
    w("|---|---|---|---|---|")
    for name in configs(sfs):
        one, four, node = (sfs.get(f"{name} N={n}", {}) for n in (1, 4, RANKS))
        r1, r4, r16 = (x.get("requests", {}) for x in (one, four, node))
        failed = sum(x.get("failed_ranks", 0) for x in (one, four, node))
        w(f"| {name} | {metadata(r1)} / {r1.get('read', 0)} | {metadata(r16)} / {r16.get('read', 0)} | "
          f"{(metadata(r16) - metadata(r4)) / (RANKS - 4):.1f} | {failed or ''} |")
    w("")
    w(f"### Projected start-up of {NODES[0]:,} and {NODES[1]:,} nodes × {RANKS} ranks\n")
    w(f"T(N) = T_node + m_rank·L + N·m_node/X, with L = {L_LUSTRE_S * 1e3:.1f} ms, X = {X_PEAK:,}/s (one MDS at "
      f"its peak) or {X_BUSY:,}/s (busy). Seconds.\n")
    w(f"| launch | T_node ms | m_rank | m_node | {NODES[0]} nodes, X peak | {NODES[1]} nodes, X peak | "
      f"{NODES[0]} nodes, X busy | {NODES[1]} nodes, X busy |")
    w("|---|---|---|---|---|---|---|---|")
    for name in configs(sfs):
        one, node = sfs.get(f"{name} N=1", {}), sfs.get(f"{name} N={RANKS}", {})
        m_rank, m_node = metadata(one.get("requests", {})), metadata(node.get("requests", {}))
        t_node, note = node_time_s(name, res)
        if t_node is None:
            continue
        cells, p = [], {}
        for x in (X_PEAK, X_BUSY):
            for n in NODES:
                t = t_node + m_rank * L_LUSTRE_S + n * m_node / x
                p[f"{n} nodes, X={x}"] = t
                cells.append(f"{t:.2f}")
        # Reorder: peak 768, peak 4096, busy 768, busy 4096 (the loop's order).
        proj[name] = {"t_node_s": t_node, "m_rank": m_rank, "m_node": m_node, "seconds": p}
        w(f"| {name}{' (' + note + ')' if note else ''} | {t_node * 1e3:.1f} | {m_rank} | {m_node} | {' | '.join(cells)} |")
    w("")
    if "hpai-run SquashFS, join" in proj and "ch-run directory, join" in proj:
        a = proj["hpai-run SquashFS, join"]["seconds"][f"{NODES[1]} nodes, X={X_BUSY}"]
        b = proj["ch-run directory, join"]["seconds"][f"{NODES[1]} nodes, X={X_BUSY}"]
        w(f"At {NODES[1]:,} nodes on a busy MDS: hpai-run with SquashFS and join {a:.2f} s, ch-run --join on a "
          f"directory image {b:.2f} s ({b / a:.0f}×). These are the launch's own requests (`/bin/true` in busybox); "
          "a payload's own file accesses (Python imports: thousands) add to m_node the same way, and on SquashFS they "
          "stay on the node.")
    return "\n".join(md), proj
