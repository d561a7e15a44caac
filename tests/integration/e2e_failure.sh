#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, failure: backend be2's services stopped (tools/sandbox svc-stop 2) leave the web
# VIP's Maglev table (API GET /v1/vips/web/table: be2 at 0 slots) within interval x fall + 1 s
# of the sandbox's health check (health_defaults in its keel.yaml); after that, 200 new HTTP
# connections through the VIP all succeed, none on be2. Started again (svc-start 2), be2 is back
# in the table (slots > 0, health "up") within interval x rise + 1 s, and takes new connections.
# Times are measured from the moment svc-stop/svc-start returned, polling the table every 50 ms;
# neither may come sooner than (fall|rise - 1) x interval - 0.5 s (one failed check is not enough).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B2=$(be4 2)
# health_defaults: { interval: 1s, timeout: 500ms, rise: 2, fall: 2 } -> "interval_s rise fall"
read -r INTERVAL RISE FALL < <("$PY" - "$SB_DIR/keel.yaml" <<'PYEOF'
import re, sys
line = next(l for l in open(sys.argv[1]) if l.startswith("health_defaults:"))
def dur(s):
    m = re.fullmatch(r"([0-9.]+)(ms|s)", s)
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
f = dict(re.findall(r"(\w+):\s*([0-9.]+(?:ms|s)?)", line.split(":", 1)[1]))
print(dur(f["interval"]), int(f["rise"]), int(f["fall"]))
PYEOF
)
[[ -n $FALL ]] || die "no health_defaults in $SB_DIR/keel.yaml"
DOWN_MAX=$("$PY" -c "print($INTERVAL * $FALL + 1)")
UP_MAX=$("$PY" -c "print($INTERVAL * $RISE + 1)")
log "health check: interval ${INTERVAL}s rise $RISE fall $FALL -> out within ${DOWN_MAX}s, back within ${UP_MAX}s"

slots_of() { # vip backend -> slots in the table the workers run
	sb_api GET "/v1/vips/$1/table" | "$PY" -c '
import json, sys
print(next((b["slots"] for b in json.load(sys.stdin)["backends"] if b["backend"] == sys.argv[1]), 0))' "$2"
}
# wait_slots VIP BACKEND zero|nonzero LIMIT -> prints the seconds it took (from $T0), 1 if not in LIMIT
wait_slots() {
	local vip=$1 be=$2 want=$3 limit=$4 s now
	while :; do
		s=$(slots_of "$vip" "$be") || s=-1
		now=$(date +%s.%N)
		if [[ $want == zero && $s == 0 ]] || [[ $want == nonzero && $s =~ ^[0-9]+$ && $s -gt 0 ]]; then
			"$PY" -c "print(f'{$now - $T0:.2f}')"
			return 0
		fi
		if "$PY" -c "import sys; sys.exit(0 if $now - $T0 > $limit + 2 else 1)"; then
			echo "never (slots $s after $limit + 2 s)"
			return 1
		fi
		sleep 0.05
	done
}
le() { "$PY" -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }

[[ $(slots_of web "$B2") -gt 0 ]] || die "be2 has no slots before the test"
r=$(client http --vip "$VIP4" --n 60 --conc 8)
log "before: $r"

# --- stop ---
"$SANDBOX" svc-stop 2
T0=$(date +%s.%N)
log "be2's services stopped"
if OUT=$(wait_slots web "$B2" zero "$DOWN_MAX"); then
	log "be2 out of web's table after ${OUT}s (health: $(health_of web "$B2"))"
	check "be2 out of the table within interval x fall + 1 s (${OUT}s <= ${DOWN_MAX}s)" le "$OUT" "$DOWN_MAX"
	check "be2 out only after fall-1 intervals at least (${OUT}s >= $(("$FALL" - 1)) x ${INTERVAL}s - 0.5 s)" \
		le "$(("$FALL" - 1)) * $INTERVAL - 0.5" "$OUT"
else
	check "be2 out of the table within ${DOWN_MAX}s: $OUT" false
fi
log "table: $("$SB_KEELCTL" --socket "$SB_SOCK" table show web | tr '\n' ' ' | tr -s ' ')"
OUT6=$(wait_slots web6 "$(be6 2)" zero "$DOWN_MAX") || true
log "be2 out of web6's table after ${OUT6}s"

r=$(client http --vip "$VIP4" --n 200 --conc 8)
log "after the failure, 200 connections: $r"
check "200 new connections after the failure: 0 failures, none on be2" \
	shares_within "$r" 0.15 be1=0.5 be3=0.5

# --- start ---
"$SANDBOX" svc-start 2
T0=$(date +%s.%N)
log "be2's services started"
if OUT=$(wait_slots web "$B2" nonzero "$UP_MAX"); then
	log "be2 back in web's table after ${OUT}s (health: $(health_of web "$B2"))"
	check "be2 back in the table within interval x rise + 1 s (${OUT}s <= ${UP_MAX}s)" le "$OUT" "$UP_MAX"
	check "be2 back only after rise-1 intervals at least (${OUT}s >= $(("$RISE" - 1)) x ${INTERVAL}s - 0.5 s)" \
		le "$(("$RISE" - 1)) * $INTERVAL - 0.5" "$OUT"
else
	check "be2 back in the table within ${UP_MAX}s: $OUT" false
fi
check "be2's health is up" test "$(health_of web "$B2")" = up
r=$(client http --vip "$VIP4" --n 300 --conc 8)
log "after the recovery, 300 connections: $r"
check "300 new connections after the recovery: 0 failures, spread over the 3 backends again" \
	shares_within "$r" 0.1 be1=0.3333 be2=0.3333 be3=0.3333
finish
