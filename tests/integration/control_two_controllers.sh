#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# One keel-control per dataplane (issue 21 item 6). Before, a second keel-control on the same
# instance attached to the same region and published into it: two writers of one dataplane,
# each acknowledging changes the other overwrote. Now:
#  - a second keel-control on the instance (its own state directory and socket) is refused at
#    start with a clear error naming the first one's pid, and exits non-zero; the first keeps
#    publishing;
#  - a second one on the same state directory (another instance) is refused the same way;
#  - the lock is the process's life: after kill -9 of the first, the second starts;
#  - `keelctl config apply` of another host's configuration (its instance, API socket or metrics
#    address) is refused with the key named: those are read only at start, and applying
#    keel1's dump on keel2 made keel2 publish into keel1's dataplane.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl "$PY"
CONTROL=${KEEL_CONTROL_BIN:-$BUILD/control/keel-control}
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
K=${KEELCTL:-$BUILD/tools/keelctl/keelctl}
[[ -x $K ]] || skip "no keelctl at $K"
need_build
need_hugepages 256
kt_tmpdir
kt_name NAME two
kt_name OTHER two2
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 43) % 20000))

write_config() { # file instance socket metrics-port
	kt_config instance="$2" socket="$3" metrics="127.0.0.1:$4" >"$1" <<EOF
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, maglev_table_size: 307,
      backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }] }
EOF
}
write_config "$KT_TMP/keel.yaml" "$NAME" "$SOCK" "$MPORT"
write_config "$KT_TMP/second.yaml" "$NAME" "$KT_TMP/second.sock" $((MPORT + 1))
write_config "$KT_TMP/third.yaml" "$OTHER" "$KT_TMP/third.sock" $((MPORT + 2))

log "keel-dataplane $NAME on net_null"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
	--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"

log "the first keel-control"
# shellcheck disable=SC2119 # no wrapper: the pid in the refusal and kill -9 are keel-control's own
control_start
FIRST=$CONTROL_PID
export KEEL_SOCKET=$SOCK
published() { "$K" table show web >/dev/null 2>&1; }
wait_until 15 published || die "no table published by the first keel-control"

# second CONFIG STATE-DIR LOG: runs a keel-control in the foreground (bounded); its exit code.
second() {
	local rc=0
	timeout -s KILL 20 "$CONTROL" --config "$1" --state-dir "$2" >"$3" 2>&1 || rc=$?
	echo $rc
}
log "a second keel-control on the same instance"
t0=$(date +%s%N)
rc=$(second "$KT_TMP/second.yaml" "$KT_TMP/state2" "$KT_TMP/second.log")
ms=$((($(date +%s%N) - t0) / 1000000))
check "refused at start: exit 1 (got $rc, ${ms} ms)" test "$rc" = 1
check "the error names the first one's pid" grep -q "another keel-control (pid $FIRST) already drives instance $NAME" "$KT_TMP/second.log"
check "in one start_failed line" test "$(grep -c 'event=start_failed' "$KT_TMP/second.log")" = 1
check "it opened no API socket" test ! -e "$KT_TMP/second.sock"
publish_edit() { "$K" backend weight web 10.0.0.1 2 --force >/dev/null; }
check "the first still answers and changes still publish" publish_edit
gen_of() { "$K" -j status | json_get 'j["generation"]'; }
worker_gen() { "$K" -j status | json_get 'j["dataplane"]["workers"][0]["generation"]'; }
caught_up() { [[ $(worker_gen) == "$(gen_of)" ]]; }
check "the dataplane runs the first one's generation" wait_until 10 caught_up

log "a second keel-control on the same state directory (another instance)"
rc=$(second "$KT_TMP/third.yaml" "$KT_TMP/state" "$KT_TMP/third.log")
check "refused: exit 1 (got $rc)" test "$rc" = 1
check "the error names the state directory and the pid" grep -q "another keel-control (pid $FIRST) already drives state directory $KT_TMP/state" "$KT_TMP/third.log"
dump_instance() { "$K" config dump | grep -q "^instance: \"$NAME\""; }
check "the state is the first one's still" dump_instance

log "restart-only keys: keelctl config apply of another host's configuration"
"$K" config dump >"$KT_TMP/dump.yaml"
apply_refused() { # sed expression, key
	local rc=0
	sed "$1" "$KT_TMP/dump.yaml" >"$KT_TMP/other.yaml"
	cmp -s "$KT_TMP/other.yaml" "$KT_TMP/dump.yaml" && { echo "    sed $1 changed nothing"; return 1; }
	"$K" config apply "$KT_TMP/other.yaml" --force >/dev/null 2>"$KT_TMP/err" || rc=$?
	[[ $rc == 65 ]] || { echo "    exit $rc, want 65: $(cat "$KT_TMP/err")"; return 1; }
	grep -q "$2 is read only at start" "$KT_TMP/err" || { echo "    stderr: $(cat "$KT_TMP/err")"; return 1; }
}
check "instance: refused with the key named" apply_refused "s/^instance: .*/instance: \"$OTHER\"/" instance
check "api.socket: refused" apply_refused "s#$SOCK#$KT_TMP/x.sock#" api.socket
check "metrics.listen: refused" apply_refused "s/127.0.0.1:$MPORT/127.0.0.1:$((MPORT + 5))/" metrics.listen
apply_same() { "$K" config apply "$KT_TMP/dump.yaml" >/dev/null; }
check "the same dump applies (nothing read only changed)" apply_same

log "the lock lives as long as the process: kill -9 the first, the second starts"
kill -KILL "$FIRST"
wait "$FIRST" 2>/dev/null || true
"$CONTROL" --config "$KT_TMP/second.yaml" --state-dir "$KT_TMP/state2" >"$KT_TMP/second.log" 2>&1 &
SECOND=$!
KT_PIDS+=("$SECOND")
export KEEL_SOCKET=$KT_TMP/second.sock
check "the refused one starts now and drives the dataplane" wait_until 15 published
check "its log says it attached" grep -q "event=dataplane_attached instance=$NAME" "$KT_TMP/second.log"
kill -TERM "$SECOND"
finish
