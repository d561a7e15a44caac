#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control's health checks against real servers: in a network namespace, three backend
# addresses on a dummy interface, each with an HTTP server (python3 -m http.server answering
# 200 on /healthz, port 8080) and a second listener for TCP checks (port 8081). keel-control runs
# in that namespace (its checker probes from there) and drives a keel-dataplane on net_null.
#  - every backend comes up (GET /v1/health);
#  - an HTTP server stopped: down within interval * fall + 1 s, the published snapshot marks it
#    down (GET /v1/vips/web health, /table 0 slots), keel_backend_up 0; the others keep slots;
#  - started again: up after `rise` successes (not on the first), slots back;
#  - panic threshold 0.5: two of three down -> keel_vip_panic 1, the table keeps all three;
#  - TCP connect check: a listener stopped -> down, 0 slots; started -> up again.
# Prints the measured times. Addresses are documentation/private ones (RFC 5737, RFC 1918).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl ip
need_hugepages 256
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
"$PY" -c 'import http.server' 2>/dev/null || skip "$PY has no http.server"
kt_tmpdir
kt_name NAME hc
NS=kh$KT_ID
SOCK=$KT_TMP/control.sock
MPORT=9105 # inside the namespace: nothing else listens there
INTERVAL_MS=200
FALL=2
RISE=2
DOWN_MAX_MS=$((INTERVAL_MS * FALL + 1000))
UP_MAX_MS=$((INTERVAL_MS * RISE + 1000))
PUBLISH_MAX_MS=2000 # health-driven publishes are coalesced to one per 500 ms
B1=10.0.0.1 B2=10.0.0.2 B3=10.0.0.3

kt_netns "$NS"
# A dummy interface where the kernel has the module; else one end of a veth pair in the namespace.
if ip -n "$NS" link add hc0 type dummy 2>/dev/null; then
	log "namespace $NS: $B1 $B2 $B3 on a dummy interface"
else
	ip -n "$NS" link add hc0 type veth peer name hc1 || skip "neither dummy nor veth interfaces here"
	ip -n "$NS" link set hc1 up
	log "namespace $NS: $B1 $B2 $B3 on a veth (no dummy module)"
fi
ip -n "$NS" link set hc0 up
for b in $B1 $B2 $B3; do ip -n "$NS" addr add "$b/24" dev hc0; done
mkdir -p "$KT_TMP/www"
echo ok >"$KT_TMP/www/healthz"

declare -A SRV
srv_start() { # address port: an HTTP server (also the TCP checks' listener) in the namespace
	ip netns exec "$NS" "$PY" -m http.server --bind "$1" --directory "$KT_TMP/www" "$2" \
		>>"$KT_TMP/srv-$1-$2.log" 2>&1 &
	SRV[$1:$2]=$!
	KT_PIDS+=("$!")
	listening() { ip netns exec "$NS" curl -s -o /dev/null --max-time 1 "http://$1:$2/healthz"; }
	wait_until 5 listening "$1" "$2" || die "server $1:$2 did not start"
}
srv_stop() { # address port
	kill -TERM "${SRV[$1:$2]}"
	wait "${SRV[$1:$2]}" 2>/dev/null || true
}
for b in $B1 $B2 $B3; do
	srv_start "$b" 8080
	srv_start "$b" 8081
done

kt_config gateway=10.0.0.254 >"$KT_TMP/keel.yaml" <<EOF
panic_threshold: 0.5
vips:
  - name: web
    address: 192.0.2.1
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    health_check: { type: http, port: 8080, path: /healthz, expect_status: 200,
                    interval: ${INTERVAL_MS}ms, timeout: 100ms, rise: $RISE, fall: $FALL }
    backends: [ { address: $B1 }, { address: $B2 }, { address: $B3 } ]
  - name: db
    address: 192.0.2.2
    port: 5432
    protocol: tcp
    maglev_table_size: 1021
    health_check: { type: tcp, port: 8081, interval: ${INTERVAL_MS}ms, timeout: 100ms,
                    rise: $RISE, fall: $FALL }
    backends: [ { address: $B1 }, { address: $B2 }, { address: $B3 } ]
