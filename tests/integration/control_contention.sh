#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control under contention (issue 14, items 7, 8 and 12):
#  - concurrent edits: 24 clients change the weights of 24 different backends at the same
#    instant, several rounds, without a dataplane and with one, then 24 concurrent
#    `keelctl backend weight`; every change must be in the running configuration afterwards
#    (no lost update) and each edit moves the generation by one;
#  - a publish waiting for workers that do not answer (keel-dataplane under SIGSTOP: the
#    publish waits its 2 s timeout) does not hold up readers: GET /v1/status, a VIP, its Maglev
#    table and a /metrics scrape answer within KEEL_READ_MAX_MS (default 500) while it waits;
#  - a missing dataplane and a dead one (kill -9) answer a flush alike: 503.
#
# Addresses are documentation ones (RFC 5737 VIP, RFC 1918 backends).
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl "$PY"
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
need_build
need_hugepages 256
kt_tmpdir
kt_name NAME cnt
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 29) % 20000))
N_BACKENDS=24
READ_MAX_MS=${KEEL_READ_MAX_MS:-500}

{
	kt_config ipv6=fd00:1::/64 <<EOF
vips:
  - name: web
    address: 192.0.2.10
    port: 80
    protocol: tcp
    maglev_table_size: 4093
    backends:
EOF
	for i in $(seq 1 $N_BACKENDS); do
		echo "      - { address: 10.0.0.$i, weight: 10 }"
	done
} >"$KT_TMP/keel.yaml"

log "keel-control without a dataplane"
control_start timeout -s TERM -k 5 300 --
status() { kt_api /v1/status; }
flush_status() {
	kt_api_code -X POST /v1/vips/web/backends/10.0.0.1/flush
}
check "flush without a dataplane: 503 (got $(flush_status))" test "$(flush_status)" = 503

# Every round: all clients wait at a barrier, then each sets its own backend's weight to a
# value unique to the round. Prints the JSON verdict of all rounds.
edits() { # rounds, first weight
	"$PY" - "$SOCK" "$N_BACKENDS" "$1" "$2" <<'EOF'
import json, sys, threading

import keel_http

sock, n, rounds, w0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])


def call(method, path, body=None):
    st, data = keel_http.call(sock, method, path, body, timeout=30)
    return st, json.loads(data)


bad, lost = [], []
gen0 = call("GET", "/v1/status")[1]["generation"]
for rnd in range(rounds):
    weight = w0 + rnd
    barrier = threading.Barrier(n)
    answers = [None] * n

    def client(i):
        barrier.wait()
        answers[i] = call("PUT", "/v1/vips/web/backends/10.0.0.%d/weight" % (i + 1),
                          json.dumps({"weight": weight}).encode())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (st, rep) in enumerate(answers):
        if st != 200 or rep.get("applied") is not True:
            bad.append({"round": rnd, "backend": i + 1, "status": st, "reply": rep})
    vip = call("GET", "/v1/vips/web")[1]
    for b in vip["backends"]:
        if b["weight"] != weight:
            lost.append({"round": rnd, "backend": b["address"], "weight": b["weight"],
                         "want": weight})
gen1 = call("GET", "/v1/status")[1]["generation"]
print(json.dumps({"bad": bad[:5], "n_bad": len(bad), "lost": lost[:5], "n_lost": len(lost),
                  "generations": gen1 - gen0, "edits": n * rounds}))
EOF
}
verdict() { json_get "$1" <"$KT_TMP/edits.json"; }
edit_checks() { # what
	log "$1: $(cat "$KT_TMP/edits.json")"
	check "$1: every edit answered 200, applied" test "$(verdict 'j["n_bad"]')" -eq 0
	check "$1: no lost update (every weight present)" test "$(verdict 'j["n_lost"]')" -eq 0
	check "$1: one generation per edit" test "$(verdict 'j["generations"] == j["edits"]')" = True
}

log "$N_BACKENDS concurrent weight edits on different backends, 5 rounds, no dataplane"
edits 5 11 >"$KT_TMP/edits.json" || die "the edit clients failed"
edit_checks "no dataplane"

log "keel-dataplane $NAME on net_null"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
	--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
published() {
	[[ $(status | json_get 'j["dataplane"]["alive"] and all(w["generation"] == j["generation"] for w in j["dataplane"]["workers"])') == True ]]
}
check "keel-control attached and published within 5 s" wait_until 5 published

log "$N_BACKENDS concurrent weight edits, 3 rounds, published to the dataplane"
edits 3 31 >"$KT_TMP/edits.json" || die "the edit clients failed"
edit_checks "with a dataplane"
check "the workers run the last generation" wait_until 5 published

