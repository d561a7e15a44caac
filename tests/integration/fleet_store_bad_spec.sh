#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# A bad fleet spec written straight into etcd with etcdctl: garbage, a future schema version, a
# host-local key, and a spec that fails validation. Every host refuses each (status, metric, one
# log line with the reason), keeps forwarding the last good revision, and applies a later good one.
# Also: a fleet-mode keel.yaml with a spec key is refused at start with file:line:col.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

fleet_setup 2
good=$(fleet_spec_rev)
check "both hosts run the seed spec (revision $good)" wait_until 15 fleet_converged "$good"
g1=$(fstatus 1 'j["generation"]')

refused_by_all() { # revision, text of the reason
	local i
	for ((i = 1; i <= FLEET_N; i++)); do
		fstatus "$i" '(j["fleet"]["refused_revision"], j["fleet"]["applied_revision"], j["fleet"]["last_refusal"])' |
			grep -qF -- "($1, $good, " || return 1
		fstatus "$i" 'j["fleet"]["last_refusal"]' | grep -qF -- "$2" || return 1
	done
}

bad() { # what, spec text, expected reason
	etcdctl_c put "$FLEET_SPEC" "$2" >/dev/null
	local r
	r=$(fleet_spec_rev)
	check "$1 (revision $r): refused by both hosts, saying \"$3\", revision $good kept" \
		wait_until 10 refused_by_all "$r" "$3"
}
bad "garbage" 'this is {not json' "not JSON"
bad "a future schema version" '{"version":2,"vips":[]}' "version 2 is not 1"
bad "a host-local key in the spec" '{"version":1,"instance":"other","vips":[]}' \
	'"instance" in the fleet spec: a host-local key'
bad "a spec failing validation (a table size that is not prime)" \
	'{"version":1,"vips":[{"name":"web","address":"192.0.2.1","port":80,"protocol":"tcp","maglev_table_size":1000,"backends":[{"address":"10.0.0.1"}]}]}' \
	"1000"
check "host 1 still forwards generation $g1 of revision $good, dataplane alive" \
	test "$(fstatus 1 '(j["generation"], j["dataplane"]["alive"])')" = "($g1, True)"
check "keel_fleet_refused_total is 4 on host 2" test "$(fleet_metric 2 keel_fleet_refused_total)" = 4
check "one log line per refusal on host 2" test "$(grep -c 'event=fleet_refused' "$KT_TMP/control2.log")" = 4
grep 'event=fleet_refused' "$KT_TMP/control2.log" | tail -1

etcdctl_c put "$FLEET_SPEC" "${FLEET_SEED/10.0.0.4/10.0.0.9}" >/dev/null
r=$(fleet_spec_rev)
check "a later good spec (revision $r) is applied by both hosts" wait_until 10 fleet_converged "$r"
has_backend() { fapi 2 GET /v1/config | grep -q "$1"; }
check "... host 2 runs it (backend 10.0.0.9)" has_backend 10.0.0.9

log "a fleet-mode keel.yaml with a spec key is refused at start"
{ cat "$KT_TMP/keel1.yaml"; echo "panic_threshold: 0.5"; } >"$KT_TMP/bad.yaml"
line=$(grep -n '^panic_threshold' "$KT_TMP/bad.yaml" | cut -d: -f1)
start_bad() { ip netns exec "$ETCD_CLIENT_NS" timeout 10 "$CONTROL" --config "$KT_TMP/bad.yaml" \
	--state-dir "$KT_TMP/state-bad" >"$KT_TMP/bad.out" 2>&1; }
check "keel-control exits non-zero" eval '! start_bad'
cat "$KT_TMP/bad.out"
check "... saying bad.yaml:$line:1: a fleet spec key in a fleet-mode keel.yaml" \
	grep -qF "bad.yaml:$line:1: a fleet spec key in a fleet-mode keel.yaml" "$KT_TMP/bad.out"
finish
