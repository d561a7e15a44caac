#!/bin/bash
# Fleet, a host added under load: two Keel hosts carry 300 long-lived TCP connections and 32 UDP
# probe ports; a third host is brought up (tools/sandbox up --hosts 3: its dataplane, keel-control
# and BIRD, the router's new peers). Once it announces, the router's ECMP route has three next
# hops and part of the flows move to keel3, which picks the same backends: at least 99.9% of the
# connections survive, and keel3 forwards some of them.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

traffic_start 26
EV=$(date +%s.%N)
KEEL_SANDBOX_HOSTS=3 "$SANDBOX" up >/dev/null || die "adding keel3 failed"
A=$(time_until "$EV" 30 has_nexthop "$VIP4" "$(keel4 3)") || true
log "keel3 up and announced after ${A}s: $VIP4 over $(nexthops "$VIP4" | tr '\n' ' ')"
check "keel3 announced: the route has 3 next hops" nexthops_are "$VIP4" 3
sleep 3
RX3=$(host_rx 3)
log "keel3's dataplane received $RX3 packets"
check "keel3 carries part of the traffic (rx $RX3 > 100)" test "$RX3" -gt 100
traffic_wait
S=$(survival "$EV") F=$(failover "$EV")
log "connections: $S"
log "UDP probes: $F"
check "at least 99.9% of the long-lived connections survived the new host" share_ok "$S"
check "no UDP probe port changed backend" test "$(jfield "$F" wrong_backend)" = 0
echo "{\"scenario\": \"host_added\", \"announced_s\": ${A/never/null}, \"survival\": $(jfield "$S" share)}"
finish
