#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control's life cycle under looping traffic (net_pcap infinite_rx -> net_null):
#  - kill -9 keel-control: the dataplane forwards on (rx and forwarded keep growing for 2 s);
#  - restart it on the same state dir: same generation (keel-seam and GET /v1/status), no
#    republish (the workers' activations do not move);
#  - SIGHUP after a weight change in the file: generation + 1, published;
#  - SIGHUP with a refused file: logged, generation and workers unchanged, still serving;
#  - restart keel-dataplane (SIGTERM, start again with the same name): keel-control publishes
#    the running state to it within KEEL_REPUBLISH_MAX_MS (default 1500: 1 s plus slack for
#    a small, shared CI host); the measured time is printed;
#  - GET /metrics on the configured port, and `promtool check metrics` when promtool is there.
#
# Addresses are documentation ones (RFC 5737 VIP, RFC 1918 backends).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl
need_hugepages 256
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME life
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 13) % 20000))
REPUBLISH_MAX_MS=${KEEL_REPUBLISH_MAX_MS:-1500}

. "$(dirname "$0")/lib_traffic.bash"
CONFIG=$KT_TMP/keel.yaml
write_config "$CONFIG" 1

start_dp() {
	# shellcheck disable=SC2046
	DP_TIMEOUT=600 dp_start "$KT_TMP/dp.log" -- "${LCORES[@]}" $(eal_opts "$NAME") \
		--vdev "net_pcap0,$RX_PCAPS,infinite_rx=1" --vdev net_null0,no-rx=1 \
		-- --name "$NAME" --workers "$WORKERS" --tx-port 0=1 --wait-snapshot --flows 65536 \
		--slots 4 --slot-size 8M
}
start_control() {
	# No `timeout` wrapper: kill -9 must reach keel-control itself (the EXIT trap stops it).
	CONTROL_CONFIG=$CONFIG control_start
}
api_status() { kt_api --max-time 5 /v1/status; }
api_gen() { api_status | json_get 'j["generation"]'; }
seam_st() { "$SEAM" status "$NAME" --json; }
workers_at() { seam_st | json_get "all(w['generation'] == $1 for w in j['workers'])" | grep -qx True; }
activations() { seam_st | json_get 'sum(w["activations"] for w in j["workers"])'; }
state_gen() { json_get 'j["generation"]' <"$KT_TMP/state/state.json"; }
api_gen_is() { [[ $(api_gen) == "$1" ]]; }
# Traffic goes on: rx and forwarded both grow between samples taken every 0.5 s for SECONDS.
forwarding() { # seconds
	local n=$(($1 * 2)) prev cur i
	prev=$(counter "$NAME" '"%d %d" % (j["rx_pkts"], j["fwd_pkts"])')
	for ((i = 0; i < n; i++)); do
		sleep 0.5
		cur=$(counter "$NAME" '"%d %d" % (j["rx_pkts"], j["fwd_pkts"])')
		if ! ((${cur% *} > ${prev% *} && ${cur#* } > ${prev#* })); then
			echo "    not growing: rx/fwd $prev -> $cur"
			return 1
		fi
		prev=$cur
	done
	log "     rx/fwd now $cur"
}

log "keel-dataplane $NAME: net_pcap (infinite_rx) -> net_null, $WORKERS worker(s) (${LCORES[*]})"
start_dp
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
log "keel-control"
start_control
G=$(api_gen)
check "first publish: every worker at generation $G" wait_until 5 workers_at "$G"
check "forwarding" forwarding 1

log "lookup: a flow of the looping traffic is tracked by a worker; an unseen client is not"
# gen_bench_pcap.py: flow i comes from 10.0.(i>>8).(i&255), port 1024 + i.
lookup_reason() { # src sport
	kt_api --max-time 5 "/v1/lookup?vip=web&src=$1&sport=$2" |
		json_get 'j["reason"] + " " + str(j["backend"])'
}
check "10.0.0.5:1029 answered from a worker's flow table" bash -c \
	"[[ \$(curl -sS --max-time 5 --unix-socket '$SOCK' 'http://keel/v1/lookup?vip=web&src=10.0.0.5&sport=1029') == *'\"reason\": \"flow table\"'* ]]"
log "  $(lookup_reason 10.0.0.5 1029)"
check "10.9.9.9:5555 (never seen) answered from the Maglev table" bash -c \
	"[[ \$(curl -sS --max-time 5 --unix-socket '$SOCK' 'http://keel/v1/lookup?vip=web&src=10.9.9.9&sport=5555') == *'\"reason\": \"maglev\"'* ]]"

log "kill -9 keel-control under traffic"
A=$(activations)
kill -KILL "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
check "keel-dataplane forwards on for 2 s without keel-control" forwarding 2
check "workers still at generation $G" workers_at "$G"

log "restarting keel-control on the same state dir"
start_control
sleep 1.5 # a dozen ticks: time enough for a republish, were there to be one
check "GET /v1/status: generation $G after the restart" test "$(api_gen)" = "$G"
check "keel-seam: workers at generation $G" workers_at "$G"
check "no republish: workers' activations still $A" test "$(activations)" = "$A"
check "GET /v1/status: no publish since the restart" test "$(api_status | json_get 'j["publishes"]')" = 0
check "keel-control attached to the dataplane" test "$(api_status | json_get 'j["dataplane"]["alive"]')" = True
check "forwarding" forwarding 1

log "SIGHUP after a weight change in the file"
write_config "$CONFIG" 2
kill -HUP "$CONTROL_PID"
check "generation $((G + 1)) within 5 s" wait_until 5 api_gen_is $((G + 1))
check "every worker at generation $((G + 1))" wait_until 5 workers_at $((G + 1))
check "persisted at generation $((G + 1))" test "$(state_gen)" = $((G + 1))
check "the running config has weight 2" test "$(kt_api /v1/vips/web |
	json_get '[b["weight"] for b in j["backends"] if b["address"] == "10.0.0.1"][0]')" = 2
check "reload logged" grep -q 'event=config_reloaded' "$KT_TMP/control.log"
G=$((G + 1))
A=$(activations)

log "SIGHUP with a refused file"
cp "$CONFIG" "$KT_TMP/good.yaml"
sed -i 's/weight: 2 }/weight: 70000 }/' "$CONFIG"
kill -HUP "$CONTROL_PID"
refused_logged() { grep -q 'event=reload_refused kept=running reason=".*keel.yaml:[0-9]*:[0-9]*: .*weight' "$KT_TMP/control.log"; }
check "refusal logged with file:line:column: reason within 5 s" wait_until 5 refused_logged
grep 'event=reload_refused' "$KT_TMP/control.log" | tail -1 | sed 's/^/    /'
sleep 0.5
check "generation still $G" test "$(api_gen)" = "$G"
check "persisted generation still $G" test "$(state_gen)" = "$G"
check "workers still at $G, no activation" test "$(activations)" = "$A"
check "the running config still has weight 2" test "$(kt_api /v1/vips/web |
	json_get '[b["weight"] for b in j["backends"] if b["address"] == "10.0.0.1"][0]')" = 2
check "still serving (API)" api_up
check "still forwarding" forwarding 1
cp "$KT_TMP/good.yaml" "$CONFIG"

log "a stuck dataplane (SIGSTOP): its workers are reported stalled"
DPP=$(pgrep -P "$DP_PID" | head -n 1)
stalled_is() { [[ $(api_status | json_get 'all(w["stalled"] for w in j["dataplane"]["workers"])') == "$1" ]]; }
if [[ -n $DPP ]]; then
	kill -STOP "$DPP"
	check "workers reported stalled within 3 s" wait_until 3 stalled_is True
	check "keel_worker_stalled 1 on /metrics" bash -c \
		"curl -s --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -q '^keel_worker_stalled{worker=\"0\"} 1'"
	kill -CONT "$DPP"
	check "no longer stalled once it runs again" wait_until 3 stalled_is False
else
	log "skip stall check: keel-dataplane's pid not found under $DP_PID"
fi

log "restarting keel-dataplane (SIGTERM, same name)"
old_epoch=$(seam_st | json_get 'j["epoch"]')
dp_stop
check "keel-dataplane exits 0 (got $DP_RC)" test "$DP_RC" -eq 0
# Watch the region from before the start: when the new dataplane runs, and when its workers
# forward with generation G. keel-seam status every ~5 ms; the measured time is the latency.
"$PY" - "$SEAM" "$NAME" "$old_epoch" "$G" >"$KT_TMP/republish.json" <<'EOF' &
import json, subprocess, sys, time
seam, name, old, gen = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t_run = t_gen = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    p = subprocess.run([seam, "status", name, "--json"], capture_output=True, text=True)
    now = time.monotonic()
    try:
        j = json.loads(p.stdout) if p.returncode == 0 else {}
    except ValueError:
        j = {}
    if j.get("epoch", old) != old and j.get("state") == "running":
        if t_run is None:
            t_run = now
        if j["workers"] and all(w["generation"] == gen for w in j["workers"]):
            t_gen = now
            break
    time.sleep(0.005)
print(json.dumps({"running": t_run is not None, "published": t_gen is not None,
                  "ms": round((t_gen - t_run) * 1000) if t_run and t_gen else None}))
EOF
WATCH_PID=$!
KT_PIDS+=("$WATCH_PID")
sleep 0.3
start_dp
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start again"
wait "$WATCH_PID" || true
R=$(cat "$KT_TMP/republish.json")
ms=$(echo "$R" | json_get 'j["ms"]')
log "republish: $R"
log "MEASURED republish latency (dataplane running -> workers at generation $G): ${ms} ms"
check "keel-control republished generation $G within $REPUBLISH_MAX_MS ms (${ms} ms)" \
	test "$ms" != None -a "${ms/None/999999}" -le "$REPUBLISH_MAX_MS"
check "new epoch" test "$(seam_st | json_get 'j["epoch"]')" != "$old_epoch"
check "GET /v1/status: generation still $G" test "$(api_gen)" = "$G"
check "keel-control logged the new dataplane" test "$(grep -c 'event=dataplane_attached' "$KT_TMP/control.log")" -ge 2
check "forwarding after the restart" forwarding 1

log "/metrics on 127.0.0.1:$MPORT"
code=$(curl -s -o "$KT_TMP/metrics" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$MPORT/metrics")
check "GET /metrics: 200" test "$code" = 200
check "keel_generation $G" grep -qx "keel_generation $G" "$KT_TMP/metrics"
check "keel_dataplane_up 1" grep -qx 'keel_dataplane_up 1' "$KT_TMP/metrics"
check "keel_worker_generation of every worker is $G" test "$(grep -c "^keel_worker_generation{worker=\"[0-9]*\"} $G\$" "$KT_TMP/metrics")" -eq "$WORKERS"
if command -v promtool >/dev/null; then
	check "promtool check metrics" promtool check metrics <"$KT_TMP/metrics"
else
	log "skip promtool check metrics: no promtool (Debian package prometheus; tools/deps installs it)"
fi

log "stopping"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
dp_stop
check "keel-dataplane exits 0 (got $DP_RC)" test "$DP_RC" -eq 0
c=$("$SEAM" counters "$NAME" --json)
check "restarted dataplane: rx == forwarded + answered + kernel + dropped, nothing dropped" test "$(echo "$c" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] and j["dropped"] == 0')" = True
check "no snapshot refused" test "$("$SEAM" status "$NAME" --json | json_get 'sum(w["refused"] for w in j["workers"])')" -eq 0
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -25 "$KT_TMP/control.log" | sed 's/^/    /'
	echo "    --- keel-dataplane log (tail)"
	tail -10 "$KT_TMP/dp.log" | sed 's/^/    /'
fi
finish