EOF

# The next hop is resolved from the namespace's neighbour table (a permanent entry on hc0).
GW=10.0.0.254
ip -n "$NS" neigh replace $GW lladdr 02:00:5e:10:00:01 dev hc0 nud permanent

log "keel-dataplane $NAME on net_null (no traffic), in $NS"
# shellcheck disable=SC2046
DP_TIMEOUT=300 dp_start "$KT_TMP/dp.log" ip netns exec "$NS" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
	--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --idle backoff --flows 4096 --slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"

log "keel-control in $NS"
control_start ip netns exec "$NS" --

# await T0 TIMEOUT_S WHAT EXPR: polls WHAT (an API path, or "metrics") every 20 ms until the
# Python expression holds; prints the ms since T0 (epoch seconds), -1 on timeout (exit 1).
# In EXPR: j (the JSON answer; for metrics a dict series -> value), h(vip, backend) (health
# state from /v1/health), slots(backend) (from a table), b(address) (a backend of /v1/vips/V).
cat >"$KT_TMP/await.py" <<'EOF'
import json, sys, time, urllib.request

import keel_http

sock, mport, t0, timeout, what, expr = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]


def fetch():
    if what == "metrics":
        text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5).read().decode()
        return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l and l[0] != "#"}
    st, data = keel_http.call(sock, "GET", what, timeout=5)
    d = json.loads(data)
    return d if st == 200 else None


def h(vip, backend):
    return [e["health"]["state"] for e in j if e["vip"] == vip and e["backend"] == backend][0]


def slots(backend):
    return [e["slots"] for e in j["backends"] if e["backend"] == backend][0]


def b(address):
    return [e for e in j["backends"] if e["address"] == address][0]


j = None
while True:
    try:
        j = fetch()
        ok = j is not None and eval(expr)
    except Exception as e:
        ok = False
    now = time.time()
    if ok:
        print(round((now - t0) * 1000))
        sys.exit(0)
    if now - t0 > timeout:
        print("    timeout after %.1f s: %s; last answer: %s" % (timeout, expr, json.dumps(j)[:800]), file=sys.stderr)
        print(-1)
        sys.exit(1)
    time.sleep(0.02)
EOF
now() { date +%s.%N; }
await() { ip netns exec "$NS" "$PY" "$KT_TMP/await.py" "$SOCK" "$MPORT" "$@"; }
# check_within DESCRIPTION MAX_MS T0 TIMEOUT_S WHAT EXPR: the condition holds within MAX_MS of T0.
check_within() {
	local what=$1 max=$2 ms
	shift 2
	ms=$(await "$@") || true
	check "$what (${ms} ms, limit $max ms)" test "$ms" -ge 0 -a "$ms" -le "$max"
	LAST_MS=$ms
}
ALL_UP='all(e["health"]["state"] == "up" for e in j)'
ALL_SLOTS='all(e["slots"] > 0 and e["state"] == "active" for e in j["backends"])'

log "every backend comes up"
check_within "all 6 checks up" 5000 "$(now)" 5 /v1/health "$ALL_UP"
check_within "web's table has all three" 3000 "$(now)" 3 /v1/vips/web/table "$ALL_SLOTS"
check "health shows the check's latency" test "$(kt_api /v1/health |
	json_get 'all(e["health"]["latency_us"] > 0 and e["health"]["last"] == "ok" for e in j)')" = True

log "HTTP server of $B2 stopped"
t0=$(now)
srv_stop $B2 8080
check_within "$B2 down within interval*fall + 1 s" $DOWN_MAX_MS "$t0" 5 /v1/health "h('web', '$B2') == 'down'"
log "MEASURED down after stop: $LAST_MS ms"
check_within "the snapshot leaves $B2 out: 0 slots in web's table" $PUBLISH_MAX_MS "$t0" 5 \
	/v1/vips/web/table "slots('$B2') == 0 and slots('$B1') > 0 and slots('$B3') > 0 and slots('$B1') + slots('$B3') == 1021"
