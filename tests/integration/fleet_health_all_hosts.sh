#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health the fleet agrees on, a backend down for every host: two Keel hosts in one fleet (etcd,
# three members), four TCP-checked backends in a namespace of their own. Backend 3 refuses
# connections (nftables reject in the backends' namespace), six times (FLEET_HEALTH_ROUNDS): each
# time it is removed from both hosts' tables, both at the same store revision of the verdicts with
# equal digests, the other backends keep their slots; then it comes back on both. Prints the time
# from the failure to its removal on every host (median, worst). FLEET_HEALTH_HOSTS=4: four hosts.
# No traffic: the sandbox with etcd (fleet mode) is another engineer's work.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"
. "$KT_ROOT/tests/integration/lib_fleet_health.bash"

N=${FLEET_HEALTH_HOSTS:-2}
ROUNDS=${FLEET_HEALTH_ROUNDS:-6} # 10 for the figures in docs/fleet.md
fleet_setup "$N"
fh_backends
B3=${FH_B[3]}
HOSTS=$(seq -s ' ' 1 "$N")
r0=$(fleet_spec_rev)
check "$N hosts run the seed spec with equal digests" wait_until 15 fleet_converged "$r0"
# shellcheck disable=SC2086
check "every backend up, own and fleet, $N hosts checking each" fh_await 10 \
	"all(e['own'] == 'up' and e['fleet'] == 'up' and e['hosts_checking'] == $N for e in fhv['backends'])" $HOSTS
digests_up=$(fleet_digests 1)

revisions() { # the store revision each host's verdicts are at
	local i
	for i in $HOSTS; do fapi "$i" GET /v1/fleet/health | json_get 'j["revision"]'; done | sort -u
}
same_revision() { test "$(revisions | wc -l)" = 1; }

: >"$KT_TMP/removed"
for k in $(seq "$ROUNDS"); do
	fh_nft "$FH_BNS" input ip daddr "$B3" tcp dport 80 reject with tcp reset
	t0=$(date +%s.%N) # the rule is in force once nft returns
	# shellcheck disable=SC2086
	ms=$(FH_T0=$t0 fh_await 10 "slots('$B3') == 0 and fh('$B3')['fleet'] == 'down'" $HOSTS) ||
		die "round $k: $B3 not removed on every host"
	echo "$ms" >>"$KT_TMP/removed"
	if ((k == 1)); then
		# shellcheck disable=SC2086
		check "the other backends keep their slots, the table is whole" fh_await 3 \
			"all(slots(b) > 0 for b in ['${FH_B[1]}', '${FH_B[2]}', '${FH_B[4]}']) and slots('${FH_B[1]}') + slots('${FH_B[2]}') + slots('${FH_B[4]}') == 1021" $HOSTS
		check "every host's verdicts are at the same store revision" wait_until 5 same_revision
		since_revs() {
			local i
			for i in $HOSTS; do
				fapi "$i" GET /v1/fleet/health |
					json_get "[e['fleet_since_revision'] for e in j['backends'] if e['backend'] == '$B3'][0]"
			done | sort -u
		}
		check "every host turned $B3 down at the same store revision ($(since_revs | tr '\n' ' '))" \
			test "$(since_revs | wc -l)" = 1
		check "... with equal digests (at spec revision $r0)" wait_until 5 fleet_converged "$r0"
		check "... that differ from those with $B3" test "$(fleet_digests 1)" != "$digests_up"
		check "$N of $N hosts see it down, no disagreement" test "$(fapi 1 GET /v1/fleet/health |
			json_get "[(e['hosts_down'], e['hosts_checking'], e['disagreement']) for e in j['backends'] if e['backend'] == '$B3'][0]")" = "($N, $N, False)"
	fi
	fh_nft_flush "$FH_BNS"
	# shellcheck disable=SC2086
	if ! fh_await 20 "slots('$B3') > 0 and fh('$B3')['fleet'] == 'up'" $HOSTS >/dev/null; then
		for i in $HOSTS; do grep -E 'publish|fleet_health|backend_' "$KT_TMP/control$i.log" | tail -n 8 | sed "s/^/    host $i: /"; done
		die "round $k: $B3 not back on every host"
	fi
done
check "back: every host's verdicts at one revision, the digests of the start" wait_until 5 same_revision
check "... equal digests" wait_until 5 fleet_converged "$r0"
check "... those of the start" test "$(fleet_digests 1)" = "$digests_up"
stats() { sort -n "$1" | awk '{a[NR] = $1} END {printf "median %d ms, worst %d ms (of %d)", a[int((NR + 1) / 2)], a[NR], NR}'; }
log "FIGURE failure -> removed on every host ($N hosts, TCP check every 200 ms, fall 2): $(stats "$KT_TMP/removed")"
finish
