#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health the fleet agrees on, one host's path broken, under traffic (tools/sandbox in fleet mode:
# two Keel hosts behind the router's ECMP, BGP, three etcd members; 300 long-lived TCP connections
# to the stream VIP, 32 UDP probe ports). be2 is made unreachable from keel2 only (nftables in
# keel2's namespace: its checks fail; the dataplane's AF_XDP path is not filtered):
#  - keel2's own verdict of be2 is down, the fleet's (1 of 2 down: a tie) up on both hosts, both
#    tables keep it, the digests stay equal;
#  - past the bound (5 s) keel_health_disagreement{vip,backend} is 1 on keel2 (0 on keel1),
#    `keelctl fleet health` on keel2 says DISAGREE, and keel2 lowers its BGP preference: the
#    router's BIRD sees keel2's route with the degraded MED (200) and sends the VIP to keel1 alone
#    (an ECMP change: keel2's flows move to keel1);
#  - a second ECMP change: keel1 drained (keelctl host drain), every flow goes to keel2, which
#    still sends be2's share to be2 (with its own verdicts it would move those flows elsewhere);
#    keel1 undrained;
#  - the path healed: the disagreement ends, keel2's MED is 100 again, the router spreads the VIP
#    over both hosts (a third ECMP change).
# Not one of the 300 connections broke, no UDP probe port changed backend. Then, without traffic,
# be2 unreachable from keel2 again and keel2 cut from the store: after the documented bound it
# builds from its own verdicts (be2 out of its table, keel_fleet_health_own 1, still degraded)
# while keel1 keeps it; healed, keel2 follows the fleet again with equal digests.
E2E_FLEET=1
# Damping is not under test: the scenario's own changes, and the withdraw and return a loaded
# machine's worker stall (400 ms) causes, must not hold an address down for 30 s midway.
export KEEL_SANDBOX_FLAP_LIMIT=100
# A connection is broken by a reset or an answer from another backend (a host with another table
# sends it elsewhere: reset at once); the pause a loaded machine's worker stall and the route
# change it causes put in a flow (TCP's retransmission back-off, seconds) is not one.
export FLEET_STALL=10
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
. "$KT_ROOT/tests/integration/lib_fleet_health.bash"
need_cmd nft
fleet_up
fh_setup
B2=$(be4 2)
NS2=$(ns_keel 2)

ALL_UP="all(e['own'] == 'up' and e['fleet'] == 'up' and e['hosts_checking'] == 2 for e in fhv['backends'] if e['vip'] == 'stream') and len([e for e in fhv['backends'] if e['vip'] == 'stream']) == 3"
check "both hosts at the spec revision with equal digests" fh_converged 20
check "every stream backend up, own and fleet, 2 hosts checking each" fh_await 15 "$ALL_UP" 1 2
check "keel2's route at the router: MED 100" med_becomes 2 100 20
check "the router spreads $VIP4 over both hosts" wait_until 10 nexthops_are "$VIP4" 2

traffic_start 150
traffic_ready
EV=$(date +%s.%N)
log "be2 ($B2) unreachable from keel2 only"
fh_nft "$NS2" output ip daddr "$B2" drop
T0=$(date +%s.%N)
# First the router (timed), then the rest: each check's reads take a while on a loaded machine.
D=$(time_until "$T0" 30 med_is 2 200) || true
log "keel2's route at the router: MED 200 ${D}s after be2 became unreachable from it (check fall 2 x 1 s + the 5 s bound)"
check "keel2 lowers its BGP preference: the router sees MED 200 (${D}s)" test "$D" != never
# (one process for both hosts and every field: each python start costs seconds on a loaded machine)
check "keel2's own verdict of be2 down, keel1's up, the fleet's up on both (1 of 2: kept), both tables keep it" \
	fh_across 10 "row(H[1], '$B2')['own'] == 'down' and row(H[0], '$B2')['own'] == 'up' and all(row(h, '$B2')['fleet'] == 'up' and row(h, '$B2')['hosts_down'] == 1 and row(h, '$B2')['hosts_checking'] == 2 for h in H) and all([e['slots'] for e in t['backends'] if e['backend'] == '$B2'][0] > 0 for t in T)" 1 2
check "the digests stay equal" fh_converged
check "keel_health_disagreement shows it on keel2 after the bound" wait_until 15 fh_disagree 2 "$B2" 1
check "... not on keel1" fh_disagree 1 "$B2" 0
sb_keelctl 2 fleet health | tee "$KT_TMP/fh.out" | grep -E "^(VIP|stream) " | sed "s/^/    /"
check "keelctl fleet health on keel2: own down, fleet up, 1/2, DISAGREE" \
	grep -qE "^stream +$B2 +down +up +1/2 +DISAGREE" "$KT_TMP/fh.out"

