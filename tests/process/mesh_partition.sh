#!/usr/bin/env bash
# Discovery and partition heal on a LAN of real processes (issue 18 §4): N `hana-net node`
# processes, one per network namespace, on one bridge (process_lib.sh, lan_create), found by
# IPv4 multicast beacons alone (no seeds), every node dropping LOSS_PCT % of the UDP it
# receives (nftables). Then the bridge stops forwarding between odd and even nodes (a
# partition), later again (the heal), and last the coordinator is SIGKILLed.
#
# Asserts correctness only: every node reaches a full view; during the partition each half
# holds the other one disconnected and follows one coordinator of its own; after the heal
# every node is connected to every other one and all follow one coordinator; after the
# SIGKILL all agree on a new one. Each wait is bounded by HANA_PROCESS_TEST_TIMEOUT (20 s).
# Prints the figures (lines "figure: ..."), from the nodes' --events logs (t_unix_us):
# spawn to full view p50/max, each half's election, heal to one coordinator and full view,
# coordinator SIGKILL to failover. Needs root and nftables: exits 77 (skipped) otherwise.
# Processes and namespaces are removed on exit.
set -euo pipefail
hana_net=${1:?usage: mesh_partition.sh PATH/TO/hana-net [NODES] [LOSS_PCT] [PARTITION_S]}
nodes=${2:-16}
loss_pct=${3:-0}
partition_s=${4:-5}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-20}
here=$(dirname "$0")
lan=hpt$$
# shellcheck source=process_lib.sh
source "$here/process_lib.sh"
lan_test_begin "$lan" "$nodes"
loss_bp=$(python3 -c "print(round(float('$loss_pct') * 100))")
for i in $(seq 1 "$nodes"); do lan_loss "$lan" "$i" "$loss_bp"; done
group=239.77.0.11:45691

# Every node waits at a gate and all start at once when it opens, so the spawn time is the
# gate's, not the launch loop's (slow on a busy host). The gate is a FIFO held open on fd 3:
# each node's shell blocks reading one byte from it; one newline per node opens it.
gate=$dir/gate
mkfifo "$gate"
exec 3<>"$gate"
names=() events=() side_a=() side_b=()
for i in $(seq 1 "$nodes"); do
  name=node-$i
  names+=("$name")
  events+=("$name=$dir/$name.events")
  if [ $((i % 2)) = 1 ]; then side_a+=("$name"); else side_b+=("$name"); fi
  ip netns exec "$lan-$i" bash -c 'read -r _ <&3; exec 3<&-; exec "$@"' gate \
    "$hana_net" node --bind 0.0.0.0:0 --multicast "$group" --multicast-interface eth0 \
    --id "$name" --control "$dir/$name.sock" --events "$dir/$name.events" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!  # `ip netns exec` and bash exec the program: this is the node's pid
  addr[$name]="10.81.0.$i"
done
spawn_us=$(now_us)
printf '\n%.0s' "${names[@]}" >&3
exec 3<&-
echo "lan: $nodes namespaces on one bridge, beacons to $group only, ${loss_pct} % UDP loss at every receiver"
events_of() { local n out=(); for n in "$@"; do out+=("$n=$dir/$n.events"); done; echo "${out[@]}"; }
mesh_events() { python3 "$here/mesh_events.py" "$@" --timeout "$timeout_s"; }

mesh_events view "${events[@]}" --since "$spawn_us" --up-dir "$dir" || fail "cold start"
first=$(mesh_events coordinator "${events[@]}") || fail "no coordinator after the cold start"
echo "ok: full view everywhere; coordinator $first"

join() { local IFS=,; echo "$*"; }
cut_us=$(now_us)
lan_partition "$lan" "$(seq 1 2 "$nodes" | tr '\n' ' ')" "$(seq 2 2 "$nodes" | tr '\n' ' ')"
mesh_events halves "${events[@]}" --since "$cut_us" --side-a "$(join "${side_a[@]}")" --side-b "$(join "${side_b[@]}")" ||
  fail "partition"
# Let the partition last, so the dials across it back off as they would over a real outage.
left_s=$(python3 -c "print(max(0.0, $partition_s - ($(now_us) - $cut_us) / 1e6))")
sleep "$left_s"  # the partition's length, not a synchronisation: every check waits on a condition

heal_us=$(now_us)
lan_heal "$lan"
mesh_events heal "${events[@]}" --since "$heal_us" || fail "heal"

read -r coordinator coordinator_id <<<"$(mesh_events coordinator "${events[@]}" --with-id)"
sigkill "$coordinator"  # sets kill_us and others
# shellcheck disable=SC2046
mesh_events failover $(events_of "${others[@]}") --since "$kill_us" --killed "$coordinator_id" ||
  fail "failover"
echo "PASS: $nodes processes, ${loss_pct} % loss, partition ${partition_s} s and heal, failover"
