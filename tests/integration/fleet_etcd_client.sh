#!/bin/bash
# The fleet's store client (control/fleet/etcd.c) against a real three-member etcd cluster in
# namespaces (lib_etcd.bash), through tests/fleet/etcd_check: put/range, prefix range, CAS right
# and stale, 2 x 50 concurrent CAS increments, a watch from a revision, compaction, leases,
# failover (also away from a member cut from its peers), an idle watch cut off, kill -9 of the
# leader during writes, quorum loss, auth, TLS.
# Prints the figures: put latency, CAS conflicts, the leader-kill gap, the quorum-loss error time.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd etcd etcdctl ip openssl
CHECK=$BUILD/tests/fleet/etcd_check
[[ -x $CHECK ]] || skip "no etcd_check at $CHECK (ninja -C build tests/fleet/etcd_check)"
kt_tmpdir
. "$KT_ROOT/tests/integration/lib_etcd.bash"

log "starting a three-member etcd cluster"
etcd_cluster_start
log "cluster up, leader m$(etcd_leader)"

ec() { in_etcd_client "$CHECK" -e "$ETCD_ENDPOINTS" -t 2000 "$@"; }
rev_of() { etcdctl_c get "$1" -w json | json_get 'j["header"]["revision"]'; }

check "put, range, prefix range, CAS right and stale, create-if-absent, prefix compare" ec kv /keel-test/kv

log "2 processes x 50 CAS increments of one key"
ec incr /keel-test/counter 50 >"$KT_TMP/incr1" 2>&1 &
p1=$!
ec incr /keel-test/counter 50 >"$KT_TMP/incr2" 2>&1 &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
cat "$KT_TMP/incr1" "$KT_TMP/incr2"
check "both incrementers finished without an error" test "$rc1$rc2" = 00
check "the counter is 100: no increment lost" test "$(ec get /keel-test/counter)" = 100

check "a watch from a revision sees all 40 changes in order" ec watch /keel-test/w 40

etcdctl_c put /keel-test/c v1 >/dev/null
r1=$(rev_of /keel-test/c)
etcdctl_c put /keel-test/c v2 >/dev/null
etcdctl_c put /keel-test/c v3 >/dev/null
r3=$(rev_of /keel-test/c)
etcdctl_c compact "$r3" >/dev/null
check "compaction at $r3 is reported to a watch and a range from $r1" ec watch-compacted /keel-test/c "$r1" "$r3"

check "leases: keepalive keeps the key, expiry and revoke remove it" ec lease /keel-test/lease

ec latency /keel-test/lat 100 | tee "$KT_TMP/latency"
check "100 puts timed" grep -q 'median' "$KT_TMP/latency"

log "failover: member 1 stopped, then an address nobody has, first in the list"
etcd_stop 1
check "a refused connection moves on to the next endpoint" \
	in_etcd_client "$CHECK" -e "${ETCD_EP[1]},${ETCD_EP[2]},${ETCD_EP[3]}" failover /keel-test/f
check "a connect timeout (no such host) moves on to the next endpoint" \
	in_etcd_client "$CHECK" -e "http://$ETCD_NET.99:2379,${ETCD_EP[2]}" failover /keel-test/f
check "no member reachable: -EHOSTUNREACH in bounded time" \
	in_etcd_client "$CHECK" -e "${ETCD_EP[1]},http://$ETCD_NET.99:2379" -t 2000 unreachable /keel-test/f
etcd_start 1
check "member 1 back" etcd_wait_healthy

# A member cut from its peers still takes connections; once it knows it has no leader it says so
# at once, and the write (refused before anything was done) goes to the next member.
leader=$(etcd_leader)
m=$((leader % 3 + 1))
log "m$m cut from its peers (clients still reach it)"
etcd_cut_peers "$m"
sleep 3
others=
for ((i = 1; i <= 3; i++)); do
	((i == m)) || others+=,${ETCD_EP[i]}
done
check "a write through the cut member first goes to the majority" \
	in_etcd_client "$CHECK" -e "${ETCD_EP[m]}$others" failover /keel-test/cut
etcd_heal_peers "$m"
check "m$m back with its peers" etcd_wait_healthy

