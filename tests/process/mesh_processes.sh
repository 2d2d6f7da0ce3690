#!/usr/bin/env bash
# Real-process mesh test (issue 6): N `hana-net node` processes on loopback discover each
# other through seeds; one is killed with SIGKILL and every other reports it dead; it
# restarts (new incarnation) and is alive again everywhere; the coordinator is killed and a
# new one is elected everywhere. Every wait is bounded; all processes are killed on exit.
# Each node logs its membership/role events (`--events`, wall-clock µs); the script prints
# the detection and failover latencies they show (event time - kill time), measured, never
# asserted.
set -euo pipefail
hana_net=${1:?usage: mesh_processes.sh PATH/TO/hana-net [NODES]}
nodes=${2:-8}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/process_lib.sh"  # fail, peers_json, check, wait_all, now_us, latency, wait_events, launch
process_test_begin

# start NAME [SEED_ADDR]: runs a node on 127.0.0.1:0 and records its pid and address.
start() {
  local name=$1 seed=${2:-}
  local args=(node --bind 127.0.0.1:0 --id "$name" --control "$dir/$name.sock" --display "$name-display:1920x1080@60"
              --events "$dir/$name.events")
  [ -n "$seed" ] && args+=(--seed "$seed")
  launch "$name" "${args[@]}"
}

names=()
for i in $(seq 1 "$nodes"); do
  name=node-$i
  if [ "$i" = 1 ]; then start "$name"; else start "$name" "${addr[node-1]}"; fi
  names+=("$name")
done
alive_all="sum(p['state']=='alive' for p in peers)==$((nodes - 1))"
wait_all "full view: every node sees $((nodes - 1)) alive peers" "$alive_all" "${names[@]}"
wait_all "one coordinator agreed by all" "r.get('coordinator') is not None" "${names[@]}"
# Each node announced one display at start: every other node lists it, available.
wait_all "every peer's display listed available everywhere" \
  "all(len(p['displays'])==1 and p['displays'][0]['available'] for p in peers)" "${names[@]}"

victim=node-3
victim_id=$(peers_json node-1 | python3 -c "import json,sys; print([p['id'] for p in json.load(sys.stdin)['peers'] if p['address']=='${addr[$victim]}'][0])")
sigkill_expect_dead "$victim" "$victim_id"  # sets kill_us and others
latency "$victim display unavailable" "$kill_us" "e['event']=='display-unavailable' and e['peer']=='$victim_id'" "${others[@]}"
wait_events "$victim's display reported unavailable by all others" "$kill_us" \
  "e['event']=='display-unavailable' and e['peer']=='$victim_id' and e['display']=='$victim-display'" "${others[@]}"

restart_us=$(now_us)
start "$victim" "${addr[node-1]}"
# Same name, so the same id; a new incarnation and (port 0) a new address.
wait_all "restarted $victim alive again everywhere" \
  "$alive_all and any(p['id']=='$victim_id' and p['address']=='${addr[$victim]}' for p in peers)" "${others[@]}"
wait_all "restarted $victim sees the whole mesh" "$alive_all" "$victim"
wait_events "restarted $victim's display available again everywhere" "$restart_us" \
  "e['event']=='display-available' and e['peer']=='$victim_id' and e['display']=='$victim-display'" "${others[@]}"

kill_coordinator_expect_failover
echo "PASS: $nodes processes"
