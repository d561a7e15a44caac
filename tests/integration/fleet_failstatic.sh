#!/bin/bash
# Fleet, every backend of a VIP down (fail-static): keel1's health checks are cut off from every
# backend (prohibit routes in its namespace; the backends themselves stay up). keel1 keeps
# announcing the VIP address, with the degraded MED (200) and community: the router prefers
# keel2 (MED 100) and sends it all the traffic. (What long-lived connections through keel1 see is
# logged, not checked: while keel1's checks fail one by one, its table loses those backends and
# their tracked flows are re-chosen, as for any backend down, before panic puts them back.)
# Cut off on both hosts, both announce degraded and the router spreads over both again: the VIP
# stays reachable (each host, every backend down, forwards by the unfiltered table: panic) and
# new connections succeed. With `all_backends_down: withdraw` (SIGHUP) both withdraw and the
# router has no route; the checks back, both announce normally again (MED 100).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

cut() { # K add|del: host K's kernel (health checks) cannot reach any backend
	local b
	for b in "${SB_BES[@]}"; do
		ip -n "$(ns_keel "$1")" route "$2" prohibit "$(be4 "$b")/32"
		ip -n "$(ns_keel "$1")" -6 route "$2" prohibit "$(be6 "$b")/128"
	done
}
med_is() { [[ $(med_from "$VIP4" "$1") == "$2" ]]; } # K med
only_keel2() { nexthops_are "$VIP4" 1 && has_nexthop "$VIP4" "$(keel4 2)"; }

traffic_start 26
EV=$(date +%s.%N)
cut 1 add
T=$(time_until "$EV" 12 med_is 1 200) || true
log "keel1 cut off from every backend: announced degraded (MED 200) after ${T}s; router: $(nexthops "$VIP4" | tr '\n' ' ')"
check "keel1 announces $VIP4 degraded (MED 200)" test "$T" != never
check "the router sends $VIP4 to keel2 only (MED 100 wins)" wait_until 3 only_keel2
log "keelctl bgp on keel1: $(sb_keelctl 1 bgp 2>&1 | tr '\n' ';' | tr -s ' ' | head -c 400)"
check "keel1's community marks it degraded at the router" \
	sh -c "sb() { birdc -s '$(bird_dir router)/bird.ctl' \"\$@\"; }; sb show route $VIP4/32 all protocol keel1_4 | grep -q '($SB_KEEL_ASN,200)'"

sleep 2
cut 2 add
T=$(time_until "$(date +%s.%N)" 12 med_is 2 200) || true
log "keel2 cut off too: degraded after ${T}s; router: $(nexthops "$VIP4" | tr '\n' ' ')"
check "both hosts degraded: the router spreads $VIP4 over both again" wait_until 3 nexthops_are "$VIP4" 2
r=$(client http --vip "$VIP4" --n 200 --conc 8)
log "200 new connections with every backend down at both hosts: $r"
check "fail-static: the VIP stays reachable, 200 new connections succeed" test "$(jfield "$r" fail)" = 0
traffic_wait
S=$(survival "$EV") F=$(failover "$EV")
log "connections: $S"
log "UDP probes: $F"

# configured to withdraw instead
for k in 1 2; do
	sed -i 's/all_backends_down: degraded/all_backends_down: withdraw/' "$(keel_dir "$k")/keel.yaml"
	kill -HUP "$(cat "$SB_DIR/pid/$( ((k == 1)) && echo control || echo control$k)")"
done
T=$(time_until "$(date +%s.%N)" 10 nexthops_are "$VIP4" 0) || true
log "all_backends_down: withdraw: router route gone after ${T}s"
check "all_backends_down: withdraw: both hosts withdraw $VIP4" test "$T" != never
cut 1 del
cut 2 del
T=$(time_until "$(date +%s.%N)" 15 nexthops_are "$VIP4" 2) || true
log "checks back: $VIP4 over both hosts again after ${T}s (MED keel1 $(med_from "$VIP4" 1), keel2 $(med_from "$VIP4" 2))"
check "backends reachable again: both hosts announce normally (MED 100)" sh -c "test '$T' != never && test '$(med_from "$VIP4" 1)' = 100 && test '$(med_from "$VIP4" 2)' = 100"
echo "{\"scenario\": \"all_backends_down\", \"survival\": $(jfield "$S" share)}"
finish
