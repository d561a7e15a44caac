#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# SIGHUP after API edits (issue 21 item 6): the file is applied as `keelctl config apply`
# would apply it, and never drops an API edit silently. Before, a reload re-read the file and
# forced it in: it removed VIPs added through the API, undid weights and drains, moved any
# share of the slots, and logged only event=config_reloaded. Here:
#  - API edits (a weight, a VIP added, a drain), then SIGHUP with the unchanged file: refused,
#    the log line names the VIPs it would undo, the edits stay, the refusal is counted
#    (keel_config_reloads_total{result="refused"}, keel_config_refused_total);
#  - the edits put in the file (keelctl config dump) plus a new VIP: applied, the log line
#    says what changed (vips_added=...), keel_config_api_changes_since_file back to 0;
#  - a file that moves most of a VIP's slots: refused over the max-move limit, nothing changes;
#  - a file that changes metrics.listen (read only at start): refused with the key named;
#  - the record of the file survives a restart: an API edit after it still guards the reload;
#  - the same file again: "unchanged", not an apply.
# keel-control without a dataplane (the preview and the guard need none).
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl "$PY"
CONTROL=${KEEL_CONTROL_BIN:-$BUILD/control/keel-control} # another build: an older one drops the edits
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
K=${KEELCTL:-$BUILD/tools/keelctl/keelctl}
[[ -x $K ]] || skip "no keelctl at $K"
kt_tmpdir
kt_name NAME rld
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 41) % 20000))
export KEEL_SOCKET=$SOCK
F=$KT_TMP/keel.yaml

kt_config >"$F" <<EOF
vips:
  - name: web
    address: 192.0.2.10
    port: 80
    protocol: tcp
    maglev_table_size: 307
    backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }, { address: 10.0.0.3 }]
  - name: api
    address: 192.0.2.11
    port: 443
    protocol: tcp
    maglev_table_size: 307
    backends: [{ address: 10.0.1.1 }, { address: 10.0.1.2 }, { address: 10.0.1.3 }]
  - name: db
    address: 192.0.2.12
    port: 5432
    protocol: tcp
    maglev_table_size: 251
    backends: [{ address: 10.0.2.1 }]
EOF

log "keel-control (no dataplane)"
control_start timeout -s TERM -k 5 170 --

metric() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
vips() { "$K" vip list -q | sort | tr '\n' ' '; }
state() { "$K" -j backend list "$1" | json_get "[b['state'] for b in j if b['address'] == '$2'][0]"; }
weight() { "$K" -j backend list "$1" | json_get "[b['weight'] for b in j if b['address'] == '$2'][0]"; }
# SIGHUP, then wait for the log line of its outcome (the n-th reload line overall).
RELOADS=0
hup() {
	RELOADS=$((RELOADS + 1))
	kill -HUP "$CONTROL_PID_REAL"
	wait_until 20 reload_lines "$RELOADS" || die "no log line for reload $RELOADS"
	grep -E 'event=(config_reloaded|reload_refused|config_reload_unchanged)' "$KT_TMP/control.log" | sed -n "${RELOADS}p" >"$KT_TMP/last"
}
reload_lines() { (($(grep -cE 'event=(config_reloaded|reload_refused|config_reload_unchanged)' "$KT_TMP/control.log") >= $1)); }
last_has() { grep -qE -- "$1" "$KT_TMP/last" || { echo "    no /$1/ in: $(cat "$KT_TMP/last")"; return 1; }; }
# control_start's pid is the timeout wrapper: the signal goes to keel-control itself.
real_pid() { pgrep -P "$CONTROL_PID" -x keel-control; }
CONTROL_PID_REAL=$(real_pid)

log "API edits: a weight, a VIP added, a backend drained"
"$K" backend weight web 10.0.0.1 2 --force >/dev/null 2>&1
"$K" vip add extra 192.0.2.50 8080 >/dev/null 2>&1
"$K" backend drain api 10.0.1.1 >/dev/null 2>&1
check "three API changes since the file" test "$(metric keel_config_api_changes_since_file)" = 3
refused0=$(metric keel_config_refused_total)

