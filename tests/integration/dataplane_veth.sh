#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Smoke test on a veth pair: keel-dataplane owns one end (net_af_packet, then net_af_xdp) in its
# own namespace; scapy in a peer namespace sends real TCP SYNs and UDP to the VIPs and captures
# what comes back on the wire: frames encapsulated to the VIPs' backends, inner packets intact.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 256
need_cmd ip
kt_tmpdir

NS_DP=keel$$dp
NS_PEER=keel$$peer
DEV_DP=kd$$
DEV_PEER=kp$$
kt_netns "$NS_DP"
kt_netns "$NS_PEER"
kt_veth "$DEV_DP" "$NS_DP" "$DEV_PEER" "$NS_PEER"
# No kernel IPv6 chatter (router solicitations, MLD) on the wire: only the test's frames.
ip netns exec "$NS_DP" sysctl -qw "net.ipv6.conf.$DEV_DP.disable_ipv6=1"
ip netns exec "$NS_PEER" sysctl -qw "net.ipv6.conf.$DEV_PEER.disable_ipv6=1"
DP_MAC=$(ip netns exec "$NS_DP" cat "/sys/class/net/$DEV_DP/address")

cat >"$KT_TMP/spec.txt" <<'EOF'
src-mac 02:00:00:00:00:02
gw-mac 02:00:00:00:00:fe
src4 203.0.113.128/25
src6 2001:db8:5eed::/64
vip 192.0.2.10:80/tcp
backend 198.51.100.1
backend 198.51.100.2
backend 198.51.100.3
vip 192.0.2.53:53/udp gue
backend 2001:db8:b::1
backend 2001:db8:b::2
vip [2001:db8::10]:443/tcp
backend 2001:db8:b::10
EOF

# The peer: send SYNs and UDP to the VIPs, capture the encapsulated frames that come back.
cat >"$KT_TMP/peer.py" <<'EOF'
import logging, sys, time
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import AsyncSniffer, Ether, IP, IPv6, TCP, UDP, Raw, sendp, conf
conf.verb = 0
iface, dst_mac, n_flows = sys.argv[1], sys.argv[2], int(sys.argv[3])
KEEL_MAC = "02:00:00:00:00:02"
B4 = {"198.51.100.1", "198.51.100.2", "198.51.100.3"}
BGUE = {"2001:db8:b::1", "2001:db8:b::2"}
B6 = {"2001:db8:b::10"}
sent = {}  # inner bytes -> (kind, backends allowed)
frames = []
for k in range(n_flows):
    src = f"203.0.113.{10 + k}"
    p = IP(src=src, dst="192.0.2.10", tos=0x28) / TCP(sport=20000 + k, dport=80, flags="S", seq=k)
    sent[bytes(p)] = ("tcp4 SYN -> IPIP", B4)
    frames.append(p)
    u = IP(src=src, dst="192.0.2.53") / UDP(sport=30000 + k, dport=53) / Raw(b"query%d" % k)
    sent[bytes(u)] = ("udp4 -> GUE over IPv6", BGUE)
    frames.append(u)
    s6 = IPv6(src=f"2001:db8:c::{k + 1:x}", dst="2001:db8::10") / TCP(sport=40000 + k, dport=443, flags="S")
    sent[bytes(s6)] = ("tcp6 SYN -> 6in6", B6)
    frames.append(s6)
count = [0]
def seen_one(f):
    count[0] += 1
sn = AsyncSniffer(iface=iface, lfilter=lambda f: f.haslayer(Ether) and f[Ether].src == KEEL_MAC,
                  prn=seen_one, store=True)
sn.start()
time.sleep(0.5)
sendp([Ether(dst=dst_mac) / f for f in frames], iface=iface)
deadline = time.time() + 5
while time.time() < deadline and count[0] < len(frames):
    time.sleep(0.1)
