"""The scenarios of issue 5. Each runs every implementation in the same run and
returns rows: {scenario, condition, impl, status: ok|skipped|failed, reason, metrics}.
Nothing here asserts performance; a row that cannot be measured says why."""

import itertools
import json
import os
import socket
import subprocess
import sys
import time

from . import impls as impls_mod
from . import runner
from .runner import RunError

PROFILES = {
    # seconds of sending per run (counts follow from the rate), bulk/rate durations, fan-out rounds
    # loss_bursts: (average loss %, datagrams per burst) conditions of rtt-loss (lab.set_loss)
    "full": dict(rtt_s=5, loss_s=4, loss_levels=[0, 1, 2, 5], loss_bursts=[(2, 3)], prio_s=4, bulk_s=10, rate_s=5,
                 fan_rounds=1000, fan_rate=200, fan_peers=[15, 99], linger_ms=3000, mesh_nodes=100, mesh_settle_s=40,
                 tcp_path_s=5, tcp_path_rounds=3),
    "quick": dict(rtt_s=1, loss_s=1.5, loss_levels=[0, 1, 2, 5], loss_bursts=[(2, 3)], prio_s=1, bulk_s=1.5, rate_s=1,
                  fan_rounds=150, fan_rate=200, fan_peers=[15], linger_ms=3000, mesh_nodes=32, mesh_settle_s=20,
                  tcp_path_s=2, tcp_path_rounds=3),
    "smoke": dict(rtt_s=0.2, loss_s=0.2, loss_levels=[2], loss_bursts=[], prio_s=0.2, bulk_s=0.3, rate_s=0.3,
                  fan_rounds=20, fan_rate=200, fan_peers=[15], linger_ms=3000, mesh_nodes=32, mesh_settle_s=5,
                  tcp_path_s=0.2, tcp_path_rounds=1),
}
RTT_RATES = [1000, 10000]
PING_BYTES = 64
PRIO_RATE = 1000
PRIO_BULK_BYTES = 64 * 1024   # "large messages" saturating the path under the HIGH ping
BULK_BYTES = 1 << 20
RATE_BYTES = 64
FAN_BYTES = 1024
SCENARIOS = ["rtt", "rtt-loss", "rtt-tcp-path", "priority", "bulk", "bulk-netns", "rate", "fanout", "mesh-scale"]


class Context:
    def __init__(self, impls, profile_name, out_dir, lab=None, lab_reason=None):
        self.impls = impls
        self.p = PROFILES[profile_name]
        self.profile_name = profile_name
        self.out_dir = out_dir
        self.log_dir = os.path.join(out_dir, "logs")
        self.samples_dir = os.path.join(out_dir, "samples")
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.samples_dir, exist_ok=True)
        self.lab = lab
        self.lab_reason = lab_reason
        self._lab_ports = itertools.count(20000)
        self._run_ids = itertools.count(1)

    def endpoint(self, in_lab):
        """(server address, server netns, client netns) for one run."""
        if in_lab:
            return "%s:%d" % (self.lab.server_ip, next(self._lab_ports)), self.lab.ns_server, self.lab.ns_client
        return "127.0.0.1:%d" % free_port(), None, None

    def log_prefix(self, scen, cond, impl):
        slug = "".join(c if c.isalnum() else "-" for c in "%s-%s-%s" % (scen, cond, impl))
        return os.path.join(self.log_dir, "%03d-%s" % (next(self._run_ids), slug))


