# A three-member etcd cluster (Debian etcd-server 3.4) for the scenarios, each member in its own
# network namespace on two bridges (clients, peers; in a namespace of their own), and a client
# namespace on the clients' bridge: nothing touches the host's network. Source it after lib.sh and kt_tmpdir; lib.sh's EXIT
# trap kills the members (by pid) and removes the namespaces and $KT_TMP (the data dirs).
#
#   etcd_cluster_start            start 3 members, return once every one is healthy with a leader
#   ETCD_ENDPOINTS                "http://10.99.0.1:2379,..." (ETCD_EP[1..3]: one each)
#   etcdctl_c ARGS                etcdctl (API 3) in the client namespace against every member
#   in_etcd_client CMD            run CMD in the client namespace
#   etcd_leader                   prints the leader's index (1..3)
#   etcd_kill I / etcd_stop I     kill -9 / SIGTERM member I (and wait for it)
#   etcd_start I                  start member I again on its data dir
#   etcd_wait_healthy [I...]      wait until those members (default: the running ones) answer
#                                 and agree on a leader
#   etcd_cut_peers I / etcd_heal_peers I   cut member I from its peers (clients still reach it)
#   etcd_tls_start                one more member, alone, that wants TLS client certificates
# ETCD_NET (10.99.0) and ETCD_PEER_NET (10.99.1) pick the /24s; names carry the test's pid, so
# runs do not collide.

. "$KT_ROOT/tools/sandbox.d/etcd.sh" # the member command line and queries, shared with tools/sandbox

ETCD_NET=${ETCD_NET:-10.99.0}
ETCD_PEER_NET=${ETCD_PEER_NET:-10.99.1}
ETCD_MEMBERS=3
ETCD_BR_NS=ke${KT_ID}br
ETCD_CLIENT_NS=ke${KT_ID}c
ETCD_NS=()
ETCD_EP=()
ETCD_PID=()
ETCD_ENDPOINTS=
ETCD_CLUSTER=

in_etcd_client() { ip netns exec "$ETCD_CLIENT_NS" "$@"; }

etcdctl_c() {
	ETCDCTL_API=3 ip netns exec "$ETCD_CLIENT_NS" etcdctl --endpoints "$ETCD_ENDPOINTS" \
		--dial-timeout 1s --command-timeout 3s "$@"
}

# A namespace with one leg on the clients' bridge at ETCD_NET.$2 (eth0), and for a member one
# on the peers' bridge at ETCD_PEER_NET.$2 (eth1): raft goes over its own link, so that a
# member can be cut from its peers while clients still reach it.
etcd_ns_on_bridge() { # namespace, host number, [peer]
	kt_netns "$1"
	etcd_veth_to_bridge "$1" eth0 "$ETCD_BR_NS" "p$2" br0 "$ETCD_NET.$2/24"
	[[ ${3:-} == peer ]] || return 0
	etcd_veth_to_bridge "$1" eth1 "$ETCD_BR_NS" "q$2" br1 "$ETCD_PEER_NET.$2/24"
}

etcd_cut_peers() { ip -n "${ETCD_NS[$1]}" link set eth1 down; }  # index: raft cut, clients not
etcd_heal_peers() { ip -n "${ETCD_NS[$1]}" link set eth1 up; }

etcd_start() { # member index
	local i=$1 ip=$ETCD_NET.$1 peer=$ETCD_PEER_NET.$1
	mkdir -p "$KT_TMP/etcd"
	etcd_member_argv "m$i" "$KT_TMP/etcd/m$i" "$ip" "$peer" "$ETCD_CLUSTER" "keel-$KT_ID"
	ip netns exec "${ETCD_NS[i]}" etcd "${ETCD_ARGV[@]}" >>"$KT_TMP/etcd/m$i.log" 2>&1 &
	ETCD_PID[i]=$!
	KT_PIDS+=("$!")
}

etcd_member_up() { etcd_health_in "$ETCD_CLIENT_NS" "${ETCD_EP[$1]}"; } # index

etcd_running() { # index
	[[ -n ${ETCD_PID[$1]:-} ]] && kill -0 "${ETCD_PID[$1]}" 2>/dev/null
}

