#!/usr/bin/env bash
# Real-process test of the mesh clock: three `hana-net node` processes on loopback whose
# clocks are shifted by the fault injector (node-2 +5000 us, node-3 -3000 us; loopback
# processes share one clock, so these are the true offsets). Every node's `peers --json`
# must show each peer's clock_offset_us within 100 us of the truth with clock_error_us
# <= 100, and every node's mesh time must be synced. The issue's target is 5 s from
# start; the wait is bounded by HANA_PROCESS_TEST_TIMEOUT (the machine may be loaded)
# and the time it took is printed. All processes are killed on exit.
set -euo pipefail
hana_net=${1:?usage: mesh_clock.sh PATH/TO/hana-net}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/process_lib.sh"  # fail, peers_json, check, wait_all, wait_log
process_test_begin

declare -A offset_us=([node-1]=0 [node-2]=5000 [node-3]=-3000)
names=(node-1 node-2 node-3)
start_ns=$(date +%s%N)
for name in "${names[@]}"; do
  echo "fault_clock_offset_us = ${offset_us[$name]}" >"$dir/$name.conf"
  args=(node --bind 127.0.0.1:0 --id "$name" --control "$dir/$name.sock" --config "$dir/$name.conf")
  [ "$name" != node-1 ] && args+=(--seed "${addr[node-1]}")
  : >"$dir/$name.log"
  "$hana_net" "${args[@]}" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
  wait_log "$name" 'listening on [0-9.:]*'
  addr[$name]=${log_match#listening on }
done

truth="{'node-1': 0, 'node-2': 5000, 'node-3': -3000}"
for self in "${names[@]}"; do
  expr="len(peers)==2 and r['mesh_time']['synced'] and all(p['clock_offset_us'] is not None and \
abs(p['clock_offset_us'] - ($truth[p['name']] - $truth['$self'])) <= 100 and p['clock_error_us'] <= 100 for p in peers)"
  wait_all "$self: every peer's offset within 100 us of the truth, error <= 100 us" "$expr" "$self"
done
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
echo "ok: all three nodes within ${elapsed_ms} ms of the first start (target 5000 ms)"
for self in "${names[@]}"; do
  peers_json "$self" | python3 -c "import json,sys
r=json.load(sys.stdin); t=$truth
for p in r['peers']:
    print('  $self sees %s: offset %+.1f us (truth %+d, off by %.1f), error %.1f us; mesh time error %.1f us' % (
        p['name'], p['clock_offset_us'], t[p['name']] - t['$self'], abs(p['clock_offset_us'] - (t[p['name']] - t['$self'])),
        p['clock_error_us'], r['mesh_time']['error_us']))"
done
"$hana_net" peers --control "$dir/node-2.sock"
echo "PASS"
