#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Slow start (docs/config.md, `slow_start`): a backend that comes back takes its share in steps.
# In a network namespace, three backends with HTTP servers (checked every 500 ms, timeout 400 ms: a loaded CI host must not flap them),
# VIP web with `slow_start: 8s` (4 steps of 2 s: 20 %, 40 %, 60 %, 80 % of its weight, then all of
# it), keel-control driving a keel-dataplane on net_null. While the backend ramps, a sampler reads
# every 100 ms the running table (GET /v1/vips/web/table), the backend view (its "slow_start"),
# keel_backend_effective_weight, and asks the dataplane's own lookup on its active snapshot
# (GET /v1/lookup) where new flows (random clients, a few hundred per step) go:
#  - the HTTP server of 10.0.0.2 stopped: 0 slots; started again: its slots follow the ramp, each
#    step within 15 slots (1.5 %) of the share its weight gives in Maglev, the view and the metric
#    say the same percent, steps change at wall-clock multiples of 2 s, full share within 8 s;
#    new flows' share at each step within 4 sigma (+ 1 point) of the table's share;
#  - every step is an audited change (GET /v1/history: source slow_start, moved share);
#  - keelctl backend list shows "NN% until HH:MM:SSZ";
#  - drain then undrain: the undrain's preview counts the first step (not the whole weight), the
#    ramp begins again; drained in the middle of it: the ramp is cancelled;
#  - keel-control restarted with --max-move 0.05: the steps that move more are held (audited as
#    refused), the last one (the configured weight) is published at the end of the window.
# Addresses are documentation/private ones (RFC 5737, RFC 1918).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl ip
need_hugepages 256
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
[[ -x $KEELCTL ]] || skip "no keelctl at $KEELCTL"
"$PY" -c 'import http.server' 2>/dev/null || skip "$PY has no http.server"
kt_tmpdir
kt_name NAME ss
NS=ks$KT_ID
SOCK=$KT_TMP/control.sock
MPORT=9106 # inside the namespace: nothing else listens there
WINDOW_MS=8000
M=1021
B1=10.0.0.1 B2=10.0.0.2 B3=10.0.0.3

kt_netns "$NS"
if ip -n "$NS" link add ss0 type dummy 2>/dev/null; then
	:
else
	ip -n "$NS" link add ss0 type veth peer name ss1 || skip "neither dummy nor veth interfaces here"
	ip -n "$NS" link set ss1 up
fi
ip -n "$NS" link set ss0 up
for b in $B1 $B2 $B3; do ip -n "$NS" addr add "$b/24" dev ss0; done
mkdir -p "$KT_TMP/www"
echo ok >"$KT_TMP/www/healthz"

declare -A SRV
srv_start() { # address: an HTTP server on port 8080 in the namespace
	ip netns exec "$NS" "$PY" -m http.server --bind "$1" --directory "$KT_TMP/www" 8080 \
		>>"$KT_TMP/srv-$1.log" 2>&1 &
	SRV[$1]=$!
	KT_PIDS+=("$!")
	listening() { ip netns exec "$NS" curl -s -o /dev/null --max-time 1 "http://$1:8080/healthz"; }
	wait_until 5 listening "$1" || die "server $1 did not start"
}
srv_stop() {
	kill -TERM "${SRV[$1]}"
	wait "${SRV[$1]}" 2>/dev/null || true
}
for b in $B1 $B2 $B3; do srv_start "$b"; done

kt_config gateway=10.0.0.254 >"$KT_TMP/keel.yaml" <<EOF
vips:
  - name: web
    address: 192.0.2.1
    port: 80
    protocol: tcp
    maglev_table_size: $M
    slow_start: ${WINDOW_MS}ms
    health_check: { type: http, port: 8080, path: /healthz, expect_status: 200,
                    interval: 500ms, timeout: 400ms, rise: 2, fall: 3 }
    backends: [ { address: $B1 }, { address: $B2 }, { address: $B3 } ]
EOF
ip -n "$NS" neigh replace 10.0.0.254 lladdr 02:00:5e:10:00:01 dev ss0 nud permanent

log "keel-dataplane $NAME on net_null (no traffic), in $NS"
# shellcheck disable=SC2046
DP_TIMEOUT=300 dp_start "$KT_TMP/dp.log" ip netns exec "$NS" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
	--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --idle backoff --flows 4096 --slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
control_start ip netns exec "$NS" --
K() { ip netns exec "$NS" "$KEELCTL" --socket "$SOCK" "$@"; }
# api METHOD PATH: the answer's body (keel_http.py, the scenarios' client).
api() {
	ip netns exec "$NS" "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import keel_http
st, d = keel_http.call(sys.argv[2], sys.argv[3], sys.argv[4], body=b"" if sys.argv[3] == "POST" else None)
print(d.decode())' "$KT_ROOT/tests/integration/lib" "$SOCK" "$@"
}
slots() { api GET /v1/vips/web/table | json_get "[b['slots'] for b in j['backends'] if b['backend'] == '$1'][0]"; }
ramp() { api GET /v1/vips/web | json_get "[b.get('slow_start', {}).get('percent', 100) for b in j['backends'] if b['address'] == '$1'][0]"; }
full() { [[ $(slots "$B1") -gt 300 && $(slots "$B2") -gt 300 && $(slots "$B3") -gt 300 ]]; }
b2_out() { [[ $(slots "$B2") == 0 ]]; }