log "SIGHUP with the file as it was: it would undo them"
hup
check "refused (logged)" last_has 'event=reload_refused'
check "the log names what it would undo" last_has 'web \(changed\).*|api \(changed\)'
check "... every one of them" last_has 'extra \(added\)'
check "... and says what to do" last_has 'keelctl config dump'
check "the weight stays" test "$(weight web 10.0.0.1)" = 2
check "the VIP stays" test "$(vips)" = "api db extra web "
check "the drain stays" test "$(state api 10.0.1.1)" = draining
check "counted: keel_config_reloads_total{result=\"refused\"} 1" \
	test "$(metric 'keel_config_reloads_total{result="refused"}')" = 1
check "counted in keel_config_refused_total" test "$(metric keel_config_refused_total)" = $((refused0 + 1))

log "the edits put in the file, and a VIP more: applied, the log says what changed"
"$K" config dump >"$F"
cat >>"$F" <<EOF
  - name: new
    address: 192.0.2.60
    port: 80
    protocol: tcp
    maglev_table_size: 251
    backends: [{ address: 10.0.3.1 }]
EOF
hup
check "applied" last_has 'event=config_reloaded'
check "the log line says what changed" last_has 'vips_added=new '
check "... and nothing else" last_has 'vips_removed=- vips_changed=- backends_added=- backends_removed=-'
check "the edits and the new VIP run" test "$(vips)/$(weight web 10.0.0.1)/$(state api 10.0.1.1)" = "api db extra new web /2/draining"
check "no API change since the file" test "$(metric keel_config_api_changes_since_file)" = 0
check "counted: applied 1" test "$(metric 'keel_config_reloads_total{result="applied"}')" = 1

log "a file that moves most of web's slots: refused over the max-move limit"
cp "$F" "$KT_TMP/good.yaml"
"$PY" - "$F" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
# web keeps one of its three backends active: three quarters of its slots move (.1 has weight 2).
for a in ("10.0.0.1", "10.0.0.2"):
    s, n = re.subn(r'("%s"\n(?:\s+\w+: .*\n)*?\s+state: )"active"' % re.escape(a), r'\1"disabled"', s, count=1)
    assert n == 1, a
open(p, "w").write(s)
EOF
check "the edited file is valid" "$CONTROL" --check "$F" >/dev/null 2>&1
check "... and differs" bash -c "! cmp -s '$F' '$KT_TMP/good.yaml'"
hup
check "refused (logged)" last_has 'event=reload_refused'
check "for the max-move limit" last_has 'over the 50% limit'
check "the log says what it would have changed" last_has 'backends_changed=web/10.0.0.1,web/10.0.0.2($| )'
check "web's backends still active" test "$(state web 10.0.0.1)/$(state web 10.0.0.2)" = active/active

log "a file that changes metrics.listen: refused, restart-only"
sed "s/127.0.0.1:$MPORT/127.0.0.1:$((MPORT + 1))/" "$KT_TMP/good.yaml" >"$F"
hup
check "refused (logged)" last_has 'event=reload_refused'
check "the key is named" last_has 'metrics.listen is read only at start'
check "metrics still answer on the old port" test -n "$(metric keel_config_applies_total)"

log "the same file again: unchanged"
cp "$KT_TMP/good.yaml" "$F"
hup
check "unchanged" last_has 'event=config_reload_unchanged'

log "restart: the record of the file survives; an API edit after it still guards the reload"
kill -TERM "$CONTROL_PID_REAL"
wait "$CONTROL_PID" 2>/dev/null || true
control_start timeout -s TERM -k 5 120 --
CONTROL_PID_REAL=$(real_pid)
"$K" backend weight db 10.0.2.1 7 >/dev/null 2>&1
hup
check "refused after a restart too" last_has 'event=reload_refused.*db \(changed\)'
check "the weight stays" test "$(weight db 10.0.2.1)" = 7
log "forced on purpose: keelctl config apply --force FILE, then SIGHUP agrees"
check "config apply --force of the file" "$K" config apply "$F" --force >/dev/null 2>&1
hup
check "unchanged: the file is what runs" last_has 'event=config_reload_unchanged'
check "the weight is the file's again" test "$(weight db 10.0.2.1)" = 1
finish
