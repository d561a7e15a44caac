#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health checking at scale: keel-control with 10 000 TCP check targets (10 VIPs x 1000 backends)
# that all time out, under an open-file limit of 1024 (`ulimit -n 1024`).
# The backends' addresses (10.64.0.0/16) route to a dummy interface in a namespace the test
# creates: every SYN is dropped there, so every probe holds its socket for the whole timeout.
# keel-control runs alone in that namespace (no dataplane: it publishes when one comes).
#  - phase 1, timeout 100 ms / interval 5 s: about 200 sockets in flight on average, inside the
#    budget the checker takes from the limit (1024 - 256 = 768). Every target is checked within
#    two intervals of the start, and again within the two intervals before a later look
#    (last_check_ms); no check is late; the API answers meanwhile (GET /v1/status x5 and
#    GET /v1/health of all 10 000 timed).
#  - phase 2, keel-control restarted with timeout 590 ms: 1180 sockets would be needed, more
#    than the limit. The budget holds (keel_health_probes_in_flight <= keel_health_probe_budget),
#    no socket error ("Too many open files") reaches any target, the API answers, every target
#    is still checked (within three intervals: a round takes 1180 / 768 of one) and the checker
#    says it is behind: keel_health_checks_late_total moves, keel_health_schedule_behind 1 and
#    exactly one health_behind_schedule log line (rate-limited to one a minute).
# Before the budget, phase 2's probes hit the limit: targets showed "local error: Too many open
# files", in flight went past 768 and the API's connections failed at the limit.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl ip
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME hs
NS=ks$KT_ID
SOCK=$KT_TMP/control.sock
MPORT=9106
NOFILE=1024
N_VIPS=10
PER_VIP=1000
N=$((N_VIPS * PER_VIP))
INTERVAL_MS=5000

kt_netns "$NS"
# 10.64.0.0/16 via one next hop with a permanent neighbour entry (no ARP for 10 000 addresses)
# out of an interface that drops everything: a dummy, or a veth whose peer stays down.
if ip -n "$NS" link add hs0 type dummy 2>/dev/null; then
	log "namespace $NS: 10.64.0.0/16 routed to a dummy interface (drops every packet)"
else
	ip -n "$NS" link add hs0 type veth peer name hs1 || skip "neither dummy nor veth interfaces here"
	log "namespace $NS: 10.64.0.0/16 routed to a veth whose peer is down (drops every packet)"
fi
ip -n "$NS" link set hs0 up
ip -n "$NS" addr add 10.63.255.254/24 dev hs0
ip -n "$NS" neigh replace 10.63.255.253 lladdr 02:00:5e:10:00:01 dev hs0 nud permanent
ip -n "$NS" route add 10.64.0.0/16 via 10.63.255.253 dev hs0 onlink