log "MEASURED stop -> 0 slots in the running table: $LAST_MS ms"
check_within "GET /v1/vips/web: $B2 health down, VIP not in panic" 1000 "$(now)" 1 /v1/vips/web \
	"b('$B2')['health']['state'] == 'down' and b('$B2')['health']['last'] != 'ok' and not j['panic']"
check_within "keel_backend_up of $B2 is 0, keel_vip_panic 0" 1000 "$(now)" 1 metrics \
	"j['keel_backend_up{vip=\"web\",backend=\"$B2\"}'] == 0 and j['keel_backend_up{vip=\"web\",backend=\"$B1\"}'] == 1 and j['keel_vip_panic{vip=\"web\"}'] == 0"
KEELCTL=$BUILD/tools/keelctl/keelctl
if [[ -x $KEELCTL ]]; then
	"$KEELCTL" --socket "$SOCK" vip list >"$KT_TMP/vips.txt" 2>&1 || true
	# Admin state and health apart: all three are active, two pass their check.
	check "keelctl vip list: web 3/3 active, 2/3 healthy" grep -qE '^web +192\.0\.2\.1 +80 +tcp +ipip +1021 +3/3 +2/3 ' "$KT_TMP/vips.txt"
	check "keelctl vip list: db 3/3 active, 3/3 healthy" grep -qE '^db +192\.0\.2\.2 +5432 +tcp +ipip +1021 +3/3 +3/3 ' "$KT_TMP/vips.txt"
fi
check "the TCP check of $B2 (other port) is still up" test "$(kt_api /v1/health |
	json_get '[e["health"]["state"] for e in j if e["vip"] == "db" and e["backend"] == "'$B2'"][0]')" = up

log "HTTP server of $B2 started again"
t0=$(now)
srv_start $B2 8080
check_within "$B2 up within interval*rise + 1 s" $UP_MAX_MS "$t0" 5 /v1/health "h('web', '$B2') == 'up'"
log "MEASURED up after start: $LAST_MS ms"
check "not up on the first success (rise $RISE: >= $((INTERVAL_MS * (RISE - 1) * 3 / 4)) ms)" \
	test "$LAST_MS" -ge $((INTERVAL_MS * (RISE - 1) * 3 / 4))
check_within "$B2 back in web's table" $PUBLISH_MAX_MS "$t0" 5 /v1/vips/web/table "$ALL_SLOTS"
# The operators' first series: transitions, check durations, weight and admin state, the VIP's info.
HB2="vip=\"web\",backend=\"$B2\"" HB1="vip=\"web\",backend=\"$B1\""
# (A loaded machine can time a check out and flap $B1 too: up now, its counts are equal.)
check_within "metrics: $B2 went down and came up (as often), $B1 as often up as down" 3000 "$(now)" 3 metrics \
	"j['keel_backend_health_transitions_total{$HB2,to=\"down\"}'] >= 1 and j['keel_backend_health_transitions_total{$HB2,to=\"up\"}'] == j['keel_backend_health_transitions_total{$HB2,to=\"down\"}'] and j['keel_backend_health_transitions_total{$HB1,to=\"down\"}'] == j['keel_backend_health_transitions_total{$HB1,to=\"up\"}']"
check_within "metrics: check durations of $B1, every check in a bucket, all within a second (timeout 100 ms)" 3000 "$(now)" 3 metrics \
	"j['keel_backend_check_duration_seconds_count{$HB1}'] >= 3 and j['keel_backend_check_duration_seconds_bucket{$HB1,le=\"+Inf\"}'] == j['keel_backend_check_duration_seconds_count{$HB1}'] and j['keel_backend_check_duration_seconds_bucket{$HB1,le=\"1\"}'] == j['keel_backend_check_duration_seconds_count{$HB1}'] and 0 < j['keel_backend_check_duration_seconds_sum{$HB1}'] < j['keel_backend_check_duration_seconds_count{$HB1}']"
