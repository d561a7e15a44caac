#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, per-VIP source lists (issue 23), on the stream VIP (192.0.2.10:9000, TCP line echo):
#   - the client namespace gets a second address, 198.51.100.3, beside 198.51.100.2;
#   - `keelctl config apply` with stream's `sources: {deny: [198.51.100.3/32]}` (mode enforce):
#     20 connections from .2 all succeed; 20 from .3 all fail (no answer: the SYNs are dropped),
#     and are counted: keel_vip_source_denied_packets_total{vip="stream"} and
#     keel_dropped_packets_total{reason="source_denied"} grow by at least 20, keelctl stats vip
#     shows stream's SOURCE DENIED;
#   - the same list with mode count: 20 connections from each address succeed, and .3's packets
#     are counted (at least 3 per connection: SYN, data, FIN) on the same series while the drop
#     reason does not move.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

DENIED=198.51.100.3
KC=("$SB_KEELCTL" --socket "$SB_SOCK")
in_ns "$NS_CLIENT" ip addr add "$DENIED/24" dev "${SB_P}cl" || die "cannot add $DENIED to the client"

cat >"$KT_TMP/conns.py" <<'PYEOF'
# N connections from SRC to VIP:9000, one line each: {"ok", "fail", "errors"}
import collections, concurrent.futures, json, socket, sys
vip, src, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def one(i):
    try:
        s = socket.create_connection((vip, 9000), timeout=1.5, source_address=(src, 0))
        s.sendall(b"%d\n" % i)
        buf = b""
        while b"\n" not in buf:
            b = s.recv(4096)
            if not b:
                raise ConnectionResetError("EOF")
            buf += b
        s.close()
        return None if buf.split(b"\n")[0].decode().endswith(" %d" % i) else "bad answer"
    except OSError as e:
        return type(e).__name__
errs = collections.Counter()
with concurrent.futures.ThreadPoolExecutor(20) as ex:
    for err in ex.map(one, range(n)):
        errs[err] += 1
ok = errs.pop(None, 0)
print(json.dumps({"ok": ok, "fail": sum(errs.values()), "errors": dict(errs)}))
PYEOF
conns() { in_ns "$NS_CLIENT" timeout 30 "$PY" "$KT_TMP/conns.py" "$VIP4" "$1" 20; }
metric() { # exact series name -> value (0 when absent)
	in_ns "$(ns_keel 1)" curl -sf --max-time 5 "http://$SB_METRICS/metrics" |
		awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
DENIED_ENF='keel_vip_source_denied_packets_total{vip="stream"}'
DENIED_CNT=$DENIED_ENF # one series whatever the mode
DROPS='keel_dropped_packets_total{reason="source_denied"}'
# the running configuration with stream's source list in mode $1
with_list() {
	"${KC[@]}" config dump >"$KT_TMP/running.yaml" || die "keelctl config dump failed"
	"$PY" - "$KT_TMP/running.yaml" "$1" "$DENIED" >"$KT_TMP/$1.yaml" <<'PYEOF' || die "cannot edit the configuration"
import json, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
for v in cfg["vips"]:
    if v["name"] == "stream":
        v["sources"] = {"mode": sys.argv[2], "deny": [sys.argv[3] + "/32"]}
print(json.dumps(cfg, indent=1))
PYEOF
	"${KC[@]}" config apply "$KT_TMP/$1.yaml" >"$KT_TMP/apply-$1.txt" 2>&1 ||
		die "keelctl config apply ($1) failed: $(cat "$KT_TMP/apply-$1.txt")"
	log "applied stream's list in mode $1: $(tr '\n' ' ' <"$KT_TMP/apply-$1.txt" | head -c 200)"
}

r=$(in_ns "$NS_CLIENT" timeout 30 "$PY" "$KT_TMP/conns.py" "$VIP4" "$DENIED" 5)
check "before any list, $DENIED connects ($r)" "$PY" -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["ok"] == 5 else 1)' "$r"

with_list enforce
e0=$(metric "$DENIED_ENF") d0=$(metric "$DROPS")
r=$(conns "$CLIENT4")
log "from $CLIENT4 (not listed): $r"
check "enforce: 20 connections from $CLIENT4 all succeed" "$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if j["ok"] == 20 and j["fail"] == 0 else 1)' "$r"
r=$(conns "$DENIED")
log "from $DENIED (denied): $r"
check "enforce: 20 connections from $DENIED all fail" "$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if j["ok"] == 0 and j["fail"] == 20 else 1)' "$r"
counted_enf() { (($(metric "$DENIED_ENF") - e0 >= 20 && $(metric "$DROPS") - d0 >= 20)); }
check "enforce: refused SYNs counted per VIP and as drop reason source_denied (>= 20 each, within 3 s)" \
	wait_until 3 counted_enf
log "$DENIED_ENF $(metric "$DENIED_ENF"), $DROPS $(metric "$DROPS")"
"${KC[@]}" stats vip >"$KT_TMP/stats.txt" 2>&1
sed 's/^/    /' "$KT_TMP/stats.txt"
# shellcheck disable=SC2016 # awk program
check "keelctl stats vip shows stream's SOURCE DENIED" \
	awk '$1 == "stream" && $NF != "-" && $NF + 0 > 0 { f = 1 } END { exit !f }' "$KT_TMP/stats.txt"

with_list count
c0=$(metric "$DENIED_CNT") d1=$(metric "$DROPS")
r=$(conns "$CLIENT4")
log "count mode, from $CLIENT4: $r"
check "count: 20 connections from $CLIENT4 all succeed" "$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if j["ok"] == 20 and j["fail"] == 0 else 1)' "$r"
r=$(conns "$DENIED")
log "count mode, from $DENIED: $r"
check "count: 20 connections from $DENIED all succeed" "$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); sys.exit(0 if j["ok"] == 20 and j["fail"] == 0 else 1)' "$r"
counted_cnt() { (($(metric "$DENIED_CNT") - c0 >= 60)); }
check "count: $DENIED's packets counted on the VIP's series (>= 3 per connection, within 3 s)" \
	wait_until 3 counted_cnt
check "count: nothing more dropped as source_denied" test "$(metric "$DROPS")" = "$d1"
log "$DENIED_CNT $(metric "$DENIED_CNT"), $DROPS $(metric "$DROPS")"
finish
