#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Shared-NIC mode end to end: keel-dataplane owns a veth through net_af_xdp with Keel's steering
# program (xdp_prog=steer.bpf.o), keel-control fills the program's VIP maps and publishes the
# snapshot. VIP traffic from the peer goes to the AF_XDP socket and comes back encapsulated,
# while a TCP connection to a non-VIP port of the host on the same interface works (the kernel
# keeps it).
# keel-control runs in a mount namespace of its own, without the BPF file system the PMD pins
# the maps in (the sandbox's case, and a host whose services have private mounts): it finds the
# maps through the program attached to the dataplane's interface. The veth has 2 RX queues
# and Keel serves 1: keel-dataplane warns with the ethtool fix. Then keel-control without
# CAP_SYS_ADMIN/CAP_BPF cannot open the maps: its VIP is not steered, so not announced (reason
# in /v1/bgp), and the keel_steer_* series and keelctl status say so.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 256
need_cmd ip curl
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
STEER_O=$BUILD/bpf/steer.bpf.o
[[ -x $CONTROL ]] || skip "no keel-control"
[[ -f $STEER_O ]] || skip "steer.bpf.o not built (-Dbpf disabled)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip "no bpf filesystem"
PINS=(/sys/fs/bpf/keel_steer_vips /sys/fs/bpf/keel_steer_addrs /sys/fs/bpf/keel_steer_cnt)
kt_tmpdir
kt_name NAME sx

NS_DP=keel${KT_ID}sd
NS_PEER=keel${KT_ID}sp
DEV_DP=ksd$KT_ID
DEV_PEER=ksp$KT_ID
kt_netns "$NS_DP"
kt_netns "$NS_PEER"
# 2 RX queues on the dataplane's side (ethtool -l: RX 2), one AF_XDP socket: one queue unserved.
ip link add "$DEV_DP" numrxqueues 2 type veth peer name "$DEV_PEER"
KT_LINKS+=("$DEV_DP")
ip link set "$DEV_DP" netns "$NS_DP"
ip link set "$DEV_PEER" netns "$NS_PEER"
ip -n "$NS_DP" link set "$DEV_DP" up
ip -n "$NS_PEER" link set "$DEV_PEER" up
ip netns exec "$NS_DP" sysctl -qw "net.ipv6.conf.$DEV_DP.disable_ipv6=1"
ip netns exec "$NS_PEER" sysctl -qw "net.ipv6.conf.$DEV_PEER.disable_ipv6=1"
ip -n "$NS_DP" addr add 198.51.100.1/24 dev "$DEV_DP"
ip -n "$NS_PEER" addr add 198.51.100.2/24 dev "$DEV_PEER"
# veth hands the peer's TCP checksums over unfinished; the kernel behind AF_XDP's pass must see them whole.
ip netns exec "$NS_PEER" ethtool -K "$DEV_PEER" tx off >/dev/null 2>&1 || true
DP_MAC=$(ip netns exec "$NS_DP" cat "/sys/class/net/$DEV_DP/address")

# The host's own service on the shared interface: not a VIP.
ip netns exec "$NS_DP" "$PY" -m http.server 8080 --bind 198.51.100.1 --directory "$KT_TMP" \
	>"$KT_TMP/http.log" 2>&1 &
KT_PIDS+=($!)

SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 11) % 20000))
kt_config mac=02:00:00:00:00:fe ipv4=203.0.113.128/25 >"$KT_TMP/keel.yaml" <<YAML
bgp:
  local_asn: 65001
  router_id: 198.51.100.1
  neighbours: [ { address: 198.51.100.2, asn: 65000 } ]
  table: $((1000 + $$ % 1000))
  settle: 0s
  drain_wait: 0s
  bird_socket: $KT_TMP/no-bird.ctl
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, maglev_table_size: 251,
      backends: [ { address: 203.0.113.1 }, { address: 203.0.113.2 } ] }
YAML