check_within "metrics: keel_vip_info of web and db" 3000 "$(now)" 3 metrics \
	"j['keel_vip_info{vip=\"web\",address=\"192.0.2.1\",port=\"80\",protocol=\"tcp\",encap=\"ipip\"}'] == 1 and j['keel_vip_info{vip=\"db\",address=\"192.0.2.2\",port=\"5432\",protocol=\"tcp\",encap=\"ipip\"}'] == 1"
check_within "metrics: flows tracked per VIP and backend (none on net_null), worker seconds, port names" 3000 "$(now)" 3 metrics \
	"j['keel_vip_tracked_flows{vip=\"web\"}'] == 0 and j['keel_backend_tracked_flows{$HB1}'] == 0 and j['keel_worker_busy_seconds_total{worker=\"0\"}'] + j['keel_worker_idle_seconds_total{worker=\"0\"}'] > 0.5 and 'keel_port_received_packets_total{port=\"0\",interface=\"net_null0\"}' in j and 'keel_port_missed_packets_total{port=\"1\",interface=\"net_null1\"}' in j"
api_post() { kt_api_code -X "$1" "${@:3}" "$2"; }
check "drain $B2 of web: 200" test "$(api_post POST "/v1/vips/web/backends/$B2/drain")" = 200
check_within "metrics: $B2 draining (admin state), weight 1, still up" 3000 "$(now)" 3 metrics \
	"j['keel_backend_admin_state{$HB2,state=\"draining\"}'] == 1 and j['keel_backend_admin_state{$HB2,state=\"active\"}'] == 0 and j['keel_backend_admin_state{$HB1,state=\"active\"}'] == 1 and j['keel_backend_weight{$HB2}'] == 1 and j['keel_backend_up{$HB2}'] == 1"
check "undrain $B2 of web: 200" test "$(api_post POST "/v1/vips/web/backends/$B2/undrain")" = 200
# A preview that would move most of web's slots (weight 100 of 102) is refused, and counted apart.
check "weight 100 for $B1, dry run: refused (409)" test "$(api_post PUT "/v1/vips/web/backends/$B1/weight?dry_run=1" \
	-H 'Content-Type: application/json' -d '{"weight": 100}')" = 409
check_within "metrics: the refused preview counts in dry_run_refused, not in refused" 3000 "$(now)" 3 metrics \
	"j['keel_config_dry_run_refused_total'] == 1 and j['keel_config_refused_total'] == 0 and j['keel_backend_weight{$HB1}'] == 1"
check "weight 100 for $B1: refused (409)" test "$(api_post PUT "/v1/vips/web/backends/$B1/weight" \
	-H 'Content-Type: application/json' -d '{"weight": 100}')" = 409
check_within "metrics: the refused change counts in refused" 3000 "$(now)" 3 metrics \
	"j['keel_config_dry_run_refused_total'] == 1 and j['keel_config_refused_total'] == 1"

log "panic threshold 0.5: HTTP servers of $B2 and $B3 stopped"
t0=$(now)
srv_stop $B2 8080
srv_stop $B3 8080
check_within "both down" $DOWN_MAX_MS "$t0" 5 /v1/health "h('web', '$B2') == 'down' and h('web', '$B3') == 'down'"
check_within "keel_vip_panic{vip=\"web\"} 1" $PUBLISH_MAX_MS "$t0" 5 metrics "j['keel_vip_panic{vip=\"web\"}'] == 1"
check_within "web's table keeps all three (panic)" $PUBLISH_MAX_MS "$t0" 5 /v1/vips/web/table "$ALL_SLOTS"
# Steady: the panic table holds (no flapping back to one backend).
sleep 1
check "after 1 s, still all three in the table" test "$(kt_api /v1/vips/web/table |
	json_get 'all(e["slots"] > 0 for e in j["backends"])')" = True
