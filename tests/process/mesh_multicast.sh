#!/usr/bin/env bash
# Real-process mesh test with discovery by multicast (issue 6: "in network namespaces with
# multicast when root"): N `hana-net node` processes in two network namespaces joined by a
# veth pair, alternating sides, without seeds: they find each other only through beacons to
# the IPv6 link-local group ff02::4e41:9 on the veth (FAMILY 4: IPv4 group 239.77.0.10),
# given just `--multicast GROUP:PORT --multicast-interface DEV`. Then, as in
# mesh_processes.sh: one is SIGKILLed and every other reports it dead; it restarts (found
# again by its beacons) and is alive everywhere; the coordinator is killed and a new one is
# agreed. Latencies from the nodes' event logs are printed, never asserted. Needs root:
# exits 77 (skipped) otherwise. Every wait is bounded; processes and namespaces are removed
# on exit.
set -euo pipefail
hana_net=${1:?usage: mesh_multicast.sh PATH/TO/hana-net [NODES] [FAMILY 6|4]}
nodes=${2:-8}
family=${3:-6}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (creates network namespaces and a veth pair)"; exit 77; fi
command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 77; }
ns_a=hana-mp$$-a ns_b=hana-mp$$-b dev_a=hmp$$a dev_b=hmp$$b
declare -A side
# shellcheck source=process_lib.sh
source "$(dirname "$0")/process_lib.sh"
cleanup_extra() {
  ip netns del "$ns_a" 2>/dev/null || true  # deleting a namespace deletes its veth end (and the pair)
  ip netns del "$ns_b" 2>/dev/null || true
}
process_test_begin

if ! ip netns add "$ns_a" || ! ip netns add "$ns_b"; then echo "SKIP: ip netns add failed"; exit 77; fi
ip link add "$dev_a" netns "$ns_a" type veth peer name "$dev_b" netns "$ns_b"
declare -A ns_of=([a]=$ns_a [b]=$ns_b) dev_of=([a]=$dev_a [b]=$dev_b) bind_of
for s in a b; do
  # Only the addresses named here (no autoconfigured link-local), usable at once (nodad).
  ip -n "${ns_of[$s]}" link set "${dev_of[$s]}" addrgenmode none
  if [ "$family" = 6 ]; then
    ip -n "${ns_of[$s]}" addr add "fe80::$s/64" dev "${dev_of[$s]}" nodad
    bind_of[$s]="[::]:0"
  else
    ip -n "${ns_of[$s]}" addr add "10.80.0.$([ $s = a ] && echo 1 || echo 2)/24" dev "${dev_of[$s]}"
    bind_of[$s]="0.0.0.0:0"
  fi
  ip -n "${ns_of[$s]}" link set "${dev_of[$s]}" up
  ip -n "${ns_of[$s]}" link set lo up
done
if [ "$family" = 6 ]; then group="[ff02::4e41:9]:45690"; else group="239.77.0.10:45690"; fi

# start NAME SIDE: runs a node in that side's namespace; records its pid and listen address.
start() {
  local name=$1 s=$2
  ip netns exec "${ns_of[$s]}" "$hana_net" node --bind "${bind_of[$s]}" --multicast "$group" \
    --multicast-interface "${dev_of[$s]}" --id "$name" --control "$dir/$name.sock" \
    --display "$name-display:1920x1080@60" --events "$dir/$name.events" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!  # `ip netns exec` execs the program: this is the node's pid
  side[$name]=$s
  wait_log "$name" 'listening on [][0-9a-f.:%]*'
  addr[$name]=${log_match#listening on }
}

names=()
for i in $(seq 1 "$nodes"); do
  name=node-$i
  start "$name" "$([ $((i % 2)) = 1 ] && echo a || echo b)"
  names+=("$name")
done
echo "discovery: $group on ${dev_a} / ${dev_b}, $nodes nodes bound to ${bind_of[a]}, no seeds"
alive_all="sum(p['state']=='alive' for p in peers)==$((nodes - 1))"
wait_all "full view by beacons alone: every node sees $((nodes - 1)) alive peers" "$alive_all" "${names[@]}"
wait_all "one coordinator agreed by all" "r.get('coordinator') is not None" "${names[@]}"
other_side=$(peers_json node-1 | python3 -c "import json,sys; print(next(p['address'] for p in json.load(sys.stdin)['peers'] if p['name']=='node-2'))")
echo "node-1 reaches node-2 (other namespace) at $other_side"

victim=node-3
victim_id=$(peers_json "$victim" | python3 -c "import json,sys; print(json.load(sys.stdin)['self'])")
sigkill_expect_dead "$victim" "$victim_id"  # sets kill_us and others

start "$victim" "${side[$victim]}"
port=${addr[$victim]##*:}
# Same name, so the same id; a new incarnation and (port 0) a new port, learned from beacons.
wait_all "restarted $victim alive again everywhere" \
  "$alive_all and any(p['id']=='$victim_id' and p['state']=='alive' and p['address'].endswith(':$port') for p in peers)" \
  "${others[@]}"
wait_all "restarted $victim sees the whole mesh" "$alive_all" "$victim"

kill_coordinator_expect_failover
echo "PASS: $nodes processes, discovery by multicast (IPv$family)"
