#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until / check
# A host cut from the fleet store while edits go on through the other (tools/sandbox in fleet mode:
# two Keel hosts, BGP, three etcd members). keel2 is cut by nftables in its namespace
# (tools/sandbox store 2 cut; only its traffic with the members: BGP and forwarding untouched),
# then three edits go through keel1. keel2 keeps serving its last revision: its applied revision
# stays, and HTTP sent through it alone (a client address the router routes to keel2 only) is
# answered. keelctl fleet status on keel1 shows keel2's lag, after its lease expired too (its
# last-known record, GONE). Past its lease (3 s) keel2 lowers its BGP preference: the router's
# route from keel2 carries the degraded MED (200) and the router sends the VIP to keel1 alone.
# The cut healed: keel2 runs the newest revision with keel1's digests, MED 100 again, two next
# hops, lag 0.
E2E_FLEET=1
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
need_cmd nft
fleet_up

spec_rev() { sb_etcdctl get "$SB_FLEET_PREFIX/spec" -w json | json_get 'j["kvs"][0]["mod_revision"]'; }
applied() { sb_api_k "$1" GET /v1/status | json_get 'j["fleet"]["applied_revision"]'; }
digests() { sb_api_k "$1" GET /v1/table/digest | json_get 'sorted((v["vip"], v["digest"]) for v in j["vips"])'; }
converged() { # revision: both hosts run it with equal digests
	[[ $(applied 1) == "$1" && $(applied 2) == "$1" && $(digests 1) == "$(digests 2)" ]]
}
med_is() { [[ $(med_from "$VIP4" "$1") == "$2" ]]; } # host med
med_becomes() { # host med seconds: as the router's BIRD sees it (the last value said on failure)
	wait_until "$3" med_is "$1" "$2" && return 0
	echo "    keel$1's route at the router: MED '$(med_from "$VIP4" "$1")'; $(sb_birdc router show route "$VIP4/32" table master4 all 2>&1 | tr -s ' \n' ' ' | cut -c1-400)"
	return 1
}

# Through keel2 alone: a second client address whose packets the router sends to keel2 (a rule
# and a table of its own), whatever BGP prefers.
ALT=198.51.100.3
ip -n "$NS_CLIENT" addr add "$ALT/24" dev "${SB_P}cl"
ip -n "$NS_ROUTER" route add "$VIP4/32" via "$(keel4 2)" table 123
ip -n "$NS_ROUTER" rule add from "$ALT" lookup 123 priority 100
via_keel2() { in_ns "$NS_CLIENT" curl -sf --max-time 2 --interface "$ALT" -o /dev/null "http://$VIP4/"; }

r0=$(spec_rev)
check "both hosts run the seed spec (revision $r0) with equal digests" wait_until 20 converged "$r0"
check "keel2's route at the router: MED 100" med_becomes 2 100 20
check "HTTP through keel2 alone answers" via_keel2
g2=$(sb_api_k 2 GET /v1/status | json_get 'j["generation"]')

log "keel2 cut from the store (nftables in its namespace)"
T0=$(date +%s.%N)
"$SANDBOX" store 2 cut
for w in 2 3 1; do
	sb_keelctl 1 --no-wait backend weight web "$(be4 1)" "$w" --force >/dev/null || die "edit (weight $w) through keel1 refused"
	sleep 1
done
r1=$(spec_rev)
check "three edits through keel1 committed (revision $r0 -> $r1)" test "$r1" -gt "$r0"
check "keel1 runs revision $r1" wait_until 10 eval '[[ $(applied 1) == '"$r1"' ]]'
lag_shown() { # pattern of keel2's row in keel1's fleet status
	sb_keelctl 1 fleet status >"$KT_TMP/fs.out" 2>&1 && grep -qE "$1" "$KT_TMP/fs.out"
}
check "keelctl fleet status on keel1: keel2 at revision $r0, lag $((r1 - r0)), GONE once its lease expired" \
	wait_until 15 lag_shown "^keel2 +$r0 +$((r1 - r0)) +behind +GONE"
sed 's/^/    /' "$KT_TMP/fs.out"
D=$(time_until "$T0" 15 med_is 2 200) || true
log "keel2 degraded at the router ${D}s after the cut"
check "past its lease keel2 announces degraded: MED 200 at the router" test "$D" != never
check "... and the router sends $VIP4 to keel1 alone" wait_until 5 eval 'nexthops_are "$VIP4" 1 && has_nexthop "$VIP4" "$(keel4 1)"'
check "keel1's route keeps MED 100" med_becomes 1 100 5
check "keel2's /v1/bgp: store_lost, reason 'cut from the fleet store'" \
	eval 'sb_api_k 2 GET /v1/bgp | grep -q "cut from the fleet store"'
check "keel2 still runs revision $r0 (generation $g2)" \
	test "$(applied 2) $(sb_api_k 2 GET /v1/status | json_get 'j["generation"]')" = "$r0 $g2"
check "HTTP through keel2 alone still answers (its last revision serves)" via_keel2
check "an edit through keel2 is refused at once (exit 69)" \
	eval 'sb_keelctl 2 backend weight web "$(be4 2)" 2 >/dev/null 2>&1; test $? = 69'

log "the cut healed"
T1=$(date +%s.%N)
"$SANDBOX" store 2 heal
C=$(time_until "$T1" 20 converged "$r1") || true
log "keel2 caught up to revision $r1 ${C}s after the cut ended"
check "keel2 runs revision $r1 with keel1's digests" test "$C" != never
check "keel2's route: MED 100 again" med_becomes 2 100 20
check "the router spreads $VIP4 over both hosts again" wait_until 10 nexthops_are "$VIP4" 2
check "keelctl fleet status on keel1: keel2 lag 0, alive" \
	wait_until 10 lag_shown "^keel2 +$r1 +0 +equal +alive"
log "FIGURE partition: keel2 degraded at the router ${D}s after the cut; caught up ${C}s after it ended"
finish