def free_port():
    """A port free for both TCP and UDP on loopback right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RunError("no free port")


def _num(v):
    return "—" if v is None else "%.1f" % v


def _impls(ctx, scen):
    """The rows a scenario measures: every requested one, except those (hana-shield)
    that answer a question only some scenarios ask."""
    return [im for im in ctx.impls if scen in impls_mod.ONLY_IN.get(im.name, (scen,))]


def _say(row):
    m = row.get("metrics") or {}
    if row["status"] != "ok":
        detail = "%s: %s" % (row["status"].upper(), row.get("reason", ""))
    elif "p50_us" in m:
        detail = "p50 %s µs  p99 %s µs  lost %s" % (_num(m["p50_us"]), _num(m["p99_us"]), m.get("lost"))
    elif "mb_per_s" in m:
        detail = "%.1f MB/s  %.0f msg/s" % (m["mb_per_s"], m["msgs_per_s"])
    else:
        detail = ""
    print("[hana-bench] %-8s %-14s %-13s %s" % (row["scenario"], row["condition"], row["impl"], detail),
          file=sys.stderr, flush=True)


def _row(scen, cond, choice, feature, measure):
    """Measures one row with the first program able to (measure(variant) -> metrics)."""
    row = {"scenario": scen, "condition": cond, "impl": choice.name}
    impl, why = choice.resolve(feature)
    if impl is None:
        row.update(status="skipped", reason=why)
    else:
        row["program"] = " ".join([os.path.basename(impl.binary)] + [str(a) for a in impl.args])
        try:
            row.update(status="ok", metrics=measure(impl))
        except RunError as e:
            row.update(status="failed", reason=str(e))
    _say(row)
    return row


def _no_fake_zeros(res):
    """A run where nothing came back has no latency: its percentiles become None (shown as —)."""
    if res.get("n") and res.get("lost") == res.get("n"):
        for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us"):
            res[k] = None
    return res


# Scenarios whose pair keeps its CPU saturated run at normal priority even as root: under
# SCHED_FIFO a saturated CPU hits the kernel's RT throttling (sched_rt_runtime_us, 950 ms
# of every 1 s period), which freezes the whole pair for 50 ms each second. The priority
# scenario then measured the throttle: after each freeze the open-loop pinger sent the
# 50 pings it owed in one burst, 5 % of the samples, i.e. the whole p99 (hana 2.1 ms at a
# 104 us idle p99). Which implementation gets throttled depends on how much of its work
# the kernel books as the task's (TCP's loopback work escaped it), not on the transport.
SATURATING = {"priority", "bulk", "bulk-netns", "rate"}


def _pair(ctx, impl, scen, cond, in_lab, client_cmd_of, timeout_s):
    """Starts impl's server, runs one client against it, stops the server.
    Adds cpu_s: client + server CPU time from getrusage(RUSAGE_CHILDREN)."""
    addr, ns_srv, ns_cli = ctx.endpoint(in_lab)
    prefix = ctx.log_prefix(scen, cond, impl.name)
    cpu0 = runner.children_cpu_s()
    rt = impl.rt and scen not in SATURATING
    srv = runner.Server(runner.wrap(impl.server_cmd(addr), ns_srv, impl.server_cpu, rt), prefix)
    try:
        res = runner.run_client(runner.wrap(client_cmd_of(addr), ns_cli, impl.client_cpu, rt), timeout_s, prefix)
    finally:
        srv.stop()
    res["cpu_s"] = runner.children_cpu_s() - cpu0
    return _no_fake_zeros(res)


def _ping(ctx, impl, scen, cond, rate, secs, in_lab=False, bulk_size=0, samples=True):
    count = max(20, int(rate * secs))
    sample_path = os.path.join(ctx.samples_dir, "%s-%s-%s.txt" % (scen, cond.replace(" ", ""), impl.name)) \
        if samples else None
    linger = ctx.p["linger_ms"]

    def cmd(addr):
        return impl.ping_cmd(addr, count, rate, PING_BYTES, samples=sample_path, bulk_size=bulk_size,
                             linger_ms=linger)

    res = _pair(ctx, impl, scen, cond, in_lab, cmd, count / rate + linger / 1000 + 30)
    if sample_path and os.path.exists(sample_path):
        res["samples"] = sample_path
    return res


def run_rtt(ctx):
    rows = []
    for rate in RTT_RATES:
        cond = "%d msg/s" % rate
        for impl in _impls(ctx, "rtt"):
            rows.append(_row("rtt", cond, impl, "ping",
                             lambda im: _ping(ctx, im, "rtt", cond, rate, ctx.p["rtt_s"])))
    return rows


def _lab_row(ctx, scen, cond, impl, mode, measure):
    """A row measured in the loss lab's namespaces, or skipped with the reason it is missing."""
    if ctx.lab is None:
        row = {"scenario": scen, "condition": cond, "impl": impl.name, "status": "skipped",
               "reason": "loss lab unavailable: " + ctx.lab_reason}
        _say(row)
        return row
    return _row(scen, cond, impl, mode, measure)


