#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check
# No lost update on one host (issue 21 item 6): `keelctl vip add/del` read the whole
# configuration and write it back; they now send If-Match with the ETag they read and make
# the edit again on a 412. Ten rounds of two parallel `vip add`, ten rounds of a `vip add`
# beside a `backend weight`, and parallel `vip del`: every command exits 0 and every change
# is in the running configuration afterwards (before: one VIP lost in 10 of 10 rounds, the
# weight reverted in 5 of 5, every command exiting 0). Also the API's side: the ETag of
# GET /v1/config, 412 with the current generation on a stale If-Match on every change route,
# 400 on a malformed one, and health-free republishes that do not move the ETag.
#
# Real keel-control (no dataplane: a change is acknowledged once persisted) and real keelctl.
# KEELCTL=path runs another keelctl (an older one shows the lost updates).
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl "$PY"
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
K=${KEELCTL:-$BUILD/tools/keelctl/keelctl}
[[ -x $K ]] || skip "no keelctl at $K"
kt_tmpdir
kt_name NAME lost
SOCK=$KT_TMP/control.sock
export KEEL_SOCKET=$SOCK
ROUNDS=${KEEL_RACE_ROUNDS:-10}

kt_config metrics= >"$KT_TMP/keel.yaml" <<EOF
vips:
  - name: web
    address: 192.0.2.10
    port: 80
    protocol: tcp
    maglev_table_size: 251
    backends: [{ address: 10.0.0.1, weight: 1 }, { address: 10.0.0.2, weight: 1 }]
EOF

log "keel-control (no dataplane)"
control_start timeout -s TERM -k 5 170 --

api() { # METHOD PATH [curl args...]: prints "STATUS ETAG" then the body on the next lines
	local m=$1 p=$2
	shift 2
	KT_API_BODY=$KT_TMP/b kt_api_code -D "$KT_TMP/h" --max-time 20 -X "$m" "$@" "$p" >"$KT_TMP/code"
	printf '%s %s\n' "$(cat "$KT_TMP/code")" "$(tr -d '\r' <"$KT_TMP/h" | sed -n 's/^ETag: //Ip')"
	cat "$KT_TMP/b"
}
vips() { "$K" vip list -q | sort | tr '\n' ' '; }
weight() { "$K" -j backend list web | json_get "[b['weight'] for b in j if b['address'] == '$1'][0]"; }

log "the API: ETag and If-Match"
read -r code ETAG < <(api GET /v1/config | head -1)
check "GET /v1/config: 200 with an ETag (got $code $ETAG)" test "$code" = 200 -a -n "$ETAG"
W=/v1/vips/web/backends/10.0.0.1/weight
read -r code _ < <(api PUT $W -H "If-Match: \"999999\"" -H 'Content-Type: application/json' -d '{"weight": 3}' | head -1)
check "a stale If-Match: 412 (got $code)" test "$code" = 412
check "the 412 says where the configuration is" grep -q "\"config_generation\": ${ETAG//\"/}" "$KT_TMP/b"
check "nothing changed" test "$(weight 10.0.0.1)" = 1
read -r code _ < <(api PUT $W -H 'If-Match: W/"1"' -H 'Content-Type: application/json' -d '{"weight": 3}' | head -1)
check "a weak If-Match: 400 (got $code)" test "$code" = 400
read -r code NEW < <(api PUT $W -H "If-Match: $ETAG" -H 'Content-Type: application/json' -d '{"weight": 3}' | head -1)
check "the current If-Match: 200 (got $code)" test "$code" = 200
check "the answer's ETag moved ($ETAG -> $NEW)" test -n "$NEW" -a "$NEW" != "$ETAG"
check "the weight is 3" test "$(weight 10.0.0.1)" = 3
for route in "POST /v1/vips/web/backends/10.0.0.2/drain" "POST /v1/backends/10.0.0.2/drain" \
	"DELETE /v1/vips/web/backends/10.0.0.2" "POST /v1/vips/web/backends/10.0.0.2/flush" \
	"POST /v1/host/drain"; do
	# shellcheck disable=SC2086 # METHOD PATH
	read -r code _ < <(api $route -H "If-Match: $ETAG" | head -1)
	check "$route with the old ETag: 412 (got $code)" test "$code" = 412