# `ip netns exec` gives its command a mount namespace with a fresh /sys, where /sys/fs/bpf is not
# a BPF filesystem: the dataplane mounts one there for the PMD's pins; keel-control, started
# apart, never sees it.
log "keel-dataplane (net_af_xdp on $DEV_DP, xdp_prog=steer.bpf.o); keel-control in another mount namespace"
# shellcheck disable=SC2046
cat >"$KT_TMP/host.sh" <<HOST
mount -t bpf bpf /sys/fs/bpf || exit 1
"$DP" -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_af_xdp0,iface=$DEV_DP,start_queue=0,queue_count=1,xdp_prog=$STEER_O" -- \
	--name "$NAME" --idle backoff --flows 65536 >"$KT_TMP/dp.log" 2>&1 &
echo \$! >"$KT_TMP/dp.pid"
wait
HOST
start_control() { # [setpriv options]
	ip netns exec "$NS_DP" timeout -s TERM -k 5 100 "$@" "$CONTROL" --config "$KT_TMP/keel.yaml" \
		--state-dir "$KT_TMP/state" >>"$KT_TMP/control.log" 2>&1 &
	CONTROL_PID=$!
	KT_PIDS+=("$CONTROL_PID")
}
ip netns exec "$NS_DP" timeout -s TERM -k 5 120 bash "$KT_TMP/host.sh" &
KT_PIDS+=($!)
pid_of() { [[ -s $KT_TMP/$1.pid ]] && cat "$KT_TMP/$1.pid"; }
wait_until 5 pid_of dp >/dev/null || die "the Keel host did not start"
start_control
running() { "$SEAM" status "$NAME" --json 2>/dev/null | grep -q '"state":"running"'; }
if ! wait_until 20 running; then
	sed 's/^/    /' "$KT_TMP/dp.log"
	skip "net_af_xdp with a custom program could not start here: $(grep -m1 -iE 'xdp|bpf|fail|error' "$KT_TMP/dp.log")"
fi
in_host() { nsenter -t "$(pid_of dp)" -m -n "$@"; }
for p in "${PINS[@]}"; do
	check "$(basename "$p") pinned by the PMD's load" in_host test -e "$p"
done
published() { [[ $("$SEAM" status "$NAME" --json | json_get 'min(w["generation"] for w in j["workers"])') -ge 1 ]]; }
check "keel-control published to the dataplane" wait_until 10 published
vips_in_map() { [[ $(in_host bpftool -j map dump pinned /sys/fs/bpf/keel_steer_vips | json_get 'len(j)') == 1 ]]; }
check "keel-control filled the steering map (found through the program on $DEV_DP)" wait_until 10 vips_in_map
check "dataplane warns: 2 NIC queues, 1 served, with the ethtool fix" grep -q \
	"event=afxdp_queues_unserved port=$DEV_DP nic_queues=2 start_queue=0 served=1 unserved=1 .*fix=\"ethtool -L $DEV_DP rx 1\"" \
	"$KT_TMP/dp.log"
bgpj() { kt_api --max-time 5 /v1/bgp | json_get "$1"; }
steered_announced() { [[ $(bgpj 'j["vips"][0]["announced"], j["vips"][0]["reason"], j["steering"]["maps_visible"]') == "(True, 'serving', True)" ]]; }
check "/v1/bgp: web announced, serving, steering maps visible" wait_until 10 steered_announced

log "non-VIP: TCP to the host's own service on the same interface"
check "HTTP GET from the peer to 198.51.100.1:8080 (kernel) works" \
	ip netns exec "$NS_PEER" curl -s -o /dev/null --max-time 5 http://198.51.100.1:8080/

log "VIP: SYNs from the peer come back encapsulated through the AF_XDP socket"
cat >"$KT_TMP/peer.py" <<'PYEOF'
import logging, sys, time
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import AsyncSniffer, Ether, IP, TCP, sendp, conf
conf.verb = 0
iface, dst_mac, keel_mac = sys.argv[1], sys.argv[2], sys.argv[3]
frames = [Ether(dst=dst_mac) / IP(src="198.51.100.2", dst="192.0.2.10") /
          TCP(sport=30000 + k, dport=80, flags="S") for k in range(16)]
