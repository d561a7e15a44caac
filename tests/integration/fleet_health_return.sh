#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health the fleet agrees on, a host's link back (fleet_link's return) without bgp.settle: the
# sandbox in fleet mode with `settle: 0s` on every host (KEEL_SANDBOX_BGP_SETTLE), under 300
# long-lived TCP connections to the stream VIP and 32 UDP probe ports. keel2's link to the router
# goes down: the router withdraws it (BFD), keel2's checks see every backend down, but the fleet
# (1 of 2 down: a tie) keeps them, so keel2's table stays keel1's. Its link back, keel2 is
# announced as soon as BGP is up again (nothing waits for its checks to settle), and the flows the
# router moves back to it find their backends. A sampler compares the two hosts' digests every
# ~100 ms from the loss to the end: never different. 0 of 300 connections broken, no UDP probe
# port changed backend, and keel2 never logged bgp_settling.
E2E_FLEET=1
# Damping is not under test: the scenario's own changes, and the withdraw and return a loaded
# machine's worker stall (400 ms) causes, must not hold an address down for 30 s midway.
export KEEL_SANDBOX_FLAP_LIMIT=100
# A connection is broken by a reset or an answer from another backend (a host with another table
# sends it elsewhere: reset at once); the pause a loaded machine's worker stall and the route
# change it causes put in a flow (TCP's retransmission back-off, seconds) is not one.
export FLEET_STALL=10
export KEEL_SANDBOX_BGP_SETTLE=0s
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
. "$KT_ROOT/tests/integration/lib_fleet_health.bash"
fleet_up
fh_setup
LOG2=$SB_DIR/log/control2.log

check "keel2 runs with settle 0s" grep -qE '^ +settle: 0s$' "$(keel_dir 2)/keel.yaml"
check "both hosts at the spec revision with equal digests" fh_converged 20
check "every stream backend up on both hosts" fh_await 15 \
	"all(e['own'] == 'up' and e['fleet'] == 'up' and e['hosts_checking'] == 2 for e in fhv['backends'] if e['vip'] == 'stream')" 1 2

# The digests of both hosts, compared every ~100 ms until told to stop (a file) or 120 s: a line
# per sample, "same" or "DIFFER" (one process: a python start per sample would cost seconds).
sampler() {
	"$PY" - "$KT_TMP" "$(keel_sock 1)" "$(keel_sock 2)" <<'PYEOF' >"$KT_TMP/sampler.out" 2>&1
import os, sys, time
sys.path.insert(0, sys.argv[1])
from fh_get import get
d = lambda p: sorted((v["vip"], v["digest"]) for v in get(p, "/v1/table/digest")["vips"])
end = time.time() + 120
while time.time() < end and not os.path.exists(sys.argv[1] + "/sampler.stop"):
    try:
        print("%.3f %s" % (time.time(), "same" if d(sys.argv[2]) == d(sys.argv[3]) else "DIFFER"), flush=True)
    except Exception as e:
        print("%.3f error %r" % (time.time(), e), flush=True)
    time.sleep(0.1)
PYEOF
}

traffic_start 150
traffic_ready
EV=$(date +%s.%N)
sampler &
SAMPLER=$!
KT_PIDS+=("$SAMPLER")
"$SANDBOX" link 2 down
LD=$(date +%s.%N) # (tools/sandbox itself takes a while to start on a loaded machine)
W=$(time_until "$LD" 10 no_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's link down; the router withdrew keel2 after ${W}s"
check "keel2 withdrawn (BFD) (${W}s)" test "$W" != never
check "keel2's own checks: every stream backend down; the fleet's: up (1 of 2)" fh_await 15 \
	"all(e['own'] == 'down' and e['fleet'] == 'up' and e['hosts_down'] == 1 for e in fhv['backends'] if e['vip'] == 'stream')" 2
table_whole() { fh_await 5 "all(e['slots'] > 0 for e in tab['backends'])" 2 >/dev/null && fh_converged 0; }
check "keel2's table keeps every backend, keel1's digests" table_whole
UP=$(date +%s.%N)
"$SANDBOX" link 2 up
B=$(time_until "$UP" 40 has_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's link up; announced again after ${B}s"
check "keel2 announced again after its link came back (${B}s)" test "$B" != never
check "the router spreads $VIP4 over both hosts" wait_until 10 nexthops_are "$VIP4" 2
sleep 4 # flows through keel2 again for a few rounds
touch "$KT_TMP/sampler.stop"
wait "$SAMPLER" 2>/dev/null || true
n_same=$(grep -c ' same$' "$KT_TMP/sampler.out" || true)
n_diff=$(grep -c ' DIFFER$' "$KT_TMP/sampler.out" || true)
log "digest samples from the loss to the end: $n_same equal, $n_diff different"
check "the two hosts' digests never differed ($n_same samples)" test "$n_diff" = 0 -a "$n_same" -gt 10
no_settling() { ! grep -q "bgp_settling" "$LOG2"; }
check "keel2 never waited on settle (no bgp_settling in its log)" no_settling
check "the traffic spanned the loss and the return (the clients still run)" clients_run
traffic_end
traffic_wait
S=$(survival "$EV" --until "$UP") S2=$(survival "$UP") F2=$(failover "$UP")
log "loss: connections: $S"
log "return: connections: $S2"
log "return: UDP probes: $F2"
check "the loss: 0 of the long-lived connections broken" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] == 300 and j["survived"] == 300 else 1)' "$S"
check "the return, without settle: 0 of the long-lived connections broken" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] == 300 and j["survived"] == 300 else 1)' "$S2"
check "no UDP probe port changed backend when keel2 returned" test "$(jfield "$F2" wrong_backend)" = 0
log "FIGURE host's link back without settle: loss $(jfield "$S" survived)/$(jfield "$S" at_event), return $(jfield "$S2" survived)/$(jfield "$S2" at_event) connections survived; withdrawn ${W}s after the loss, announced ${B}s after the link came back"
finish
