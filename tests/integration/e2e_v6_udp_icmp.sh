#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, the other families and protocols:
#   - IPv6 VIP over TCP: 300 HTTP requests to [2001:db8:a::10]:80, 0 failures, all 3 backends;
#   - UDP VIP (echo on :7), IPv4 and IPv6: 200 datagrams each from as many source ports, every
#     answer from the VIP's address with the payload echoed, more than one backend answering;
#   - ICMP echo to the VIP (v4 and v6, scapy from the client): answered by keel-dataplane itself:
#     an echo reply sourced from the VIP with our id/seq/payload, and keel's icmp_echo counter
#     grows by the number sent (a backend answering would leave it unchanged);
#   - ICMP "fragmentation needed" (v4, type 3 code 4) and "packet too big" (v6, type 2) from the
#     router to the VIP, quoting a packet VIP:80 -> client:port of an open HTTP connection (request
#     half sent): captured (tcpdump, after keel-decap) on the interface of the backend that owns
#     the connection (its name from the HTTP answer, once the request is completed) and on no
#     other backend; keel's icmp_errors_fwd counter grows by one each.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
need_scapy
need_cmd tcpdump
e2e_up

seam_ctr() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$SB_NAME" --json | json_get "j[\"$1\"]"; }

# --- TCP over IPv6 ---
r=$(client http --vip "$VIP6" --n 300 --conc 8)
log "IPv6 HTTP, 300 connections: $r"
check "IPv6 VIP, 300 HTTP connections: 0 failures, each backend 33% +- 10%" \
	shares_within "$r" 0.1 be1=0.3333 be2=0.3333 be3=0.3333

# --- UDP ---
udp_ok() { # json n
	"$PY" -c '
import json, sys
j, n = json.loads(sys.argv[1]), int(sys.argv[2])
sys.exit(0 if j["ok"] == n and j["fail"] == 0 and len(j["per"]) >= 2 else 1)' "$1" "$2"
}
for v in "$VIP4" "$VIP6"; do
	r=$(client udp --vip "$v" --n 200)
	log "UDP echo via $v: $r"
	check "UDP VIP $v:7: 200 of 200 echoed from the VIP's address, by more than one backend" udp_ok "$r" 200
done

# --- ICMP echo ---
e0=$(seam_ctr icmp_echo)
cat >"$KT_TMP/ping.py" <<'PYEOF'
import sys
from scapy.all import ICMP, IP, IPv6, ICMPv6EchoRequest, ICMPv6EchoReply, Raw, conf, sr1
conf.verb = 0
vip, n, bad = sys.argv[1], 5, 0
for i in range(n):
    data = b"keel-e2e %d" % i
    if ":" in vip:
        r = sr1(IPv6(dst=vip) / ICMPv6EchoRequest(id=0x4b45, seq=i, data=data), timeout=2)
        good = r is not None and r.src == vip and ICMPv6EchoReply in r and r[ICMPv6EchoReply].seq == i \
            and r[ICMPv6EchoReply].data == data
    else:
        r = sr1(IP(dst=vip) / ICMP(id=0x4b45, seq=i) / data, timeout=2)
        good = r is not None and r.src == vip and r[ICMP].type == 0 and r[ICMP].seq == i and bytes(r[ICMP].payload) == data
    print(f"  echo {i} -> {r.summary() if r is not None else 'no reply'} from {r.src if r is not None else '-'}")
    bad += not good
sys.exit(1 if bad else 0)
PYEOF
for v in "$VIP4" "$VIP6"; do
	check "ICMP echo to $v: 5 of 5 replies from the VIP with our id, seq and payload" \
		in_ns "$NS_CLIENT" timeout 30 "$PY" "$KT_TMP/ping.py" "$v"
done
e1=$(seam_ctr icmp_echo)
check "keel-dataplane answered them itself (icmp_echo $e0 -> $e1, +10)" test $((e1 - e0)) -eq 10

