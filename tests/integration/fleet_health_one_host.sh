#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health the fleet agrees on, one host's path broken: two Keel hosts in one fleet (etcd, three
# members), each keel-control in a namespace of its own; four backends in another, TCP-checked.
# Backend 2 is made unreachable from host 2 only (nftables in host 2's namespace):
#  - host 2's own verdict is down, the fleet's (1 of 2 down: a tie) is up on both hosts, both
#    tables keep it, the digests stay equal;
#  - after the bound, keel_health_disagreement{vip,backend} is 1 on host 2 (0 on host 1) and
#    `keelctl fleet health` on host 2 says DISAGREE;
# Then host 2 is cut from the store too (nftables): after the documented bound it builds from its
# own verdicts (backend 2 out of its table, keel_fleet_health_own 1) while host 1 keeps it; the
# cut healed, host 2 follows the fleet's verdicts again and the digests are equal again.
# No traffic: the sandbox with etcd (fleet mode) is another engineer's work.
. "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2034 # read by lib_fleet.bash
FLEET_OWN_NS=1
. "$KT_ROOT/tests/integration/lib_fleet.bash"
. "$KT_ROOT/tests/integration/lib_fleet_health.bash"

fleet_setup 2
fh_backends
B2=${FH_B[2]}
r0=$(fleet_spec_rev)
check "both hosts run the seed spec with equal digests" wait_until 15 fleet_converged "$r0"
ALL_UP='all(e["own"] == "up" and e["fleet"] == "up" and e["hosts_checking"] == 2 for e in fhv["backends"]) and len(fhv["backends"]) == 4'
check "every backend up, own and fleet, 2 hosts checking each" fh_await 10 "$ALL_UP" 1 2

log "backend $B2 unreachable from host 2 only"
fh_nft "${FLEET_NS[2]}" output ip daddr "$B2" tcp dport 80 drop
check "host 2's own verdict of $B2 is down, the fleet's up (1 of 2: kept)" \
	fh_await 5 "fh('$B2')['own'] == 'down' and fh('$B2')['fleet'] == 'up' and fh('$B2')['hosts_down'] == 1 and fh('$B2')['hosts_checking'] == 2" 2
check "host 1 sees 1 of 2 hosts down, own up" \
	fh_await 5 "fh('$B2')['own'] == 'up' and fh('$B2')['hosts_down'] == 1" 1
check "both tables keep $B2" fh_await 3 "slots('$B2') > 0" 1 2
check "the digests stay equal" fleet_converged "$r0"
disagree() { test "$(fleet_metric "$1" "keel_health_disagreement{vip=\"web\",backend=\"$B2\"}")" = "$2"; }
check "keel_health_disagreement shows it on host 2 after the bound" wait_until 10 disagree 2 1
check "... not on host 1" disagree 1 0
kctl 2 fleet health | tee "$KT_TMP/fh.out"
check "keelctl fleet health on host 2: own down, fleet up, 1/2, DISAGREE" \
	grep -qE "^web +$B2 +down +up +1/2 +DISAGREE" "$KT_TMP/fh.out"
check "keelctl fleet health: the others agree" test "$(grep -cE '^web +[0-9.]+ +up +up +0/2 *$' "$KT_TMP/fh.out")" = 3
check "the digests are still equal (no publish moved a slot)" fleet_converged "$r0"

log "host 2 cut from the store as well"
for m in 1 2 3; do fh_nft "${FLEET_NS[2]}" output ip daddr "$ETCD_NET.$m" tcp dport 2379 drop; done
t0=$SECONDS
check "host 2 builds from its own verdicts: $B2 out of its table" \
	fh_await 20 "fhv['verdicts'] == 'own' and slots('$B2') == 0" 2
log "FIGURE store cut -> own verdicts on host 2: $((SECONDS - t0)) s (bound: lease_ttl 3 s after the first failure)"
check "keel_fleet_health_own 1 on host 2" test "$(fleet_metric 2 keel_fleet_health_own)" = 1
check "host 1 keeps $B2 (host 2's verdicts went with its lease: nobody sees it down)" \
	fh_await 10 "slots('$B2') > 0 and fh('$B2')['hosts_checking'] == 1 and fh('$B2')['fleet'] == 'up'" 1
kctl 2 fleet health | tee "$KT_TMP/fh2.out"
check "keelctl fleet health on host 2 says OWN" grep -q "^verdicts: OWN" "$KT_TMP/fh2.out"

log "the store cut healed (backend still unreachable from host 2)"
fh_nft_flush "${FLEET_NS[2]}"
fh_nft "${FLEET_NS[2]}" output ip daddr "$B2" tcp dport 80 drop
check "host 2 follows the fleet again: $B2 back in its table" \
	fh_await 20 "fhv['verdicts'] == 'fleet' and slots('$B2') > 0 and fh('$B2')['hosts_checking'] == 2" 2
check "keel_fleet_health_own 0 on host 2" test "$(fleet_metric 2 keel_fleet_health_own)" = 0
check "the digests are equal again" wait_until 10 fleet_converged "$r0"

log "the path healed"
fh_nft_flush "${FLEET_NS[2]}"
check "own and fleet agree again on both hosts" fh_await 10 "$ALL_UP" 1 2
check "keel_health_disagreement back to 0 on host 2" wait_until 5 disagree 2 0
finish
