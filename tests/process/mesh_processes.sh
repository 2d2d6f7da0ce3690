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
dir=$(mktemp -d)
declare -A pid addr
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for n in "${!pid[@]}"; do
    echo "--- $n (${addr[$n]}): $(tail -3 "$dir/$n.log" | tr '\n' ' ')"
    peers_json "$n" | python3 -c "import json,sys
r=json.load(sys.stdin)
print('  coordinator', r.get('coordinator'))
for p in r.get('peers',[]): print('  ', p['id'], p['address'], p['state'], 'inc', p['incarnation'], 'connected', p['connected'])" || true
  done
  exit 1
}

# start NAME [SEED_ADDR]: runs a node on 127.0.0.1:0 and records its pid and address.
start() {
  local name=$1 seed=${2:-}
  local args=(node --bind 127.0.0.1:0 --id "$name" --control "$dir/$name.sock" --display "$name-display:1920x1080@60"
              --events "$dir/$name.events")
  [ -n "$seed" ] && args+=(--seed "$seed")
  "$hana_net" "${args[@]}" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
  local line=""
  for _ in $(seq 1 200); do  # bounded: up to 10 s for the node to print its address
    line=$(grep -m1 -o 'listening on [0-9.:]*' "$dir/$name.log" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  [ -n "$line" ] || fail "$name did not start"
  addr[$name]=${line#listening on }
}

peers_json() { "$hana_net" peers --control "$dir/$1.sock" --json 2>/dev/null || echo '{}'; }

# check NAME PYTHON_EXPR: evaluates EXPR over `peers` (the list) and `r` (the reply) of NAME.
check() {
  peers_json "$1" | python3 -c "import json,sys
r=json.load(sys.stdin); peers=r.get('peers',[])
sys.exit(0 if ($2) else 1)"
}

# wait_all DESCRIPTION PYTHON_EXPR NAMES...: until EXPR holds on every named node, bounded.
wait_all() {
  local what=$1 expr=$2; shift 2
  local start_ns=$(date +%s%N)
  local deadline=$(( start_ns + timeout_s * 1000000000 ))
  while :; do
    local ok=1
    for n in "$@"; do check "$n" "$expr" || { ok=0; break; }; done
    if [ $ok = 1 ]; then
      echo "ok: $what after $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
      return 0
    fi
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "$what: not within ${timeout_s}s"
    sleep 0.1
  done
}

now_us() { date +%s%6N; }

# latency WHAT KILL_US PYTHON_EXPR NAMES...: per node, the first event since KILL_US that
# satisfies EXPR (over `e`, one parsed line); prints p50/max over the nodes.
latency() {
  local what=$1 kill_us=$2 expr=$3; shift 3
  local files=(); for n in "$@"; do files+=("$dir/$n.events"); done
  python3 - "$kill_us" "${files[@]}" <<PY
import json, sys
kill_us = int(sys.argv[1]); lat = []
for path in sys.argv[2:]:
    for line in open(path):
        e = json.loads(line)
        if e['t_unix_us'] >= kill_us and ($expr):
            lat.append((e['t_unix_us'] - kill_us) / 1000.0); break
lat.sort()
if not lat: print("latency: $what: no events"); sys.exit(0)
p50 = lat[(len(lat) - 1) // 2]
print("latency: $what: p50 %.0f ms, max %.0f ms over %d/%d nodes (%s)" % (p50, lat[-1], len(lat), len(sys.argv) - 2, " ".join("%.0f" % x for x in lat)))
PY
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

victim=node-3
victim_id=$(peers_json node-1 | python3 -c "import json,sys; print([p['id'] for p in json.load(sys.stdin)['peers'] if p['address']=='${addr[$victim]}'][0])")
kill_us=$(now_us)
kill -9 "${pid[$victim]}"; wait "${pid[$victim]}" 2>/dev/null || true; unset "pid[$victim]"
others=(); for n in "${names[@]}"; do [ "$n" != "$victim" ] && others+=("$n"); done
wait_all "SIGKILLed $victim reported dead by all others" \
  "any(p['id']=='$victim_id' and p['state']=='dead' for p in peers)" "${others[@]}"
latency "$victim suspected" "$kill_us" "e['event']=='peer-suspect' and e['peer']=='$victim_id'" "${others[@]}"
latency "$victim dead" "$kill_us" "e['event']=='peer-disconnected' and e['peer']=='$victim_id'" "${others[@]}"
latency "$victim display unavailable" "$kill_us" "e['event']=='display-unavailable' and e['peer']=='$victim_id'" "${others[@]}"

start "$victim" "${addr[node-1]}"
# Same name, so the same id; a new incarnation and (port 0) a new address.
wait_all "restarted $victim alive again everywhere" \
  "$alive_all and any(p['id']=='$victim_id' and p['address']=='${addr[$victim]}' for p in peers)" "${others[@]}"
wait_all "restarted $victim sees the whole mesh" "$alive_all" "$victim"

coordinator=$(peers_json node-1 | python3 -c "import json,sys; print(json.load(sys.stdin)['coordinator'])")
coord_name=""
for n in "${names[@]}"; do
  if check "$n" "r.get('self')=='$coordinator'"; then coord_name=$n; fi
done
[ -n "$coord_name" ] || fail "no node claims to be coordinator $coordinator"
kill_us=$(now_us)
kill -9 "${pid[$coord_name]}"; wait "${pid[$coord_name]}" 2>/dev/null || true; unset "pid[$coord_name]"
rest=(); for n in "${names[@]}"; do [ "$n" != "$coord_name" ] && rest+=("$n"); done
wait_all "coordinator $coord_name killed: a new coordinator agreed by all" \
  "r.get('coordinator') not in (None, '$coordinator')" "${rest[@]}"
latency "coordinator $coord_name dead" "$kill_us" "e['event']=='peer-disconnected' and e['peer']=='$coordinator'" "${rest[@]}"
latency "failover (new coordinator)" "$kill_us" \
  "e['event']=='role-changed' and e['role']=='coordinator' and e['peer']!='$coordinator'" "${rest[@]}"
first=$(peers_json "${rest[0]}" | python3 -c "import json,sys; print(json.load(sys.stdin)['coordinator'])")
for n in "${rest[@]}"; do check "$n" "r.get('coordinator')=='$first'" || fail "$n follows a different coordinator"; done
echo "PASS: $nodes processes"
