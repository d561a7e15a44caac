#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control publishing under traffic: a pcap of 1000 flows to the VIP loops forever (net_pcap
# infinite_rx=1) through keel-dataplane into net_null, while 1000 changes go through
# keel-control's API (a weight moved back and forth, a backend added and removed, the whole file
# applied again; ?force=1 where the disruption preview refuses). Every change must answer 2xx,
# be published to every worker and move the generation on by one; after stopping the dataplane
# every received packet is accounted for, nothing was dropped, no snapshot refused, and the
# workers ended at the last generation.
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
kt_name NAME pub
APPLIES=${KEEL_PUBLISH_APPLIES:-1000}
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 7) % 20000))

. "$(dirname "$0")/lib_traffic.bash"
write_config "$KT_TMP/keel.yaml" 1

log "keel-dataplane $NAME: net_pcap (infinite_rx) -> net_null, $WORKERS worker(s) (${LCORES[*]})"
# shellcheck disable=SC2046
DP_TIMEOUT=600 dp_start "$KT_TMP/dp.log" -- "${LCORES[@]}" $(eal_opts "$NAME") \
	--vdev "net_pcap0,$RX_PCAPS,infinite_rx=1" --vdev net_null0,no-rx=1 \
	-- --name "$NAME" --workers "$WORKERS" --tx-port 0=1 --wait-snapshot --flows 65536 \
	--slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"

log "keel-control (VIP web, 4 backends, Maglev 1021)"
control_start timeout -s TERM -k 5 600 --
status() { kt_api --max-time 5 /v1/status; }
workers_at() { # generation: every worker of the region forwards with it
	"$SEAM" status "$NAME" --json | json_get "all(w['generation'] == $1 for w in j['workers'])" |
		grep -qx True
}
g0=$(status | json_get 'j["generation"]')
check "first publish: every worker at generation $g0 within 5 s" wait_until 5 workers_at "$g0"
rx0=$(counter "$NAME" 'j["rx_pkts"]')

log "$APPLIES changes through the API under traffic"
"$PY" - "$SOCK" "$KT_TMP/keel.yaml" "$APPLIES" "$g0" >"$KT_TMP/applies.json" 2>"$KT_TMP/applies.err" <<'EOF' || true
import json, sys, time

import keel_http

sock, base_file, n, gen = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = open(base_file, "rb").read()


def call(method, path, body=None, ctype="application/json"):
    status, data = keel_http.call(sock, method, path, body, ctype, timeout=30)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, {"error": "not JSON: %r" % data[:200]}


B = "/v1/vips/web/backends"
# One round of four changes comes back to the file's state: weight of 10.0.0.1 up (moves more
# than half of the slots: the preview refuses it without force), a fifth backend added, the
# same removed, the file applied again (the weight back: refused without force too).
ops = [
    ("PUT", B + "/10.0.0.1/weight", b'{"weight": 20}', "application/json", 200),
    ("POST", B, b'{"address": "10.0.0.5", "weight": 2}', "application/json", 201),
    ("DELETE", B + "/10.0.0.5", None, None, 200),
    ("POST", "/v1/config/apply", base, "application/yaml", 200),
]
errors, forced, lat = [], 0, []
for i in range(n):
    method, path, body, ctype, want = ops[i % len(ops)]
    t = time.monotonic()
    st, rep = call(method, path, body, ctype)
    if st == 409 and "refused" in rep.get("error", ""):
        forced += 1
        st, rep = call(method, path + "?force=1", body, ctype)
    lat.append(time.monotonic() - t)
    ok = (st == want and rep.get("applied") is True and rep.get("published") is True
          and rep.get("generation") == gen + 1)
    if not ok:
        errors.append({"i": i, "op": method + " " + path, "status": st, "report": rep,
                       "want_generation": gen + 1})
        if len(errors) >= 20:
            break
    if isinstance(rep.get("generation"), int):
        gen = max(gen, rep["generation"])
lat.sort()
print(json.dumps({"done": i + 1, "errors": errors, "forced": forced, "generation": gen,
                  "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
                  "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
                  "max_ms": round(lat[-1] * 1000, 2)}))
