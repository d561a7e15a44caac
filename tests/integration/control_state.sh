#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# keel-control's state directory across starts (issue 20 items 15 and 16):
#  - a state file at the largest generation (2^63-1) starts; an edit past it is refused with a
#    clear reason and changes nothing, and the next start still takes its own state file;
#  - temporary files of persists cut short (.state.json.PID, PID dead) are removed at start;
#  - a directory where state.json should be is named as such, not called a JSON syntax error.
#
# keel-control runs without a dataplane: only its state is under test.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl "$PY"
kt_tmpdir
kt_name NAME state

CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"

SOCK=$KT_TMP/control.sock
# shellcheck disable=SC2034 # kt_config reads it
MPORT=$((20000 + ($$ + 13) % 20000))
kt_config >"$KT_TMP/keel.yaml" <<EOF
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, backends: [{ address: 10.0.0.1 }] }
EOF
STATE=$KT_TMP/state
BODY=$KT_TMP/body

stop() {
	kill -TERM "$CONTROL_PID"
	wait "$CONTROL_PID" 2>/dev/null || true
}
generation() { kt_api --max-time 5 /v1/status | json_get 'j["generation"]'; }
weight() { # weight N: prints the HTTP status, the body in $BODY
	KT_API_BODY=$BODY kt_api_code -X PUT -H 'Content-Type: application/json' -d "{\"weight\": $1}" \
		/v1/vips/web/backends/10.0.0.1/weight
}
body_has() { grep -q -- "$1" "$BODY" || { echo "    no '$1' in: $(cat "$BODY")"; return 1; }; }

log "first start, then the generation set to 2^63-1 by hand"
control_start timeout -s TERM -k 5 120 --
stop
MAXGEN=9223372036854775807
"$PY" - "$STATE/state.json" "$MAXGEN" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["generation"] = int(sys.argv[2])
open(sys.argv[1], "w").write(json.dumps(j))
EOF
control_start timeout -s TERM -k 5 120 --
check "a state file at 2^63-1 starts" test "$(generation)" = "$MAXGEN"
code=$(weight 7)
check "an edit past it is refused (500), not persisted as a negative generation" test "$code" = 500
check "the reason says the counter is exhausted" body_has 'generation counter is exhausted'
check "nothing changed" test "$(generation)" = "$MAXGEN"
stop
check "the state file still holds 2^63-1" \
	"$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["generation"] != int(sys.argv[2]))' \
	"$STATE/state.json" "$MAXGEN"
control_start timeout -s TERM -k 5 120 --
check "the next start takes its own state file" test "$(generation)" = "$MAXGEN"
stop

log "temporary files left by kill -9 during a persist"
# Pids that are certainly not a live keel-control: children that have exited.
dead=()
for _ in 1 2 3; do
	sh -c 'exit 0' &
	dead+=("$!")
	wait "$!"
done
for p in "${dead[@]}"; do
	echo '{"vers' >"$STATE/.state.json.$p"
done
echo keep >"$STATE/notes"
control_start timeout -s TERM -k 5 120 --
check "the stale temporary files are gone" test "$(compgen -G "$STATE/.state.json.*" | wc -l)" = 0
check "other files are kept" test -f "$STATE/notes"
stop

log "a directory at state.json"
mv "$STATE/state.json" "$STATE/state.json.bak"
mkdir "$STATE/state.json"
rc=0
timeout 20 "$CONTROL" --config "$KT_TMP/keel.yaml" --state-dir "$STATE" >"$KT_TMP/dir.log" 2>&1 || rc=$?
check "keel-control refuses to start" test "$rc" != 0 -a "$rc" != 124
check "it says what is there" grep -q 'state.json is a directory, not a state file' "$KT_TMP/dir.log"
rmdir "$STATE/state.json"
finish
