#!/bin/bash
# XDP programs on a veth pair in two namespaces: keel-decap delivers IPIP/GUE traffic (crafted with
# scapy) to a UDP service on a VIP bound on lo, which answers the client directly; then the steering
# program, attached in generic mode, lets a TCP connection to a non-VIP port through and counts VIP
# traffic as steered (no AF_XDP socket here: it falls back to the kernel, counted pass_no_xsk).
. "$(dirname "$0")/lib.sh"

DECAP=$BUILD/tools/keel-decap/keel-decap
STEER_ATTACH=$BUILD/tests/bpf/steer_attach

need_root
need_cmd ip nsenter timeout bpftool
[[ -x $DECAP ]] || skip "no keel-decap at $DECAP (-Dbpf=disabled, or clang/bpftool/libbpf missing?)"
[[ -x $STEER_ATTACH ]] || skip "no steer_attach at $STEER_ATTACH"
need_scapy
kt_tmpdir

NSC=kc$KT_ID # the client side: sends what a Keel host would, receives the direct answers
NSB=kb$KT_ID # the backend
IFC=kc$KT_ID
IFB=kb$KT_ID
PINS=/sys/fs/bpf/keel-decap-$IFB
STEER_PINS=/sys/fs/bpf/keel-test-steer-$KT_ID

# Documentation addresses only (RFC 5737, RFC 3849).
LB4=203.0.113.1 BE4=203.0.113.5 CLIENT4=192.0.2.1 VIP4=198.51.100.10
LB6=2001:db8:b::1 BE6=2001:db8:b::5 CLIENT6=2001:db8::1 VIP6=2001:db8:1::10

in_b() { nsenter --net="/var/run/netns/$NSB" "$@"; } # net namespace only: /sys/fs/bpf stays the host's

bpf_cleanup() {
	local rc=$?
	set +e
	in_b "$DECAP" detach "$IFB" >/dev/null 2>&1
	rm -rf "$PINS" "$STEER_PINS"
	(exit $rc)
	kt_cleanup
}
trap bpf_cleanup EXIT

kt_netns "$NSC"
kt_netns "$NSB"
kt_veth "$IFC" "$NSC" "$IFB" "$NSB"
ip -n "$NSC" addr add $LB4/24 dev "$IFC"
ip -n "$NSC" addr add $LB6/64 dev "$IFC" nodad
ip -n "$NSC" addr add $CLIENT4/32 dev lo
ip -n "$NSC" addr add $CLIENT6/128 dev lo
ip -n "$NSC" route add 198.51.100.0/24 via $BE4
ip -n "$NSC" route add 2001:db8:1::/48 via $BE6
ip -n "$NSB" addr add $BE4/24 dev "$IFB"
ip -n "$NSB" addr add $BE6/64 dev "$IFB" nodad
# The backend set-up of docs/backend-setup.md: VIPs on lo, no ARP for them on the wire, strict
# reverse-path filtering (the client is routed back out of the interface its packets arrive on).
ip -n "$NSB" addr add $VIP4/32 dev lo
ip -n "$NSB" addr add $VIP6/128 dev lo nodad
ip -n "$NSB" route add 192.0.2.0/24 via $LB4
ip -n "$NSB" route add 2001:db8::/48 via $LB6
for k in all.arp_ignore=1 all.arp_announce=2 all.rp_filter=1 "$IFB.rp_filter=1"; do
	ip netns exec "$NSB" sysctl -qw "net.ipv4.conf.$k"
done
MAC_B=$(ip -n "$NSB" -br link show "$IFB" | awk '{print $3}')

# The service: a UDP server on the VIPs answering "ack:<payload>", and a TCP server on a non-VIP port.
cat >"$KT_TMP/server.py" <<'EOF'
import select, socket, sys, time
vip4, vip6 = sys.argv[1], sys.argv[2]
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind((vip4, 5000))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind((vip6, 5000))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", 2222)); t.listen(4)
print("ready", flush=True)
deadline = time.time() + 150
while time.time() < deadline:
    r, _, _ = select.select([u4, u6, t], [], [], 0.5)
    for s in r:
        if s is t:
            c, _ = t.accept(); c.settimeout(5)
            c.sendall(b"tcp:" + c.recv(100)); c.close()
        else:
            data, peer = s.recvfrom(2048)
            s.sendto(b"ack:" + data, peer)
EOF
ip netns exec "$NSB" timeout 160 "$PY" "$KT_TMP/server.py" $VIP4 $VIP6 >"$KT_TMP/server.log" 2>&1 &
KT_PIDS+=($!)
wait_until 10 grep -q ready "$KT_TMP/server.log" || die "server did not start: $(cat "$KT_TMP/server.log")"