done
read -r code _ < <(api POST /v1/config/apply -H "If-Match: $ETAG" -H 'Content-Type: application/yaml' \
	--data-binary @"$KT_TMP/keel.yaml" | head -1)
check "config apply with the old ETag: 412 (got $code)" test "$code" = 412
check "still weight 3 and two backends" test "$(weight 10.0.0.1)/$("$K" -j backend list web | json_get 'len(j)')" = 3/2
"$K" config dump >"$KT_TMP/dump.yaml"
GEN=$(sed -n 's/^# keel-control configuration, generation \([0-9]*\) .*/\1/p' "$KT_TMP/dump.yaml")
check "config dump names the ETag's generation ($GEN, $NEW)" test "\"$GEN\"" = "$NEW"
rc=0
"$K" config apply "$KT_TMP/keel.yaml" --if-match $((GEN + 7)) >/dev/null 2>"$KT_TMP/err" || rc=$?
check "config apply --if-match of another generation: exit 75 (got $rc)" test $rc = 75
check "its reason names both generations" grep -q "generation $GEN, not $((GEN + 7))" "$KT_TMP/err"

fails=0
log "$ROUNDS rounds: two parallel vip add"
for r in $(seq 1 "$ROUNDS"); do
	"$K" vip add "a$r" 192.0.2.$((100 + r)) 80 >"$KT_TMP/a.out" 2>&1 &
	pa=$!
	"$K" vip add "b$r" 198.51.100.$((100 + r)) 80 >"$KT_TMP/b.out" 2>&1 &
	pb=$!
	ra=0 rb=0
	wait $pa || ra=$?
	wait $pb || rb=$?
	v=" $(vips)"
	if [[ $ra != 0 || $rb != 0 || $v != *" a$r "* || $v != *" b$r "* ]]; then
		echo "    round $r: exits $ra $rb, VIPs now:$v"
		fails=$((fails + 1))
	fi
done
check "parallel vip add: nothing lost in $ROUNDS rounds ($fails failed)" test $fails = 0

fails=0
log "$ROUNDS rounds: vip add beside backend weight"
for r in $(seq 1 "$ROUNDS"); do
	"$K" vip add "c$r" 203.0.113.$((100 + r)) 80 >"$KT_TMP/a.out" 2>&1 &
	pa=$!
	"$K" backend weight web 10.0.0.2 $((r + 10)) --force >"$KT_TMP/b.out" 2>&1 &
	pb=$!
	ra=0 rb=0
	wait $pa || ra=$?
	wait $pb || rb=$?
	v=" $(vips)"
	w=$(weight 10.0.0.2)
	if [[ $ra != 0 || $rb != 0 || $v != *" c$r "* || $w != $((r + 10)) ]]; then
		echo "    round $r: exits $ra $rb, weight $w (want $((r + 10))), VIPs now:$v"
		fails=$((fails + 1))
	fi
done
check "vip add beside backend weight: nothing lost in $ROUNDS rounds ($fails failed)" test $fails = 0

fails=0
log "$ROUNDS rounds: two parallel vip del"
for r in $(seq 1 "$ROUNDS"); do
	"$K" vip del "a$r" >"$KT_TMP/a.out" 2>&1 &
	pa=$!
	"$K" vip del "b$r" >"$KT_TMP/b.out" 2>&1 &
	pb=$!
	ra=0 rb=0
	wait $pa || ra=$?
	wait $pb || rb=$?
	v=" $(vips)"
	if [[ $ra != 0 || $rb != 0 || $v == *" a$r "* || $v == *" b$r "* ]]; then
		echo "    round $r: exits $ra $rb, VIPs now:$v"
		fails=$((fails + 1))
	fi
done
check "parallel vip del: both gone in $ROUNDS rounds ($fails failed)" test $fails = 0
check "the VIPs left: web and the c VIPs" test "$(vips)" = "$(printf '%s\n' web $(seq -f 'c%g' 1 "$ROUNDS") | sort | tr '\n' ' ')"
finish
