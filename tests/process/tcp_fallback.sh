#!/usr/bin/env bash
# The TCP path on a LAN that blocks UDP (issue 17): network namespaces on one bridge
# (process_lib.sh, lan_create), every node dropping all UDP it receives (nftables), TCP
# passing. With default flags and knobs (transport = auto):
#   1. `hana-net ping` reaches `hana-net echo` (every echo comes back);
#   2. N `hana-net node` processes seeded at node-1 (beacons are UDP: no discovery) form a
#      full mesh, every peer on the TCP path;
#   3. a SIGKILLed node is agreed dead by all others, and a SIGKILLed coordinator is
#      replaced by one new coordinator agreed by all;
#   4. UDP unblocked: every pair moves back to UDP.
# Asserts correctness only; prints figures (ping p50/p99 next to a TCP_NODELAY ping-pong
# when hana-bench-peer is given, start to full mesh, unblock to all-UDP), never asserts
# them. Every wait is bounded by HANA_PROCESS_TEST_TIMEOUT (30 s). Needs root, iproute2
# and nftables: exits 77 (skipped) otherwise. Processes and namespaces go on exit.
set -euo pipefail
hana_net=${1:?usage: tcp_fallback.sh PATH/TO/hana-net [NODES] [PATH/TO/hana-bench-peer]}
nodes=${2:-8}
bench_peer=${3:-}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
here=$(dirname "$0")
lan=htf$$
# shellcheck source=process_lib.sh
source "$here/process_lib.sh"
lan_test_begin "$lan" "$nodes"
for i in $(seq 1 "$nodes"); do lan_block_udp "$lan" "$i"; done
echo "lan: $nodes namespaces on one bridge, all UDP dropped at every node, TCP passes"
# Always in a subshell (background or $(...)): exec, so a recorded pid is the program's.
in_ns() { local i=$1; shift; exec ip netns exec "$lan-$i" "$@"; }
port=7000

# ---- 1. echo / ping with default flags (HANA_PIN_CPU=N pins both ends of each pair to
# CPU N for comparable figures; TOOLCHAIN-NOTES: unpinned round trips flip at random)
pin=(); [ -z "${HANA_PIN_CPU:-}" ] || pin=(taskset -c "$HANA_PIN_CPU")
in_ns 1 "${pin[@]}" "$hana_net" echo --bind "10.81.0.1:$port" >"$dir/echo.log" 2>&1 &
pid[echo]=$!; addr[echo]=10.81.0.1:$port
wait_log echo "udp 10.81.0.1:$port"
ping_json=$(in_ns 2 "${pin[@]}" "$hana_net" ping --to "10.81.0.1:$port" --count 2000 --rate 1000 --json) || fail "ping: $ping_json"
echo "figure: hana-net ping (default flags) over the TCP path: $ping_json"
python3 -c "import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r['lost']==0 else 1)" "$ping_json" ||
  fail "ping lost echoes over the TCP path"
python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1]).get('transport')=='tcp' else 1)" "$ping_json" ||
  fail "ping's echoes did not come over the TCP path"
kill -9 "${pid[echo]}"; wait "${pid[echo]}" 2>/dev/null || true; unset "pid[echo]" "addr[echo]"
if [ -n "$bench_peer" ]; then
  # The same round trip over a raw TCP_NODELAY ping-pong, same namespaces, same run.
  in_ns 1 "${pin[@]}" "$bench_peer" echo --impl tcp --bind "10.81.0.1:7100" >"$dir/tcp-echo.log" 2>&1 &
  pid[tcp-echo]=$!; addr[tcp-echo]=10.81.0.1:7100
  tcp_json=""
  for _ in $(seq 1 50); do  # until the server listens (bounded)
    tcp_json=$(in_ns 2 "${pin[@]}" "$bench_peer" ping --impl tcp --to "10.81.0.1:7100" --count 2000 --rate 1000 --size 64 --json 2>/dev/null) && break
    sleep 0.1
  done
  echo "figure: tcp_nodelay ping-pong (hana-bench-peer --impl tcp): ${tcp_json:-unavailable}"
  kill -9 "${pid[tcp-echo]}"; wait "${pid[tcp-echo]}" 2>/dev/null || true; unset "pid[tcp-echo]" "addr[tcp-echo]"
fi

# ---- 2. N nodes seeded at node-1 form a full mesh over their streams
names=()
start_us=$(now_us)
for i in $(seq 1 "$nodes"); do
  name=node-$i
  names+=("$name")
  args=(node --bind "10.81.0.$i:$port" --id "$name" --control "$dir/$name.sock" --events "$dir/$name.events")
  [ "$i" = 1 ] || args+=(--seed "10.81.0.1:$port")
  in_ns "$i" "$hana_net" "${args[@]}" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
  addr[$name]="10.81.0.$i:$port"
done
full_tcp="sum(p['state']=='alive' and p['connected'] and p['transport']=='tcp' for p in peers)==$((nodes - 1))"
wait_all "full mesh over the TCP path: every node sees $((nodes - 1)) alive peers, connected, transport tcp" \
  "$full_tcp" "${names[@]}"
# From the event logs (the polls above take a second a round on a busy host): when each
# node's last peer-connected came, after the launch of the first node.
python3 - "$start_us" "$nodes" "${names[@]/%/.events}" <<PY
import json, sys
start, want = int(sys.argv[1]), int(sys.argv[2]) - 1
done = []
for name in sys.argv[3:]:
    t = sorted(json.loads(l)['t_unix_us'] for l in open("$dir/" + name) if '"peer-connected"' in l)
    if len(t) >= want: done.append((t[want - 1] - start) / 1000.0)
done.sort()
print("figure: start to full mesh over TCP (events): p50 %.0f ms, max %.0f ms over %d nodes" % (done[(len(done) - 1) // 2], done[-1], len(done)))
PY
wait_all "one coordinator agreed by all" "r.get('coordinator') is not None" "${names[@]}"

# ---- 3. a SIGKILLed node is agreed dead; the coordinator fails over
victim=node-3
victim_id=$(peers_json node-1 | python3 -c "import json,sys; print([p['id'] for p in json.load(sys.stdin)['peers'] if p['address']=='${addr[$victim]}'][0])")
sigkill_expect_dead "$victim" "$victim_id"
names=("${others[@]}")
kill_coordinator_expect_failover
names=("${others[@]}")

# ---- 4. UDP comes back: every pair moves back to it
unblock_us=$(now_us)
for i in $(seq 1 "$nodes"); do lan_unblock_udp "$lan" "$i"; done
live=${#names[@]}
wait_all "UDP unblocked: every live pair back on UDP" \
  "sum(p['state']=='alive' and p['connected'] and p['transport']=='udp' for p in peers)==$((live - 1))" "${names[@]}"
echo "figure: unblock to every pair on UDP: $(( ($(now_us) - unblock_us) / 1000 )) ms"
echo "PASS: ping/echo and $nodes processes over the TCP path, UDP blocked"