# A quiet watch lives on progress notifications; its member frozen (SIGSTOP: the TCP connection
# stays up, nothing arrives), it ends by its idle timeout.
leader=$(etcd_leader)
m=$((leader % 3 + 1))
log "idle watch on m$m (not the leader): 4 s quiet, then the member frozen"
in_etcd_client "$CHECK" -e "${ETCD_EP[m]}" watch-idle /keel-test/idle 3000 >"$KT_TMP/idle" 2>&1 &
wp=$!
sleep 4
kill -0 "$wp" 2>/dev/null && alive=yes || alive=no
t0=$SECONDS
kill -STOP "${ETCD_PID[m]}"
wrc=0
wait_until 10 bash -c "! kill -0 $wp 2>/dev/null" || true
wait "$wp" || wrc=$?
kill -CONT "${ETCD_PID[m]}"
cat "$KT_TMP/idle"
check "the quiet watch was alive after 4 s (progress notifications)" test "$alive" = yes
check "the watch on the frozen member ended with -ETIMEDOUT within 6 s" \
	test "$wrc" = 0 -a $((SECONDS - t0)) -le 6
check "m$m back" etcd_wait_healthy

leader=$(etcd_leader)
log "kill -9 of the leader m$leader during 7 s of writes sent to it first"
others=
for ((i = 1; i <= 3; i++)); do
	((i == leader)) || others+=,${ETCD_EP[i]}
done
in_etcd_client "$CHECK" -e "${ETCD_EP[leader]}$others" -t 2000 writer /keel-test/lk 7 "$KT_TMP/acks" >"$KT_TMP/writer" 2>&1 &
wp=$!
sleep 2
etcd_kill "$leader"
wrc=0
wait "$wp" || wrc=$?
cat "$KT_TMP/writer"
check "the writer ran to its end" test "$wrc" = 0
check "a new leader among the two left" wait_until 10 etcd_leader >/dev/null
check "every acknowledged write is present" ec verify /keel-test/lk "$KT_TMP/acks"
etcd_start "$leader"
check "m$leader back" etcd_wait_healthy

log "quorum loss: two members stopped"
a=$(etcd_leader)
b=$((a % 3 + 1))
etcd_stop "$a"
etcd_stop "$b"
check "without quorum a put and a range fail with -ETIMEDOUT within the 2 s timeout" ec expect-fail /keel-test/q
etcd_start "$a"
etcd_start "$b"
check "quorum back" etcd_wait_healthy 1 2 3
check "writes accepted again" ec incr /keel-test/q-back 1

log "auth: root user, a reader of /keel-test/ro only, auth enabled"
etcdctl_c user add root --new-user-password=keelpw >/dev/null
etcdctl_c user grant-role root root >/dev/null
etcdctl_c role add ro >/dev/null
etcdctl_c role grant-permission ro read /keel-test/ro >/dev/null
etcdctl_c user add reader --new-user-password=readpw >/dev/null
etcdctl_c user grant-role reader ro >/dev/null
etcdctl_c auth enable >/dev/null
# shellcheck disable=SC2317 # called through check
reader() { in_etcd_client "$CHECK" -e "$ETCD_ENDPOINTS" -u reader -p readpw "$@"; }
check "the right password: answered" in_etcd_client "$CHECK" -e "$ETCD_ENDPOINTS" -u root -p keelpw auth /keel-test/kv ok
check "a wrong password: -EACCES" in_etcd_client "$CHECK" -e "$ETCD_ENDPOINTS" -u root -p wrong auth /keel-test/kv denied
check "no credentials: -EACCES" in_etcd_client "$CHECK" -e "$ETCD_ENDPOINTS" auth /keel-test/kv denied
check "the reader reads its key" reader auth /keel-test/ro ok
check "an expired token is renewed (--auth-token-ttl 2)" reader auth-renew /keel-test/ro 4
check "the reader reads another key: -EACCES" reader auth /keel-test/kv denied
check "the reader watches another key: cancelled, -EACCES" reader watch-denied /keel-test/kv

log "TLS: a one-member cluster that asks for client certificates"
check "the TLS member is up" etcd_tls_start
# shellcheck disable=SC2317 # called through check
tls() { in_etcd_client "$CHECK" -e "$ETCD_TLS_EP" -T 1500 "$@"; } # a TLS handshake under ASan is slow
check "CA, client certificate and key: answered" \
	tls -C "$ETCD_TLS/ca.crt" -c "$ETCD_TLS/client.crt" -k "$ETCD_TLS/client.key" auth /keel-test/tls ok
check "no client certificate: refused" tls -C "$ETCD_TLS/ca.crt" auth /keel-test/tls fails
check "the member's certificate not trusted: -EACCES" \
	tls -C "$ETCD_TLS/other-ca.crt" -c "$ETCD_TLS/client.crt" -k "$ETCD_TLS/client.key" auth /keel-test/tls denied

finish
