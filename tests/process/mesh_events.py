#!/usr/bin/env python3
"""Waits on and measures a mesh of `hana-net node` processes from their --events logs
(one JSON line per event, t_unix_us = CLOCK_REALTIME). Used by mesh_partition.sh.

Each log is replayed into a node's state over time: who it is connected to
(peer-connected / peer-disconnected / peer-left) and which coordinator it follows (the
last role-changed event with role=coordinator). Every subcommand waits, bounded by
--timeout, until its condition holds on every named node, prints the figures and exits 0;
on timeout it prints what each node holds and exits 1. Nodes are given as NAME=PATH.

  view      every node connected to every other one; per node: --since (the spawn) to
            the moment its view became whole (p50 / max), and (--up-dir) the same from
            the moment the last node was up
  halves    --side-a/--side-b: every node holds the other half disconnected and follows a
            coordinator of its own half, one per half; time to each half's coordinator
  heal      every node connected to every other one and all follow one coordinator; time
            from --since until the last node got there
  failover  --killed ID: every node follows one coordinator other than ID; time per node
  coordinator  prints the name (--with-id: and id) of the coordinator all nodes follow
"""
import argparse
import json
import os
import sys
import time


def read(path):
    """The log's events, oldest first; a line still being written is left out."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


class Node:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.events = []

    def refresh(self):
        self.events = read(self.path)

    @property
    def id(self):
        return self.events[0]["self"] if self.events else None

    def replay(self):
        """[(t_us, connected peers, coordinator)] after each event."""
        connected, coordinator, states = set(), None, []
        for e in self.events:
            kind = e["event"]
            if kind == "peer-connected":
                connected.add(e["peer"])
            elif kind in ("peer-disconnected", "peer-left"):
                connected.discard(e["peer"])
            elif kind == "role-changed" and e.get("role") == "coordinator":
                coordinator = e["peer"]
            states.append((e["t_unix_us"], frozenset(connected), coordinator))
        return states

    def now(self):
        states = self.replay()
        return states[-1][1:] if states else (frozenset(), None)

    def since_when(self, holds, since_us):
        """The time from which holds(connected, coordinator) has been true without a break
        (not before since_us); None if it does not hold now."""
        t = None
        for t_us, conn, coord in self.replay():
            if holds(conn, coord):
                if t is None:
                    t = max(t_us, since_us)
            else:
                t = None
        return t


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def ms(us):
    return us / 1000.0


def wait(nodes, ready, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        for n in nodes:
            n.refresh()
        if all(n.id for n in nodes):
            result = ready()
            if result is not None:
                return result
        if time.monotonic() >= deadline:
            print("FAIL: %s: not within %g s" % (what, timeout_s))
            ids = {n.id: n.name for n in nodes}
            for n in nodes:
                conn, coord = n.now()
                missing = sorted(ids.get(p, p) for p in set(ids) - set(conn) - {n.id})
                print("  %s (%s): follows %s, %d connected, not connected to: %s"
                      % (n.name, n.id, ids.get(coord, coord), len(conn), " ".join(missing) or "-"))
            sys.exit(1)
        time.sleep(0.1)


def full_view(nodes):
    everyone = {n.id for n in nodes}
    return lambda n: (lambda conn, coord: conn >= everyone - {n.id})


def cmd_view(nodes, a):
    def ready():
        times = []
        for n in nodes:
            t = n.since_when(full_view(nodes)(n), 0)
            if t is None:
                return None
            times.append(t)
        return times

    times = wait(nodes, ready, a.timeout, "full view everywhere")
    lat = [ms(t - a.since) for t in times]
    print("figure: spawn to full view: p50 %.0f ms, max %.0f ms over %d nodes" % (pct(lat, 0.5), max(lat), len(lat)))
    if a.up_dir:
        # A node is up when its control socket exists (created once, so its ctime says
        # when); a full view needs every node up, so it counts from the last one.
        last_up = max(int(os.stat(os.path.join(a.up_dir, n.name + ".sock")).st_ctime_ns // 1000) for n in nodes)
        lat = [ms(max(0, t - last_up)) for t in times]
        print("figure: last node up to full view: p50 %.0f ms, max %.0f ms (the last node was up %.0f ms after the spawn)"
              % (pct(lat, 0.5), max(lat), ms(last_up - a.since)))


def cmd_halves(nodes, a):
    sides = [set(a.side_a.split(",")), set(a.side_b.split(","))]
    by_name = {n.name: n for n in nodes}

    def ready():
        coords, elected = [], []
        for side, other in ((sides[0], sides[1]), (sides[1], sides[0])):
            their_ids = {by_name[o].id for o in other}
            own_ids = {by_name[s].id for s in side}
            follows = {by_name[s].now()[1] for s in side}
            if len(follows) != 1 or not (follows <= own_ids):
                return None
            c = follows.pop()
            t = 0
            for s in side:
                w = by_name[s].since_when(lambda conn, coord: not (conn & their_ids) and coord == c, a.since)
                if w is None:
                    return None
                t = max(t, w)
            coords.append(c)
            elected.append(t)
        return coords, elected

    coords, elected = wait(nodes, ready, a.timeout, "each half on its own with one coordinator")
    ids = {n.id: n.name for n in nodes}
    print("figure: each half elects its own coordinator: %.0f ms (half A follows %s after %.0f ms, half B %s after %.0f ms)"
          % (ms(max(elected) - a.since), ids[coords[0]], ms(elected[0] - a.since), ids[coords[1]], ms(elected[1] - a.since)))


def one_coordinator(nodes, a, what, figure, exclude=(), with_view=False):
    """Waits until every node follows one coordinator (not one of `exclude`), and holds a
    full view when with_view; prints the time from --since until the last node got there."""
    def ready():
        coords = {n.now()[1] for n in nodes}
        if len(coords) != 1 or coords & ({None} | set(exclude)):
            return None
        c = coords.pop()
        times = []
        for n in nodes:
            view = full_view(nodes)(n)
            t = n.since_when(lambda conn, coord: coord == c and (not with_view or view(conn, coord)), a.since)
            if t is None:
                return None
            times.append(t)
        return c, times

    c, times = wait(nodes, ready, a.timeout, what)
    lat = [ms(t - a.since) for t in times]
    print("figure: %s (%s): %.0f ms (per node p50 %.0f ms)"
          % (figure, {n.id: n.name for n in nodes}[c], max(lat), pct(lat, 0.5)))


def cmd_heal(nodes, a):
    one_coordinator(nodes, a, "one coordinator and a full view everywhere",
                    "heal to one coordinator and full view everywhere", with_view=True)


def cmd_failover(nodes, a):
    one_coordinator(nodes, a, "a new coordinator agreed by all", "coordinator SIGKILL to a new one everywhere",
                    exclude=[a.killed])


def cmd_coordinator(nodes, a):
    """Prints the name of the coordinator every node follows (after waiting for one)."""
    def ready():
        coords = {n.now()[1] for n in nodes}
        return coords.pop() if len(coords) == 1 and None not in coords else None

    c = wait(nodes, ready, a.timeout, "one coordinator agreed by all")
    name = {n.id: n.name for n in nodes}[c]
    print("%s %s" % (name, c) if a.with_id else name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["view", "halves", "heal", "failover", "coordinator"])
    p.add_argument("nodes", nargs="+", help="NAME=PATH of each node's --events log")
    p.add_argument("--since", type=int, default=0, help="t_unix_us the phase started")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--side-a", default="")
    p.add_argument("--side-b", default="")
    p.add_argument("--killed", default="", help="id of the killed coordinator")
    p.add_argument("--up-dir", default="", help="view: directory of the nodes' control sockets NAME.sock")
    p.add_argument("--with-id", action="store_true", help="coordinator: print its id after its name")
    a = p.parse_args()
    nodes = [Node(*s.split("=", 1)) for s in a.nodes]
    {"view": cmd_view, "halves": cmd_halves, "heal": cmd_heal, "failover": cmd_failover,
     "coordinator": cmd_coordinator}[a.command](nodes, a)


if __name__ == "__main__":
    main()
