#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control at scale (issue 19): 300 VIPs x 16 backends at M = 65537 against a keel-dataplane
# on net_null. The first publish and 20 one-backend edits (dry runs and applied) all succeed with
# no publish failure; then a second keel-control, started from scratch on the final
# configuration against a second dataplane, must report the very same table digests (the cache
# of tables and the reuse across publishes change nothing in what is built). Times are printed,
# not asserted: the machine is shared (tools/bench-control measures).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl
need_hugepages 700
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME sc
kt_name NAME2 sd
NV=${KEEL_SCALE_VIPS:-300}
NB=16
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 11) % 20000))

gen_config() { # file: kt_config's head, then $NV VIPs of $NB backends
	"$PY" - "$NV" "$NB" <<'EOF' | kt_config >"$1"
import sys
nv, nb = (int(a) for a in sys.argv[1:])
out = ["vips:"]
for v in range(nv):
    out += [f"  - name: v{v}", f"    address: 198.18.{v // 250}.{v % 250 + 1}", "    port: 80",
            "    protocol: tcp", "    backends:"]
    for b in range(nb):
        n = v * nb + b
        out.append(f"      - {{ address: 10.{n // 65536}.{n // 256 % 256}.{n % 256 + 0}, weight: {1 + b % 3} }}")
print("\n".join(out))
EOF
}
gen_config "$KT_TMP/keel.yaml"

# A slot holds every table and, after edits, the edited VIPs' previous-owner tables.
SLOT_MB=$(((NV * 65537 * 4) / 1048576 + 16))
dp() { # log name
	# shellcheck disable=SC2046
	dp_start "$1" -- --lcores '0@0,1@1' $(eal_opts "$2") --vdev net_null0 --vdev net_null1,no-rx=1 \
		-- --name "$2" --workers 1 --tx-port 0=1 --flows 65536 --slots 2 --slot-size "${SLOT_MB}M"
	dp_wait_running "$2" "$1" || die "keel-dataplane $2 did not start"
}
dp "$KT_TMP/dp.log" "$NAME"

api() { kt_api --max-time 120 "$@"; }
gen_of() { "$SEAM" status "$1" --json | json_get 'min(w["generation"] for w in j["workers"])'; }
published() { (($(gen_of "$NAME") >= 1)); }

log "keel-control: $NV VIPs x $NB backends, M = 65537"
t0=$(date +%s%N)
control_start
check "first publish within 120 s" wait_until 120 published
log "first publish after $((($(date +%s%N) - t0) / 1000000)) ms (API up included)"

ADDR=$(api /v1/vips/v7 | json_get 'j["backends"][0]["address"]')
fails=0
times=()
for i in $(seq 1 20); do
	w=$((2 + i % 5))
	s=$(date +%s%N)
	code=$(api -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
		-d "{\"weight\": $w}" "/v1/vips/v7/backends/$ADDR/weight?dry_run=1&force=1")
	[[ $code == 200 ]] || fails=$((fails + 1))
	code=$(api -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
		-d "{\"weight\": $w}" "/v1/vips/v$((i * 13 % NV))/backends/$(api "/v1/vips/v$((i * 13 % NV))" | json_get 'j["backends"][1]["address"]')/weight?force=1")
	[[ $code == 200 ]] || fails=$((fails + 1))
	times+=($((($(date +%s%N) - s) / 1000000)))
done
log "20 dry runs + 20 edits: ms per pair: ${times[*]}"
check "20 dry runs and 20 edits answered 200" test "$fails" -eq 0
check "no publish failed" test "$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "keel_publish_failures_total" {print $2}')" = 0
g=$(api /v1/status | json_get 'j["generation"]')
at_gen() { test "$(gen_of "$NAME")" = "$g"; }
check "every worker runs the last generation ($g)" wait_until 30 at_gen
# The first publish builds every table; an edit's preview builds its one new table, which the
# publish then reuses: no later publish builds more than one.
built() { sed -n 's/.*event=published .*tables_built=\([0-9]*\) .*/\1/p' "$KT_TMP/control.log"; }
check "the first publish built $NV tables" test "$(built | head -1)" = "$NV"
check "no later publish built more than one table" test "$(built | tail -n +2 | sort -n | tail -1)" -le 1

log "a second keel-control from scratch on the final configuration"
api /v1/config >"$KT_TMP/final.json"
api /v1/table/digest >"$KT_TMP/digest1.json"
"$PY" - "$KT_TMP/final.json" "$NAME2" "$KT_TMP/control2.sock" "$((MPORT + 1))" >"$KT_TMP/keel2.json" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["instance"] = sys.argv[2]
cfg["api"]["socket"] = sys.argv[3]
cfg["metrics"]["listen"] = "127.0.0.1:" + sys.argv[4]
json.dump(cfg, sys.stdout)
EOF
dp "$KT_TMP/dp2.log" "$NAME2"
SOCK=$KT_TMP/control2.sock
CONTROL_CONFIG=$KT_TMP/keel2.json
mv "$KT_TMP/state" "$KT_TMP/state1"
control_start
published2() { (($(gen_of "$NAME2") >= 1)); }
check "second host's first publish within 120 s" wait_until 120 published2
api /v1/table/digest >"$KT_TMP/digest2.json"
check "digests equal to a from-scratch build ($NV VIPs)" "$PY" -c '
import json, sys
a = {v["vip"]: v["digest"] for v in json.load(open(sys.argv[1]))["vips"]}
b = {v["vip"]: v["digest"] for v in json.load(open(sys.argv[2]))["vips"]}
sys.exit(0 if a == b and len(a) == int(sys.argv[3]) else 1)' "$KT_TMP/digest1.json" "$KT_TMP/digest2.json" "$NV"
finish
