#!/bin/bash
# Fleet, dataplane killed: two Keel hosts share the stream VIP by ECMP; under 300 long-lived TCP
# connections (a line every 100 ms each; a reset, a stall over 2 s or an answer from another
# backend breaks one) and 32 UDP probe ports, keel2's keel-dataplane is killed with SIGKILL.
# keel-control sees its heartbeats stop and withdraws keel2's VIP routes (within 1 s), BIRD tells
# the router, and keel2's flows go on through keel1, which picks the same backends. At least
# 99.9% of the connections survive. Then keel2's dataplane is started again (tools/sandbox up),
# its VIPs come back and flows move back, unbroken. Prints per run the time from the kill to the
# router's withdrawal and to traffic flowing again (UDP probes), and a JSON line.
# FLEET_RUNS=5 repeats the kill and the return five times in one sandbox (median and worst).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
RUNS=${FLEET_RUNS:-1}
# Each run withdraws and announces again: more than two runs a minute would be damped (held
# down 30 s after the fourth change), as flapping should be.
export KEEL_SANDBOX_FLAP_LIMIT=$((2 * RUNS + 2))
fleet_up

FAILS=() WITHDRAWS=() SHARES=()
for ((run = 1; run <= RUNS; run++)); do
	traffic_start 22
	EV=$(date +%s.%N)
	"$SANDBOX" kill 2
	W=$(time_until "$EV" 5 no_nexthop "$VIP4" "$(keel4 2)") || true
	log "run $run: keel2's dataplane killed; router withdrew keel2 after ${W}s"
	check "run $run: keel2 withdrawn from the router within 1.5 s of the kill (${W}s)" \
		"$PY" -c "import sys; sys.exit(0 if '$W' != 'never' and float('$W') <= 1.5 else 1)"
	sleep 6
	"$SANDBOX" up >/dev/null || die "restarting keel2's dataplane failed"
	B=$(time_until "$(date +%s.%N)" 20 has_nexthop "$VIP4" "$(keel4 2)") || true
	log "run $run: keel2's dataplane restarted; announced again after ${B}s"
	check "run $run: keel2 announced again after its dataplane came back" test "$B" != never
	traffic_wait
	S=$(survival "$EV") F=$(failover "$EV")
	log "run $run: connections: $S"
	log "run $run: UDP probes: $F"
	check "run $run: at least 99.9% of the long-lived connections survived" share_ok "$S"
	check "run $run: no UDP probe port changed backend" test "$(jfield "$F" wrong_backend)" = 0
	FAILS+=("$(jfield "$F" failover_s)") WITHDRAWS+=("$W") SHARES+=("$(jfield "$S" share)")
done
echo "{\"scenario\": \"dataplane_kill\", \"failover_s\": $("$PY" "$FLEET_PY" stats "${FAILS[@]}"), \"withdraw_s\": $("$PY" "$FLEET_PY" stats "${WITHDRAWS[@]/never/99}"), \"survival\": $("$PY" "$FLEET_PY" stats --higher-better "${SHARES[@]}")}"
finish
