#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health the fleet agrees on, a backend down for every host, under traffic (tools/sandbox in fleet
# mode: two Keel hosts behind the router's ECMP, BGP, three etcd members; 300 long-lived TCP
# connections to the stream VIP). be3 refuses connections (nftables reject in its namespace),
# FLEET_HEALTH_ROUNDS times (2; more for the figures): each time it is removed from both hosts' tables, both at the same
# store revision of the verdicts (fleet_since_revision) with equal digests, the other backends
# keep their slots; then it comes back on both. The connections to be1 and be2: 0 broken (those
# to be3 are reset by its refusal). Prints the time from the failure to its removal on every host
# (median, worst). FLEET_HOSTS=4: four hosts.
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
ROUNDS=${FLEET_HEALTH_ROUNDS:-2}
fleet_up
fh_setup
B3=$(be4 3)
NSB3=$(ns_be 3)
N=${#SB_KEELS[@]}
HOSTS=${SB_KEELS[*]}

check "$N hosts at the spec revision with equal digests" fh_converged 20
# shellcheck disable=SC2086
check "every stream backend up, own and fleet, $N hosts checking each" fh_await 15 \
	"all(e['own'] == 'up' and e['fleet'] == 'up' and e['hosts_checking'] == $N for e in fhv['backends'] if e['vip'] == 'stream')" $HOSTS
digests_up=$(fh_digests 1)
size=$(sb_api_k 1 GET /v1/vips/stream/table | json_get 'sum(e["slots"] for e in j["backends"])')

# across every host, in one process each (a python start per value costs seconds when loaded)
across() { fh_across "$@" "${SB_KEELS[@]}"; } # timeout expr
traffic_start 150
traffic_ready
EV=$(date +%s.%N)
: >"$KT_TMP/removed"
for k in $(seq "$ROUNDS"); do
	fh_nft "$NSB3" input tcp dport '{ 80, 9000 }' reject with tcp reset
	t0=$(date +%s.%N) # the rule is in force once nft returns
	# shellcheck disable=SC2086
	ms=$(FH_T0=$t0 fh_await 15 "slots('$B3') == 0 and fh('$B3')['fleet'] == 'down'" $HOSTS) ||
		die "round $k: be3 not removed on every host"
	echo "$ms" >>"$KT_TMP/removed"
	if ((k == 1)); then
		# shellcheck disable=SC2086
		check "the other backends keep their slots, the table is whole ($size)" fh_await 5 \
			"slots('$(be4 1)') > 0 and slots('$(be4 2)') > 0 and slots('$(be4 1)') + slots('$(be4 2)') == $size" $HOSTS
		check "every host's verdicts are at the same store revision" across 10 "len({h['revision'] for h in H}) == 1"
		check "every host turned be3 down at the same store revision (fleet_since_revision)" \
			across 5 "len({row(h, '$B3')['fleet_since_revision'] for h in H}) == 1 and row(H[0], '$B3')['fleet_since_revision'] > 0"
		check "... with equal digests" fh_converged 10
		check "... that differ from those with be3" test "$(fh_digests 1)" != "$digests_up"
		check "$N of $N hosts see it down, no disagreement" \
			across 5 "all((row(h, '$B3')['hosts_down'], row(h, '$B3')['hosts_checking'], row(h, '$B3')['disagreement']) == ($N, $N, False) for h in H)"
	fi
	fh_nft_flush "$NSB3"
	# shellcheck disable=SC2086
	if ! fh_await 25 "slots('$B3') > 0 and fh('$B3')['fleet'] == 'up'" $HOSTS >/dev/null; then
		for i in $HOSTS; do grep -E 'publish|fleet_health|backend_' "$SB_DIR/log/$( ((i == 1)) && echo control || echo "control$i").log" | tail -n 8 | sed "s/^/    keel$i: /"; done
		die "round $k: be3 not back on every host"
	fi
done
check "back: every host's verdicts at one revision" across 10 "len({h['revision'] for h in H}) == 1"
check "... equal digests" fh_converged 10
check "... those of the start" test "$(fh_digests 1)" = "$digests_up"
sleep 2 # every connection answered since be3 came back
check "the traffic spanned every round (the clients still run)" clients_run
traffic_end
traffic_wait
R=$(broken_except be3)
log "connections: $R"
check "the long-lived connections to be1 and be2: 0 broken (of at least 150)" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] == 300 and j["counted"] >= 150 and j["broken"] == 0 else 1)' "$R"
stats() { sort -n "$1" | awk '{a[NR] = $1} END {printf "median %d ms, worst %d ms (of %d)", a[int((NR + 1) / 2)], a[NR], NR}'; }
log "FIGURE failure -> removed on every host ($N hosts, sandbox: TCP check every 1 s, fall 2; under 300 connections): $(stats "$KT_TMP/removed"); connections to the other backends broken: $(jfield "$R" broken) of $(jfield "$R" counted)"
finish
