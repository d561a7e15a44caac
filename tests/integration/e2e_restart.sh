#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, hitless restart: 300 long-lived TCP connections to the stream VIP (192.0.2.10:9000),
# a line every 500 ms each (tools/sandbox.d/client.py persist; any reset, stall over 20 s or answer
# from another backend is a failure). The stream VIP starts on be1 and be2; be3 is added under
# the connections, so about a third of the Maglev slots now point elsewhere than the tracked
# flows: only the flow tables keep those connections where they are. Then keel-dataplane is
#   1. killed with SIGKILL and started again: it adopts its flow tables, 0 connections may break;
#   2. stopped with SIGTERM and started again: the same;
#   3. stopped and started as a binary of another flow-table layout (the test hook
#      KEEL_TEST_FLOW_LAYOUT_BUMP): it starts empty and says why; the connections whose slot moved
#      break (counted, and there must be some: it shows that 1 and 2 are not luck).
# For each restart the forwarding gap is reported: from the stop to the first packet forwarded
# by the new process (keel-seam counters).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B3=$(be4 3)
CONNS=${KEEL_RESTART_CONNS:-300}
SECS=70
JSON=(-H 'Content-Type: application/json')
applied() { json_get 'j.get("applied") is True or j.get("changed") is False' | grep -q True; }
seam() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" "$@"; }
dp_pid() { seam status "$SB_NAME" --json | json_get 'j["pid"]'; }
now_ms() { date +%s%3N; }
STEPS=$KT_TMP/steps.txt
: >"$STEPS"

# gap OLD_PID T0_MS -> ms until a process other than OLD_PID forwards (bounded: 60 s)
gap_after() {
	local old=$1 t0=$2 deadline=$((SECONDS + 60)) s
	while ((SECONDS < deadline)); do
		s=$(seam counters "$SB_NAME" --json 2>/dev/null) && [[ $(dp_pid 2>/dev/null) != "$old" ]] &&
			[[ $(echo "$s" | json_get 'j["fwd_pkts"]' 2>/dev/null) -gt 0 ]] && {
			echo $(($(now_ms) - t0))
			return 0
		}
		sleep 0.02
	done
	echo -1
}

# restart NAME SIGNAL [env...]: stop keel-dataplane with SIGNAL, bring it back through tools/sandbox up
restart() {
	local what=$1 sig=$2 old t0 gapf=$KT_TMP/gap-$1
	shift 2
	old=$(dp_pid)
	printf '%s %s\n' "$(date +%s.%N)" "$what" >>"$STEPS"
	t0=$(now_ms)
	kill "-$sig" "$(cat "$SB_DIR/pid/dataplane")"
	gap_after "$old" "$t0" >"$gapf" &
	local gp=$!
	wait_until 10 bash -c "! kill -0 $old 2>/dev/null" || die "keel-dataplane $old still runs after SIG$sig"
	env "$@" "$SANDBOX" up >>"$KT_TMP/sandbox-up.log" 2>&1 || die "tools/sandbox up after SIG$sig failed"
	wait "$gp"
	log "$what: keel-dataplane back, forwarding gap $(cat "$gapf") ms; $(grep -o 'event=flow_table.*' "$SB_DIR/log/dataplane.log" | tail -n 1)"
}

# Start from stream = be1, be2.
sb_api DELETE "/v1/vips/stream/backends/$B3?force=1" | applied || die "removing be3 before the start failed"
log "$CONNS connections to $VIP4:9000 for $SECS s"
client persist --vip "$VIP4" --port 9000 --conns "$CONNS" --seconds $SECS --interval 0.5 --stall 20 \
	>"$KT_TMP/persist.json" 2>"$KT_TMP/persist.err" &
CPID=$!
KT_PIDS+=("$CPID")
sleep 8
printf '%s %s\n' "$(date +%s.%N)" add-be3 >>"$STEPS"
sb_api POST /v1/vips/stream/backends "${JSON[@]}" -d "{\"address\": \"$B3\", \"weight\": 1}" | applied ||
	die "adding be3 failed"
log "be3 added: a third of the slots moved under the tracked connections"
sleep 5
restart kill9 KILL
sleep 10
restart sigterm TERM
sleep 10
restart layout TERM KEEL_TEST_FLOW_LAYOUT_BUMP=1
check "the new-layout start says why its tables start empty" \
	grep -q "event=flow_table_empty.*layout version" "$SB_DIR/log/dataplane.log"
check "the kill -9 and SIGTERM starts adopted their tables" \
	test "$(grep -c 'event=flow_table_adopted' "$SB_DIR/log/dataplane.log")" -ge 2
wait "$CPID" || die "the persist client failed: $(cat "$KT_TMP/persist.err")"

rc=0
"$PY" - "$KT_TMP/persist.json" "$STEPS" "$CONNS" >"$KT_TMP/verdict.txt" 2>&1 <<'PYEOF' || rc=$?
import json, sys
j = json.load(open(sys.argv[1]))
conns_wanted = int(sys.argv[3])
steps = [(float(t) - j["t0"], w.strip()) for t, w in (l.split(" ", 1) for l in open(sys.argv[2]))]
bounds = steps + [(1e9, "end")]
conns = j["conns"]
phase = {w: [] for _, w in steps}
early = []
for c in conns:
    if not c["failure"]:
        continue
    t = c["failure"][0]
    for (ta, w), (tb, _) in zip(bounds, bounds[1:]):
        if ta <= t < tb:
            phase[w].append(c)
            break
    else:
        early.append(c)
opened = [c for c in conns if c["start"] < 5]
print(f"connections: {len(conns)} ({len(conns) - conns_wanted} replacements), opened at the start: {len(opened)}")
for w, fs in phase.items():
    kinds = {}
    for c in fs:
        kinds[c["failure"][1]] = kinds.get(c["failure"][1], 0) + 1
    print(f"broken after {w}: {len(fs)} {json.dumps(kinds, sort_keys=True)}")
print(f"broken before any step: {len(early)}")
ok = (len(opened) >= conns_wanted and not early and not phase["add-be3"] and not phase["kill9"]
      and not phase["sigterm"] and len(phase["layout"]) > 0)
sys.exit(0 if ok else 1)
PYEOF
sed 's/^/    /' "$KT_TMP/verdict.txt"
check "0 broken through be3 added, kill -9 and SIGTERM restarts; some broken by the new-layout start" test $rc -eq 0
finish
