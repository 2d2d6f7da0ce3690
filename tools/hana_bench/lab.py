"""The loss lab: two network namespaces joined by a veth pair, with nftables
dropping N% of TCP and UDP packets on the netdev ingress hook of both ends.

Needs root, `ip` and `nft`. Names carry the process id so parallel runs never
collide; teardown() removes both namespaces (which removes the veth pair and the
nft tables with them) and is safe to call more than once.
"""

import os
import shutil
import subprocess

NFT_TABLE = "hanabench"


class LabUnavailable(Exception):
    pass


def _run(cmd, stdin_text=None):
    cp = subprocess.run(cmd, input=stdin_text, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        timeout=20)
    if cp.returncode != 0:
        raise LabUnavailable("`%s` failed: %s" % (" ".join(cmd), cp.stderr.strip()))
    return cp.stdout


class LossLab:
    def __init__(self):
        tag = "hb%d" % os.getpid()
        self.ns_client = tag + "c"
        self.ns_server = tag + "s"
        self.dev_client = (tag + "vc")[-15:]
        self.dev_server = (tag + "vs")[-15:]
        self.client_ip = "10.201.0.1"
        self.server_ip = "10.201.0.2"
        self.loss_pct = 0
        self._made = []

    @staticmethod
    def why_unavailable():
        if os.geteuid() != 0:
            return "needs root (network namespaces and nftables)"
        for tool in ("ip", "nft"):
            if shutil.which(tool) is None:
                return "`%s` not found (install iproute2 / nftables: tools/setup)" % tool
        return None

    def setup(self):
        try:
            for ns in (self.ns_client, self.ns_server):
                _run(["ip", "netns", "add", ns])
                self._made.append(ns)
                _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            _run(["ip", "link", "add", self.dev_client, "netns", self.ns_client, "type", "veth",
                  "peer", "name", self.dev_server, "netns", self.ns_server])
            for ns, dev, ip in ((self.ns_client, self.dev_client, self.client_ip),
                                (self.ns_server, self.dev_server, self.server_ip)):
                _run(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev])
                _run(["ip", "-n", ns, "link", "set", dev, "up"])
                _run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                     "table netdev %s {\n chain ingress {\n  type filter hook ingress device %s priority 0; "
                     "policy accept;\n }\n}\n" % (NFT_TABLE, dev))
        except (LabUnavailable, subprocess.TimeoutExpired, OSError) as e:
            self.teardown()
            raise LabUnavailable(str(e))

    def _ingress_rule(self, rule):
        """Replaces the ingress rule at both ends with `rule` (nft words), or none."""
        for ns in (self.ns_client, self.ns_server):
            _run(["ip", "netns", "exec", ns, "nft", "flush", "chain", "netdev", NFT_TABLE, "ingress"])
            if rule:
                _run(["ip", "netns", "exec", ns, "nft", "add", "rule", "netdev", NFT_TABLE, "ingress"] + rule)

    def set_loss(self, pct, burst=0):
        """Drop pct% of the TCP and UDP packets arriving at either end: at random (burst 0),
        or in bursts of exactly `burst` consecutive packets, one burst every burst*100/pct
        packets at each end (nftables' `numgen inc`: the kernel here has no sch_netem for a
        Gilbert-Elliott model, and a counter gives the burst length exactly; the simulator's
        Gilbert-Elliott model, hana-sim conn --burst-loss, is the random counterpart)."""
        if pct > 0 and burst == 0:
            self._ingress_rule(["meta", "l4proto", "{", "tcp,", "udp", "}", "numgen", "random", "mod", "100", "<",
                                str(int(pct)), "drop"])
        elif pct > 0:
            period = int(round(burst * 100 / pct))
            self._ingress_rule(["meta", "l4proto", "{", "tcp,", "udp", "}", "numgen", "inc", "mod", str(period), "<",
                                str(int(burst)), "drop"])
        else:
            self._ingress_rule(None)
        self.loss_pct = pct

    def block_udp(self):
        """Drop every UDP packet arriving at either end, pass TCP: a network where only the
        TCP path works (issue 17). set_loss() replaces this rule."""
        self._ingress_rule(["meta", "l4proto", "udp", "drop"])
        self.loss_pct = None

    def rules(self):
        return _run(["ip", "netns", "exec", self.ns_client, "nft", "list", "table", "netdev", NFT_TABLE])

    def teardown(self):
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=20)
        self._made = []