KEELCTL=${KEELCTL:-$BUILD/tools/keelctl/keelctl}
if [[ -x $KEELCTL ]]; then
	log "$N_BACKENDS concurrent \`keelctl backend weight\` on different backends"
	g0=$(status | json_get 'j["generation"]')
	kpids=()
	for i in $(seq 1 $N_BACKENDS); do
		"$KEELCTL" --socket "$SOCK" backend weight web "10.0.0.$i" 41 >"$KT_TMP/kc.$i" 2>&1 &
		kpids+=($!)
	done
	kfail=0
	for p in "${kpids[@]}"; do
		wait "$p" || kfail=$((kfail + 1))
	done
	check "every keelctl exited 0 ($kfail failed)" test "$kfail" -eq 0
	check "every weight is 41 (no lost update)" test "$(kt_api /v1/vips/web |
		json_get 'all(b["weight"] == 41 for b in j["backends"])')" = True
	check "generation moved by $N_BACKENDS" test "$(status | json_get 'j["generation"]')" -eq $((g0 + N_BACKENDS))
	check "the workers run the last generation" wait_until 5 published
else
	log "skip the keelctl round: no keelctl at $KEELCTL"
fi

log "a publish waiting on a stopped dataplane (SIGSTOP) does not hold up readers"
DPP=$(seam_pid=$("$SEAM" status "$NAME" --json | json_get 'j["pid"]') && echo "$seam_pid")
[[ -n $DPP ]] || die "no dataplane pid"
kill -STOP "$DPP"
t0=$(date +%s%N)
kt_api -o "$KT_TMP/slow.json" --max-time 20 -X PUT -H 'Content-Type: application/json' -d '{"weight": 12}' \
	/v1/vips/web/backends/10.0.0.1/weight &
EDIT_PID=$!
sleep 0.3
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
t=$(date +%s%N)
st_code=$(kt_api_code /v1/status)
status_ms=$(ms "$t")
t=$(date +%s%N)
m_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$MPORT/metrics")
metrics_ms=$(ms "$t")
t=$(date +%s%N)
v_code=$(kt_api_code /v1/vips/web)
vips_ms=$(ms "$t")
t=$(date +%s%N)
tb_code=$(kt_api_code /v1/vips/web/table)
table_ms=$(ms "$t")
edit_running=0
kill -0 "$EDIT_PID" 2>/dev/null && edit_running=1
wait "$EDIT_PID" || true
edit_ms=$(ms "$t0")
log "edit took $edit_ms ms; meanwhile status $status_ms ms, metrics $metrics_ms ms, vips $vips_ms ms, table $table_ms ms"
check "the edit was still waiting for the workers while the readers ran" test "$edit_running" -eq 1
check "the edit waited for the publish timeout (>= 1500 ms)" test "$edit_ms" -ge 1500
check "GET /v1/status answered 200 within $READ_MAX_MS ms ($status_ms)" test "$st_code" = 200 -a "$status_ms" -lt "$READ_MAX_MS"
check "GET /metrics answered 200 within $READ_MAX_MS ms ($metrics_ms)" test "$m_code" = 200 -a "$metrics_ms" -lt "$READ_MAX_MS"
check "GET /v1/vips/web answered 200 within $READ_MAX_MS ms ($vips_ms)" test "$v_code" = 200 -a "$vips_ms" -lt "$READ_MAX_MS"
check "GET /v1/vips/web/table (the active snapshot, in place) answered 200 within $READ_MAX_MS ms ($table_ms)" test "$tb_code" = 200 -a "$table_ms" -lt "$READ_MAX_MS"
check "the edit was persisted, not published" test "$(json_get 'j["applied"] is True and j["published"] is False' <"$KT_TMP/slow.json")" = True
kill -CONT "$DPP"
check "published once the dataplane runs again" wait_until 10 published

log "a dead dataplane (kill -9) answers a flush like a missing one"
# Until the process is reaped it still looks alive (flush 200); the first other answer must be
# 503, before and after keel-control's tick notices and lets the region go.
kill -KILL "$DPP"
first=200
for _ in $(seq 100); do
	first=$(flush_status)
	[[ $first != 200 ]] && break
	sleep 0.01
done
check "flush with a dead dataplane, at once: 503 (got $first)" test "$first" = 503
sleep 0.3
check "flush with a dead dataplane, later: 503 (got $(flush_status))" test "$(flush_status)" = 503
wait "$DP_PID" 2>/dev/null || true
check "status says the dataplane is not alive" test "$(status | json_get 'j["dataplane"]["alive"]')" = False

kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
