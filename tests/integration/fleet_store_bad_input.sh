#!/bin/bash
# shellcheck disable=SC2317,SC2016 # predicates called through wait_until and check; evals expand later
# Bad input to a fleet, end to end, on one etcd cluster (issue 21's
# "Bad input"; docs/fleet.md): each is refused with file:line:col or one line that says why, the
# running state is unchanged, nothing hangs.
#  - a fleet: section with an invalid URL, timeout, name or forget_after, or a missing credentials
#    file: keel-control exits 1 at start, saying where;
#  - a fleet spec with a host-local key (etcdctl): refused, the last good revision runs;
#  - a prefix another fleet uses: a host whose fleet.name is not the one in <prefix>/fleet does not
#    join (status, metric, log, keelctl fleet status), writes nothing there, follows no spec, and
#    its edits exit 65; it keeps running its revision;
#  - an unreachable endpoint, wrong credentials (authentication enabled at the end: etcd's password
#    checks are slow on a loaded host): the store is DOWN with the reason, an edit exits 69
#    within 2 s, the revision runs;
#  - keelctl fleet forget: a live host, an unknown one and this host refused (exit 65), a gone host
#    forgotten; a record gone by itself forget_after after its host stopped.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tests/integration/lib_fleet.bash"

log "a three-member etcd cluster"
etcd_cluster_start
FLEET_YAML_EXTRA="  name: blue
  forget_after: 8s"
etcdctl_c put "$FLEET_SPEC" "$FLEET_SEED" >/dev/null
FLEET_N=2
fleet_host_add 1
fleet_host_add 2
r1=$(fleet_spec_rev)
check "both hosts run the seed spec (revision $r1)" wait_until 15 fleet_converged "$r1"
ident=$(etcdctl_c get "$FLEET_PREFIX/fleet" --print-value-only)
check "the fleet's identity $FLEET_PREFIX/fleet was created: $ident" \
	grep -qF '"name":"blue"' <<<"$ident"

log "0. idle: the hosts wait on watches and keep their leases; they do not poll the store"
range_calls() { # Range requests the three members have served (their /metrics)
	local i s=0 v
	for i in 1 2 3; do
		v=$(in_etcd_client curl -s --max-time 2 "${ETCD_EP[i]}/metrics" |
			awk '/^grpc_server_handled_total\{.*grpc_method="Range"/ {s += $2} END {printf "%d", s}')
		s=$((s + v))
	done
	echo "$s"
}
q0=$(range_calls)
sleep 5
q1=$(range_calls)
# Per host at most one listing of the live hosts per keepalive (lease_ttl 3s / 3 = 1 s), and the
# odd status write: 2 hosts x 5 s x 1, with room. A heart that polls makes hundreds.
check "2 idle hosts made $((q1 - q0)) range calls in 5 s (at most 20)" test $((q1 - q0)) -le 20

log "1. a fleet: section that does not validate: keel-control exits 1, saying file:line:col"
start_bad() { # what, sed expression on keel2.yaml, where (bad.yaml:LINE:COL: or ""), expected text
	# An instance of its own: h2's keel-control holds h2's (one keel-control per dataplane).
	sed -e "$2" -e "s|^instance: .*|instance: ${FLEET_NAME[2]}b|" "$KT_TMP/keel2.yaml" >"$KT_TMP/bad.yaml"
	local rc=0 t0=$SECONDS
	ip netns exec "$ETCD_CLIENT_NS" timeout 10 "$CONTROL" --config "$KT_TMP/bad.yaml" \
		--state-dir "$KT_TMP/state-bad" >"$KT_TMP/bad.out" 2>&1 || rc=$?
	# shellcheck disable=SC2034 # read by the check's eval
	BAD_WHERE=$3 BAD_TEXT=$4
	echo "    $(tail -n1 "$KT_TMP/bad.out")"
	check "$1: exit 1 ($rc) in $((SECONDS - t0)) s, saying ${3:+$3 ... }\"$4\"" \
		eval "[[ $rc == 1 ]] && grep -F -- \"\$BAD_WHERE\" \"\$KT_TMP/bad.out\" | grep -qF -- \"\$BAD_TEXT\""
}
line() { grep -n "^  $1:" "$KT_TMP/keel2.yaml" | cut -d: -f1; }
start_bad "an endpoint that is not a URL" "s|^  endpoints: .*|  endpoints: [htp://$ETCD_NET.1:2379]|" \
	"bad.yaml:$(line endpoints):15: " "htp://$ETCD_NET.1:2379\\\" is not an etcd URL"