log "every backend up, each about a third of the table"
wait_until 10 full || die "the table never had all three backends: $(api GET /v1/vips/web/table)"
check "keel-control's first publish ramps nothing (a restart must not)" test "$(ramp "$B2")" = 100

log "HTTP server of $B2 stopped"
srv_stop "$B2"
wait_until 5 b2_out || die "$B2 kept its slots: $(api GET /v1/vips/web/table)"

log "HTTP server of $B2 started again: sampling its ramp"
srv_start "$B2"
ip netns exec "$NS" "$PY" "$KT_ROOT/tests/integration/slow_start_sample.py" "$KT_ROOT/tests/integration/lib" \
	"$SOCK" "$MPORT" "$B2" "$WINDOW_MS" "$KEELCTL" >"$KT_TMP/ramp.json" || die "the sampler failed"
judge() { "$PY" "$KT_ROOT/tests/integration/slow_start_sample.py" --judge "$KT_TMP/ramp.json" "$M" "$WINDOW_MS" "$1"; }
for w in levels increasing aligned window metric lookups; do
	out=$(judge $w)
	log "  $w: $out"
	check "ramp: $w" test "${out%% *}" = True
done
log "MEASURED ramp levels (slots, percent, expected slots): $(judge levels | cut -d' ' -f2-)"
log "MEASURED table share vs new flows' share per step: $(judge lookups | cut -d' ' -f2-)"
json_get 'j["listing"]' <"$KT_TMP/ramp.json" >"$KT_TMP/listing.txt"
sed 's/^/    /' "$KT_TMP/listing.txt"
check "keelctl backend list shows the ramp" grep -qE "^$B2 .* [0-9]+% until [0-9]{2}:[0-9]{2}:[0-9]{2}Z" "$KT_TMP/listing.txt"
steps=$(api GET /v1/history | json_get "len([e for e in j['events'] if e['source'] == 'slow_start' and e['result'] == 'applied' and 'web' in e['moved_share']])")
log "audited slow-start steps: $steps"
check "every step audited with its moved share (>= 3)" test "$steps" -ge 3

log "drain, then undrain $B2: the ramp begins again"
K backend drain web "$B2" >/dev/null || die "drain failed"
wait_until 5 b2_out || die "$B2 kept its slots after the drain"
api POST /v1/vips/web/backends/"$B2"/undrain >"$KT_TMP/undrain.json"
after=$(json_get "j['preview']['web']['backends']['$B2']['after']" <"$KT_TMP/undrain.json") ||
	die "no preview in the undrain's answer: $(cat "$KT_TMP/undrain.json")"
log "undrain preview: $B2 after = $after slots (first step: about $((M * 20 / 220)), whole weight: about $((M / 3)))"
check "the undrain's preview counts the first step" test "$after" -gt 0 -a "$after" -lt 150
check "undrained: the ramp begins" test "$(ramp "$B2")" -lt 100
# The first step lasts up to one step (it ends at a wall-clock boundary): a later one may be running.
n=$(slots "$B2")
check "undrained: some slots, not its whole share ($n)" test "$n" -gt 0 -a "$n" -lt 300
K backend drain web "$B2" >/dev/null || die "drain failed"
check "drained mid-ramp: 0 slots" b2_out
check "drained mid-ramp: the ramp is cancelled" test "$(ramp "$B2")" = 100
check "the cancellation is logged" grep -q 'slow_start_cancelled.*backend=10.0.0.2' "$KT_TMP/control.log"

log "keel-control restarted with --max-move 0.05: the steps between are held, the last is not"
kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
control_start ip netns exec "$NS" -- --max-move 0.05
api POST "/v1/vips/web/backends/$B2/undrain?force=1" >/dev/null
# Times from the audit log (keel-control's clock), not from this loop's polls.
t0=$(api GET /v1/history | json_get "j['events'][-1]['time_ms']")
seen=()
for _ in $(seq 80); do # 16 s at most
	n=$(slots "$B2")
	seen+=("$n")
	((n > 300)) && break
	sleep 0.2
done
ms=$(api GET /v1/history | json_get "[e['time_ms'] - $t0 for e in j['events'] if e['source'] == 'slow_start' and e['result'] == 'applied' and e['time_ms'] > $t0][0]")
levels=$(printf '%s\n' "${seen[@]}" | sort -nu | tr '\n' ' ')
log "slots of $B2 seen: $levels(the last step $ms ms after the undrain)"
check "held steps: only the first step's and the whole share seen" \
	test "$(printf '%s\n' "${seen[@]}" | sort -nu | awk '$1 > 0' | wc -l)" = 2
check "the last step published anyway, within the window + 1 s" test "$ms" -le $((WINDOW_MS + 1000)) -a "${n:-0}" -gt 300
held=$(api GET /v1/history | json_get "len([e for e in j['events'] if e['source'] == 'slow_start' and e['result'] == 'refused' and 'held' in e.get('reason', '')])")
log "held steps audited as refused: $held"
check "held steps audited as refused (>= 2)" test "$held" -ge 2
finish
