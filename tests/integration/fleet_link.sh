#!/bin/bash
# Fleet, host gone: under 300 long-lived TCP connections and 32 UDP probe ports, keel2's link to
# the router goes down (the host vanishes: nothing withdraws anything). The router's BFD session
# to keel2 (100 ms x 5) takes its BGP sessions down and its routes out; keel2's flows go on
# through keel1. At least 99.9% survive; the time from the link going down to the router's
# withdrawal and to traffic flowing again is printed. The link back up, keel2's sessions and
# announcements come back.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

traffic_start 24
EV=$(date +%s.%N)
"$SANDBOX" link 2 down
W=$(time_until "$EV" 5 no_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's link down; router withdrew keel2 after ${W}s ($(sb_birdc router show protocols keel2_4 | tail -n 1 | tr -s ' '))"
check "keel2 detected gone (BFD) and withdrawn within 1 s (${W}s)" \
	"$PY" -c "import sys; sys.exit(0 if '$W' != 'never' and float('$W') <= 1.0 else 1)"
sleep 6
UP=$(date +%s.%N)
"$SANDBOX" link 2 up
B=$(time_until "$UP" 30 has_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's link up; announced again after ${B}s"
check "keel2 announced again after its link came back" test "$B" != never
traffic_wait
S=$(survival "$EV" --until "$UP") F=$(failover "$EV" --until "$UP")
log "loss: connections: $S"
log "loss: UDP probes: $F"
check "at least 99.9% of the long-lived connections survived the host's loss" share_ok "$S"
check "no UDP probe port changed backend" test "$(jfield "$F" wrong_backend)" = 0
# Its link back, keel2's health checks rise backend by backend: the flows that return to it
# must still find their backends.
S2=$(survival "$UP") F2=$(failover "$UP")
log "return: connections: $S2"
log "return: UDP probes: $F2"
check "at least 99.9% of the long-lived connections survived keel2's return" share_ok "$S2"
check "no UDP probe port changed backend when keel2 returned" test "$(jfield "$F2" wrong_backend)" = 0
echo "{\"scenario\": \"host_gone\", \"withdraw_s\": ${W/never/null}, \"failover_s\": $(jfield "$F" failover_s), \"survival\": $(jfield "$S" share), \"survival_return\": $(jfield "$S2" share)}"
finish