start_bad "a timeout of 5ms" 's|^  timeout: .*|  timeout: 5ms|' \
	"bad.yaml:$(line timeout):12: " "must be between 100ms and 1m"
start_bad "a timeout without a unit" 's|^  timeout: .*|  timeout: fast|' \
	"bad.yaml:$(line timeout):12: " "duration"
start_bad "a fleet name with a space" 's|^  name: .*|  name: "blue sky"|' \
	"bad.yaml:$(line name):9: " "blue sky\\\" is not a fleet name"
start_bad "forget_after below lease_ttl" 's|^  forget_after: .*|  forget_after: 1s|' \
	"bad.yaml:$(line forget_after):17: " "must be 0 (never) or at least lease_ttl"
start_bad "a credentials file that does not exist" \
	"s|^  name: .*|&\\n  credentials_file: $KT_TMP/none.cred|" \
	"" "fleet credentials_file $KT_TMP/none.cred: No such file or directory"

log "2. a fleet spec with a host-local key, written with etcdctl"
etcdctl_c put "$FLEET_SPEC" '{"version":1,"instance":"other","vips":[]}' >/dev/null
rbad=$(fleet_spec_rev)
refused() { # host revision text
	fstatus "$1" '(j["fleet"]["refused_revision"], j["fleet"]["applied_revision"], j["fleet"]["last_refusal"])' |
		grep -qF -- "($2, $r1, " && fstatus "$1" 'j["fleet"]["last_refusal"]' | grep -qF -- "$3"
}
both_refused() { refused 1 "$rbad" "$1" && refused 2 "$rbad" "$1"; }
check "refused by both hosts (revision $rbad), revision $r1 kept" \
	wait_until 10 both_refused '"instance" in the fleet spec: a host-local key'
etcdctl_c put "$FLEET_SPEC" "${FLEET_SEED/10.0.0.4/10.0.0.5}" >/dev/null
r2=$(fleet_spec_rev)
check "a good spec after it (revision $r2) runs on both" wait_until 10 fleet_converged "$r2"

log "3. keelctl fleet forget: refused for a live host, an unknown one, this host"
forget_refused() { # host to forget, expected text
	local rc=0
	kctl 1 fleet forget "$1" >"$KT_TMP/f.out" 2>&1 || rc=$?
	sed 's/^/    /' "$KT_TMP/f.out"
	[[ $rc == 65 ]] && grep -qF -- "$2" "$KT_TMP/f.out"
}
check "forget h2 (live): exit 65, 'is live'" forget_refused h2 "host h2 is live in fleet blue"
check "forget nosuch: exit 65, 'no host nosuch'" forget_refused nosuch "no host nosuch in fleet blue"
check "forget h1 on h1: exit 65, 'this host'" forget_refused h1 "is this host"

log "4. h2 stopped: h1 lists it GONE from its last-known record"
h2_stop() { kill -TERM "${FLEET_CPID[2]}" 2>/dev/null || true; wait "${FLEET_CPID[2]}" 2>/dev/null || true; }
cp "$KT_TMP/keel2.yaml" "$KT_TMP/keel2.good"
h2_stop
gone_in_status() { kctl 1 fleet status | grep -E '^h2 ' | grep -q GONE; }
check "h1's fleet status lists h2 GONE" wait_until 5 gone_in_status
kctl 1 fleet status | sed 's/^/    /'
known_h2() { [[ -n $(etcdctl_c get "$FLEET_PREFIX/known/h2" --keys-only) ]]; }
known_rev() {
	etcdctl_c get "$FLEET_PREFIX/known/h2" -w json | json_get 'j["kvs"][0]["mod_revision"] if j.get("kvs") else 0'
}

