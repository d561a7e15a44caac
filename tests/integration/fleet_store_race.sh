#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Two hosts of one fleet edited at once: 50 edits through each (host 1: backend adds; host 2:
# backend adds and 5 vip adds, which write the whole configuration back guarded by the revision
# they read). Every edit keelctl acknowledged (exit 0) must be in the final spec in etcd; a refused
# one must say why (never exit 0 and lost); both hosts end at the same revision, equal digests.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
wait_until 15 fleet_converged "$(fleet_spec_rev)" || die "the hosts did not start on the seed spec"

edits() { # host, output file: 50 edits, "ok WHAT" or "refused WHAT rc" per line
	local i=$1 k what rc
	for k in $(seq 50); do
		if ((i == 2 && k % 10 == 0)); then
			what="vip v$k"
			rc=0
			kctl "$i" --no-wait vip add "v$k" "192.0.2.$((100 + k))" 80 >/dev/null 2>>"$2.err" || rc=$?
		else
			what="backend 10.0.$i.$k"
			rc=0
			kctl "$i" --no-wait backend add web "10.0.$i.$k" --force >/dev/null 2>>"$2.err" || rc=$?
		fi
		if ((rc == 0)); then echo "ok $what"; else echo "refused $what $rc"; fi
	done >"$2"
}
log "2 x 50 concurrent edits (host 2 with 5 vip adds among them)"
t0=$SECONDS
edits 1 "$KT_TMP/e1" &
p1=$!
edits 2 "$KT_TMP/e2" &
p2=$!
wait "$p1" "$p2"
log "done in $((SECONDS - t0)) s: $(grep -c '^ok' "$KT_TMP/e1") + $(grep -c '^ok' "$KT_TMP/e2") acknowledged"
grep -h '^refused' "$KT_TMP/e1" "$KT_TMP/e2" | head -5 || true
grep -hv 'warning' "$KT_TMP"/e?.err 2>/dev/null | sort | uniq -c | head -5 || true

etcdctl_c get "$FLEET_SPEC" --print-value-only >"$KT_TMP/final.json"
lost() {
	"$PY" - "$KT_TMP/final.json" "$KT_TMP/e1" "$KT_TMP/e2" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
vips = {v["name"] for v in spec["vips"]}
backends = {b["address"] for v in spec["vips"] for b in v["backends"]}
lost = []
for f in sys.argv[2:]:
    for line in open(f):
        w = line.split()
        if w[0] != "ok":
            continue
        if (w[1] == "vip" and w[2] not in vips) or (w[1] == "backend" and w[2] not in backends):
            lost.append(" ".join(w[1:3]))
print("lost:", lost or "none")
sys.exit(1 if lost else 0)
PY
}
check "every acknowledged edit is in the final spec" lost
check "every refusal said why (a line on stderr per refused edit)" \
	test "$(cat "$KT_TMP/e1" "$KT_TMP/e2" | grep -c '^refused' || true)" -le \
	"$(cat "$KT_TMP"/e?.err 2>/dev/null | grep -cE 'run it again|refused|unreachable|changed under' || true)"
check "most edits were acknowledged (at least 90 of 100)" \
	test $(($(grep -c '^ok' "$KT_TMP/e1") + $(grep -c '^ok' "$KT_TMP/e2"))) -ge 90
r=$(fleet_spec_rev)
check "both hosts run the final revision $r with equal digests" wait_until 20 fleet_converged "$r"
finish
