#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, observability: the sandbox's Prometheus scrapes keel-control (up{job="keel"} == 1);
# N=500 HTTP requests to the web VIP, the client's packets to 192.0.2.10:80 counted by tcpdump in
# the client's namespace (P); after two more scrapes, a query through Prometheus' HTTP API shows
# sum(keel_backend_packets_total{vip="web"}) grown by at least P, and each of the three web
# backends' series grown (every backend got requests); `promtool check metrics` passes on a live
# scrape of keel-control's /metrics, whose port series carry the interface's name.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
need_cmd promtool tcpdump
e2e_up

# prom_value PROMQL -> the first result's value (empty when none)
prom_value() {
	sb_prom_query "$1" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
r = j["data"]["result"] if j.get("status") == "success" else []
print(r[0]["value"][1] if r else "")'
}
prom_per_backend() {
	sb_prom_query 'keel_backend_packets_total{vip="web"}' | "$PY" -c '
import json, sys
print(json.dumps({r["metric"]["backend"]: float(r["value"][1]) for r in json.load(sys.stdin)["data"]["result"]}))'
}
scraped() { [[ $(prom_value 'up{job="keel"}') == 1 && -n $(prom_value 'sum(keel_backend_packets_total{vip="web"})') ]]; }
wait_until 20 scraped || die "Prometheus has no scrape of keel-control after 20 s: $(sb_prom_query 'up')"
check "Prometheus scrapes keel-control (up{job=\"keel\"} == 1)" test "$(prom_value 'up{job="keel"}')" = 1
V0=$(prom_value 'sum(keel_backend_packets_total{vip="web"})')
PB0=$(prom_per_backend)
log "before: sum(keel_backend_packets_total{vip=\"web\"}) = $V0, per backend $PB0"

ip netns exec "$NS_CLIENT" timeout 60 tcpdump -i "${SB_P}cl" -nn -q -l -U "ip dst $VIP4 and tcp dst port 80" \
	>"$KT_TMP/cap.txt" 2>"$KT_TMP/cap.err" &
TP=$!
KT_PIDS+=("$TP")
wait_until 10 grep -q "listening on" "$KT_TMP/cap.err" || die "tcpdump not listening: $(cat "$KT_TMP/cap.err")"
N=500
r=$(client http --vip "$VIP4" --n $N --conc 8)
log "$N requests: $r"
reqs_ok() { [[ $(json_get "j['ok'] == $N and j['fail'] == 0" <<<"$r") == True ]]; }
check "$N requests through the VIP, 0 failures" reqs_ok
sleep 0.5
kill -TERM "$TP"
wait "$TP" 2>/dev/null || true
P=$(grep -c " > $VIP4.80: tcp" "$KT_TMP/cap.txt" || true)
log "client packets to $VIP4:80 (tcpdump): $P; $(grep -E 'captured|dropped by kernel' "$KT_TMP/cap.err" | tr '\n' ' ')"
T_SENT=$(date +%s.%N)

# two scrapes after the traffic: every web series sampled at least 2 scrape intervals later
later() { "$PY" -c "import sys; v = sys.argv[1]; sys.exit(0 if v and float(v) > $T_SENT + 2 else 1)" \
	"$(prom_value 'min(timestamp(keel_backend_packets_total{vip="web"}))')"; }
wait_until 15 later || die "no 2 scrapes of keel-control 15 s after the traffic"
V1=$(prom_value 'sum(keel_backend_packets_total{vip="web"})')
PB1=$(prom_per_backend)
D=$("$PY" -c "print(int(float('$V1') - float('$V0')))")
log "after: sum = $V1 (+$D), per backend $PB1; keel-seam fwd_pkts $(KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$SB_NAME" --json | json_get 'j["fwd_pkts"]')"
check "the client sent packets and they were counted ($P > $N)" test "$P" -gt "$N"
check "Prometheus: sum of web's per-backend packet counters grew by at least the packets sent (+$D >= $P)" \
	test "$D" -ge "$P"
check "Prometheus: each of web's 3 backends' packet counter grew" "$PY" -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if len(b) == 3 and all(b[k] > a.get(k, 0) for k in b) else 1)' "$PB0" "$PB1"

in_ns "$(ns_keel 1)" curl -sf --max-time 5 "http://$SB_METRICS/metrics" >"$KT_TMP/metrics.txt" || die "no live scrape of http://$SB_METRICS/metrics"
prc=0
promtool check metrics <"$KT_TMP/metrics.txt" >"$KT_TMP/promtool.txt" 2>&1 || prc=$?
log "live scrape: $(wc -l <"$KT_TMP/metrics.txt") lines, $(grep -c '^# TYPE' "$KT_TMP/metrics.txt") metrics; promtool rc $prc $(head -c 300 "$KT_TMP/promtool.txt")"
check "promtool check metrics passes on a live scrape" test "$prc" -eq 0
log "ports: $(grep '^keel_port_received_packets_total' "$KT_TMP/metrics.txt" | tr '\n' ' ')"
check "port series name their interface (AF_XDP: the kernel's name)" \
	grep -qE '^keel_port_received_packets_total\{port="0",interface="[^"?]+"\} [0-9]+$' "$KT_TMP/metrics.txt"
check "worker busy and idle in seconds" grep -qE '^keel_worker_idle_seconds_total\{worker="0"\} [0-9.]+$' "$KT_TMP/metrics.txt"
finish