time.sleep(0.2)  # anything extra (duplicates) would show up now
got = sn.stop()
seen = {}
bad = 0
used = {}
for f in got:
    outer = f[Ether].payload
    if isinstance(outer, IP) and outer.proto == 4:
        inner, dst, kind = bytes(outer.payload), outer.dst, "IPIP"
        ok_outer = outer.flags.DF and outer.ttl == 64 and outer.tos == IP(inner).tos
    elif isinstance(outer, IPv6) and outer.nh == 17 and outer[UDP].dport == 6080:
        gue = bytes(outer[UDP].payload)
        inner, dst, kind = gue[4:], outer.dst, "GUE6"
        ok_outer = gue[:4] == b"\x00\x04\x00\x00" and 49152 <= outer[UDP].sport and outer.hlim == 64
    elif isinstance(outer, IPv6) and outer.nh == 41:
        inner, dst, kind = bytes(outer.payload), outer.dst, "6in6"
        ok_outer = outer.hlim == 64 and outer.fl != 0
    else:
        print(f"  unexpected frame from keel: {f.summary()}")
        bad += 1
        continue
    if inner not in sent:
        print(f"  {kind} to {dst}: inner packet is not byte-identical to anything sent")
        bad += 1
        continue
    what, allowed = sent[inner]
    if dst not in allowed or not ok_outer:
        print(f"  {what}: outer dst {dst} (allowed {sorted(allowed)}), outer header ok: {bool(ok_outer)}")
        bad += 1
        continue
    seen[inner] = what
    used[dst] = used.get(dst, 0) + 1
missing = [sent[i][0] for i in sent if i not in seen]
if len(got) != len(frames):
    print(f"  captured {len(got)} frames from keel for {len(frames)} sent (duplicates or extras)")
    bad += 1
print(f"  sent {len(frames)}, captured {len(got)} encapsulated frames, matched {len(seen)}; per backend {dict(sorted(used.items()))}")
for m in missing[:5]:
    print(f"  missing: {m}")
sys.exit(0 if not missing and not bad else 1)
EOF

N_FLOWS=8
N_SENT=$((N_FLOWS * 3))

# One run of the dataplane on DEV_DP with a given vdev; prints checks. Returns 2 when the
# dataplane could not start at all (for AF_XDP: kernel/driver support missing).
run_mode() { # label, vdev
	local label=$1 vdev=$2 name
	kt_name name "$label"
	log "[$label] keel-dataplane on $DEV_DP in $NS_DP: --vdev $vdev"
	# shellcheck disable=SC2046
	dp_start "$KT_TMP/dp-$label.log" ip netns exec "$NS_DP" -- -l 0,1 $(eal_opts "$name") \
		--vdev "$vdev" -- --name "$name" --idle backoff --flows 65536
	if ! dp_wait_running "$name" "$KT_TMP/dp-$label.log" >"$KT_TMP/start-$label.txt"; then
		dp_stop
		return 2
	fi
	timeout 20 "$SEAM" publish "$name" "$KT_TMP/spec.txt" | sed 's/^/    /'
	log "[$label] sending $N_SENT packets from $NS_PEER and capturing on $DEV_PEER"
	check "[$label] every VIP packet comes back encapsulated to one of its backends, inner bytes intact" \
		timeout 30 ip netns exec "$NS_PEER" "$PY" "$KT_TMP/peer.py" "$DEV_PEER" "$DP_MAC" "$N_FLOWS"
	fwd_ok() { [[ $(counter "$name" 'j["fwd_pkts"]') -ge $N_SENT ]]; }
	wait_until 3 fwd_ok || true
	local c
	c=$("$SEAM" counters "$name" --json)
	log "[$label] counters: $(echo "$c" | json_get '{k: j[k] for k in ("rx_pkts","fwd_pkts","dropped","tx_dropped","drops")}')"
	check "[$label] counters: fwd_pkts == $N_SENT" test "$(echo "$c" | json_get 'j["fwd_pkts"]')" -eq "$N_SENT"
	check "[$label] counters: tx_dropped == 0" test "$(echo "$c" | json_get 'j["tx_dropped"]')" -eq 0
	check "[$label] counters: rx == fwd + replies + kernel + dropped" test "$(echo "$c" |
		json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
	dp_stop
	check "[$label] keel-dataplane exits 0 on SIGTERM" test "$DP_RC" -eq 0
	return 0
}

run_mode afpkt "net_af_packet0,iface=$DEV_DP" ||
	die "keel-dataplane with net_af_packet did not start: $(cat "$KT_TMP/start-afpkt.txt")"

if run_mode afxdp "net_af_xdp0,iface=$DEV_DP,start_queue=0,queue_count=1"; then
	:
else
	reason=$(grep -m1 -iE 'xdp|xsk|bpf|cannot|fail|error' "$KT_TMP/dp-afxdp.log" || true)
	log "SKIP [afxdp] net_af_xdp could not start on a veth in this kernel/build: ${reason:-see log below}"
	sed 's/^/    /' "$KT_TMP/dp-afxdp.log" | tail -n 15
fi
finish
