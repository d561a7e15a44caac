#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# kill -9 of the etcd leader during a stream of edits through host 1 (backend adds, one after the
# other): no acknowledged edit is lost (each is in the final spec), a refused one says why, and
# edits are accepted again after etcd's election. Prints the gap: the longest time between two
# acknowledgements around the kill.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
wait_until 15 fleet_converged "$(fleet_spec_rev)" || die "the hosts did not start on the seed spec"

ms() { echo $(($(date +%s%N) / 1000000)); }
log "40 edits through host 1; the leader (m$(etcd_leader)) killed after the 10th"
: >"$KT_TMP/acks"
for k in $(seq 40); do
	if ((k == 11)); then
		leader=$(etcd_leader)
		log "kill -9 m$leader"
		etcd_kill "$leader"
	fi
	if kctl 1 --no-wait backend add web "10.0.4.$k" --force >/dev/null 2>>"$KT_TMP/err"; then
		echo "$(ms) ok 10.0.4.$k" >>"$KT_TMP/acks"
	else
		echo "$(ms) refused 10.0.4.$k" >>"$KT_TMP/acks"
	fi
done
sort -u "$KT_TMP/err" | grep -v warning | head -3 || true
etcdctl_c get "$FLEET_SPEC" --print-value-only >"$KT_TMP/final.json"
lost() {
	"$PY" - "$KT_TMP/final.json" "$KT_TMP/acks" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
have = {b["address"] for v in spec["vips"] for b in v["backends"]}
acks = [l.split() for l in open(sys.argv[2])]
lost = [a[2] for a in acks if a[1] == "ok" and a[2] not in have]
ok = [int(a[0]) for a in acks if a[1] == "ok"]
gap = max(b - a for a, b in zip(ok, ok[1:])) if len(ok) > 1 else -1
print("acknowledged %d of %d, lost: %s, FIGURE longest gap between acknowledgements %d ms"
      % (len(ok), len(acks), lost or "none", gap))
sys.exit(1 if lost or len(ok) < 30 else 0)
PY
}
check "no acknowledged edit lost (and at least 30 of 40 acknowledged)" lost
check "edits are accepted after the election" kctl 1 backend add web 10.0.4.99 --force
r=$(fleet_spec_rev)
check "both hosts run revision $r with equal digests" wait_until 15 fleet_converged "$r"
finish