# The client side: each kind of encapsulation Keel makes, sent raw; the answer comes straight back.
cat >"$KT_TMP/client.py" <<'EOF'
import socket, sys
from scapy.all import Ether, IP, IPv6, UDP, Raw, sendp, conf
conf.verb = 0
iface, mac, kind = sys.argv[1], sys.argv[2], sys.argv[3]
lb4, be4, c4, vip4, lb6, be6, c6, vip6 = sys.argv[4:12]
gue = lambda proto: Raw(bytes([0, proto, 0, 0]))  # GUE variant 0, no flags
inner4 = IP(src=c4, dst=vip4) / UDP(sport=40000, dport=5000) / Raw(kind.encode())
inner6 = IPv6(src=c6, dst=vip6) / UDP(sport=40000, dport=5000) / Raw(kind.encode())
outer = {
    "ipip":   lambda: IP(src=lb4, dst=be4, flags="DF") / inner4,
    "gue4":   lambda: IP(src=lb4, dst=be4) / UDP(sport=50123, dport=6080, chksum=0) / gue(4) / inner4,
    "6in6":   lambda: IPv6(src=lb6, dst=be6, nh=41) / inner6,
    "4in6":   lambda: IPv6(src=lb6, dst=be6, nh=4) / inner4,
    "gue6in4": lambda: IP(src=lb4, dst=be4) / UDP(sport=50124, dport=6080, chksum=0) / gue(41) / inner6,
    "gueBadVersion": lambda: IP(src=lb4, dst=be4) / UDP(sport=50125, dport=6080, chksum=0) / Raw(bytes([0x40, 4, 0, 0])) / inner4,
}[kind]
six = kind in ("6in6", "gue6in4")
s = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((c6 if six else c4, 40000)); s.settimeout(1.5)
for attempt in range(3):
    sendp(Ether(dst=mac) / outer(), iface=iface)
    try:
        data, peer = s.recvfrom(2048)
        print(kind, data.decode(), peer[0]); sys.exit(0 if data == b"ack:" + kind.encode() else 1)
    except socket.timeout:
        pass
print(kind, "no answer"); sys.exit(2)
EOF
client() { # kind
	ip netns exec "$NSC" timeout 20 "$PY" "$KT_TMP/client.py" "$IFC" "$MAC_B" "$1" \
		$LB4 $BE4 $CLIENT4 $VIP4 $LB6 $BE6 $CLIENT6 $VIP6
}
no_answer() { ! client "$1" >/dev/null 2>&1; }
decap_counter() { # verdict name
	in_b "$DECAP" status "$IFB" --json | json_get "j['counters']['$1']['packets']"
}

# Without decapsulation nothing reaches the service (no ipip/fou devices in the namespace).
check "no answer before keel-decap is attached" no_answer ipip

# Issue 20 item 12: a bad argument is refused (64) before the interface is touched, each
# address option named as itself.
attach_rc() { # expected exit status, then attach arguments; stderr in $KT_TMP/attach.err
	in_b "$DECAP" attach "$IFB" "${@:2}" >/dev/null 2>"$KT_TMP/attach.err"
	local rc=$?
	[[ $rc -eq $1 ]] || { log "exit $rc, want $1: $(cat "$KT_TMP/attach.err")"; return 1; }
}
nothing_attached() {
	! in_b "$DECAP" status "$IFB" >/dev/null && [[ ! -e $PINS ]] &&
		! ip -n "$NSB" link show "$IFB" | grep -q xdp
}
for opt in --peer --vip --local --del-vip --del-peer; do
	check "first attach with a bad $opt exits 64" attach_rc 64 --vip $VIP4 $opt BAD
	check "... naming $opt" grep -q -- "^keel-decap: $opt: not an IPv4 or IPv6 address: BAD" "$KT_TMP/attach.err"
	check "... and attaches nothing, pins nothing" nothing_attached
done

log "attach keel-decap on $IFB"
in_b "$DECAP" attach "$IFB" --vip $VIP4 --vip $VIP6 || die "keel-decap attach failed"
in_b "$DECAP" status "$IFB"
status_has_locals() { # attached, and both backend addresses among the local ones, in any order
	in_b "$DECAP" status "$IFB" --json | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
text = json.dumps(j)
sys.exit(0 if j.get("attached") and sys.argv[1] in text and sys.argv[2] in text else 1)' "$BE4" "$BE6"
}
check "status --json says attached with both local addresses" status_has_locals
for kind in ipip gue4 6in6 4in6 gue6in4; do
	check "decap $kind: the VIP's service answers the client directly" client $kind
