#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Exception path: net_af_packet owns a veth end as if it were a dedicated NIC; keel-dataplane
# --exception gives the kernel a TAP with the port's MAC that carries the host's address. From
# the peer namespace, ARP resolves that address to the port's MAC, ping and a TCP (HTTP)
# connection to it work, while VIP traffic on the same wire is forwarded encapsulated.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 256
need_cmd ip ss ethtool
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun (the exception path needs TAP)"
kt_tmpdir
kt_name NAME exc

NS_DP=keel$$dp
NS_PEER=keel$$peer
DEV_DP=kd$$
DEV_PEER=kp$$
TAP=kx$$_ # the --exception-iface-prefix; the TAP of port 0 is ${TAP}0
HOST4=192.0.2.1
PEER4=192.0.2.2
VIP4=192.0.2.10
kt_netns "$NS_DP"
kt_netns "$NS_PEER"
kt_veth "$DEV_DP" "$NS_DP" "$DEV_PEER" "$NS_PEER"
ip netns exec "$NS_DP" sysctl -qw "net.ipv6.conf.$DEV_DP.disable_ipv6=1"
ip netns exec "$NS_PEER" sysctl -qw "net.ipv6.conf.$DEV_PEER.disable_ipv6=1"
# A NIC bound to DPDK is invisible to the kernel: the kernel's own stack must not answer what
# arrives on the veth, only what comes through keel's TAP. No ARP on the veth (IFF_NOARP:
# arp_rcv drops), and strict reverse-path filtering drops IPv4 from the peer on the veth,
# since the route back to the peer's subnet is the TAP. (tc drop actions would be neater;
# this kernel has no tc classifiers/actions.)
ip -n "$NS_DP" link set "$DEV_DP" arp off
ip netns exec "$NS_DP" sysctl -qw net.ipv4.conf.all.rp_filter=1
ip netns exec "$NS_DP" sysctl -qw "net.ipv4.conf.$DEV_DP.rp_filter=1"
DP_MAC=$(ip netns exec "$NS_DP" cat "/sys/class/net/$DEV_DP/address")
ip -n "$NS_PEER" addr add "$PEER4/24" dev "$DEV_PEER"
# veth hands checksum-offloaded (CHECKSUM_PARTIAL) frames to its peer unfinished, and an
# AF_PACKET reader gets the bytes as they are; a real wire carries complete checksums.
ip netns exec "$NS_PEER" ethtool -K "$DEV_PEER" tx off >/dev/null

cat >"$KT_TMP/spec.txt" <<EOF
src-mac $DP_MAC
gw-mac 02:00:00:00:00:fe
src4 203.0.113.128/25
vip $VIP4:80/tcp
backend 198.51.100.1
EOF

log "keel-dataplane $NAME on $DEV_DP (net_af_packet) with --exception (TAP ${TAP}0)"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" ip netns exec "$NS_DP" -- -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_af_packet0,iface=$DEV_DP" -- --name "$NAME" --idle backoff --flows 65536 \
	--exception --exception-iface-prefix "$TAP"
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec.txt" | sed 's/^/    /' || die "publish failed"

tap_exists() { ip -n "$NS_DP" link show "${TAP}0" >/dev/null 2>&1; }
wait_until 5 tap_exists || die "TAP ${TAP}0 not created in $NS_DP: $(cat "$KT_TMP/dp.log")"
TAP_MAC=$(ip netns exec "$NS_DP" cat "/sys/class/net/${TAP}0/address")
check "TAP ${TAP}0 carries the port's MAC ($TAP_MAC == $DP_MAC)" test "$TAP_MAC" = "$DP_MAC"
ip -n "$NS_DP" addr add "$HOST4/24" dev "${TAP}0"
ip -n "$NS_DP" link set "${TAP}0" up

log "HTTP listener on $HOST4:8080 in $NS_DP (behind the TAP)"
mkdir -p "$KT_TMP/www"
echo "keel-exception-ok" >"$KT_TMP/www/index.txt"
ip netns exec "$NS_DP" timeout 60 "$PY" -m http.server 8080 --bind "$HOST4" \
	--directory "$KT_TMP/www" >"$KT_TMP/http.log" 2>&1 &
KT_PIDS+=("$!")
listening() { ip netns exec "$NS_DP" ss -ltn "src $HOST4:8080" | grep -q 8080; }
wait_until 10 listening || die "http.server did not listen"

cat >"$KT_TMP/peer.py" <<'EOF'
import logging, socket, sys, time, urllib.request
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ARP, AsyncSniffer, Ether, IP, TCP, srp1, conf
conf.verb = 0
iface, host, vip, port_mac, peer = sys.argv[1:6]
fails = 0
def report(ok, what):
    global fails
    print(("  ok   " if ok else "  FAIL ") + what)
    fails += 0 if ok else 1

