"""Starting, stopping and reaping the programs under test, always bounded in time."""

import json
import os
import resource
import signal
import subprocess
import time

_live = set()  # servers still running; killed by kill_all() on any exit path


class RunError(Exception):
    """A program under test failed: the row becomes 'failed' with this reason."""


def children_cpu_s():
    """User+system CPU of every reaped child so far (getrusage RUSAGE_CHILDREN)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


RT_PRIORITY = 20


def wrap(cmd, ns=None, cpu=None, rt=False):
    """Prefixes a command with `ip netns exec NS`, `taskset -c CPU` and `chrt -f` as asked.

    rt (SCHED_FIFO) keeps a shared machine's compile jobs from preempting the pair
    under test; the kernel's RT throttling still leaves 5% of each CPU to others."""
    out = []
    if ns:
        out += ["ip", "netns", "exec", ns]
    if cpu is not None:
        out += ["taskset", "-c", str(cpu)]
    if rt:
        out += ["chrt", "-f", str(RT_PRIORITY)]
    return out + [str(c) for c in cmd]


def _tail(path, limit=600):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _has_line(path):
    try:
        with open(path, "rb") as f:
            return b"\n" in f.read(4096)
    except OSError:
        return False


class Server:
    """A server process with its output in log files (never a pipe that could fill)."""

    def __init__(self, cmd, log_prefix, ready_timeout_s=3.0):
        self.cmd = cmd
        self.out_path = log_prefix + ".out"
        self.err_path = log_prefix + ".err"
        with open(log_prefix + ".cmd", "w") as f:
            f.write(" ".join(cmd) + "\n")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        _live.add(self.proc)
        # Ready when it printed its first line on either stream (hana-bench-peer prints
        # {"listening":...}; hana-net's node logs its backend line at start); a server that
        # prints nothing is given the whole timeout, then used anyway.
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RunError("server exited with %s: %s" % (self.proc.returncode, _tail(self.err_path)))
            if _has_line(self.out_path) or _has_line(self.err_path):
                return
            time.sleep(0.01)

    def stop(self):
        p = self.proc
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=3)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
        _live.discard(p)


def kill_all():
    for p in list(_live):
        try:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired, ChildProcessError):
            pass
        _live.discard(p)


def run_client(cmd, timeout_s, log_prefix):
    """Runs a client to completion (killed at timeout_s) and returns its last JSON line."""
    with open(log_prefix + ".client.cmd", "w") as f:
        f.write(" ".join(str(c) for c in cmd) + "\n")
    try:
        cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RunError("client did not finish within %.0f s" % timeout_s)
    out = cp.stdout.decode("utf-8", "replace")
    err = cp.stderr.decode("utf-8", "replace")
    with open(log_prefix + ".client.out", "w") as f:
        f.write(out)
    with open(log_prefix + ".client.err", "w") as f:
        f.write(err)
    if cp.returncode != 0:
        raise RunError("client exited with %d: %s" % (cp.returncode, err.strip()[-600:]))
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise RunError("client printed no JSON line: %s" % out.strip()[-300:])