# --- ICMP errors for a connection, to its backend ---
cat >"$KT_TMP/hold.py" <<'PYEOF'
# an HTTP connection with its request half sent; completed once DIR/go exists; prints the backend
import os, socket, sys, time
vip, d = sys.argv[1], sys.argv[2]
s = socket.create_connection((vip, 80), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n")
open(d + "/sport.tmp", "w").write(str(s.getsockname()[1]))
os.rename(d + "/sport.tmp", d + "/sport")
deadline = time.time() + 20
while not os.path.exists(d + "/go") and time.time() < deadline:
    time.sleep(0.05)
s.sendall(b"\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.split(b"\r\n\r\n", 1)[1].strip().decode())
PYEOF
icmp_error_case() { # vip client router-source
	local vip=$1 cl=$2 src=$3 d b sport owner hits=() n p
	d=$KT_TMP/icmp-$vip
	mkdir -p "$d"
	for b in "${SB_BES[@]}"; do
		ip netns exec "$(ns_be "$b")" timeout 25 tcpdump -i "${SB_P}b$b" -nn -l -U 'icmp or icmp6' \
			>"$d/cap$b.txt" 2>"$d/cap$b.err" &
		KT_PIDS+=("$!")
	done
	for b in "${SB_BES[@]}"; do
		wait_until 10 grep -q "listening on" "$d/cap$b.err" || die "tcpdump on be$b not listening: $(cat "$d/cap$b.err")"
	done
	ip netns exec "$NS_CLIENT" timeout 30 "$PY" "$d/../hold.py" "$vip" "$d" >"$d/name.txt" 2>"$d/hold.err" &
	p=$!
	KT_PIDS+=("$p")
	wait_until 10 test -s "$d/sport" || die "the held connection to $vip:80 did not open: $(cat "$d/hold.err")"
	sport=$(cat "$d/sport")
	local c0 c1
	c0=$(seam_ctr icmp_errors_fwd)
	in_ns "$NS_ROUTER" "$PY" - "$vip" "$cl" "$src" "$sport" <<'PYEOF'
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import ICMP, IP, IPv6, ICMPv6PacketTooBig, TCP, conf, send
conf.verb = 0
vip, cl, src, sport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
inner = TCP(sport=80, dport=sport, flags="PA", seq=1000, ack=2000) / (b"x" * 64)
if ":" in vip:
    send(IPv6(src=src, dst=vip) / ICMPv6PacketTooBig(mtu=1380) / IPv6(src=vip, dst=cl) / inner)
else:
    send(IP(src=src, dst=vip) / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src=vip, dst=cl, flags="DF") / inner)
PYEOF
	sleep 1
	c1=$(seam_ctr icmp_errors_fwd)
	touch "$d/go"
	wait "$p" || die "the held connection to $vip:80 failed: $(cat "$d/hold.err")"
	owner=$(cat "$d/name.txt")
	sleep 0.5
	for b in "${SB_BES[@]}"; do
		n=$(grep -cE "unreachable - need to frag|packet too big" "$d/cap$b.txt" || true)
		hits+=("be$b:$n")
	done
	log "$vip: connection port $sport served by $owner; ICMP error captured per backend: ${hits[*]}; icmp_errors_fwd $c0 -> $c1"
	for b in "${SB_BES[@]}"; do grep -E "need to frag|too big" "$d/cap$b.txt" | sed "s/^/    be$b: /" || true; done
	local want=()
	for b in "${SB_BES[@]}"; do
		if [[ be$b == "$owner" ]]; then want+=("be$b:1"); else want+=("be$b:0"); fi
	done
	check "$vip: the ICMP error quoting $vip:80 -> client:$sport reached its backend $owner and no other" \
		test "${hits[*]}" = "${want[*]}"
	check "$vip: keel forwarded it as an ICMP error (icmp_errors_fwd +1)" test $((c1 - c0)) -eq 1
}
icmp_error_case "$VIP4" "$CLIENT4" "$RC4"
icmp_error_case "$VIP6" "$CLIENT6" "$RC6"
finish