check "the router sends $VIP4 to keel1 alone (keel2 degraded)" wait_until 10 vip_via_only 1
check "keel1's route keeps MED 100" med_becomes 1 100 5
bgp_reason() { sb_api_k 2 GET /v1/bgp | grep -q "a backend the fleet keeps is down from here"; }
check "keel2's /v1/bgp gives the reason" bgp_reason
check "the digests are still equal (no publish moved a slot)" fh_converged

log "keel1 drained: every flow goes to keel2 (which keeps be2)"
rx2=$(host_rx 2)
sb_keelctl 1 host drain >"$KT_TMP/drain.out" 2>&1 || die "keelctl host drain on keel1 failed: $(cat "$KT_TMP/drain.out")"
check "the router sends $VIP4 to keel2 alone" wait_until 10 vip_via_only 2
sleep 3 # a few rounds of every connection through keel2
check "keel2 carries the traffic ($(($(host_rx 2) - rx2)) packets since the drain)" test $(($(host_rx 2) - rx2)) -gt 3000
sb_keelctl 1 host undrain >/dev/null || die "keelctl host undrain on keel1 failed"
check "keel1 announced again: $VIP4 to keel1 alone (keel2 degraded)" \
	wait_until 20 vip_via_only 1

log "the path healed"
T1=$(date +%s.%N)
fh_nft_flush "$NS2"
check "own and fleet agree again on both hosts" fh_await 15 "$ALL_UP" 1 2
check "keel_health_disagreement back to 0 on keel2" wait_until 10 fh_disagree 2 "$B2" 0
U=$(time_until "$T1" 25 med_is 2 100) || true
log "keel2's route at the router: MED 100 ${U}s after the path healed"
check "keel2's preference back to normal: MED 100 (${U}s)" test "$U" != never
check "the router spreads $VIP4 over both hosts again" wait_until 10 nexthops_are "$VIP4" 2
sleep 2 # flows back through keel2 for a few rounds

check "the traffic spanned every change (the clients still run)" clients_run
traffic_end
traffic_wait
S=$(survival "$EV") PR=$(failover "$EV")
log "connections: $S"
log "UDP probes: $PR"
check "all 300 long-lived connections open at the start, 0 broken" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] == 300 and j["survived"] == 300 and not j["failures"] else 1)' "$S"
check "no UDP probe port lost its answers or changed backend" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["never_back"] == 0 and j["wrong_backend"] == 0 else 1)' "$PR"
log "FIGURE one host's path broken under 300 connections and three ECMP changes: $(jfield "$S" survived) of $(jfield "$S" at_event) survived; keel2 degraded (MED 200) ${D}s after the path broke, normal ${U}s after it healed"

# Without traffic: a host cut from the store while its path to be2 is broken builds from its own
# verdicts (be2 out), which no router should send it flows for (degraded); kept apart from the
# traffic above because any hiccup of keel1 (a loaded machine's worker stall withdraws it) sends
# every flow to keel2 then.
log "be2 unreachable from keel2 again, and keel2 cut from the store"
fh_nft "$NS2" output ip daddr "$B2" drop
check "keel2's own verdict of be2 is down again" fh_await 10 "fh('$B2')['own'] == 'down'" 2
"$SANDBOX" store 2 cut
t0=$SECONDS
check "keel2 builds from its own verdicts: be2 out of its table" \
	fh_await 25 "fhv['verdicts'] == 'own' and slots('$B2') == 0" 2
log "FIGURE store cut -> own verdicts on keel2: $((SECONDS - t0)) s (bound: lease_ttl 3 s after the first failure)"
check "keel_fleet_health_own 1 on keel2" test "$(metric_of 2 keel_fleet_health_own)" = 1
check "keel1 keeps be2 (keel2's verdicts went with its lease: nobody sees it down)" \
	fh_await 15 "slots('$B2') > 0 and fh('$B2')['hosts_checking'] == 1 and fh('$B2')['fleet'] == 'up'" 1
sb_keelctl 2 fleet health >"$KT_TMP/fh2.out" 2>&1
check "keelctl fleet health on keel2 says OWN" grep -q "^verdicts: OWN" "$KT_TMP/fh2.out"
check "keel2 stays degraded: MED 200 at the router" med_becomes 2 200 10

log "the store cut healed (be2 still unreachable from keel2)"
"$SANDBOX" store 2 heal
check "keel2 follows the fleet again: be2 back in its table" \
	fh_await 25 "fhv['verdicts'] == 'fleet' and slots('$B2') > 0 and fh('$B2')['hosts_checking'] == 2" 2
check "... and keel2 stays degraded: the disagreement's clock ran on through the cut" med_is 2 200
check "keel_fleet_health_own 0 on keel2" test "$(metric_of 2 keel_fleet_health_own)" = 0
check "the digests are equal again" fh_converged 15
fh_nft_flush "$NS2"
check "own and fleet agree again on both hosts" fh_await 15 "$ALL_UP" 1 2

finish
