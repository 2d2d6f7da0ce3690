"""The six implementations and how to run each of them.

Baselines are modes of hana-bench-peer; hana rows are hana-net with a backend.
Both take the same arguments (issue 4's `hana-net echo/ping` shape). What a
hana-net build can do is read from its --help output, so a scenario it cannot
run yet is skipped with the reason instead of being faked.
"""

import os
import re
import subprocess

# `hana` is the default configuration (no flag at all: Shared threading, which picks the
# epoll backend); the other hana rows are opt-in modes measured next to it.
ALL = ["udp-raw", "tcp", "enet", "hana", "hana-shield", "hana-uring", "hana-epoll", "hana-inline", "hana-busypoll"]
# hana-shield: the default configuration with high_redundancy=1 at both ends (every HIGH
# datagram sent twice). It answers one question, what loss costs with the copies, so it
# runs only in the scenarios listed here.
ONLY_IN = {"hana-shield": ("rtt-loss",)}
BASELINES = ["udp-raw", "tcp", "enet"]


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


class Impl:
    def __init__(self, name, binary, args, server_args, client_cpu, server_cpu, unavailable=None):
        self.name = name
        self.binary = binary
        self.args = args                # added to every client subcommand
        self.server_args = server_args  # added to `echo`
        self.client_cpu = client_cpu
        self.server_cpu = server_cpu
        self.unavailable = unavailable  # None, or why this implementation cannot run at all
        self.rt = False                 # run under SCHED_FIFO (see runner.wrap)
        self._help = {}

    @property
    def is_hana(self):
        return self.name == "hana" or self.name.startswith("hana-")

    # ---- what it can do ---------------------------------------------------
    def help_text(self, sub):
        if sub not in self._help:
            try:
                cp = subprocess.run([self.binary] + ([sub] if sub else []) + ["--help"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=10)
                self._help[sub] = cp.stdout.decode("utf-8", "replace") if cp.returncode == 0 else ""
            except (OSError, subprocess.TimeoutExpired):
                self._help[sub] = ""
        return self._help[sub]

    def has_subcommand(self, sub):
        # CLI11 prints help (exit 0) even for an unknown subcommand name: read the list instead.
        listing = self.help_text("").split("Subcommands:", 1)
        return len(listing) == 2 and re.search(r"^\s+%s(\s|$)" % re.escape(sub), listing[1], re.M) is not None

    def has_option(self, sub, option):
        return re.search(r"(^|[\s,])%s\b" % re.escape(option), self.help_text(sub)) is not None

    def missing(self, feature):
        """None when this implementation can run `feature`, else the reason it cannot."""
        if self.unavailable:
            return self.unavailable
        need = {
            "ping": [("echo", None), ("ping", None)],
            "samples": [("ping", "--samples")],
            "priority": [("echo", None), ("ping", "--bulk-size")],
            "stream": [("echo", None), ("stream", None)],
            "fanout": [("echo", None), ("fanout", None)],
            "node": [("node", "--events"), ("stats", None)],
        }[feature]
        for sub, opt in need:
            if not self.has_subcommand(sub):
                return "%s has no `%s` subcommand" % (os.path.basename(self.binary), sub)
            if opt and not self.has_option(sub, opt):
                return "`%s %s` has no %s option" % (os.path.basename(self.binary), sub, opt)
        return None

    # ---- command lines ----------------------------------------------------
    def server_cmd(self, bind):
        return [self.binary, "echo", "--bind", bind] + self.server_args

    def star_server_cmd(self, bind):
        """`echo` for a server that is one of many leaves of a star (fanout). A hana node
        joins every member it learns of (full mesh), so 99 leaves would each hold 98 more
        links and probe them all: 100 such processes saturate a 2-vCPU machine and their
        membership flaps (measured: no round completes). The baselines' leaves only talk to
        the client, so the hana leaves are held to that one peer (max_peers=1) too."""
        cmd = self.server_cmd(bind)
        if self.is_hana and self.has_option("echo", "--knob"):
            cmd += ["--knob", "max_peers=1"]
        return cmd

    def ping_cmd(self, to, count, rate, size, lane="high", samples=None, bulk_size=0, linger_ms=None):
        cmd = [self.binary, "ping", "--to", to, "--count", count, "--rate", rate, "--size", size,
               "--lane", lane, "--delivery", "reliable-ordered", "--json"] + self.args
        if samples and not self.missing("samples"):
            cmd += ["--samples", samples]
        if bulk_size:
            cmd += ["--bulk-size", bulk_size]
        if linger_ms is not None and self.has_option("ping", "--linger-ms"):
            cmd += ["--linger-ms", linger_ms]
        elif linger_ms is not None and self.has_option("ping", "--drain-timeout"):
            cmd += ["--drain-timeout", linger_ms / 1000.0]
        return cmd

    def stream_cmd(self, to, size, duration_s):
        return [self.binary, "stream", "--to", to, "--size", size, "--duration", duration_s, "--json"] + self.args

    def fanout_cmd(self, tos, count, rate, size, samples=None):
        cmd = [self.binary, "fanout", "--to", ",".join(tos), "--count", count, "--rate", rate, "--size", size,
               "--json"] + self.args
        if samples and self.has_option("fanout", "--samples"):
            cmd += ["--samples", samples]
        return cmd


class Choice:
    """One implementation row (e.g. hana-uring) and the programs that can measure it,
    in order of preference: hana-net itself first, then hana-bench-peer's `--impl hana`
    adapter (hana::Node behind the same scenario code as the baselines)."""

    def __init__(self, name, variants):
        self.name = name
        self.variants = variants

    @property
    def server_cpu(self):
        return self.variants[0].server_cpu

    @property
    def client_cpu(self):
        return self.variants[0].client_cpu

    @property
    def unavailable(self):
        return all(v.unavailable for v in self.variants) and self.variants[0].unavailable

    def resolve(self, feature):
        """(program variant, None) for the first variant that can run feature, else (None, why)."""
        reasons = []
        for v in self.variants:
            why = v.missing(feature)
            if why is None:
                return v, None
            if why not in reasons:
                reasons.append(why)
        return None, "; ".join(reasons)


MIN_BUSYPOLL_CPUS = 4


def make_impls(peer_bin, hana_bin, names, rt=False, busypoll_anyway=False):
    """Builds the requested implementations with their CPU placement.

    Every pair shares one CPU (the last allowed one): on this VM a wake-up across
    vCPUs costs ~140 µs, so same-CPU placement is the fair and stable choice
    (TOOLCHAIN-NOTES). hana-busypoll spins, so its client and server get a CPU
    each; with a single CPU it cannot run. rt: every pair runs SCHED_FIFO except
    busy-poll (two spinning real-time threads would take both CPUs from everyone).
    """
    cpus = allowed_cpus()
    pin = cpus[-1]
    other = cpus[0] if len(cpus) > 1 else None
    peer_why = None if os.access(peer_bin, os.X_OK) else "%s not built" % peer_bin
    out = []
    for name in names:
        if name in BASELINES:
            out.append(Choice(name, [Impl(name, peer_bin, ["--impl", name], ["--impl", name], pin, pin, peer_why)]))
            continue
        backend = {"hana": None, "hana-shield": None, "hana-uring": "uring", "hana-epoll": "epoll", "hana-inline": "uring",
                   "hana-busypoll": "uring"}[name]
        flags = (["--backend", backend] if backend else []) + (["--busy-poll"] if name == "hana-busypoll" else [])
        # hana-inline: Threading::Inline, the loop runs on the application's thread (no
        # hand-off between a loop thread and the caller: two wake-ups fewer per round trip).
        flags += ["--inline"] if name == "hana-inline" else []
        flags += ["--knob", "high_redundancy=1"] if name == "hana-shield" else []
        why = None if os.access(hana_bin, os.X_OK) else "hana-net is not built (no tools/hana-net on this checkout)"
        cli = Impl(name, hana_bin, flags, [], pin, pin, why)
        if not why:
            # echo takes the backend flags too when it knows them
            if backend and cli.has_option("echo", "--backend"):
                cli.server_args += ["--backend", backend]
            if name == "hana-busypoll" and cli.has_option("echo", "--busy-poll"):
                cli.server_args.append("--busy-poll")
            if name == "hana-inline" and cli.has_option("echo", "--inline"):
                cli.server_args.append("--inline")
            if name == "hana-shield":
                if cli.has_option("echo", "--knob"):
                    cli.server_args += ["--knob", "high_redundancy=1"]
                else:
                    cli.unavailable = "hana-net echo has no --knob"
            if name == "hana-inline" and not cli.has_option("ping", "--inline"):
                cli.unavailable = "hana-net ping has no --inline"
        peer = Impl(name, peer_bin, ["--impl", "hana"] + flags, ["--impl", "hana"] + flags, pin, pin, peer_why)
        if not peer_why and not re.search(r"[{,]hana[,}]", peer.help_text("ping")):
            peer.unavailable = "hana-bench-peer has no --impl hana (hana::Node not on this checkout)"
        # hana-net's --busy-poll spins its application thread as well as the engine loop:
        # two spinners per node time-slice at scheduler granularity (ms) on a 2-vCPU machine.
        # The adapter spins only the loop (busy_poll knob), so it measures busy-poll rows.
        variants = [peer, cli] if name == "hana-busypoll" else [cli, peer]
        for v in variants:
            if name == "hana-busypoll":
                v.client_cpu = other
                if other is None:
                    v.unavailable = "busy-poll needs two CPUs (client and server each spin on one)"
                elif len(cpus) < MIN_BUSYPOLL_CPUS and not busypoll_anyway and not v.unavailable:
                    # Measured here: p50 4-80 ms, because the spinning loops and the threads they
                    # must hand messages to share CPUs and time-slice at scheduler granularity.
                    v.unavailable = ("busy-poll needs a CPU per spinning event loop plus CPUs for the "
                                     "application threads (>= %d; this machine has %d): on fewer it "
                                     "measures the scheduler, not hana (--busypoll-anyway runs it)"
                                     % (MIN_BUSYPOLL_CPUS, len(cpus)))
        out.append(Choice(name, variants))
    for choice in out:
        for v in choice.variants:
            v.rt = rt and choice.name != "hana-busypoll"
    return out
