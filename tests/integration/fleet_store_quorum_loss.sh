#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Two of the three etcd members stopped: the hosts keep forwarding their last revision (dataplane
# alive, generation unchanged), an edit is refused within 2 s with the documented error (keelctl
# exit 69, "the fleet store is unreachable"), keel_fleet_store_up is 0. Quorum back: an edit is
# accepted and both hosts catch up to it with equal digests, keel_fleet_store_up 1.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
r0=$(fleet_spec_rev)
check "both hosts run the seed spec (revision $r0)" wait_until 15 fleet_converged "$r0"
g1=$(fstatus 1 'j["generation"]')

log "stopping members 2 and 3: no quorum"
etcd_stop 2
etcd_stop 3
refused_fast() {
	local t=$(($(date +%s%N) / 1000000)) rc=0
	kctl 1 backend weight web 10.0.0.1 3 >"$KT_TMP/q.out" 2>&1 || rc=$?
	QMS=$(($(date +%s%N) / 1000000 - t))
	cat "$KT_TMP/q.out"
	echo "    answered in $QMS ms, exit $rc"
	[[ $rc == 69 ]] && ((QMS <= 2000)) && grep -q "the fleet store is unreachable" "$KT_TMP/q.out"
}
check "an edit is refused within 2 s with exit 69 and 'the fleet store is unreachable'" refused_fast
log "FIGURE quorum lost: edit refused in $QMS ms"
store_down() { [[ $(fleet_metric "$1" keel_fleet_store_up) == 0 ]]; }
check "keel_fleet_store_up 0 on both hosts" wait_until 10 eval 'store_down 1 && store_down 2'
check "host 1 forwards on: dataplane alive, generation $g1, revision $r0" \
	test "$(fstatus 1 '(j["generation"], j["dataplane"]["alive"], j["fleet"]["applied_revision"])')" = "($g1, True, $r0)"

log "members 2 and 3 back"
etcd_start 2
etcd_start 3
etcd_wait_healthy 1 2 3 || die "the cluster did not come back"
store_up() { [[ $(fleet_metric "$1" keel_fleet_store_up) == 1 ]]; }
check "keel_fleet_store_up 1 on both hosts" wait_until 15 eval 'store_up 1 && store_up 2'
check "an edit is accepted again" kctl 1 backend weight web 10.0.0.1 3
r1=$(fleet_spec_rev)
check "both hosts caught up to revision $r1 with equal digests" wait_until 15 fleet_converged "$r1"
finish