def run_rtt_loss(ctx):
    rows = []
    conditions = [(pct, 0) for pct in ctx.p["loss_levels"]] + list(ctx.p["loss_bursts"])
    for pct, burst in conditions:
        cond = "%d%% loss" % pct if burst == 0 else "%d%% loss, bursts of %d" % (pct, burst)
        if ctx.lab is not None:
            ctx.lab.set_loss(pct, burst)
        for impl in _impls(ctx, "rtt-loss"):
            rows.append(_lab_row(ctx, "rtt-loss", cond, impl, "ping",
                                 lambda im: _ping(ctx, im, "rtt-loss", cond, 1000, ctx.p["loss_s"], in_lab=True)))
    if ctx.lab is not None:
        ctx.lab.set_loss(0)
    return rows


def _tcp_path_row(ctx, cond, impl):
    """One rtt-tcp-path row: UDP cannot pass, so only tcp and the hana rows (which must
    find the TCP path themselves, with their default flags) can be measured."""
    if impl.name != "tcp" and not impl.name.startswith("hana"):
        row = {"scenario": "rtt-tcp-path", "condition": cond, "impl": impl.name, "status": "skipped",
               "reason": "UDP is blocked in this scenario"}
        _say(row)
        return row

    def measure(im):
        load1 = os.getloadavg()[0]
        res = _ping(ctx, im, "rtt-tcp-path", cond, 1000, ctx.p["tcp_path_s"], in_lab=True)
        # A hana row that came over UDP would measure the wrong path (the block did not hold).
        if im.is_hana and res.get("transport", "tcp") != "tcp":
            raise RunError("the echoes came over %s, not the TCP path" % res.get("transport"))
        res["load1"] = load1
        return res
    return _lab_row(ctx, "rtt-tcp-path", cond, impl, "ping", measure)


def run_rtt_tcp_path(ctx):
    """Issue 17's latency target: hana over the TCP path (UDP dropped by nftables at both
    ends of the loss lab; hana falls back by itself) against a TCP_NODELAY ping-pong. The
    rows alternate in order from round to round, so a load change on the shared machine
    meets both; each round is a condition of its own, so every ratio is within one round."""
    rows = []
    if ctx.lab is not None:
        ctx.lab.block_udp()
    impls = _impls(ctx, "rtt-tcp-path")
    try:
        for k in range(ctx.p["tcp_path_rounds"]):
            cond = "round %d" % (k + 1)
            for impl in (impls if k % 2 == 0 else list(reversed(impls))):
                rows.append(_tcp_path_row(ctx, cond, impl))
    finally:
        if ctx.lab is not None:
            ctx.lab.set_loss(0)
    return rows


def run_priority(ctx):
    rows = []
    cond = "%d msg/s + bulk" % PRIO_RATE

    def measure(impl):
        idle = _ping(ctx, impl, "priority", "idle", PRIO_RATE, ctx.p["prio_s"], samples=False)
        loaded = _ping(ctx, impl, "priority", "loaded", PRIO_RATE, ctx.p["prio_s"], bulk_size=PRIO_BULK_BYTES,
                       samples=False)
        m = {"idle_p50_us": idle["p50_us"], "idle_p99_us": idle["p99_us"]}
        m.update({k: loaded.get(k) for k in ("n", "lost", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
                                              "bulk_mb_per_s", "backend")})
        m["p99_vs_idle"] = loaded["p99_us"] / idle["p99_us"] if idle["p99_us"] else None
        return m

    for impl in _impls(ctx, "priority"):
        rows.append(_row("priority", cond, impl, "priority", measure))
    return rows


def _stream(ctx, impl, scen, size, secs, in_lab=False):
    def cmd(addr):
        return impl.stream_cmd(addr, size, secs)

    res = _pair(ctx, impl, scen, "%d B" % size, in_lab, cmd, secs + 30)
    gb = res.get("bytes", 0) / 1e9
    res["cpu_s_per_gb"] = res["cpu_s"] / gb if gb > 0 else None
    res["cpu_us_per_msg"] = res["cpu_s"] * 1e6 / res["msgs"] if res.get("msgs") else None
    return res


def run_bulk(ctx):
    cond = "1 MiB msgs, %gs" % ctx.p["bulk_s"]
    return [_row("bulk", cond, impl, "stream", lambda im: _stream(ctx, im, "bulk", BULK_BYTES, ctx.p["bulk_s"]))
            for impl in _impls(ctx, "bulk")]


