# Shared by the real-process scripts (sourced): the scratch directory and cleanup, bounded
# waits on `hana-net peers --json` and event-log latencies. Callers set hana_net and
# timeout_s, call process_test_begin (which makes dir, the scratch directory, and the
# arrays pid[NAME] and addr[NAME]), and set names, the node names, for
# kill_coordinator_expect_failover. Node NAME's control socket is $dir/NAME.sock, its log $dir/NAME.log, its
# event log $dir/NAME.events.

# process_test_begin: makes $dir and the global arrays pid and addr, and traps EXIT so that
# every recorded process is SIGKILLed, the caller's cleanup_extra runs if it defines one
# (network namespaces, say), and $dir is removed, however the script ends.
process_test_begin() {
  dir=$(mktemp -d)
  declare -gA pid=() addr=()
  trap process_test_end EXIT
}
process_test_end() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
  rm -rf "$dir"
}

peers_json() { "$hana_net" peers --control "$dir/$1.sock" --json 2>/dev/null || echo '{}'; }

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

# wait_log NAME PATTERN: until grep -o PATTERN matches NAME's log (up to 10 s); the match
# is left in $log_match (not printed: fail must not run inside a command substitution).
wait_log() {
  log_match=""
  for _ in $(seq 1 200); do
    log_match=$(grep -m1 -o "$2" "$dir/$1.log" || true)
    [ -n "$log_match" ] && return 0
    sleep 0.05
  done
  fail "$1 did not start: no '$2' in its log"
}

now_us() { date +%s%6N; }

