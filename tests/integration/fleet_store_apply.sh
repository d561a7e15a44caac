#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Two Keel hosts in one fleet (etcd, three members): an edit through host 1 (keelctl backend add,
# then config apply) is acknowledged once etcd committed it and every live host runs it: host 2
# at the same revision with equal table digests. keelctl fleet status shows both; the metrics say
# the store is up with 2 live hosts. Prints the figures: edit acknowledged (--no-wait) and
# edit-to-converged (median and worst of 20), and the spec's size in etcd.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
r0=$(fleet_spec_rev)
check "both hosts run the seed spec (revision $r0) with equal digests" wait_until 15 fleet_converged "$r0"
leased() { etcdctl_c get "$FLEET_PREFIX/hosts/h2" -w json | json_get 'j["kvs"][0]["lease"] > 0' | grep -qx True; }
check "host 2's status key is in the store under a lease" leased

log "keelctl backend add through host 1"
kctl 1 backend add web 10.0.0.5 --weight 2 | tee "$KT_TMP/add.out"
check "the answer names the revision and all live hosts" grep -q "running on all 2 live hosts" "$KT_TMP/add.out"
r1=$(fleet_spec_rev)
check "the store's spec moved on ($r0 -> $r1)" test "$r1" -gt "$r0"
check "host 2 runs revision $r1 with host 1's digests" fleet_converged "$r1"
has_backend() { fapi 2 GET /v1/config | grep -q "$1"; }
check "host 2's configuration has the new backend" has_backend 10.0.0.5

log "config apply through host 1 (the running configuration with a weight changed)"
fapi 1 GET /v1/config | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
j["vips"][0]["backends"][1]["weight"] = 3
json.dump(j, sys.stdout)' >"$KT_TMP/apply.json"
check "config apply is accepted" kctl 1 config apply "$KT_TMP/apply.json"
r2=$(fleet_spec_rev)
check "host 2 runs revision $r2 with host 1's digests" fleet_converged "$r2"
stale_apply() {
	local rc=0
	kctl 1 config apply --revision "$r1" "$KT_TMP/apply.json" >"$KT_TMP/stale.out" 2>&1 || rc=$?
	cat "$KT_TMP/stale.out"
	test "$rc" = 75
}
check "config apply against an old revision ($r1) fails with exit 75" stale_apply
check "... 'changed at revision $r2 since your diff; run it again'" grep -q "changed at revision $r2 since your diff" "$KT_TMP/stale.out"

kctl 2 fleet status | tee "$KT_TMP/fs.out"
check "keelctl fleet status: two hosts, lag 0, digests equal" \
	test "$(grep -cE '^h[12] +[0-9]+ +0 +equal +alive' "$KT_TMP/fs.out")" = 2
check "keel_fleet_store_up 1 and keel_fleet_hosts_live 2 on host 2" \
	test "$(fleet_metric 2 keel_fleet_store_up) $(fleet_metric 2 keel_fleet_hosts_live)" = "1 2"
check "keel_fleet_applied_revision is $r2 on host 2" test "$(fleet_metric 2 keel_fleet_applied_revision)" = "$r2"
check "equal config fingerprints" test "$(fleet_metric 1 keel_fleet_config_fingerprint)" = "$(fleet_metric 2 keel_fleet_config_fingerprint)"

log "20 weight changes through host 1: acknowledged (--no-wait), then converged (default)"
ms() { echo $(($(date +%s%N) / 1000000)); }
: >"$KT_TMP/ack" && : >"$KT_TMP/conv"
for k in $(seq 20); do
	t=$(ms)
	kctl 1 --no-wait backend weight web 10.0.0.5 $((k % 5 + 1)) --force >/dev/null || die "edit $k refused"
	echo $(($(ms) - t)) >>"$KT_TMP/ack"
	t=$(ms)
	kctl 1 backend weight web 10.0.0.5 $((k % 5 + 6)) --force >"$KT_TMP/one" || die "edit $k refused"
	echo $(($(ms) - t)) >>"$KT_TMP/conv"
	grep -q "running on all 2 live hosts" "$KT_TMP/one" || die "edit $k: $(cat "$KT_TMP/one")"
done
r=$(fleet_spec_rev)
check "after 40 edits both hosts run revision $r with equal digests" wait_until 10 fleet_converged "$r"
stats() { sort -n "$1" | awk '{a[NR] = $1} END {printf "median %d ms, worst %d ms", a[int((NR + 1) / 2)], a[NR]}'; }
log "FIGURE edit acknowledged (etcd committed, 2 hosts): $(stats "$KT_TMP/ack")"
log "FIGURE edit-to-converged (every live host runs it, 2 hosts): $(stats "$KT_TMP/conv")"
log "FIGURE the spec in etcd: $(etcdctl_c get "$FLEET_SPEC" --print-value-only | head -c -1 | wc -c) bytes (1 VIP, 5 backends)"
finish
