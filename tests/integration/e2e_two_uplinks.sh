#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, several next hops: the sandbox with a second gateway on the server LAN
# (tools/sandbox up --uplinks 2: the Keel host's keel.yaml has next_hops [router, gw2]). Both
# next hops usable and carrying part of 300 long-lived TCP connections and 32 UDP probe ports;
# then gw2's link goes down (tools/sandbox gateway 2 down). Within the documented bound
# (docs/config.md, "Several next hops": a check every 1.1 s at most, the kernel's unicast probes,
# 3 x 1 s, one more check and a publish: 5.3 s; measured here by polling /metrics) gw2
# leaves the set (keel_next_hop_up 0), its flows go by the router, and: no connection broken (no
# reset, no answer from another backend, no pause over 12 s), no UDP port changed backend, every
# UDP port answered again within the bound, and gw2 carries nothing more.
. "$(dirname "$0")/lib.sh"
export KEEL_SANDBOX_UPLINKS=2
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
FLEET_PY=$KT_ROOT/tools/sandbox.d/fleet.py
BOUND=6.5 # seconds: 5.3 s documented, plus what polling /metrics and the probes' interval add
e2e_up

metric() { # pattern -> the first matching sample's value on keel1
	in_ns "$(ns_keel 1)" curl -sf --max-time 5 "http://$SB_METRICS/metrics" | grep -E "^$1" | head -n 1 | awk '{print $NF}'
}
hop_up() { [[ $(metric "keel_next_hop_up\\{next_hop=\"$1\"\\}") == "$2" ]]; } # gateway 0|1
hop_pkts() { metric "keel_next_hop_packets_total\\{next_hop=\"$1\"\\}"; }

both_up() { hop_up "$ROUTER4" 1 && hop_up "$GW2_4" 1; }

check "both next hops usable (router $ROUTER4, gw2 $GW2_4)" wait_until 15 both_up
check "keelctl status lists both next hops" bash -c "'$SB_KEELCTL' --socket '$SB_SOCK' status | grep -q '$GW2_4'"

log "traffic: 300 long-lived TCP connections and 32 UDP probe ports for 30 s"
CLIENT_TIMEOUT=60 client persist --vip "$VIP4" --port 9000 --conns 300 --seconds 30 --interval 0.1 \
	--stall 12 >"$KT_TMP/persist.json" 2>"$KT_TMP/persist.err" &
P1=$!
CLIENT_TIMEOUT=60 client probe --vip "$VIP4" --port 7 --conns 32 --seconds 30 --interval 0.02 \
	>"$KT_TMP/probe.json" 2>"$KT_TMP/probe.err" &
P2=$!
KT_PIDS+=("$P1" "$P2")
sleep 5
A1=$(hop_pkts "$ROUTER4") A2=$(hop_pkts "$GW2_4")
log "before: by router $A1 packets, by gw2 $A2"
check "both next hops carry traffic before the event" test "${A1:-0}" -gt 0 -a "${A2:-0}" -gt 0

EV=$(date +%s.%N)
"$SANDBOX" gateway 2 down
T=never
for ((i = 0; i < 500; i++)); do
	if hop_up "$GW2_4" 0; then T=$("$PY" -c "import time; print(f'{time.time() - $EV:.3f}')"); break; fi
	sleep 0.05
done
log "gw2's link down: out of the set after ${T}s"
check "gw2 left the set within ${BOUND}s (${T}s)" "$PY" -c "import sys; sys.exit(0 if '$T' != 'never' and float('$T') <= $BOUND else 1)"
check "the router stays usable" hop_up "$ROUTER4" 1
sleep 1
G1=$(hop_pkts "$GW2_4")
sleep 2
G2=$(hop_pkts "$GW2_4")
check "nothing more goes by gw2 once out of the set ($G1 -> $G2)" test "$G1" = "$G2"
wait "$P1" || die "persist client failed: $(tail -n 3 "$KT_TMP/persist.err")"
wait "$P2" || die "probe client failed: $(tail -n 3 "$KT_TMP/probe.err")"
S=$("$PY" "$FLEET_PY" survival "$KT_TMP/persist.json" --event "$EV")
F=$("$PY" "$FLEET_PY" failover "$KT_TMP/probe.json" --event "$EV")
log "connections: $S"
log "UDP probes: $F"
jf() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
check "300 connections open at the event" test "$(jf "$S" at_event)" -ge 300
check "no connection broken" test "$(jf "$S" survived)" = "$(jf "$S" at_event)"
check "no UDP probe port changed backend" test "$(jf "$F" wrong_backend)" = 0
check "every UDP probe port answered again" test "$(jf "$F" never_back)" = 0
check "traffic by the router within ${BOUND}s ($(jf "$F" failover_s)s)" \
	"$PY" -c "import sys; sys.exit(0 if $(jf "$F" failover_s) <= $BOUND else 1)"
echo "{\"scenario\": \"two_uplinks\", \"out_of_set_s\": ${T/never/null}, \"failover_s\": $(jf "$F" failover_s), \"traffic_back_tcp_s\": $(jf "$S" traffic_back_s), \"survived\": $(jf "$S" survived), \"at_event\": $(jf "$S" at_event)}"
finish
