#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control killed (-9) while edits go on through the other host: its dataplane keeps the last
# generation; the restarted keel-control publishes its last applied revision from its state
# directory at once (with no store at all: every member stopped), then, with the store back,
# catches up to the newest revision with equal digests. No edit acknowledged meanwhile is lost.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
r0=$(fleet_spec_rev)
check "both hosts run the seed spec (revision $r0)" wait_until 15 fleet_converged "$r0"

log "kill -9 host 2's keel-control, 10 edits through host 1"
fleet_host_kill 2
for k in $(seq 10); do
	kctl 1 --no-wait backend add web "10.0.3.$k" --force >/dev/null || die "edit $k refused"
done
r1=$(fleet_spec_rev)
r2a=$(cat "$KT_TMP/state2/fleet_revision")
check "host 2's state directory says 'applied revision $r0'" test "$r2a" = "applied revision $r0"

log "every etcd member stopped; host 2's keel-control started again"
for i in 1 2 3; do etcd_stop "$i"; done
fleet_host_start 2
check "host 2 forwards its last applied revision $r0 at once (no store)" \
	test "$(fstatus 2 '(j["fleet"]["applied_revision"], j["fleet"]["store_up"])')" = "($r0, False)"
dp_at() { [[ $("$SEAM" status "${FLEET_NAME[2]}" --json | json_get 'j["workers"][0]["generation"]') -ge 1 ]]; }
check "host 2's dataplane runs a generation" dp_at

log "store back"
for i in 1 2 3; do etcd_start "$i"; done
etcd_wait_healthy 1 2 3 || die "the cluster did not come back"
check "host 2 catches up to revision $r1 with equal digests" wait_until 20 fleet_converged "$r1"
all_there() { fapi 2 GET /v1/config | grep -c '"10\.0\.3\.' | grep -qx 10; }
check "host 2 runs all 10 edits made while it was down" all_there
finish
