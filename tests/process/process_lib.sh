# Shared by the real-process scripts (sourced): bounded waits on `hana-net peers --json`
# and event-log latencies. Callers set: hana_net, dir (scratch directory), timeout_s, and
# the arrays pid[NAME] and addr[NAME]; node NAME's control socket is $dir/NAME.sock, its
# log $dir/NAME.log, its event log $dir/NAME.events.

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