log "5. a prefix another fleet uses: h2 restarted with fleet.name green"
# keel-control takes keel.yaml at its first start; later the state directory is what runs, and a
# changed file is taken by a reload (SIGHUP) and, for the fleet: section, the restart after it.
h2_reconf() { # sed expression on the good keel2.yaml ("" for it as it is); h2 reloads it, restarts
	sed -e "$1" "$KT_TMP/keel2.good" >"$KT_TMP/keel2.yaml"
	FWANT=$("$PY" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))["fleet"], sort_keys=True))' \
		"$KT_TMP/keel2.yaml" 2>/dev/null || true)
	kill -HUP "${FLEET_CPID[2]}"
	taken() { fapi 2 GET /v1/config | "$PY" -c 'import json, sys
f = json.load(sys.stdin)["fleet"]
w = json.loads(sys.argv[1])
sys.exit(0 if all(f.get(k) == v for k, v in w.items() if k not in ("timeout", "lease_ttl", "watch_idle_timeout", "wait_timeout", "forget_after")) else 1)' "$FWANT"; }
	wait_until 10 taken || log "    (h2 did not take the file: $(tail -n2 "$KT_TMP/control2.log"))"
	h2_stop
	T_STOP=$(($(date +%s%N) / 1000000))
	KR=$(known_rev 2>/dev/null || echo none) # its last-known record as the stop left it
	fleet_host_start 2
	S0=$(state2)
}
state2() { fstatus 2 '(j["fleet"]["applied_revision"], j["generation"], j["dataplane"]["alive"])'; }
h2_start() { h2_reconf "$1"; }
fleet_host_start 2 # as it was (its record comes back), then reloaded with another name
h2_start 's|^  name: .*|  name: green|'
not_joined() {
	fstatus 2 'j["fleet"].get("join_refused", "")' >"$KT_TMP/nj.out" &&
		grep -qF 'belongs to fleet "blue"' "$KT_TMP/nj.out" && grep -qF 'says fleet "green"' "$KT_TMP/nj.out"
}
check "h2 does not join: the prefix belongs to fleet \"blue\", its keel.yaml says \"green\"" \
	wait_until 10 not_joined
sed 's/^/    /' "$KT_TMP/nj.out"
check "one log line event=fleet_join_refused" test "$(grep -c 'event=fleet_join_refused' "$KT_TMP/control2.log")" = 1
check "keel_fleet_join_refused 1 on h2" test "$(fleet_metric 2 keel_fleet_join_refused)" = 1
check "keelctl fleet status on h2 says NOT JOINED" eval 'kctl 2 fleet status | grep -q "^NOT JOINED: the prefix"'
kctl 1 --no-wait backend weight web 10.0.0.1 3 --force >/dev/null
r3=$(fleet_spec_rev)
sleep 2
check "an edit through h1 (revision $r3) is not followed by h2: it runs what it ran, $S0 (revision $r2)" \
	eval '[[ $(state2) == "$S0" && $S0 == "($r2, "* ]]'
edit_exit() { # host expected-exit text: an edit through it, answered within 2 s
	local rc=0 t0
	t0=$(($(date +%s%N) / 1000000))
	kctl "$1" backend weight web 10.0.0.2 4 --force >"$KT_TMP/e.out" 2>&1 || rc=$?
	EMS=$(($(date +%s%N) / 1000000 - t0))
	[[ $rc == "$2" ]] && ((EMS <= 2000)) && grep -qF -- "$3" "$KT_TMP/e.out"
}
check "an edit through h2: exit 65, 'belongs to fleet \"blue\"'" edit_exit 2 65 'belongs to fleet "blue"'
log "    ($EMS ms) $(cat "$KT_TMP/e.out")"
wrote_nothing() {
	local k
	k=$(known_rev)
	! etcdctl_c get --prefix "$FLEET_PREFIX/" --keys-only | grep -qE "/(hosts|health)/h2$" &&
		[[ $k == "$KR" || $k == 0 ]]
}
check "h2 wrote nothing under $FLEET_PREFIX (no hosts/ or health/ key; known/h2 as the stop left it)" \
	wrote_nothing