def run_bulk_netns(ctx):
    """The bulk stream between the loss lab's two network namespaces (a veth pair, MTU 1500,
    no loss): what a LAN path allows, where loopback's 64 KiB datagrams do not exist."""
    cond = "1 MiB msgs, %gs, veth MTU 1500" % ctx.p["bulk_s"]
    rows = []
    if ctx.lab is not None:
        ctx.lab.set_loss(0)
    for impl in _impls(ctx, "bulk-netns"):
        rows.append(_lab_row(ctx, "bulk-netns", cond, impl, "stream",
                             lambda im: _stream(ctx, im, "bulk-netns", BULK_BYTES, ctx.p["bulk_s"], in_lab=True)))
    return rows


def run_rate(ctx):
    cond = "64 B msgs, %gs" % ctx.p["rate_s"]
    return [_row("rate", cond, impl, "stream", lambda im: _stream(ctx, im, "rate", RATE_BYTES, ctx.p["rate_s"]))
            for impl in _impls(ctx, "rate")]


def _fanout(ctx, impl, cond, peers):
    rounds, rate = ctx.p["fan_rounds"], ctx.p["fan_rate"]
    if peers > 50:
        rounds, rate = max(10, rounds // 2), rate / 2
    servers = []
    cpu0 = runner.children_cpu_s()
    try:
        addrs = []
        for i in range(peers):
            addr, _, _ = ctx.endpoint(False)
            prefix = ctx.log_prefix("fanout", cond, "%s-srv%d" % (impl.name, i))
            servers.append(runner.Server(runner.wrap(impl.star_server_cmd(addr), None, impl.server_cpu, impl.rt), prefix))
            addrs.append(addr)
        sample_path = os.path.join(ctx.samples_dir, "fanout-%d-%s.txt" % (peers, impl.name))
        res = runner.run_client(runner.wrap(impl.fanout_cmd(addrs, rounds, rate, FAN_BYTES, sample_path), None,
                                            impl.client_cpu, impl.rt),
                                rounds / rate + ctx.p["linger_ms"] / 1000 + 60,
                                ctx.log_prefix("fanout", cond, impl.name))
    finally:
        for s in servers:
            s.stop()
    res["cpu_s"] = runner.children_cpu_s() - cpu0
    return _no_fake_zeros(res)


def run_fanout(ctx):
    rows = []
    for peers in ctx.p["fan_peers"]:
        cond = "%d peers" % peers
        for impl in _impls(ctx, "fanout"):
            if impl.name == "hana-busypoll":
                rows.append({"scenario": "fanout", "condition": cond, "impl": impl.name, "status": "skipped",
                             "reason": "%d busy-polling nodes cannot share %d vCPUs" % (peers + 1, os.cpu_count())})
                _say(rows[-1])
                continue
            rows.append(_row("fanout", cond, impl, "fanout", lambda im: _fanout(ctx, im, cond, peers)))
    return rows


def run_mesh_scale(ctx):
    """Issue 18 §3: N real `hana-net node` processes (tools/hana_bench/mesh_scale.py), hana only;
    in a private network namespace when root, so only the mesh's datagrams are counted."""
    n = ctx.p["mesh_nodes"]
    cond = "%d nodes" % n
    rows = []
    for impl in ctx.impls:
        if impl.name != "hana":
            continue

        def measure(im):
            cmd = [sys.executable, os.path.join(os.path.dirname(__file__), "mesh_scale.py"), "--hana-net", im.binary,
                   "--nodes", str(n), "--settle-s", str(ctx.p["mesh_settle_s"]), "--kill", "--json"]
            if os.geteuid() == 0:
                cmd.append("--netns")
            with open(ctx.log_prefix("mesh-scale", cond, im.name) + ".log", "w") as log:
                try:
                    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, timeout=900)
                except subprocess.TimeoutExpired:
                    raise RunError("mesh_scale.py did not finish within 900 s")
            if cp.returncode != 0 or not cp.stdout.strip():
                raise RunError("mesh_scale.py exited %d (see its log)" % cp.returncode)
            res = json.loads(cp.stdout)
            res["churn_events"] = sum(res.pop("churn_in_idle_window", {}).values())
            return res
        rows.append(_row("mesh-scale", cond, impl, "node", measure))
    return rows


RUNNERS = {"rtt": run_rtt, "rtt-loss": run_rtt_loss, "rtt-tcp-path": run_rtt_tcp_path, "priority": run_priority,
           "bulk": run_bulk,
           "bulk-netns": run_bulk_netns,
           "rate": run_rate, "fanout": run_fanout, "mesh-scale": run_mesh_scale}
