#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# Fleet, BIRD stopped and started on a host: under 300 long-lived TCP connections and 32 UDP probe
# ports, keel2's BIRD is stopped. Its sessions close, the router takes keel2's routes out, keel2's
# flows go on through keel1 (none break), and keel2's keel-control reports the speaker gone
# (keel_bgp_speaker_up 0) while its dataplane keeps forwarding what still reaches it. BIRD
# started again learns keel-control's routes from table 100 and announces them: the router has
# both hosts again and keel_bgp_speaker_up is 1. While BIRD is away keel2's /v1/bgp says web is
# announced (in table 100) and exported to no peer (what BIRD sends), and exported again after.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

speaker_is() { [[ $(metric_of 2 keel_bgp_speaker_up) == "$1" ]]; }
check "keel2 reports its speaker up" wait_until 10 speaker_is 1
traffic_start 24
EV=$(date +%s.%N)
"$SANDBOX" bird 2 stop
W=$(time_until "$EV" 5 no_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's BIRD stopped; router withdrew keel2 after ${W}s"
check "keel2's routes out of the router within 2 s (${W}s)" \
	"$PY" -c "import sys; sys.exit(0 if '$W' != 'never' and float('$W') <= 2 else 1)"
check "keel2's keel-control reports keel_bgp_speaker_up 0" wait_until 10 speaker_is 0
web_export() { # -> "(announced, exported peers)" of web on keel2
	sb_api_k 2 GET /v1/bgp | json_get '[(v["announced"], v["exported"] > 0) for v in j["vips"] if v["vip"] == "web"][0]'
}
web_export_is() { [[ $(web_export) == "$1" ]]; }
check "keel2 /v1/bgp: web announced (table 100) but exported to no peer" wait_until 5 web_export_is "(True, False)"
check "keel2's dataplane still runs" dp_alive 2
check "keel2's table 100 still holds its VIP routes" \
	test -n "$(ip -n "$(ns_keel 2)" route show table "$SB_BGP_TABLE" "$VIP4")"
sleep 3
"$SANDBOX" bird 2 start
B=$(time_until "$(date +%s.%N)" 20 has_nexthop "$VIP4" "$(keel4 2)") || true
log "keel2's BIRD started; announced again after ${B}s"
check "keel2's VIPs announced again by the restarted BIRD" test "$B" != never
check "keel2's keel-control reports keel_bgp_speaker_up 1 again" wait_until 15 speaker_is 1
check "keel2 /v1/bgp: web exported again" wait_until 10 web_export_is "(True, True)"
traffic_wait
S=$(survival "$EV") F=$(failover "$EV")
log "connections: $S"
log "UDP probes: $F"
check "BIRD stopped: forwarding went on, at least 99.9% of the connections survived" share_ok "$S"
check "no UDP probe port changed backend" test "$(jfield "$F" wrong_backend)" = 0
echo "{\"scenario\": \"bird_restart\", \"withdraw_s\": ${W/never/null}, \"back_s\": ${B/never/null}, \"survival\": $(jfield "$S" share)}"
finish