check "GET /v1/vips/web says panic" test "$(kt_api /v1/vips/web | json_get 'j["panic"]')" = True
check "db (TCP checks, all up) is not in panic" test "$(kt_api /v1/vips/db | json_get 'j["panic"]')" = False

log "HTTP servers of $B2 and $B3 started again"
t0=$(now)
srv_start $B2 8080
srv_start $B3 8080
check_within "all up" $UP_MAX_MS "$t0" 5 /v1/health "$ALL_UP"
check_within "panic over: keel_vip_panic 0" $PUBLISH_MAX_MS "$t0" 5 metrics "j['keel_vip_panic{vip=\"web\"}'] == 0"
check_within "web's table has all three" $PUBLISH_MAX_MS "$t0" 5 /v1/vips/web/table "$ALL_SLOTS"

log "TCP check: listener of $B3 on 8081 stopped"
t0=$(now)
srv_stop $B3 8081
check_within "$B3 down (tcp) within interval*fall + 1 s" $DOWN_MAX_MS "$t0" 5 /v1/health "h('db', '$B3') == 'down'"
log "MEASURED tcp down after stop: $LAST_MS ms"
check_within "0 slots for $B3 in db's table" $PUBLISH_MAX_MS "$t0" 5 /v1/vips/db/table \
	"slots('$B3') == 0 and slots('$B1') + slots('$B2') == 1021"
check "web (HTTP on 8080) still has $B3" test "$(kt_api /v1/vips/web/table |
	json_get '[e["slots"] for e in j["backends"] if e["backend"] == "'$B3'"][0] > 0')" = True
t0=$(now)
srv_start $B3 8081
check_within "$B3 up (tcp) within interval*rise + 1 s" $UP_MAX_MS "$t0" 5 /v1/health "h('db', '$B3') == 'up'"
log "MEASURED tcp up after start: $LAST_MS ms"
check_within "$B3 back in db's table" $PUBLISH_MAX_MS "$t0" 5 /v1/vips/db/table "$ALL_SLOTS"

log "next hop: the gateway's MAC changes in the neighbour table"
gen_before=$(kt_api /v1/status | json_get 'j["generation"]')
check "next hop resolved to 02:00:5e:10:00:01" test "$(kt_api /v1/status |
	json_get 'j["next_hop"]["mac"] if j["next_hop"]["resolved"] else None')" = 02:00:5e:10:00:01
t0=$(now)
ip -n "$NS" neigh replace $GW lladdr 02:00:5e:10:00:02 dev hc0 nud permanent
check_within "keel-control sees the new MAC" 3000 "$t0" 5 /v1/status "j['next_hop']['mac'] == '02:00:5e:10:00:02'"
workers_past() { "$SEAM" status "$NAME" --json | json_get "all(w['generation'] > $gen_before for w in j['workers'])" | grep -qx True; }
check "republished: the workers move past generation $gen_before" wait_until 3 workers_past

if command -v promtool >/dev/null; then
	ip netns exec "$NS" curl -s -o "$KT_TMP/metrics" --max-time 5 "http://127.0.0.1:$MPORT/metrics"
	check "promtool check metrics" promtool check metrics <"$KT_TMP/metrics"
fi
st=$(kt_api /v1/status)
log "status: generation $(echo "$st" | json_get 'j["generation"]'), publishes $(echo "$st" | json_get 'j["publishes"]'), failures $(echo "$st" | json_get 'j["publish_failures"]')"
check "no publish failure" test "$(echo "$st" | json_get 'j["publish_failures"]')" -eq 0

log "stopping"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
dp_stop
check "keel-dataplane exits 0 (got $DP_RC)" test "$DP_RC" -eq 0
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -25 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