check "h2's last-known record went by itself (forget_after 8s after its last renewal)" wait_until 14 eval '! known_h2'
gone_ms=$(($(date +%s%N) / 1000000 - T_STOP))
log "    gone $gone_ms ms after the stop"
# The record's lease runs forget_after from its last renewal, and a live host renews it every third
# of forget_after (and at most one keepalive wake later): so at least 8 - 2.7 - 1 s after the stop.
check "... not before its lease could run out (4 s and more: forget_after less a renewal period)" \
	test "$gone_ms" -ge 4000
check "... and h1's fleet status no longer lists h2" eval '! kctl 1 fleet status | grep -qE "^h2 "'

down_with() { fstatus 2 '(j["fleet"]["store_up"], j["fleet"]["store_error"])' | grep -qF -- "$1"; }
log "6. unreachable endpoints: a port nothing listens on, an address nobody has"
h2_start "s|^  endpoints: .*|  endpoints: [http://$ETCD_NET.1:2399, http://$ETCD_NET.99:2379]|"
check "h2: store DOWN" wait_until 10 down_with "(False, "
fstatus 2 'j["fleet"]["store_error"]' | sed 's/^/    /'
check "an edit through h2: exit 69 within 2 s, 'the fleet store is unreachable'" \
	edit_exit 2 69 "the fleet store is unreachable"
log "    ($EMS ms) $(cat "$KT_TMP/e.out")"
check "h2 still runs what it ran, $S0 (revision $r2), dataplane alive" \
	eval '[[ $(state2) == "$S0" && $S0 == "($r2, "*", True)" ]]'

log "7. h2 back with its good keel.yaml: it joins and catches up; then kill -9, and forgotten"
h2_reconf ""
check "h2 runs revision $r3 with h1's digests" wait_until 15 fleet_converged "$r3"
fleet_host_kill 2
check "h1's fleet status lists h2 GONE (its lease expired)" wait_until 8 gone_in_status
check "keelctl fleet forget h2: exit 0" eval 'kctl 1 fleet forget h2 | grep -q "forgot host h2"'
check "... no record left, no line in fleet status" eval '! known_h2 && ! kctl 1 fleet status | grep -qE "^h2 "'
check "h1 runs revision $r3 throughout, its store up" \
	test "$(fstatus 1 '(j["fleet"]["applied_revision"], j["fleet"]["store_up"])')" = "($r3, True)"

log "8. wrong credentials: authentication enabled in etcd (root, and keel: read-write on $FLEET_PREFIX/ only), h2 restarted with keel:wrong"
fleet_host_start 2
etcdctl_c user add root --new-user-password=rootpw >/dev/null
etcdctl_c user grant-role root root >/dev/null
etcdctl_c role add keel >/dev/null
etcdctl_c role grant-permission keel --prefix=true readwrite "$FLEET_PREFIX/" >/dev/null
etcdctl_c user add keel --new-user-password=keelpw >/dev/null
etcdctl_c user grant-role keel keel >/dev/null
etcdctl_c auth enable >/dev/null
echo keel:wrong >"$KT_TMP/wrong.cred"
chmod 600 "$KT_TMP/wrong.cred"
h2_start "s|^  name: .*|&\\n  credentials_file: $KT_TMP/wrong.cred|"
check "h2: store DOWN, 'authentication failed'" wait_until 10 down_with "authentication failed"
fstatus 2 'j["fleet"]["store_error"]' | sed 's/^/    /'
check "one log line event=fleet_store_down saying it" \
	test "$(grep -c 'event=fleet_store_down.*authentication failed' "$KT_TMP/control2.log")" = 1
check "an edit through h2: exit 69 within 2 s, 'refused this host's credentials'" \
	edit_exit 2 69 "refused this host's credentials"
log "    ($EMS ms) $(cat "$KT_TMP/e.out")"
check "h2 still runs what it ran, $S0 (revision $r3), dataplane alive" \
	eval '[[ $(state2) == "$S0" && $S0 == "($r3, "*", True)" ]]'
finish