done
check "decap counted 3 IPIP-family packets or more" test "$(decap_counter decap_ipip)" -ge 3
check "decap counted 2 GUE packets or more" test "$(decap_counter decap_gue)" -ge 2
check "GUE version 1 gets no answer" no_answer gueBadVersion
check "... and is counted as drop_gue_version" test "$(decap_counter drop_gue_version)" -ge 1
check "re-attach keeps the VIPs (pinned maps reused)" \
	bash -c "nsenter --net=/var/run/netns/$NSB $DECAP attach $IFB --gue-port 6081 >/dev/null &&
		 nsenter --net=/var/run/netns/$NSB $DECAP status $IFB --json | grep -q '\"gue_port\":6081.*\"$VIP4\"'"
check "GUE on 6080 no longer decapsulated after --gue-port 6081" no_answer gue4
status_is() { # prog_id gue_port n_vips: what status --json says now
	in_b "$DECAP" status "$IFB" --json | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
got = (str(j["prog_id"]), str(j["gue_port"]), str(len(j["vips"])))
sys.exit(0 if got == tuple(sys.argv[1:4]) else print("status:", got) or 1)' "$@"
}
PROG_ID=$(in_b "$DECAP" status "$IFB" --json | json_get "j['prog_id']")
for opt in --peer --vip --del-peer; do
	check "update with --gue-port 6082 and a bad $opt exits 64" attach_rc 64 --gue-port 6082 --vip 198.51.100.99 $opt 1.2.3
	check "... and leaves the program, its port and its VIPs as they were" status_is "$PROG_ID" 6081 2
done
# A full VIP map (1024: the 2 above and 1022 more): the command that would overflow it fails
# (1) and changes nothing.
fill_vips() { # one bpftool process (batch): loading the program 16 times would take half a minute
	local n
	for ((n = 1; n <= 1022; n++)); do # struct keel_bpf_addr_key: 2001:db8:f::n, family 6, pad
		printf 'map update pinned %s key hex 20 01 0d b8 00 0f 00 00 00 00 00 00 00 00 %02x %02x 06 00 00 00 value hex 01 00 00 00\n' \
			"$PINS/keel_decap_vips" $((n >> 8)) $((n & 255))
	done >"$KT_TMP/fill.batch"
	bpftool batch file "$KT_TMP/fill.batch" >/dev/null
}
check "fill the VIP map to 1024 addresses" fill_vips
PROG_ID=$(in_b "$DECAP" status "$IFB" --json | json_get "j['prog_id']")
check "an attach that would overflow it exits 1" attach_rc 1 --gue-port 6082 --vip 198.51.100.98
check "... saying so" grep -q -- "--vip: 1 more address would exceed" "$KT_TMP/attach.err"
check "... and leaves the program, its port and its VIPs as they were" status_is "$PROG_ID" 6081 1024
check "usage errors exit 64" bash -c "$DECAP frobnicate $IFB 2>/dev/null; test \$? -eq 64"
check "unknown interface exits 1" bash -c "$DECAP status nosuchif0 2>/dev/null; test \$? -eq 1"
check "detach" in_b "$DECAP" detach "$IFB"
check "detach removed the pins" test ! -e "$PINS"
check "status after detach exits 1" bash -c "! nsenter --net=/var/run/netns/$NSB $DECAP status $IFB >/dev/null"

# Steering on the same interface, generic mode: non-VIP traffic must keep working.
log "attach steer (generic) on $IFB"
mkdir -p "$STEER_PINS"
in_b "$STEER_ATTACH" attach "$IFB" "$STEER_PINS" $VIP4/udp/5000 $VIP4/tcp/80 || die "steer attach failed"
tcp_ok() {
	ip netns exec "$NSC" timeout 10 "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 2222), timeout=5); s.sendall(b"hello")
sys.exit(0 if s.recv(100) == b"tcp:hello" else 1)' $BE4
}
steer_counter() { in_b "$STEER_ATTACH" counters "$STEER_PINS" | awk -v n="$1" '$1 == n {print $2}'; }
check "TCP to a non-VIP port of the host works with steer attached" tcp_ok
check "steer counted it as pass_not_vip" test "$(steer_counter pass_not_vip)" -ge 3
ip netns exec "$NSC" timeout 5 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", (sys.argv[1], 5000))' $VIP4
check "UDP to the VIP is steered (no AF_XDP socket here: pass_no_xsk)" \
	wait_until 5 bash -c "test \"\$(nsenter --net=/var/run/netns/$NSB $STEER_ATTACH counters $STEER_PINS | awk '\$1 == \"pass_no_xsk\" {print \$2}')\" -ge 1"
check "steer detach" in_b "$STEER_ATTACH" detach "$IFB"
log "AF_XDP with keel-dataplane's af_xdp port is not exercised here: that needs the dataplane's" \
	"af_xdp port options (xdp_prog=steer.bpf.o); the program's redirect is covered by test_bpf_steer"

finish
