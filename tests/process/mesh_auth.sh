#!/usr/bin/env bash
# Real-process test of a sealed mesh (issue 15, docs/security.md): N `hana-net node`
# processes share a pre-shared key; two outsiders, one without a key and one with another
# key, are seeded at the mesh too. Once the keyed nodes have refused both outsiders several
# times (auth_failures), no keyed node lists an outsider, no outsider lists a keyed node, and
# the coordinator every keyed node follows is keyed. Every wait is bounded.
set -euo pipefail
hana_net=${1:?usage: mesh_auth.sh PATH/TO/hana-net [NODES]}
nodes=${2:-8}
timeout_s=${HANA_PROCESS_TEST_TIMEOUT:-30}
. "$(dirname "$0")/process_lib.sh"  # fail, peers_json, check, wait_all, launch
process_test_begin

"$hana_net" keygen >"$dir/mesh.key"
"$hana_net" keygen >"$dir/other.key"
# A bad key file is a usage error (exit 2), not a node running without a key.
echo "not-a-key" >"$dir/bad.key"
set +e; "$hana_net" node --bind 127.0.0.1:0 --psk-file "$dir/bad.key" >"$dir/bad.log" 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "a malformed key file exited $rc, not 2"
grep -q "psk-file" "$dir/bad.log" || fail "no clear error for a malformed key file"

# start NAME KEY_FILE|- [SEED_ADDR]: runs a node on 127.0.0.1:0 and records its pid and address.
start() {
  local name=$1 key=$2 seed=${3:-}
  local args=(node --bind 127.0.0.1:0 --id "$name" --control "$dir/$name.sock")
  [ "$key" != - ] && args+=(--psk-file "$key")
  [ -n "$seed" ] && args+=(--seed "$seed")
  launch "$name" "${args[@]}"
}

names=()
for i in $(seq 1 "$nodes"); do
  name=node-$i
  if [ "$i" = 1 ]; then start "$name" "$dir/mesh.key"; else start "$name" "$dir/mesh.key" "${addr[node-1]}"; fi
  names+=("$name")
done
grep -q "mesh sealed" "$dir/node-1.log" || fail "node-1 does not say it is sealed"
start outsider-nokey - "${addr[node-1]}"
start outsider-wrongkey "$dir/other.key" "${addr[node-2]}"
grep -q "UNAUTHENTICATED" "$dir/outsider-nokey.log" || fail "the unkeyed node does not say it is unauthenticated"

wait_all "full keyed view: every keyed node sees $((nodes - 1)) alive peers" \
  "sum(p['state']=='alive' for p in peers)==$((nodes - 1))" "${names[@]}"
wait_all "one coordinator agreed by all keyed nodes" "r.get('coordinator') is not None" "${names[@]}"

# Bounded wait until node-1 and node-2 (the outsiders' seeds) have refused several attempts.
stats_failures() {
  "$hana_net" stats --control "$dir/$1.sock" --json 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['node']['mesh']['auth_failures'])" 2>/dev/null || echo 0
}
deadline=$(( $(date +%s) + timeout_s ))
while :; do
  f1=$(stats_failures node-1); f2=$(stats_failures node-2)
  [ "$f1" -ge 3 ] && [ "$f2" -ge 3 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "outsiders not refused 3 times within ${timeout_s}s (node-1 $f1, node-2 $f2)"
  sleep 0.1
done
echo "ok: auth_failures node-1 $f1 (outsider without a key), node-2 $f2 (outsider with another key)"

keyed_addrs=$(for n in "${names[@]}"; do printf "'%s'," "${addr[$n]}"; done)
outsider_addrs="'${addr[outsider-nokey]}','${addr[outsider-wrongkey]}'"
for n in "${names[@]}"; do
  check "$n" "len(peers)==$((nodes - 1)) and all(p['address'] in [$keyed_addrs] for p in peers)" ||
    fail "$n lists a peer that is not keyed"
  check "$n" "r.get('coordinator') in [p['id'] for p in peers] + [r.get('self')]" ||
    fail "$n follows a coordinator outside the keyed view"
done
for n in outsider-nokey outsider-wrongkey; do
  check "$n" "len(peers)==0" || fail "$n sees keyed nodes"
done
coordinator=$(peers_json node-1 | python3 -c "import json,sys; print(json.load(sys.stdin)['coordinator'])")
echo "ok: outsiders ($outsider_addrs) in no keyed view, keyed nodes in no outsider view; coordinator $coordinator is keyed"
echo "PASS: $nodes keyed processes, 2 outsiders refused"