etcd_wait_healthy() { # [index...]: default every running member
	local want=("$@") i deadline=$((SECONDS + 20))
	if ((${#want[@]} == 0)); then
		for ((i = 1; i <= ETCD_MEMBERS; i++)); do
			etcd_running "$i" && want+=("$i")
		done
	fi
	while ((SECONDS < deadline)); do
		local ok=1
		for i in "${want[@]}"; do
			etcd_member_up "$i" || { ok=0; break; }
		done
		((ok)) && etcd_leader >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "etcd members ${want[*]} not healthy after 20 s:"
	for i in "${want[@]}"; do
		tail -n 5 "$KT_TMP/etcd/m$i.log" | sed "s/^/    m$i: /"
	done
	return 1
}

etcd_cluster_start() {
	local i
	need_cmd etcd etcdctl
	kt_netns "$ETCD_BR_NS"
	ip -n "$ETCD_BR_NS" link add br0 type bridge
	ip -n "$ETCD_BR_NS" link set br0 up
	ip -n "$ETCD_BR_NS" link add br1 type bridge
	ip -n "$ETCD_BR_NS" link set br1 up
	etcd_ns_on_bridge "$ETCD_CLIENT_NS" 100
	ETCD_CLUSTER=
	for ((i = 1; i <= ETCD_MEMBERS; i++)); do
		ETCD_NS[i]=ke${KT_ID}m$i
		ETCD_EP[i]=http://$ETCD_NET.$i:2379
		etcd_ns_on_bridge "${ETCD_NS[i]}" "$i" peer
		ETCD_CLUSTER+=${ETCD_CLUSTER:+,}m$i=http://$ETCD_PEER_NET.$i:2380
		ETCD_ENDPOINTS+=${ETCD_ENDPOINTS:+,}${ETCD_EP[i]}
	done
	for ((i = 1; i <= ETCD_MEMBERS; i++)); do
		etcd_start "$i"
	done
	etcd_wait_healthy 1 2 3
}

# The leader's index, as the running members report it.
etcd_leader() {
	local line i
	line=$(etcd_leader_in "$ETCD_CLIENT_NS" "$ETCD_ENDPOINTS")
	for ((i = 1; i <= ETCD_MEMBERS; i++)); do
		if [[ $line == "${ETCD_EP[i]}" ]]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

etcd_kill() { # index: kill -9, wait
	kill -KILL "${ETCD_PID[$1]}" 2>/dev/null || true
	wait "${ETCD_PID[$1]}" 2>/dev/null || true
}

etcd_stop() { # index: SIGTERM, wait (bounded), then -9
	local p=${ETCD_PID[$1]}
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# A separate one-member cluster that speaks TLS to clients and asks for their certificate, at
# ETCD_NET.10 in its own namespace: a throwaway CA ($ETCD_TLS/ca.crt), the member's certificate
# for its address, a client certificate ($ETCD_TLS/client.crt, client.key) and an unrelated CA
# ($ETCD_TLS/other-ca.crt). Sets ETCD_TLS_EP.
etcd_tls_start() {
	local d=$KT_TMP/etcd/tls ip=$ETCD_NET.10 ns=ke${KT_ID}t
	need_cmd openssl
	mkdir -p "$d"
	# shellcheck disable=SC2034 # read by the scenarios
	ETCD_TLS=$d
	ETCD_TLS_EP=https://$ip:2379
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=keel-test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	# A CA that signed nothing here: trusting only it, a client must refuse the member.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=keel-other-ca -keyout "$d/other-ca.key" -out "$d/other-ca.crt" 2>/dev/null
	local who
	for who in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=keel-$who" \
			-keyout "$d/$who.key" -out "$d/$who.csr" 2>/dev/null
		# etcd 3.4's JSON gateway dials the member's own gRPC port with the member's certificate,
		# so with --client-cert-auth that certificate must be good for client auth too.
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=%s\n' "$ip" \
			"$([[ $who == server ]] && echo serverAuth,clientAuth || echo clientAuth)" >"$d/$who.ext"
		openssl x509 -req -days 1 -in "$d/$who.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -extfile "$d/$who.ext" -out "$d/$who.crt" 2>/dev/null
	done
	etcd_ns_on_bridge "$ns" 10
	ip netns exec "$ns" etcd --name t --data-dir "$d/data" \
		--listen-client-urls "$ETCD_TLS_EP" --advertise-client-urls "$ETCD_TLS_EP" \
		--listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
		--initial-cluster "t=http://$ip:2380" --initial-cluster-token "keel-tls-$KT_ID" \
		--cert-file "$d/server.crt" --key-file "$d/server.key" \
		--client-cert-auth --trusted-ca-file "$d/ca.crt" >>"$KT_TMP/etcd/t.log" 2>&1 &
	KT_PIDS+=("$!")
	local deadline=$((SECONDS + 20))
	while ((SECONDS < deadline)); do
		ETCDCTL_API=3 ip netns exec "$ETCD_CLIENT_NS" etcdctl --endpoints "$ETCD_TLS_EP" \
			--cacert "$d/ca.crt" --cert "$d/client.crt" --key "$d/client.key" \
			--dial-timeout 1s --command-timeout 2s endpoint health >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	tail -n 5 "$KT_TMP/etcd/t.log"
	return 1
}
