#!/usr/bin/env bash
# `hana-net node` under systemd's Type=notify, without systemd: a unix datagram socket
# stands in for $NOTIFY_SOCKET. The node must send READY=1 once it runs, WATCHDOG=1 at
# half of WATCHDOG_USEC, and STOPPING=1 on SIGTERM. Every wait is bounded (5 s).
set -euo pipefail
hana_net=${1:?usage: service_notify.sh PATH/TO/hana-net}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$hana_net" "$dir" <<'PY'
import os, signal, socket, subprocess, sys, time
hana_net, d = sys.argv[1], sys.argv[2]
path = os.path.join(d, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(5)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
node = subprocess.Popen([hana_net, "node", "--bind", "127.0.0.1:0", "--control", os.path.join(d, "c.sock")],
                        env=env, stderr=subprocess.DEVNULL)
def expect(word):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        msg = s.recv(4096).decode()
        if word in msg.split("\n"):
            print("ok:", msg.replace("\n", " | "))
            return
    raise SystemExit("FAIL: no %s within 5 s" % word)
try:
    expect("READY=1")
    t0 = time.monotonic()
    expect("WATCHDOG=1")
    expect("WATCHDOG=1")
    # WATCHDOG_USEC=200000: a ping every 100 ms, so two arrive well within 2 s.
    if time.monotonic() - t0 > 2: raise SystemExit("FAIL: watchdog pings too slow")
    node.send_signal(signal.SIGTERM)
    expect("STOPPING=1")
    if node.wait(timeout=10) != 0: raise SystemExit("FAIL: node exited %d" % node.returncode)
finally:
    if node.poll() is None: node.kill()
print("service_notify: passed")
PY
