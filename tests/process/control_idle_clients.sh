#!/usr/bin/env bash
# The control socket under idle clients (issue 15, "Control socket"): 200 connections that
# never send a request must not keep `hana-net peers` from answering. Before clients were
# served concurrently each idle client held the server for its 2 s read timeout, one after
# the other. Every wait is bounded; all processes are killed on exit.
set -euo pipefail
hana_net=${1:?usage: control_idle_clients.sh PATH/TO/hana-net}
idle=${2:-200}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$dir/node.log" || true; exit 1; }

sock=$dir/node.sock
"$hana_net" node --bind 127.0.0.1:0 --id node --control "$sock" >"$dir/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  "$hana_net" get --control "$sock" pto_floor_us >/dev/null 2>&1 && break
  sleep 0.1
done
"$hana_net" get --control "$sock" pto_floor_us >/dev/null || fail "the node does not answer on $sock"

# $idle clients connect and say nothing; they hold their sockets for at most 60 s.
python3 - "$sock" "$idle" "$dir/held" <<'PY' &
import socket, sys, time
path, n, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(n):
    # A full listen backlog answers EAGAIN at once on a Unix socket: retry, for 5 s at most.
    for attempt in range(500):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
    else:
        sys.exit("could not connect")
    held.append(s)
open(flag, "w").write(str(len(held)))
time.sleep(60)
PY
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/held" ] && break; sleep 0.1; done
[ -s "$dir/held" ] || fail "the idle clients could not connect"
echo "ok: $(cat "$dir/held") idle clients connected"

# While they hold on, peers and stats answer (each bounded by 5 s, well under one idle
# client's deadline times the number of clients).
for cmd in peers stats; do
  start=$(date +%s%N)
  timeout 5 "$hana_net" "$cmd" --control "$sock" --json >"$dir/$cmd.json" || fail "$cmd got no answer while $idle idle clients were connected"
  python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$dir/$cmd.json" || fail "$cmd reply is not JSON"
  echo "ok: $cmd answered in $(( ($(date +%s%N) - start) / 1000000 )) ms with $idle idle clients connected"
done
echo "control_idle_clients: passed"