sn = AsyncSniffer(iface=iface, store=True,
                  lfilter=lambda f: f.haslayer(IP) and f[IP].proto == 4 and f[Ether].src == keel_mac)
sn.start()
time.sleep(0.5)
sendp(frames, iface=iface)
deadline = time.time() + 5
while time.time() < deadline and len(sn.results or []) < len(frames):
    time.sleep(0.1)
got = sn.stop()
ok = [f for f in got if f[IP].dst in ("203.0.113.1", "203.0.113.2") and
      bytes(f[IP].payload)[:20] == bytes(IP(src="198.51.100.2", dst="192.0.2.10") / TCP())[:12] + bytes(f[IP].payload)[12:20]]
print(f"  sent {len(frames)}, got {len(got)} IPIP frames back, {len(ok)} to the VIP's backends")
sys.exit(0 if len(ok) == len(frames) else 1)
PYEOF
check "16 SYNs to the VIP come back IPIP-encapsulated to its backends" \
	timeout 30 ip netns exec "$NS_PEER" "$PY" "$KT_TMP/peer.py" "$DEV_PEER" "$DP_MAC" "$DP_MAC"

metric() { ip netns exec "$NS_DP" curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
check "steering counted the VIP packets (redirect_vip >= 16)" \
	test "$(metric 'keel_steer_packets_total{verdict="redirect_vip"}')" -ge 16
check "steering passed the host's own traffic (pass_not_vip > 0)" \
	test "$(metric 'keel_steer_packets_total{verdict="pass_not_vip"}')" -gt 0
check "the dataplane forwarded them (fwd_pkts >= 16)" test "$(counter "$NAME" 'j["fwd_pkts"]')" -ge 16
check "keel_steer_maps_visible 1, keel_steer_vips_missing 0" bash -c \
	"[[ \$(ip netns exec $NS_DP curl -s --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -E '^keel_steer_(maps_visible|vips_missing) ' | tr '\n' ' ') == 'keel_steer_maps_visible 1 keel_steer_vips_missing 0 ' ]]"
check "keelctl status: steering ok, on $DEV_DP's program" bash -c \
	"'$KEELCTL' --socket '$SOCK' status | grep -Eq '^steering +ok: every VIP in the maps of xdp program [0-9]+ on $DEV_DP\$'"

log "keel-control without CAP_SYS_ADMIN and CAP_BPF: the maps out of its reach"
kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
rm -f "$SOCK"
start_control setpriv --inh-caps=-sys_admin,-bpf --bounding-set=-sys_admin,-bpf --
not_steered() { [[ $(bgpj 'j["vips"][0]["announced"], j["vips"][0]["reason"], j["steering"]["maps_visible"]') == "(False, 'not steered: no entry in the steering maps', False)" ]]; }
check "/v1/bgp: web not announced, reason not steered" wait_until 10 not_steered
check "keel_steer_maps_visible 0, keel_steer_vips_missing 1" bash -c \
	"[[ \$(ip netns exec $NS_DP curl -s --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -E '^keel_steer_(maps_visible|vips_missing) ' | tr '\n' ' ') == 'keel_steer_maps_visible 0 keel_steer_vips_missing 1 ' ]]"
"$KEELCTL" --socket "$SOCK" status >"$KT_TMP/status.txt" 2>&1
check "keelctl status: MAPS NOT VISIBLE, with the reason" grep -Eq \
	"^steering +MAPS NOT VISIBLE \(xdp program [0-9]+ on $DEV_DP: Operation not permitted\): 1 VIPs not steered, not announced\$" \
	"$KT_TMP/status.txt"
check "keelctl status: web not steered" grep -Eq '^ +not steered: web$' "$KT_TMP/status.txt"
check "log: steering_missing with the reason" grep -q 'event=steering_missing vips=1 of=1 reason="xdp program' "$KT_TMP/control.log"
kill -TERM "$CONTROL_PID" "$(pid_of dp)" 2>/dev/null
finish
