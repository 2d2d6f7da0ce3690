"""Markdown tables, the JSON record and gnuplot CDF plots of one hana-bench run."""

import json
import os
import shutil
import subprocess

from .scenarios import SCENARIOS
from .targets import targets_markdown

# scenario -> (intro, [(column title, metric key, format)], ratio metric, ratio metric title, lower_is_better)
LAT_COLS = [("n", "n", "d"), ("lost", "lost", "d"), ("p50 µs", "p50_us", ".1f"), ("p90 µs", "p90_us", ".1f"),
            ("p99 µs", "p99_us", ".1f"), ("p99.9 µs", "p999_us", ".1f"), ("max µs", "max_us", ".1f")]
TABLES = {
    "rtt": ("64 B open-loop ping, reliable-ordered (udp-raw: unreliable), round trip per message.",
            LAT_COLS, "p50_us", "p50", True),
    "rtt-loss": ("64 B ping at 1000 msg/s between two network namespaces, nftables dropping N% of TCP+UDP "
                 "packets at both ingresses; a lost message never echoed counts in `lost`.",
                 LAT_COLS, "p99_us", "p99", True),
    "rtt-tcp-path": ("The TCP path (issue 17): 64 B ping at 1000 msg/s between two network namespaces whose "
                     "nftables drop all UDP; hana runs with its default flags and reaches the echo over TCP by "
                     "itself, next to a TCP_NODELAY ping-pong. Rounds alternate the order; compare within a round. "
                     "load = 1-minute load average when the row started.",
                     LAT_COLS + [("load", "load1", ".2f")], "p50_us", "p50", True),
    "priority": ("HIGH 64 B ping at 1000 msg/s while a BULK stream of 64 KiB messages saturates the same "
                 "peer (tcp: the same connection; enet: channel 1; udp-raw: the same socket). idle = the "
                 "same ping alone, measured just before.",
                 [("idle p99 µs", "idle_p99_us", ".1f"), ("p50 µs", "p50_us", ".1f"), ("p99 µs", "p99_us", ".1f"),
                  ("max µs", "max_us", ".1f"), ("p99 / idle", "p99_vs_idle", ".2f"), ("lost", "lost", "d"),
                  ("bulk MB/s", "bulk_mb_per_s", ".0f")],
                 "p99_us", "p99", True),
    "bulk": ("1 MiB messages one way, confirmed by the receiver; goodput counts confirmed bytes only. "
             "CPU = client + server user+sys time (getrusage).",
             [("MB/s", "mb_per_s", ".1f"), ("msgs", "msgs", "d"), ("lost", "lost", "d"), ("CPU s", "cpu_s", ".2f"),
              ("CPU s/GB", "cpu_s_per_gb", ".2f")],
             "mb_per_s", "MB/s", False),
    "bulk-netns": ("The bulk stream between two network namespaces joined by a veth pair (MTU 1500, no "
                   "loss): a LAN-sized path, where path-MTU discovery finds 1472-byte datagrams. Needs root.",
                   [("MB/s", "mb_per_s", ".1f"), ("msgs", "msgs", "d"), ("lost", "lost", "d"),
                    ("CPU s", "cpu_s", ".2f"), ("CPU s/GB", "cpu_s_per_gb", ".2f")],
                   "mb_per_s", "MB/s", False),
    "rate": ("64 B messages one way as fast as confirmations allow; only confirmed messages count. "
             "CPU = client + server.",
             [("msgs/s", "msgs_per_s", ".0f"), ("msgs", "msgs", "d"), ("lost", "lost", "d"),
              ("CPU µs/msg", "cpu_us_per_msg", ".3f")],
             "msgs_per_s", "msgs/s", False),
    "mesh-scale": ("N real `hana-net node` processes on loopback (issue 18; `tools/hana_bench/mesh_scale.py`, "
                   "in a private network namespace when root). Full view = every other node's peer-connected in "
                   "the node's --events log; idle traffic from the loopback counters (IP+UDP headers included) "
                   "over 10 s after the settle time; churn = membership events in that window (0 when settled); "
                   "dead agreed / failover = slowest node after a SIGKILL. hana only: no baseline row.",
                   [("full view p50 s", "full_view_s_p50", ".2f"), ("full view max s", "full_view_s_max", ".2f"),
                    ("datagrams/node/s", "idle_datagrams_per_node_per_s", ".1f"),
                    ("bytes/node/s", "idle_bytes_per_node_per_s", ".0f"), ("CPU %/node", "cpu_pct_per_node_mean", ".2f"),
                    ("RSS MiB max", "rss_mib_max", ".1f"), ("churn", "churn_events", "d"),
                    ("dead agreed ms", "dead_agreed_ms_max", ".0f"), ("failover ms", "failover_ms_max", ".0f")],
                   "idle_bytes_per_node_per_s", "bytes/node/s", True),
    "fanout": ("1 KiB message from one node to every peer (one process per peer, loopback); time from the "
               "first send until every peer confirmed it. `lost` = rounds not fully confirmed. A star for "
               "every impl: hana leaves run with `--knob max_peers=1` (without it they join a 100-node full "
               "mesh, which 2 vCPUs cannot carry).",
               [("rounds", "n", "d"), ("lost", "lost", "d"), ("p50 µs", "p50_us", ".1f"), ("p90 µs", "p90_us", ".1f"),
                ("p99 µs", "p99_us", ".1f"), ("max µs", "max_us", ".1f"), ("silent peers", "silent_peers", "d")],
               "p99_us", "p99", True),
}


