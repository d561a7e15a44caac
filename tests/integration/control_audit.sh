#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control's audit log (keelctl history): an API edit, a refused API edit, a SIGHUP reload
# and a refused SIGHUP reload each log one event naming who (source, uid, pid, host), the
# generation, the preview's moved shares and a compact diff (VIP/backend/field: old -> new); the
# events survive a restart (state directory). keel-control alone: no dataplane needed.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME aud
SOCK=$KT_TMP/control.sock
# shellcheck disable=SC2034 # kt_config reads it
MPORT=$((20000 + ($$ + 13) % 20000))

write_config() { # extra backend lines
	kt_config >"$KT_TMP/keel.yaml" <<EOF
vips:
  - name: web
    address: 192.0.2.1
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    backends:
      - { address: 10.0.0.1 }
      - { address: 10.0.0.2 }
      - { address: 10.0.0.3 }
      - { address: 10.0.0.4 }
$1
EOF
}
write_config ""
# No wrapper: SIGHUP must come from this shell, as signalfd reports it.
control_start
api() { kt_api -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$2"; }
hist() { "$KEELCTL" --socket "$SOCK" history -j; }
nevents() { hist | json_get 'len(j["events"])'; }
ev() { hist | json_get "j['events'][$1]$2"; }
evok() { # index, python expression over e that must hold
	hist | "$PY" -c 'import json,sys; j=json.load(sys.stdin); e=j["events"][int(sys.argv[1])]; sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
check "no event before any change" test "$(nevents)" -eq 0

# The reload first: once the API has changed a VIP, a file that changes it again is refused
# (docs/config.md, Reload), which the broken-file case below covers.
log "SIGHUP with a fifth backend in the file"
write_config "      - { address: 10.0.0.5 }"
kill -HUP "$CONTROL_PID"
events_are() { test "$(nevents)" -eq "$1"; } # evaluated on each try of wait_until
check "one event" wait_until 5 events_are 1
check "applied at generation 1 by sighup from this shell (uid 0, pid $$)" evok -1 \
	"e['result'] == 'applied' and e['generation'] == 1 and e['source'] == 'sighup' and e['uid'] == 0 and e['pid'] == $$"
check "diff: the backend added" evok -1 "e['diff'] == ['web/10.0.0.5: added (weight 1)']"

log "an API edit: weight of 10.0.0.2 1 -> 2"
api PUT /v1/vips/web/backends/10.0.0.2/weight '{"weight": 2}' >/dev/null
check "two events" test "$(nevents)" -eq 2
check "applied at generation 2 by the API caller (uid 0, a pid, this host)" evok -1 \
	"e['result'] == 'applied' and e['generation'] == 2 and e['source'] == 'api' and e['uid'] == 0 and e['pid'] > 0 and e['host'] == '$(hostname)'"
check "diff: web/10.0.0.2/weight: 1 -> 2" evok -1 "e['diff'] == ['web/10.0.0.2/weight: 1 -> 2']"
check "moved share of web named (0 < share < 0.5)" evok -1 "0 < e['moved_share']['web'] < 0.5"

log "a refused API edit: weight of 10.0.0.1 1 -> 20 (moves over half the slots)"
code=$(kt_api_code -X PUT -H 'Content-Type: application/json' -d '{"weight": 20}' \
	/v1/vips/web/backends/10.0.0.1/weight)
check "refused (409, got $code)" test "$code" = 409
check "three events" test "$(nevents)" -eq 3
check "refused, its reason, generation still 2" evok -1 \
	"e['result'] == 'refused' and 'slots would move' in e['reason'] and e['generation'] == 2 and e['source'] == 'api'"
check "the refused diff and its moved share (> 0.5)" evok -1 \
	"e['diff'] == ['web/10.0.0.1/weight: 1 -> 20'] and e['moved_share']['web'] > 0.5"

log "SIGHUP with a broken file"
echo "vips: [" >>"$KT_TMP/keel.yaml"
kill -HUP "$CONTROL_PID"
check "four events" wait_until 5 events_are 4
check "refused by the file's error, generation 2" evok -1 \
	"e['result'] == 'refused' and e['source'] == 'sighup' and e['generation'] == 2 and 'keel.yaml' in e['reason']"
check "one audit log line per event" test "$(grep -c 'event=audit ' "$KT_TMP/control.log")" -eq 4

log "keelctl history -n 2"
"$KEELCTL" --socket "$SOCK" history -n 2 >"$KT_TMP/hist.txt"
sed 's/^/    /' "$KT_TMP/hist.txt"
check "two blocks, the last two events" test "$(grep -c ' generation ' "$KT_TMP/hist.txt")" -eq 2
check "the refused edit's diff line shown" grep -q 'web/10.0.0.1/weight: 1 -> 20' "$KT_TMP/hist.txt"

log "restart: the history is kept"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
write_config "      - { address: 10.0.0.5 }"
control_start
check "four events after the restart" test "$(nevents)" -eq 4
check "persisted in the state directory" test -s "$KT_TMP/state/audit.json"
kill -TERM "$CONTROL_PID"
wait_until 10 gone || true
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
