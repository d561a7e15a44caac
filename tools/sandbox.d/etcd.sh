# shellcheck shell=bash
# etcd members as Keel's fleet store runs them (Debian etcd-server 3.4), shared by tools/sandbox
# (its fleet mode) and the fleet_store_* scenarios (tests/integration/lib_etcd.bash): one member
# command line, one way to wire a namespace onto a bridge, one health and one leader query. Each
# caller keeps its own process handling (the sandbox: pid files; the scenarios: KT_PIDS).

# etcd_member_argv NAME DATA_DIR CLIENT_IP PEER_IP CLUSTER TOKEN: the member's arguments in ETCD_ARGV.
# Default raft timers (100 ms heartbeat, 1 s election) as a site would run them; progress
# notifications every second so that an idle watch is told it is alive (keel-control's
# fleet.watch_idle_timeout must be above that); auth tokens (once auth is enabled) forgotten
# after 2 s unused, so that their renewal can be seen.
etcd_member_argv() {
	ETCD_ARGV=(--name "$1" --data-dir "$2"
		--listen-client-urls "http://$3:2379" --advertise-client-urls "http://$3:2379"
		--listen-peer-urls "http://$4:2380" --initial-advertise-peer-urls "http://$4:2380"
		--initial-cluster "$5" --initial-cluster-state new --initial-cluster-token "$6"
		--experimental-watch-progress-notify-interval 1s --auth-token-ttl 2)
}

# etcd_veth_to_bridge NS IF BR_NS PORT BRIDGE ADDR/LEN: a veth IF in NS (with that address) whose
# other end PORT is a port of BRIDGE in BR_NS. Made inside the namespaces, never in the root one.
etcd_veth_to_bridge() {
	ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$3" link set "$4" master "$5" up
	ip -n "$1" addr add "$6" dev "$2"
	ip -n "$1" link set "$2" up
}

# etcd_health_in NS ENDPOINT: the member answers its health check (from NS)
etcd_health_in() {
	ETCDCTL_API=3 ip netns exec "$1" etcdctl --endpoints "$2" --dial-timeout 1s \
		--command-timeout 2s endpoint health >/dev/null 2>&1
}

# etcd_leader_in NS ENDPOINTS: prints the leader's endpoint, as the running members report it
# (etcdctl's "simple" status: endpoint, id, version, size, is-leader, ...).
etcd_leader_in() {
	ETCDCTL_API=3 ip netns exec "$1" etcdctl --endpoints "$2" --dial-timeout 1s \
		--command-timeout 3s endpoint status 2>/dev/null | awk -F', ' '$5 == "true" {print $1; found = 1; exit} END {exit !found}'
}