# config TIMEOUT: 10 VIPs x 1000 backends, TCP checks on port 80 (flow style: 10 000 lines).
config() {
	"$PY" - "$1" "$N_VIPS" "$PER_VIP" "$INTERVAL_MS" <<'EOF' | kt_config gateway=10.63.255.253
import sys
timeout, nv, per, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = ["vips:"]
for v in range(nv):
    out.append("  - { name: v%d, address: 192.0.2.%d, port: 80, protocol: tcp, maglev_table_size: 1021," % (v, v + 1))
    out.append("      health_check: { type: tcp, interval: %sms, timeout: %s, rise: 1, fall: 1 }," % (interval, timeout))
    out.append("      backends: [")
    for b in range(per):
        k = v * per + b
        out.append("        { address: 10.64.%d.%d }," % (k // 250, k % 250 + 1))
    out.append("      ] }")
print("\n".join(out))
EOF
}
config 100ms >"$KT_TMP/keel.yaml"
log "config: $N_VIPS VIPs x $PER_VIP backends, $(wc -c <"$KT_TMP/keel.yaml") bytes"

# The health view and the metrics, summarised. Prints a JSON object.
cat >"$KT_TMP/look.py" <<'EOF'
import json, sys, time, urllib.request

import keel_http

sock, mport, what = sys.argv[1], sys.argv[2], sys.argv[3]


def get(path):
    t = time.time()
    status, body = keel_http.call(sock, "GET", path, timeout=10)
    return status, body, time.time() - t


if what == "health":
    st, body, dt = get("/v1/health")
    j = json.loads(body)
    now = time.time() * 1000
    h = [e["health"] for e in j]
    local = [e for e in j if "local error" in e["health"].get("last", "")]
    print(json.dumps({"status": st, "seconds": round(dt, 3), "n": len(j),
                      "checked": sum(1 for x in h if x.get("checks", 0) >= 1),
                      "oldest_check_ms_ago": round(now - min(x.get("last_check_ms", 0) for x in h)),
                      "local_errors": len(local), "sample": local[:2]}))
elif what == "status":
    # A few GETs of /v1/status while the checker runs: the slowest of them.
    worst, fails = 0.0, 0
    for _ in range(5):
        try:
            st, _, dt = get("/v1/status")
            fails += st != 200
            worst = max(worst, dt)
        except Exception:
            fails += 1
        time.sleep(0.05)
    print(json.dumps({"worst": round(worst, 3), "fails": fails}))
else:
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=10).read().decode()
    print(json.dumps({l.split(" ")[0]: float(l.split(" ")[1]) for l in text.splitlines()
                      if l.startswith("keel_health_")}))
EOF
look() { ip netns exec "$NS" "$PY" "$KT_TMP/look.py" "$SOCK" "$MPORT" "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
sleep_until() { # epoch ms
	local d=$(($1 - $(now_ms)))
	((d <= 0)) || sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
}

log "keel-control in $NS with ulimit -n $NOFILE, no dataplane"
# shellcheck disable=SC2016 # $@ is for the inner shell
control_start ip netns exec "$NS" bash -c "ulimit -n $NOFILE && exec \"\$@\"" keel-control --
T0=$(now_ms)
m=$(look metrics)
log "checker: $m"
check "budget from the limit: 1024 - 256 = 768" test "$(echo "$m" | json_get 'int(j["keel_health_probe_budget"])')" -eq 768

log "phase 1: timeout 100 ms, interval $INTERVAL_MS ms (about 200 in flight)"
s=$(look status)
log "GET /v1/status x5 while checking: $s"
check "the API answers: 5 of 5, each under 1 s" test "$(echo "$s" | json_get 'j["fails"] == 0 and j["worst"] < 1')" = True
sleep_until $((T0 + 2 * INTERVAL_MS))
h=$(look health)
log "at 2 intervals: $(echo "$h" | json_get '{k: j[k] for k in ("n", "checked", "seconds", "local_errors")}')"
check "all $N targets checked within two intervals" test "$(echo "$h" | json_get 'j["n"] == '$N' and j["checked"] == j["n"]')" = True
check "GET /v1/health ($N backends) answers within 5 s" test "$(echo "$h" | json_get 'j["seconds"] < 5')" = True
sleep_until $((T0 + 3 * INTERVAL_MS))
h=$(look health)
log "at 3 intervals: oldest last check $(echo "$h" | json_get 'j["oldest_check_ms_ago"]') ms ago"
check "on schedule: every target checked in the last two intervals" \
	test "$(echo "$h" | json_get 'j["oldest_check_ms_ago"] <= 2 * '$INTERVAL_MS' and j["local_errors"] == 0')" = True
m=$(look metrics)
log "checker: $m"
check "no check late in phase 1" test "$(echo "$m" | json_get 'int(j["keel_health_checks_late_total"])')" -eq 0
check "nothing deferred for want of sockets" test "$(echo "$m" | json_get 'int(j["keel_health_checks_deferred_total"])')" -eq 0

log "phase 2: keel-control restarted with timeout 590 ms (1180 sockets needed, limit $NOFILE)"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
wait_until 10 gone || die "keel-control did not stop"
rm -rf "$KT_TMP/state"
config 590ms >"$KT_TMP/keel.yaml"
# shellcheck disable=SC2016
control_start ip netns exec "$NS" bash -c "ulimit -n $NOFILE && exec \"\$@\"" keel-control --
T1=$(now_ms)
in_budget=True
for _ in 1 2 3 4; do
	m=$(look metrics)
	[[ $(echo "$m" | json_get 'j["keel_health_probes_in_flight"] <= j["keel_health_probe_budget"]') == True ]] || in_budget=False
	sleep 0.4
done
log "checker: $m"
check "in flight never above the budget (4 samples)" test "$in_budget" = True
s=$(look status)
log "GET /v1/status x5 while behind: $s"
check "the API answers while the checker is behind: 5 of 5, each under 1 s" \
	test "$(echo "$s" | json_get 'j["fails"] == 0 and j["worst"] < 1')" = True
sleep_until $((T1 + 3 * INTERVAL_MS))
h=$(look health)
log "at 3 intervals after the restart: $(echo "$h" | json_get '{k: j[k] for k in ("n", "checked", "seconds", "local_errors", "sample")}')"
check "all $N targets checked within three intervals, behind schedule" test "$(echo "$h" | json_get 'j["checked"] == j["n"] == '$N'')" = True
check "no target saw a local error (Too many open files)" test "$(echo "$h" | json_get 'j["local_errors"]')" -eq 0
m=$(look metrics)
log "checker: $m"
check "the checker says it is behind: keel_health_checks_late_total > 0, keel_health_schedule_behind 1" \
	test "$(echo "$m" | json_get 'j["keel_health_checks_late_total"] > 0 and j["keel_health_schedule_behind"] == 1')" = True
check "one health_behind_schedule log line (rate-limited)" test "$(grep -c 'event=health_behind_schedule' "$KT_TMP/control.log")" -eq 1
check "no API resource-limit message in the log" test "$(grep -c 'resource limit' "$KT_TMP/control.log")" -eq 0

# The checker thread's CPU time (utime + stime, clock ticks) per probe: a figure, not a check.
for t in /proc/"$CONTROL_PID"/task/*; do
	[[ $(cat "$t/comm" 2>/dev/null) == keel-health ]] || continue
	ticks=$(awk '{print $14 + $15}' "$t/stat")
	started=$(look metrics | json_get 'int(j["keel_health_checks_started_total"])')
	log "MEASURED checker CPU: $((ticks * 10)) ms for $started probes ($(echo "$ticks $started" | awk '{printf "%.1f", $1 * 10000 / $2}') us per probe)"
done
kill -TERM "$CONTROL_PID"
check "keel-control exits on SIGTERM" wait_until 10 gone
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -15 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