r = srp1(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst=host, psrc=peer), iface=iface, timeout=3)
report(r is not None and r.haslayer(ARP) and r[ARP].op == 2 and r[ARP].hwsrc == port_mac,
       f"ARP who-has {host}: answered with the port's MAC {port_mac} (got {r[ARP].hwsrc if r is not None and r.haslayer(ARP) else None})")

try:
    body = urllib.request.urlopen(f"http://{host}:8080/index.txt", timeout=5).read()
    report(body.strip() == b"keel-exception-ok", f"TCP/HTTP to {host}:8080 through the TAP: {body.strip()!r}")
except Exception as e:
    report(False, f"TCP/HTTP to {host}:8080 through the TAP: {e}")

# VIP traffic on the same wire: the kernel's own SYNs (and retransmissions) to the VIP.
n = [0]
def count(f):
    n[0] += 1
sn = AsyncSniffer(iface=iface, prn=count, store=True,
                  lfilter=lambda f: f.haslayer(IP) and f[IP].proto == 4 and f[IP].src != peer)
sn.start()
time.sleep(0.3)
s = socket.socket()
s.settimeout(1.2)
try:
    s.connect((vip, 80))  # never answered here: the backend would answer the client directly
except OSError:
    pass
s.close()
deadline = time.time() + 3
while n[0] < 1 and time.time() < deadline:
    time.sleep(0.1)
got = sn.stop()
good = [f for f in got if f[IP].dst == "198.51.100.1" and f[IP].payload.haslayer(TCP)
        and f[IP].payload.dst == vip and f[IP].payload.src == peer and f[IP].payload[TCP].dport == 80
        and f[IP].payload[TCP].flags.S]
report(len(good) >= 1 and len(good) == len(got),
       f"TCP SYN to VIP {vip}:80 seen on the wire encapsulated (IPIP) to 198.51.100.1: {len(good)} of {len(got)} frames")
sys.exit(1 if fails else 0)
EOF

# The peer reaches the VIP through the wire as a router would: the VIP's next hop is the port.
ip -n "$NS_PEER" neigh replace "$VIP4" lladdr "$DP_MAC" dev "$DEV_PEER" nud permanent
log "from $NS_PEER: ARP, TCP to the host address, SYN to the VIP"
check "peer: ARP + TCP through the TAP, VIP forwarded on the same wire" \
	timeout 40 ip netns exec "$NS_PEER" "$PY" "$KT_TMP/peer.py" "$DEV_PEER" "$HOST4" "$VIP4" "$DP_MAC" "$PEER4"
icmp_echo() { # from the peer with scapy (no ping binary needed)
	timeout 10 ip netns exec "$NS_PEER" "$PY" -c '
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, ICMP, sr1, conf
conf.verb = 0
r = sr1(IP(dst=sys.argv[1]) / ICMP(id=7, seq=1) / b"keel", timeout=3)
sys.exit(0 if r is not None and r.haslayer(ICMP) and r[ICMP].type == 0 else 1)' "$1"
}
check "ICMP echo to $HOST4 from the peer answered by the kernel through the TAP" icmp_echo "$HOST4"
neigh=$(ip -n "$NS_PEER" neigh show "$HOST4" dev "$DEV_PEER")
check "peer's neighbour entry for $HOST4 is the port's MAC ($neigh)" grep -qi "lladdr $DP_MAC" <<<"$neigh"
rpf_drops() { # TcpExt IPReversePathFilter in the dataplane's namespace
	# shellcheck disable=SC2016 # awk program
	ip netns exec "$NS_DP" awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 }
		else print $n["IPReversePathFilter"] }' /proc/net/netstat
}
check "the kernel ignored the peer's IPv4 on the veth itself ($(rpf_drops) reverse-path drops): answers came through the TAP" \
	test "$(rpf_drops)" -gt 0

c=$("$SEAM" counters "$NAME" --json)
log "counters: $(echo "$c" | json_get '{k: j[k] for k in ("rx_pkts","fwd_pkts","kernel_pkts","kernel_tx","kernel_rx","dropped","tx_dropped","drops")}')"
check "counters: kernel_pkts > 0 and every one handed to the TAP (kernel_tx == kernel_pkts)" test "$(echo "$c" |
	json_get 'j["kernel_pkts"] > 0 and j["kernel_tx"] == j["kernel_pkts"]')" = True
check "counters: kernel_rx > 0 (the kernel's answers left through the port)" test "$(echo "$c" | json_get 'j["kernel_rx"] > 0')" = True
check "counters: fwd_pkts >= 1 (VIP SYNs), no drops, tx_dropped == 0" test "$(echo "$c" |
	json_get 'j["fwd_pkts"] >= 1 and j["dropped"] == 0 and j["tx_dropped"] == 0')" = True
check "counters: rx == fwd + replies + kernel + dropped" test "$(echo "$c" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
dp_stop
check "keel-dataplane exits 0 on SIGTERM" test "$DP_RC" -eq 0
((KT_FAILS == 0)) || sed 's/^/    /' "$KT_TMP/dp.log"
finish
