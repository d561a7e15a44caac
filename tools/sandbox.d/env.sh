# shellcheck shell=bash
# The sandbox's names and addresses, sourced by tools/sandbox, tools/demo and the e2e tests.
# KEEL_SANDBOX_PREFIX (default ksb, at most 6 characters) names the namespaces (PREFIX-client,
# PREFIX-router, PREFIX-keel1, PREFIX-be1..3) and, without the dash, the interfaces;
# KEEL_SANDBOX_DIR (default /run/keel-sandbox-PREFIX) holds pids, logs, configs, the dataplane's
# shared region, the API socket and Prometheus' storage.
SB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SB_BUILD=${KEEL_BUILD:-build}
[[ $SB_BUILD == /* ]] || SB_BUILD=$SB_ROOT/$SB_BUILD
SB_P=${KEEL_SANDBOX_PREFIX:-ksb}
SB_DIR=${KEEL_SANDBOX_DIR:-/run/keel-sandbox-$SB_P}
SB_PY=${KEEL_PYTHON:-/usr/bin/python3}

# KEEL_PREFIX (e.g. /usr, or DESTDIR/usr of `meson install --destdir`): an installed Keel's
# binaries, steering program and Prometheus rules instead of the build tree's.
if [[ -n ${KEEL_PREFIX:-} ]]; then
	SB_DP=$KEEL_PREFIX/sbin/keel-dataplane
	SB_CTL=$KEEL_PREFIX/sbin/keel-control
	SB_SEAM=$KEEL_PREFIX/bin/keel-seam
	SB_DECAP=$KEEL_PREFIX/sbin/keel-decap
	SB_STEER_OBJ=$KEEL_PREFIX/lib/keel/steer.bpf.o
	SB_VETH_PEER_OBJ=${KEEL_BUILD:+$SB_BUILD/bpf/veth_peer.bpf.o} # not installed (a build tree's, if any)
	SB_KEELCTL=$KEEL_PREFIX/sbin/keelctl
	SB_RULES=$KEEL_PREFIX/share/keel/prometheus/keel-rules.yml
else
	SB_DP=$SB_BUILD/dataplane/keel-dataplane
	SB_CTL=$SB_BUILD/control/keel-control
	SB_SEAM=$SB_BUILD/tools/keel-seam/keel-seam
	SB_DECAP=$SB_BUILD/tools/keel-decap/keel-decap
	SB_STEER_OBJ=$SB_BUILD/bpf/steer.bpf.o
	SB_VETH_PEER_OBJ=$SB_BUILD/bpf/veth_peer.bpf.o
	SB_KEELCTL=$SB_BUILD/tools/keelctl/keelctl
	SB_RULES=$SB_ROOT/dist/prometheus/keel-rules.yml
fi

NS_CLIENT=$SB_P-client
NS_ROUTER=$SB_P-router
# Keel hosts: --hosts N (tools/sandbox up), KEEL_SANDBOX_HOSTS, what a running sandbox was
# brought up with, else 2 (1 to 4).
SB_HOSTS_MAX=4
SB_NHOSTS=${KEEL_SANDBOX_HOSTS:-$(cat "$SB_DIR/hosts" 2>/dev/null || echo 2)}
mapfile -t SB_KEELS < <(seq 1 "$SB_NHOSTS")
SB_BES=(1 2 3)        # backend hosts
ns_keel() { echo "$SB_P-keel$1"; }
ns_be() { echo "$SB_P-be$1"; }

# Documentation ranges only: VIPs 192.0.2.0/24 and 2001:db8:a::/64, client side 198.51.100.0/24
# and 2001:db8:c::/64, the server LAN (Keel hosts, backends, the router's bridge) 203.0.113.0/24
# and 2001:db8:b::/64; Keel's outer sources 203.0.113.128/26 and 2001:db8:e::/64.
VIP4=192.0.2.10
VIP6=2001:db8:a::10
CLIENT4=198.51.100.2
CLIENT6=2001:db8:c::2
RC4=198.51.100.1
RC6=2001:db8:c::1
ROUTER4=203.0.113.1
ROUTER6=2001:db8:b::1
keel4() { echo "203.0.113.$((9 + $1))"; }   # keel1 = .10
keel6() { echo "2001:db8:b::$((9 + $1))"; }
be4() { echo "203.0.113.$((20 + $1))"; }    # be1 = .21 (keel1..4 are .10-.13)
be6() { echo "2001:db8:b::$((20 + $1))"; }
KEEL1_4=$(keel4 1)
# --uplinks 2 (KEEL_SANDBOX_UPLINKS, or what a running sandbox was brought up with): a second
# gateway on the server LAN, every Keel host's second next hop.
SB_UPLINKS=${KEEL_SANDBOX_UPLINKS:-$(cat "$SB_DIR/uplinks" 2>/dev/null || echo 1)}
NS_GW2=$SB_P-gw2
GW2_4=203.0.113.2
GW2_6=2001:db8:b::2
SB_NAME=${SB_P}k1            # keel-dataplane --name and DPDK --file-prefix of keel1
SB_SOCK=$SB_DIR/control.sock
SB_METRICS=$KEEL1_4:9105
SB_PROM=$KEEL1_4:9090
# Host K: dataplane name (= --file-prefix) PREFIXkK; its files (keel.yaml, state/, control.sock)
# in keel_dir K (keel1: $SB_DIR itself, as before fleets); its BIRD in $SB_DIR/bird-keelK, the
# router's in $SB_DIR/bird-router; metrics on its own address, port 9105.
keel_name() { echo "${SB_P}k$1"; }
keel_dir() { if (($1 == 1)); then echo "$SB_DIR"; else echo "$SB_DIR/keel$1"; fi; }
keel_sock() { echo "$(keel_dir "$1")/control.sock"; }
keel_metrics() { echo "$(keel4 "$1"):9105"; }
bird_dir() { echo "$SB_DIR/bird-$1"; }        # keel1..4 | router
# BGP: the router AS, the one AS every Keel host speaks from (MEDs compare within one AS)
SB_ROUTER_ASN=65000
SB_KEEL_ASN=65010
SB_BGP_TABLE=100

in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
# Network namespace only (the root's /sys/fs/bpf stays visible: BPF pins).
in_net() { local n=$1; shift; nsenter --net="/var/run/netns/$n" "$@"; }
# The management API: sb_api METHOD PATH [curl args...]
sb_api() {
	local m=$1 p=$2
	shift 2
	curl -sS --max-time 20 --unix-socket "$SB_SOCK" -X "$m" "$@" "http://keel$p"
}
sb_birdc() { # keel1..4|router birdc-args...: BIRD's CLI on that namespace's control socket
	local n=$1
	shift
	birdc -s "$(bird_dir "$n")/bird.ctl" "$@"
}
sb_keelctl() { # K keelctl-args...: keelctl against host K's keel-control
	local k=$1
	shift
	"$SB_KEELCTL" --socket "$(keel_sock "$k")" "$@"
}
sb_api_k() { # K METHOD PATH [curl args...]
	local k=$1 m=$2 p=$3
	shift 3
	curl -sS --max-time 20 --unix-socket "$(keel_sock "$k")" -X "$m" "$@" "http://keel$p"
}
sb_prom_query() { # PromQL -> JSON from Prometheus' HTTP API
	in_ns "$(ns_keel 1)" curl -sS --max-time 10 --data-urlencode "query=$1" "http://$SB_PROM/api/v1/query"
}

# Fleet mode (the default; `tools/sandbox up --no-fleet` or KEEL_SANDBOX_FLEET=0 leaves it out, as a
# running sandbox remembers): the hosts' spec lives in a three-member etcd cluster (Debian
# etcd-server) on a management network of its own, 198.18.0.0/24 (RFC 2544's test range: every
# documentation /24 is taken above). A bridge in PREFIX-mgmt (198.18.0.254: etcdctl runs there),
# member I in PREFIX-etcdI at 198.18.0.I, Keel host K on it at 198.18.0.(9+K) (interface PREFIXmK).
SB_FLEET=${KEEL_SANDBOX_FLEET:-$(cat "$SB_DIR/fleet" 2>/dev/null || echo 1)}
NS_MGMT=$SB_P-mgmt
SB_ETCD_MEMBERS=(1 2 3)
SB_MGMT4=198.18.0.254
ns_etcd() { echo "$SB_P-etcd$1"; }
etcd4() { echo "198.18.0.$1"; }
mgmt4() { echo "198.18.0.$((9 + $1))"; }
SB_ETCD_ENDPOINTS=http://198.18.0.1:2379,http://198.18.0.2:2379,http://198.18.0.3:2379
SB_FLEET_PREFIX=/keel/$SB_P   # the spec at PREFIX/spec, hosts at PREFIX/hosts/keelK
sb_etcdctl() { # etcdctl (API 3) against every member, from the management namespace
	ETCDCTL_API=3 ip netns exec "$NS_MGMT" etcdctl --endpoints "$SB_ETCD_ENDPOINTS" \
		--dial-timeout 1s --command-timeout 3s "$@"
}
