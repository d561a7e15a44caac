#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# The host drain in the one state file (issue 18 item 5):
#  - an upgrade: the drain an older keel-control kept in STATE_DIR/bgp-drained is read once,
#    folded into state.json ("host_drained": true) and the old file removed: still drained;
#  - the drain then survives restarts and edits (a persist of the configuration keeps it);
#  - keelctl host undrain clears it in state.json, and a restart stays undrained.
#
# keel-control runs without a dataplane and without BIRD, in a network namespace of its own (its
# BGP runtime reads a kernel table): only its state is under test.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl ip "$PY"
kt_tmpdir
kt_name NAME dst

CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
[[ -x $KEELCTL ]] || skip "no keelctl at $KEELCTL"

NS=kdst$KT_ID
kt_netns "$NS"
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 17) % 20000))
TABLE=$((1000 + $$ % 1000))
cat >"$KT_TMP/keel.yaml" <<EOF
instance: $NAME
next_hop: { mac: "02:00:5e:10:00:01" }
encap_source: { ipv4: 172.16.0.0/16 }
api: { socket: $SOCK }
metrics: { listen: "127.0.0.1:$MPORT" }
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }] }
bgp:
  local_asn: 65001
  router_id: 10.98.0.2
  neighbours: [ { address: 10.98.0.1, asn: 65000 } ]
  table: $TABLE
  drain_wait: 1s
  bird_socket: $KT_TMP/no-bird.ctl
EOF
STATE=$KT_TMP/state

start() { control_start ip netns exec "$NS" timeout -s TERM -k 5 120 --; }
stop() {
	kill -TERM "$CONTROL_PID"
	wait "$CONTROL_PID" 2>/dev/null || true
}
draining() { curl -s --max-time 5 --unix-socket "$SOCK" http://keel/v1/bgp | json_get 'j["draining"]'; }
in_state() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("host_drained", False))' "$STATE/state.json"; }

log "first start: not drained, nothing about a drain in state.json"
start
check "not draining" test "$(draining)" = False
stop
check "state.json: not drained" test "$(in_state)" = False

log "an upgrade: the drain an older version kept in bgp-drained"
echo drained >"$STATE/bgp-drained"
start
check "drained after the upgrade start" test "$(draining)" = True
check "state.json holds the drain" test "$(in_state)" = True
check "the old file is gone" test ! -e "$STATE/bgp-drained"
check "the fold is logged" grep -q 'event=host_drain_folded' "$KT_TMP/control.log"
check "an edit while drained: 200" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	--unix-socket "$SOCK" -X PUT -H 'Content-Type: application/json' -d '{"weight": 2}' \
	http://keel/v1/vips/web/backends/10.0.0.1/weight)" = 200
check "the edit's persist keeps the drain" test "$(in_state)" = True
stop

log "a restart: the drain comes from state.json alone"
start
check "still drained after the restart" test "$(draining)" = True
check "keelctl host undrain" "$KEELCTL" --socket "$SOCK" host undrain
check "not draining" test "$(draining)" = False
check "state.json: not drained" test "$(in_state)" = False
stop
start
check "still undrained after a restart" test "$(draining)" = False
check "keelctl host drain" "$KEELCTL" --socket "$SOCK" host drain --wait 1s
check "state.json: drained" test "$(in_state)" = True
check "no bgp-drained file is written any more" test ! -e "$STATE/bgp-drained"
stop
start
check "drained after a restart" test "$(draining)" = True
stop
finish
