#!/bin/bash
# Fleet, planned drain: under 300 long-lived TCP connections and 32 UDP probe ports through two
# Keel hosts, `keelctl host drain` on keel2: keel-control withdraws keel2's VIPs, waits drain_wait
# (the sandbox: 3 s) for the router to move the traffic away, then stops forwarding. Not one
# connection breaks. Prints the time from the drain to the router's withdrawal and to the last
# packet keel2's dataplane received; `keelctl host undrain` announces again.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

# The epoch time of the last increase of keel2's rx counter, watched every 50 ms for $1 seconds
last_rx() { # seconds
	"$PY" - "$1" "$SB_SEAM" "$(keel_name 2)" "$SB_DIR" <<'PYEOF'
import json, os, subprocess, sys, time
t0, dur, seam, name = time.time(), float(sys.argv[1]), sys.argv[2], sys.argv[3]
env = dict(os.environ, KEEL_REGION_DIR=sys.argv[4])
last, prev = None, None
while time.time() < t0 + dur:
    r = subprocess.run([seam, "counters", name, "--json"], capture_output=True, text=True, env=env)
    if r.returncode == 0:
        rx = json.loads(r.stdout)["rx_pkts"]
        if prev is not None and rx != prev:
            last = time.time()
        prev = rx
    time.sleep(0.05)
print(f"{last or t0:.3f}")
PYEOF
}

traffic_start 24
last_rx 10 >"$KT_TMP/lastrx" &
WATCH=$!
sleep 1
EV=$(date +%s.%N)
sb_keelctl 2 host drain >"$KT_TMP/drain.out" 2>&1 &
DRAIN=$!
KT_PIDS+=("$DRAIN")
W=$(time_until "$EV" 5 no_nexthop "$VIP4" "$(keel4 2)") || true
wait "$DRAIN" || die "keelctl host drain failed: $(cat "$KT_TMP/drain.out")"
D=$("$PY" -c "import time; print(f'{time.time() - $EV:.3f}')")
log "keelctl host drain returned after ${D}s: $(tr '\n' ' ' <"$KT_TMP/drain.out" | head -c 300)"
log "router withdrew keel2 after ${W}s"
check "keel2 withdrawn from the router within 1.5 s of the drain (${W}s)" \
	"$PY" -c "import sys; sys.exit(0 if '$W' != 'never' and float('$W') <= 1.5 else 1)"
check "keel_host_draining is 1 on keel2" test "$(metric_of 2 keel_host_draining)" = 1
wait "$WATCH"
L=$("$PY" -c "print(f'{$(cat "$KT_TMP/lastrx") - $EV:.3f}')")
log "keel2's dataplane received its last packet ${L}s after the drain"
sleep 3
sb_keelctl 2 host undrain >/dev/null || die "keelctl host undrain failed"
B=$(time_until "$(date +%s.%N)" 15 has_nexthop "$VIP4" "$(keel4 2)") || true
log "undrained: keel2 announced again after ${B}s"
check "keel2 announced again after undrain" test "$B" != never
traffic_wait
S=$(survival "$EV") F=$(failover "$EV")
log "connections: $S"
log "UDP probes: $F"
check "planned drain: not one long-lived connection broken" \
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] >= 100 and j["survived"] == j["at_event"] and not j["failures"] else 1)' "$S"
check "no UDP probe port changed backend" test "$(jfield "$F" wrong_backend)" = 0
echo "{\"scenario\": \"drain\", \"withdraw_s\": ${W/never/null}, \"drain_to_no_traffic_s\": $L, \"survival\": $(jfield "$S" share)}"
finish