# launch NAME ARGS...: runs `hana-net ARGS...` in the background, logging to $dir/NAME.log,
# and records its pid and (from its "listening on" line, up to 10 s) its address.
launch() {
  local name=$1; shift
  "$hana_net" "$@" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
  local line=""
  for _ in $(seq 1 200); do
    line=$(grep -m1 -o 'listening on [0-9.:]*' "$dir/$name.log" 2>/dev/null || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  [ -n "$line" ] || fail "$name did not start"
  addr[$name]=${line#listening on }
}

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

# wait_events DESCRIPTION SINCE_US PYTHON_EXPR NAMES...: until every named node's event log
# has an event since SINCE_US satisfying EXPR (over `e`), bounded by timeout_s.
wait_events() {
  local what=$1 since_us=$2 expr=$3; shift 3
  local files=(); for n in "$@"; do files+=("$dir/$n.events"); done
  local deadline=$(( $(date +%s) + timeout_s ))
  while :; do
    if python3 - "$since_us" "${files[@]}" <<PY
import json, os, sys
since = int(sys.argv[1])
def has(path):
    if not os.path.exists(path): return False
    for line in open(path):
        e = json.loads(line)
        if e['t_unix_us'] >= since and ($expr): return True
    return False
sys.exit(0 if all(has(p) for p in sys.argv[2:]) else 1)
PY
    then
      echo "ok: $what"
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${timeout_s}s"
    sleep 0.1
  done
}

# sigkill NAME: SIGKILLs node NAME; sets kill_us (when) and others (the names left).
sigkill() {
  local n
  kill_us=$(now_us)
  kill -9 "${pid[$1]}"; wait "${pid[$1]}" 2>/dev/null || true; unset "pid[$1]"
  others=(); for n in "${names[@]}"; do if [ "$n" != "$1" ]; then others+=("$n"); fi; done  # (not `&&`: under set -e a false last test would end the caller)
}

# sigkill_expect_dead NAME ID: SIGKILLs node NAME (id ID), waits until every other node
# holds it dead and prints the suspicion and detection latencies from the event logs.
sigkill_expect_dead() {
  sigkill "$1"
  wait_all "SIGKILLed $1 reported dead by all others" \
    "any(p['id']=='$2' and p['state']=='dead' for p in peers)" "${others[@]}"
  latency "$1 suspected" "$kill_us" "e['event']=='peer-suspect' and e['peer']=='$2'" "${others[@]}"
  latency "$1 dead" "$kill_us" "e['event']=='peer-disconnected' and e['peer']=='$2'" "${others[@]}"
}

# kill_coordinator_expect_failover: SIGKILLs whichever of the nodes in `names` is the
# coordinator (as node-1 sees it), then waits until every other node agrees on one new
# coordinator and prints the detection and failover latencies from their event logs.
kill_coordinator_expect_failover() {
  local coordinator coord_name first n rest
  coordinator=$(peers_json node-1 | python3 -c "import json,sys; print(json.load(sys.stdin)['coordinator'])")
  coord_name=""
  for n in "${names[@]}"; do
    if check "$n" "r.get('self')=='$coordinator'"; then coord_name=$n; fi
  done
  [ -n "$coord_name" ] || fail "no node claims to be coordinator $coordinator"
  sigkill "$coord_name"
  rest=("${others[@]}")
  wait_all "coordinator $coord_name killed: a new coordinator agreed by all" \
    "r.get('coordinator') not in (None, '$coordinator')" "${rest[@]}"
  latency "coordinator $coord_name dead" "$kill_us" "e['event']=='peer-disconnected' and e['peer']=='$coordinator'" "${rest[@]}"
  latency "failover (new coordinator)" "$kill_us" \
    "e['event']=='role-changed' and e['role']=='coordinator' and e['peer']!='$coordinator'" "${rest[@]}"
  first=$(peers_json "${rest[0]}" | python3 -c "import json,sys; print(json.load(sys.stdin)['coordinator'])")
  for n in "${rest[@]}"; do check "$n" "r.get('coordinator')=='$first'" || fail "$n follows a different coordinator"; done
}

# ---- A LAN in network namespaces (root only): one bridge, one namespace per node.
# lan_create PREFIX N: namespace PREFIX-hub holds bridge br0 with ports p1..pN; namespace
# PREFIX-I holds eth0 (10.81.0.I/24), the other end of port pI. Multicast snooping is off,
# so every group reaches every port, as on a switch without an IGMP querier. Fails (status
# 1) when namespaces cannot be made; lan_destroy PREFIX N removes what was made.
lan_create() {
  local prefix=$1 n=$2 i
  ip netns add "$prefix-hub" || return 1
  ip -n "$prefix-hub" link add br0 type bridge mcast_snooping 0 || return 1
  ip -n "$prefix-hub" link set br0 up
  for i in $(seq 1 "$n"); do
    ip netns add "$prefix-$i" || return 1
    ip link add eth0 netns "$prefix-$i" type veth peer name "p$i" netns "$prefix-hub" || return 1
    ip -n "$prefix-hub" link set "p$i" master br0
    ip -n "$prefix-hub" link set "p$i" up
    ip -n "$prefix-$i" addr add "10.81.0.$i/24" dev eth0
    ip -n "$prefix-$i" link set eth0 up
    ip -n "$prefix-$i" link set lo up
  done
  printf 'table bridge partition {\n chain cut {\n  type filter hook forward priority 0; policy accept;\n }\n}\n' |
    ip netns exec "$prefix-hub" nft -f -
}
# lan_test_begin PREFIX N: a test on a namespace LAN of N nodes. Skips (exit 77) without
# root, iproute2 or nft, or when the namespaces cannot be made; otherwise begins the test
# (process_test_begin) with the LAN removed on every exit path.
lan_test_begin() {
  lan_prefix=$1 lan_nodes=$2
  if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (creates network namespaces, a bridge and nftables rules)"; exit 77; fi
  command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 77; }
  command -v nft >/dev/null || { echo "SKIP: no nft (tools/setup installs nftables)"; exit 77; }
  cleanup_extra() { lan_destroy "$lan_prefix" "$lan_nodes"; }
  process_test_begin
  if ! lan_create "$lan_prefix" "$lan_nodes" 2>"$dir/lan.err"; then
    echo "SKIP: cannot build the namespace LAN: $(head -1 "$dir/lan.err")"
    exit 77
  fi
}
lan_destroy() {
  local prefix=$1 n=$2 i
  for i in $(seq 1 "$n"); do ip netns del "$prefix-$i" 2>/dev/null || true; done  # takes its veth pair along
  ip netns del "$prefix-hub" 2>/dev/null || true
}
# lan_loss PREFIX I BASIS_POINTS: node I drops that share of the UDP datagrams it receives
# (nftables on eth0's ingress; each receiver draws on its own, multicast copies included).
lan_loss() {
  [ "$3" -gt 0 ] || return 0
  printf 'table netdev loss {\n chain ingress {\n  type filter hook ingress device eth0 priority 0;\n  meta l4proto udp numgen random mod 10000 < %s drop\n }\n}\n' "$3" |
    ip netns exec "$1-$2" nft -f -
}
# lan_partition PREFIX "I J ..." "K L ...": the bridge forwards nothing between the two
# sets of ports (either way); lan_heal PREFIX forwards everything again.
lan_partition() {
  local a b
  a=$(printf '"p%s", ' $2); b=$(printf '"p%s", ' $3)
  ip netns exec "$1-hub" nft add rule bridge partition cut iifname "{ ${a%, } }" oifname "{ ${b%, } }" drop
  ip netns exec "$1-hub" nft add rule bridge partition cut iifname "{ ${b%, } }" oifname "{ ${a%, } }" drop
}
lan_heal() { ip netns exec "$1-hub" nft flush chain bridge partition cut; }
# lan_block_udp PREFIX I: node I drops every UDP datagram arriving on eth0 (nftables,
# ingress), TCP passes; on every node, no UDP crosses the LAN: the network the TCP path is
# for. lan_unblock_udp PREFIX I lifts it.
lan_block_udp() {
  printf 'table netdev noudp {\n chain in {\n  type filter hook ingress device eth0 priority 0;\n  meta l4proto udp drop\n }\n}\n' |
    ip netns exec "$1-$2" nft -f -
}
lan_unblock_udp() { ip netns exec "$1-$2" nft delete table netdev noudp; }
