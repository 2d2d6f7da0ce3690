"""The project's targets checked against one run's rows: met or missed, and by how much.
The `hana` row (the default configuration) is the headline; the opt-in modes are checked
too. Only for the closing note: nothing here fails a run."""

import statistics

HANA = ["hana", "hana-uring", "hana-epoll", "hana-inline", "hana-busypoll"]


def _metric(rows, scen, cond, impl, key):
    for r in rows:
        if r["scenario"] == scen and r["impl"] == impl and (cond is None or r["condition"] == cond) \
                and r["status"] == "ok":
            return r["metrics"].get(key)
    return None


def _all_lost(rows, scen, impl, cond):
    return any(r["scenario"] == scen and r["impl"] == impl and r["condition"] == cond and r["status"] == "ok" and
               r["metrics"].get("n") and r["metrics"].get("lost") == r["metrics"].get("n") for r in rows)


def _conds(rows, scen):
    out = []
    for r in rows:
        if r["scenario"] == scen and r["condition"] not in out:
            out.append(r["condition"])
    return out


def _check(value, limit, lower_is_better=True):
    """('met'|'missed', how far off as text) for value against limit."""
    if value is None or limit is None:
        return None
    ok = value <= limit if lower_is_better else value >= limit
    ratio = value / limit if limit else float("inf")
    if ok:
        return "met", "%.2f× the limit" % ratio
    return "**missed**", ("%.2f× over the limit" % ratio) if lower_is_better else ("%.2f× of the goal" % ratio)


def target_rows(rows):
    """[(target, implementation, measured, limit, verdict, by how much)]"""
    out = []

    def add(target, impl, value, limit, unit, lower=True, scen=None, cond=None):
        if value is None and limit is not None and scen and _all_lost(rows, scen, impl, cond):
            out.append((target, impl, "nothing completed", "%.1f %s" % (limit, unit), "**missed**",
                        "every message/round was lost"))
            return
        v = _check(value, limit, lower)
        if v is None:
            return
        out.append((target, impl, "%.1f %s" % (value, unit), "%.1f %s" % (limit, unit), v[0], v[1]))

    for cond in _conds(rows, "rtt"):
        udp = _metric(rows, "rtt", cond, "udp-raw", "p50_us")
        tcp = _metric(rows, "rtt", cond, "tcp", "p50_us")
        for h in HANA:
            p50 = _metric(rows, "rtt", cond, h, "p50_us")
            if udp:
                add("rtt %s: p50 ≤ 1.15× udp-raw" % cond, h, p50, 1.15 * udp, "µs")
            add("rtt %s: p50 ≤ tcp" % cond, h, p50, tcp, "µs")
    for h in HANA:
        add("rtt-loss 2%: p99 ≤ 1 ms", h, _metric(rows, "rtt-loss", "2% loss", h, "p99_us"), 1000, "µs")
    # hana-shield (high_redundancy=1): loss must not show in HIGH's tail. Against the clean
    # path of the same run (the 0% condition in the same lab) and an absolute 300 µs.
    clean = _metric(rows, "rtt-loss", "0% loss", "hana-shield", "p99_us")
    for pct in (2, 5):
        lossy = _metric(rows, "rtt-loss", "%d%% loss" % pct, "hana-shield", "p99_us")
        add("rtt-loss %d%%: shield p99 ≤ 2× its clean p99" % pct, "hana-shield", lossy, 2 * clean if clean else None,
            "µs")
        add("rtt-loss %d%%: shield p99 ≤ 300 µs" % pct, "hana-shield", lossy, 300, "µs")
    # The TCP path (issue 17): p50 within 1.5x a TCP_NODELAY ping-pong of the same round.
    ratios = {h: [] for h in HANA}
    for cond in _conds(rows, "rtt-tcp-path"):
        tcp = _metric(rows, "rtt-tcp-path", cond, "tcp", "p50_us")
        for h in HANA:
            p50 = _metric(rows, "rtt-tcp-path", cond, h, "p50_us")
            add("rtt-tcp-path %s: p50 ≤ 1.5× tcp" % cond, h, p50, 1.5 * tcp if tcp else None, "µs")
            if p50 is not None and tcp:
                ratios[h].append(p50 / tcp)
    for h, rs in ratios.items():
        if len(rs) > 1:
            median = statistics.median(rs)
            add("rtt-tcp-path: median over %d rounds of p50 ÷ tcp p50 ≤ 1.5" % len(rs), h, median, 1.5, "×")
    tcp_loss = _metric(rows, "rtt-loss", "2% loss", "tcp", "p99_us")
    if tcp_loss is not None:
        out.append(("rtt-loss 2%: tcp p99 ~100 ms+ (context)", "tcp", "%.1f µs" % tcp_loss, "≥ 100000 µs",
                    "as expected" if tcp_loss >= 100000 else "not seen in this run", ""))
    for h in HANA:
        idle = _metric(rows, "priority", None, h, "idle_p99_us")
        add("priority: HIGH p99 under bulk ≤ 2× idle p99", h, _metric(rows, "priority", None, h, "p99_us"),
            2 * idle if idle else None, "µs")
    for scen in ("bulk", "bulk-netns"):
        tcp_bulk = _metric(rows, scen, None, "tcp", "mb_per_s")
        for h in HANA:
            add("%s: goodput ≥ 0.8× tcp" % scen, h, _metric(rows, scen, None, h, "mb_per_s"),
                0.8 * tcp_bulk if tcp_bulk else None, "MB/s", lower=False)
    udp_fan = {c: _metric(rows, "fanout", c, "udp-raw", "p99_us") for c in _conds(rows, "fanout")}
    for cond, udp in udp_fan.items():
        for h in HANA:
            add("fanout %s: p99 ≤ 1.3× udp-raw" % cond, h, _metric(rows, "fanout", cond, h, "p99_us"),
                1.3 * udp if udp else None, "µs")
    # "every row ahead of ENet": the headline metric of each table
    heads = [("rtt", "p50_us", True, "µs"), ("rtt-loss", "p99_us", True, "µs"), ("priority", "p99_us", True, "µs"),
             ("bulk", "mb_per_s", False, "MB/s"), ("rate", "msgs_per_s", False, "msg/s"),
             ("fanout", "p99_us", True, "µs")]
    for scen, key, lower, unit in heads:
        for cond in _conds(rows, scen):
            enet = _metric(rows, scen, cond, "enet", key)
            for h in HANA:
                add("%s %s: ahead of enet (%s)" % (scen, cond, key.replace("_us", "").replace("_", " ")), h,
                    _metric(rows, scen, cond, h, key), enet, unit, lower, scen, cond)
    return out


def targets_markdown(rows):
    t = target_rows(rows)
    md = ["## Targets", ""]
    if not t:
        return md + ["No hana row was measured in this run, so no target can be checked.", ""]
    md += ["| target | impl | measured | limit | verdict | by how much |", "|---|---|---:|---:|---|---|"]
    md += ["| %s |" % " | ".join(row) for row in t]
    met = sum(1 for row in t if row[4] == "met")
    missed = sum(1 for row in t if row[4] == "**missed**")
    md += ["", "%d met, %d missed." % (met, missed), ""]
    return md