def _fmt(v, f):
    if v is None:
        return "—"
    try:
        return format(int(v), ",") if f == "d" else format(float(v), f)
    except (TypeError, ValueError):
        return str(v)


def _ratio(row, base, key):
    if base is None or row.get("status") != "ok" or base.get("status") != "ok":
        return "—"
    a, b = row["metrics"].get(key), base["metrics"].get(key)
    if a is None or not b:
        return "—"
    r = a / b
    return ("%.2f×" % r) if r >= 0.1 else ("%.2g×" % r)


def scenario_markdown(scen, rows, plots):
    intro, cols, rkey, rtitle, lower = TABLES[scen]
    out = ["## %s" % scen, "", intro, ""]
    conds = []
    for r in rows:
        if r["condition"] not in conds:
            conds.append(r["condition"])
    for cond in conds:
        crow = [r for r in rows if r["condition"] == cond]
        base = {r["impl"]: r for r in crow}
        out.append("### %s — %s" % (scen, cond))
        out.append("")
        head = ["impl"] + [c[0] for c in cols] + ["%s vs tcp" % rtitle, "%s vs udp-raw" % rtitle, "note"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|")
        for r in crow:
            m = r.get("metrics") or {}
            if r["status"] == "ok":
                cells = [_fmt(m.get(k), f) for _, k, f in cols]
                note = "via `%s`" % r["program"] if r["impl"].startswith("hana") and r.get("program") else ""
            else:
                cells = ["—"] * len(cols)
                note = "%s: %s" % (r["status"], r.get("reason", ""))
            cells += [_ratio(r, base.get("tcp"), rkey), _ratio(r, base.get("udp-raw"), rkey), note.replace("|", "/")]
            out.append("| " + " | ".join([r["impl"]] + cells) + " |")
        out.append("")
        out.append("Ratios are this row's %s ÷ the baseline's (%s is better)." %
                   (rtitle, "lower" if lower else "higher"))
        out.append("")
        if (scen, cond) in plots:
            out.append("![%s %s CDF](%s)" % (scen, cond, plots[(scen, cond)]))
            out.append("")
    return out


def _cdf_points(row):
    """(latency µs, fraction of sent) points; all samples when we have them, else the percentiles."""
    m = row["metrics"]
    n = max(1, int(m.get("n") or 1))
    path = m.get("samples")
    if path and os.path.exists(path):
        with open(path) as f:
            vals = sorted(float(x) for x in f if x.strip())
        if vals:
            step = max(1, len(vals) // 1500)
            idx = list(range(0, len(vals), step))
            idx += [i for i in range(max(0, len(vals) - 200), len(vals)) if i not in set(idx)]
            return [(vals[i], (i + 1) / n) for i in sorted(set(idx))], True
    pts = [(m.get("p50_us"), 0.5), (m.get("p90_us"), 0.9), (m.get("p99_us"), 0.99), (m.get("p999_us"), 0.999)]
    received = (n - int(m.get("lost") or 0)) / n
    pts = [(v, q * received) for v, q in pts if v]
    if m.get("max_us"):
        pts.append((m["max_us"], received))
    return pts, False


def make_plots(rows, out_dir):
    """One CDF PNG per rtt / rtt-loss condition; returns {(scenario, condition): file name}."""
    if shutil.which("gnuplot") is None:
        return {}
    plots = {}
    for scen in ("rtt", "rtt-loss", "rtt-tcp-path"):
        conds = []
        for r in rows:
            if r["scenario"] == scen and r["status"] == "ok" and r["condition"] not in conds:
                conds.append(r["condition"])
        for cond in conds:
            slug = "cdf-%s-%s" % (scen, "".join(c for c in cond if c.isalnum()))
            series = []
            for r in rows:
                if r["scenario"] != scen or r["condition"] != cond or r["status"] != "ok":
                    continue
                pts, full = _cdf_points(r)
                if not pts:
                    continue
                dat = os.path.join(out_dir, "%s-%s.dat" % (slug, r["impl"]))
                with open(dat, "w") as f:
                    f.writelines("%.3f %.6f\n" % p for p in pts)
                style = "with lines lw 2" if full else "with linespoints lw 2 dt 2"
                title = r["impl"] + ("" if full else " (percentiles only)")
                series.append("'%s' using 1:2 %s title '%s'" % (os.path.basename(dat), style, title))
            if not series:
                continue
            # Left: the CDF. Right: the same data as 1 - CDF on a log scale, where the tail
            # (p99, p99.9, lost messages as a floor that never reaches zero) is visible.
            tail = [x.replace("using 1:2", "using 1:(1-$2)") for x in series]
            script = "\n".join([
                "set terminal pngcairo size 1300,520 font 'sans,10'",
                "set output '%s.png'" % slug,
                "set multiplot layout 1,2 title 'hana-bench %s, %s: round trip'" % (scen, cond),
                "set logscale x", "set grid", "set key bottom right",
                "set xlabel 'round trip (microseconds, log scale)'",
                "set ylabel 'fraction of messages sent'", "set yrange [0:1.02]",
                "set title 'CDF'",
                "plot " + ", \\\n  ".join(series),
                "set logscale y", "set yrange [1e-4:1]", "set key top right",
                "set ylabel 'fraction slower (1 - CDF, log scale)'", "set title 'tail'",
                "plot " + ", \\\n  ".join(tail),
                "unset multiplot", ""])
            with open(os.path.join(out_dir, slug + ".gp"), "w") as f:
                f.write(script)
            cp = subprocess.run(["gnuplot", slug + ".gp"], cwd=out_dir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=60)
            if cp.returncode == 0:
                plots[(scen, cond)] = slug + ".png"
    return plots


def skipped_markdown(rows):
    bad = [r for r in rows if r["status"] != "ok"]
    if not bad:
        return ["## Skipped and failed rows", "", "None: every row was measured.", ""]
    out = ["## Skipped and failed rows", ""]
    for r in bad:
        out.append("- **%s** %s / %s / %s: %s" % (r["status"], r["scenario"], r["condition"], r["impl"],
                                                 r.get("reason", "")))
    out.append("")
    return out


def write_all(rows, meta, out_dir):
    plots = make_plots(rows, out_dir)
    md = ["# hana-bench results", "",
          "- date: %s" % meta["date"], "- machine: %s" % meta["machine"],
          "- command: `%s`" % meta["command"], "- profile: %s" % meta["profile"],
          "- placement: %s" % meta["placement"], ""]
    for scen in SCENARIOS:
        srows = [r for r in rows if r["scenario"] == scen]
        if srows:
            md += scenario_markdown(scen, srows, plots)
    md += targets_markdown(rows)
    md += skipped_markdown(rows)
    text = "\n".join(md)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1, sort_keys=True)
    return text


BEGIN_MARK = "<!-- hana-bench results: begin (written by tools/hana-bench --publish) -->"
END_MARK = "<!-- hana-bench results: end -->"


def publish(out_dir, repo):
    """Copies this run's tables and plots into BENCHMARKS.md (between the markers; the
    hand-written reading around them is kept) and docs/bench/."""
    dest = os.path.join(repo, "docs", "bench")
    os.makedirs(dest, exist_ok=True)
    for old in os.listdir(dest):
        if old.startswith("cdf-") and old.endswith(".png"):
            os.remove(os.path.join(dest, old))
    with open(os.path.join(out_dir, "results.md")) as f:
        text = f.read()
    for name in sorted(os.listdir(out_dir)):
        if name.startswith("cdf-") and name.endswith(".png"):
            shutil.copy(os.path.join(out_dir, name), os.path.join(dest, name))
            text = text.replace("](%s)" % name, "](docs/bench/%s)" % name)
    shutil.copy(os.path.join(out_dir, "results.json"), os.path.join(dest, "results.json"))
    lines = text.split("\n")
    lines = ["## Latest results" if i == 0 else ("#" + ln if ln.startswith("#") else ln) for i, ln in enumerate(lines)]
    text = "\n".join(lines)
    path = os.path.join(repo, "BENCHMARKS.md")
    doc = open(path).read() if os.path.exists(path) else "# hana-net benchmarks\n\n%s\n%s\n" % (BEGIN_MARK, END_MARK)
    if BEGIN_MARK not in doc or END_MARK not in doc:
        doc += "\n%s\n%s\n" % (BEGIN_MARK, END_MARK)
    head, rest = doc.split(BEGIN_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN_MARK + "\n" + text.strip() + "\n" + END_MARK + tail)
    return path
