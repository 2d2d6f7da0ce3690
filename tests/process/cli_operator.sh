#!/usr/bin/env bash
# The operator's surface of `hana-net`, on real processes: --version; a --control path that
# a live node owns is refused, a crashed node's leftover socket is replaced, and a node
# removes only its own socket; get/set --json; errors that quote the bad value and the
# expected type; cross-knob rules from set and --config; `knobs` with a node's values.
# Every wait is bounded; all processes are killed on exit.
set -euo pipefail
hana_net=${1:?usage: cli_operator.sh PATH/TO/hana-net}
dir=$(mktemp -d)
declare -A pid
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }

# start NAME SOCKET [ARGS...]: a node on loopback with control socket SOCKET.
start() {
  local name=$1 sock=$2; shift 2
  "$hana_net" node --bind 127.0.0.1:0 --id "$name" --control "$sock" "$@" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
}
# wait_answers SOCKET: until a node answers `get` on SOCKET (10 s).
wait_answers() {
  for _ in $(seq 1 100); do
    "$hana_net" get --control "$1" pto_floor_us >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "no node answers on $1"
}
# expect_exit CODE PATTERN CMD...: CMD exits with CODE and prints PATTERN (grep -E) on stderr.
expect_exit() {
  local code=$1 pattern=$2 rc=0; shift 2
  "$@" >"$dir/out" 2>"$dir/err" || rc=$?
  [ "$rc" = "$code" ] || fail "$* exited $rc, expected $code: $(cat "$dir/err")"
  grep -Eq -- "$pattern" "$dir/err" || fail "$*: stderr lacks '$pattern': $(cat "$dir/err")"
  echo "ok: $* -> $code, $(head -1 "$dir/err")"
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

[[ "$("$hana_net" --version)" =~ ^hana-net\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version"
echo "ok: $("$hana_net" --version)"

sock=$dir/a.sock
start a "$sock"
wait_answers "$sock"

# A second node on a live node's path is refused before it joins; the first keeps its socket.
rc=0; timeout 10 "$hana_net" node --bind 127.0.0.1:0 --id b --control "$sock" >"$dir/b.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "second node on a live --control path exited $rc (expected 1)"
grep -q "belongs to a running node" "$dir/b.log" || fail "no clear refusal: $(cat "$dir/b.log")"
"$hana_net" get --control "$sock" pto_floor_us >/dev/null || fail "node a lost its control socket"
echo "ok: a live node's --control path is refused"

# get/set --json; errors quote the value and what the knob expects; rules between knobs.
[ "$("$hana_net" get --control "$sock" --json pto_floor_us | json_field "['value']")" = 200 ] || fail "get --json"
[ "$("$hana_net" set --control "$sock" --json fault_loss_pct 5 | json_field "['value']")" = 5 ] || fail "set --json"
expect_exit 2 "--threading: 'bogus' is not one of" "$hana_net" node --bind 127.0.0.1:0 --threading bogus
expect_exit 2 "--threading: a node daemon runs shared or dedicated" "$hana_net" node --bind 127.0.0.1:0 --threading inline
expect_exit 2 "'abc'.*a number in 0 \.\. 100" "$hana_net" set --control "$sock" fault_loss_pct abc
expect_exit 2 "'-3'.*an integer in 50 \.\. 10000000" "$hana_net" set --control "$sock" pto_floor_us -3
expect_exit 2 "'maybe'.*true or false" "$hana_net" set --control "$sock" pacing maybe
expect_exit 2 "pto_floor_us must not exceed pto_cap_us" "$hana_net" set --control "$sock" pto_floor_us 200000
expect_exit 2 "not runtime-changeable" "$hana_net" set --control "$sock" max_peers 5
expect_exit 2 "unknown knob 'no_such_knob'" "$hana_net" get --control "$sock" no_such_knob

# knobs: every knob of the table, with the node's current value when given one.
n_table=$("$hana_net" knobs --json | json_field "['knobs'].__len__()")
"$hana_net" knobs --control "$sock" --json >"$dir/knobs.json"
[ "$(json_field "['knobs'].__len__()" <"$dir/knobs.json")" = "$n_table" ] || fail "knobs --control lists another set"
python3 - "$dir/knobs.json" <<'PY' || fail "knobs --control --json values"
import json, sys
k = {r['name']: r for r in json.load(open(sys.argv[1]))['knobs']}
assert k['fault_loss_pct']['value'] == '5' and k['fault_loss_pct']['default'] == '0', k['fault_loss_pct']
assert k['pto_floor_us']['value'] == '200' and k['pto_floor_us']['runtime'] is True
assert all('value' in r and r['doc'] and r['range'] for r in k.values())
PY
# (output taken whole first: `cmd | grep -q` under pipefail fails when grep exits before
# the table is written and the writer gets SIGPIPE, as the table grows.)
"$hana_net" knobs --control "$sock" >"$dir/knobs.txt"
grep -Eq '^fault_loss_pct .* 5 \*' "$dir/knobs.txt" || fail "knobs table marks changed values"
echo "ok: knobs lists $n_table knobs with the node's values"

# stats --json carries the mesh's own counters (hana/stats.def's mesh table).
"$hana_net" stats --control "$sock" --json | python3 -c "import json,sys
m=json.load(sys.stdin)['node']['mesh']
assert {'suspicions','refutations','indirect_probes','rate_limited','bad_cookies','bad_datagrams','refused_peer_limit',
        'unknown_connection','wrong_source','reassembly_refused','dead_records_evicted','dials_deferred','untrusted_gossip'} <= set(m), m
assert {'bad-checksum','bad-magic','truncated'} <= set(m['bad_datagrams_by_error']), m" \
  || fail "stats --json lacks the mesh counters"
echo "ok: stats --json has the mesh counters"

# A node removes only its own socket: a's file is moved away, c takes the path, a stops.
mv "$sock" "$dir/a-moved.sock"
start c "$sock"
wait_answers "$sock"
kill -TERM "${pid[a]}"; wait "${pid[a]}" || fail "node a did not stop cleanly"; unset "pid[a]"
[ -S "$sock" ] || fail "stopping node a removed node c's socket"
"$hana_net" get --control "$sock" pto_floor_us >/dev/null || fail "node c no longer answers"
echo "ok: a stopping node leaves another node's socket alone"

# A crashed node's leftover socket is replaced; --config rules hold for the whole file.
kill -9 "${pid[c]}"; wait "${pid[c]}" 2>/dev/null || true; unset "pid[c]"
[ -S "$sock" ] || fail "SIGKILLed node c left no socket file (test premise)"
printf 'pto_floor_us = 200000\n' >"$dir/bad.conf"
expect_exit 2 "pto_floor_us must not exceed pto_cap_us" timeout 10 "$hana_net" node --bind 127.0.0.1:0 --config "$dir/bad.conf"
printf 'fault_loss_pct = lots\n' >"$dir/bad2.conf"
expect_exit 2 "bad2.conf:1: fault_loss_pct: 'lots' rejected" timeout 10 "$hana_net" node --bind 127.0.0.1:0 --config "$dir/bad2.conf"
printf 'pto_floor_us = 200000   # raised before the cap: fine once the file is read\npto_cap_us = 300000\n' >"$dir/good.conf"
start d "$sock" --config "$dir/good.conf"
wait_answers "$sock"
[ "$("$hana_net" get --control "$sock" --json pto_floor_us | json_field "['value']")" = 200000 ] || fail "--config"
echo "ok: a leftover socket is replaced; --config applies the rules to the whole file"
echo "cli_operator: passed"