EOF
A=$KT_TMP/applies.json
[[ -s $A ]] || { cat "$KT_TMP/applies.err"; die "the apply loop did not report"; }
jq_a() { json_get "$1" <"$A"; }
log "applies: $(jq_a '{k: j[k] for k in ("done", "forced", "generation", "p50_ms", "p99_ms", "max_ms")}')"
nerr=$(jq_a 'len(j["errors"])')
((nerr == 0)) || jq_a '"\n".join("    " + json.dumps(e) for e in j["errors"][:5])'
check "$APPLIES changes answered 2xx, applied, published, generation +1 each ($nerr failed)" \
	test "$(jq_a 'j["done"]')" -eq "$APPLIES" -a "$nerr" -eq 0
check "the preview refused some changes, forced through ($(jq_a 'j["forced"]'))" test "$(jq_a 'j["forced"]')" -gt 0
G=$(jq_a 'j["generation"]')
check "generation moved from $g0 to $((g0 + APPLIES))" test "$G" -eq $((g0 + APPLIES))
st=$(status)
check "GET /v1/status: generation $G" test "$(echo "$st" | json_get 'j["generation"]')" -eq "$G"
check "GET /v1/status: no publish failure" test "$(echo "$st" | json_get 'j["publish_failures"]')" -eq 0
check "persisted state at generation $G" test "$(json_get 'j["generation"]' <"$KT_TMP/state/state.json")" -eq "$G"
check "every worker at generation $G" workers_at "$G"
rx1=$(counter "$NAME" 'j["rx_pkts"]')
check "traffic flowed during the changes (rx $rx0 -> $rx1)" test "$rx1" -gt $((rx0 + 100000))

log "stopping the traffic (SIGTERM keel-dataplane)"
dp_stop
check "keel-dataplane exits 0 on SIGTERM (got $DP_RC)" test "$DP_RC" -eq 0
s=$("$SEAM" status "$NAME" --json)
c=$("$SEAM" counters "$NAME" --json)
echo "$s" >"$KT_TMP/status.json"
echo "$c" >"$KT_TMP/counters.json"
log "workers: $(echo "$s" | json_get '[{k: w[k] for k in ("worker","generation","activations","refused")} for w in j["workers"]]')"
log "counters: $(echo "$c" | json_get '{k: j[k] for k in ("rx_pkts","fwd_pkts","reply_pkts","kernel_pkts","dropped","tx_dropped","drops")}')"
check "state ended" test "$(echo "$s" | json_get 'j["state"]')" = ended
check "every worker at the final generation $G" test "$(echo "$s" |
	json_get "all(w['generation'] == $G for w in j['workers'])")" = True
check "every worker activated every generation (>= $((APPLIES + 1)) activations)" test "$(echo "$s" |
	json_get "all(w['activations'] >= $((APPLIES + 1)) for w in j['workers'])")" = True
check "no snapshot refused by any worker" test "$(echo "$s" | json_get 'sum(w["refused"] for w in j["workers"])')" -eq 0
check "rx == forwarded + answered + kernel + dropped" test "$(echo "$c" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
check "no drop but no_snapshot" test "$(echo "$c" | json_get 'j["dropped"] - j["drops"].get("no_snapshot", 0)')" -eq 0
check "no no_snapshot drop either (--wait-snapshot)" test "$(echo "$c" | json_get 'j["drops"].get("no_snapshot", 0)')" -eq 0
check "net_null refused nothing (tx_dropped == 0)" test "$(echo "$c" | json_get 'j["tx_dropped"]')" -eq 0
check "per-backend packets sum to forwarded" test "$(echo "$c" |
	json_get 'sum(b["pkts"] for b in j["backends"].values()) == j["fwd_pkts"]')" = True
check "the four backends of the file received traffic" test "$(echo "$c" |
	json_get 'len([b for b in j["backends"].values() if b["pkts"] > 0])')" -ge 4

log "stopping keel-control"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
check "keel-control logged no publish failure" bash -c "! grep -q 'event=publish_failed' '$KT_TMP/control.log'"
log "audit lines marked not delivered: $(grep -c "event=api_request .*delivered=no" "$KT_TMP/control.log" || true)"
grep "event=api_request .*delivered=no" "$KT_TMP/control.log" | sed "s/.*method=\([A-Z]*\) path=\([^ ]*\) .*/\1 \2/" | sort | uniq -c | sed "s/^/    /" || true
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
	echo "    --- keel-dataplane log (tail)"
	tail -20 "$KT_TMP/dp.log" | sed 's/^/    /'
fi
finish
