#!/usr/bin/env bash
# Real-process test of the mesh-wide link picture: N `hana-net node` processes on loopback;
# every node's `hana-net links --json` lists every node's link to every other; the human
# table prints one row per link; after one node is SIGKILLed and declared dead, no node
# lists a link from or to it. Every wait is bounded; all processes are killed on exit.
set -euo pipefail
hana_net=${1:?usage: mesh_links.sh PATH/TO/hana-net [NODES]}
nodes=${2:-4}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/process_lib.sh"  # fail, peers_json, check, wait_all, sigkill
process_test_begin

links_json() { "$hana_net" links --control "$dir/$1.sock" --json 2>/dev/null || echo '{}'; }
# wait_links DESCRIPTION PYTHON_EXPR NAMES...: EXPR over `links` (the list) on every node, bounded.
wait_links() {
  local what=$1 expr=$2; shift 2
  local deadline=$(( $(date +%s) + timeout_s ))
  while :; do
    local ok=1
    for n in "$@"; do
      links_json "$n" | python3 -c "import json,sys
links=json.load(sys.stdin).get('links',[])
sys.exit(0 if ($expr) else 1)" || { ok=0; break; }
    done
    [ $ok = 1 ] && { echo "ok: $what"; return 0; }
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${timeout_s}s"
    sleep 0.1
  done
}

names=()
for i in $(seq 1 "$nodes"); do
  name=node-$i
  args=(node --bind 127.0.0.1:0 --id "$name" --control "$dir/$name.sock")
  [ "$i" != 1 ] && args+=(--seed "${addr[node-1]}")
  : >"$dir/$name.log"  # exists before wait_log looks at it
  "$hana_net" "${args[@]}" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!
  wait_log "$name" 'listening on [0-9.:]*'
  addr[$name]=${log_match#listening on }
  names+=("$name")
done
wait_all "full view" "sum(p['state']=='alive' for p in peers)==$((nodes - 1))" "${names[@]}"
full=$((nodes * (nodes - 1)))
wait_links "every node lists all $full links" \
  "len({(l['observer'], l['peer']) for l in links})==$full and all(l['observer']!=l['peer'] and l['rtt_us']>0 for l in links)" \
  "${names[@]}"
rows=$("$hana_net" links --control "$dir/node-2.sock" | tail -n +3 | wc -l)
[ "$rows" = "$full" ] || fail "table of node-2 has $rows rows, not $full"
echo "ok: table has $rows rows"

victim=node-3
victim_id=$(peers_json node-1 | python3 -c "import json,sys; print([p['id'] for p in json.load(sys.stdin)['peers'] if p['address']=='${addr[$victim]}'][0])")
sigkill "$victim"  # sets others
wait_all "$victim dead everywhere" "any(p['id']=='$victim_id' and p['state']=='dead' for p in peers)" "${others[@]}"
left=$(((nodes - 1) * (nodes - 2)))
wait_links "no link from or to $victim, $left left" \
  "len(links)==$left and all('$victim_id' not in (l['observer'], l['peer']) for l in links)" "${others[@]}"
echo "PASS"
