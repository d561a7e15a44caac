#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Exception-path priority (issue 20 item 4): keel-dataplane owns a veth end (net_af_packet) with
# --exception; BIRD behind its TAP keeps a BGP session with BFD at 100 ms x 3 to a BIRD in the
# peer namespace. The peer floods UDP at the host's address (not a VIP) for FLOOD_S seconds.
# Asserted: the BFD session and the BGP session stay up throughout (no state change at either
# end), the flood beyond --exception-rate is dropped and counted as exception_limit, BFD/BGP/ARP
# frames are counted as control (kernel_control), and every packet is accounted for.
# Addresses: RFC 5737.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_hugepages 256
need_cmd ip bird birdc
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun (the exception path needs TAP)"
kt_tmpdir
kt_name NAME exp

NS_DP=keel$$xd
NS_PEER=keel$$xp
DEV_DP=kxd$$
DEV_PEER=kxp$$
TAP=kq$$_
HOST4=192.0.2.1
PEER4=192.0.2.2
VIP4=192.0.2.10
RATE=${RATE:-1000}     # --exception-rate: frames per second per worker, other than the control protocols
FLOOD_S=${FLOOD_S:-6}
FLOOD_PROCS=${FLOOD_PROCS:-1}
FLOOD_PPS=${FLOOD_PPS:-10000}
HOST_CTL=$KT_TMP/bird-host.ctl
ROUTER_CTL=$KT_TMP/bird-router.ctl
BIRDS=()
stop_birds() {
	local p
	for p in "${BIRDS[@]}"; do
		[[ -f $p ]] && kill -TERM "$(cat "$p")" 2>/dev/null
	done
	return 0
}
trap 'stop_birds; kt_cleanup' EXIT

kt_netns "$NS_DP"
kt_netns "$NS_PEER"
kt_veth "$DEV_DP" "$NS_DP" "$DEV_PEER" "$NS_PEER"
ip netns exec "$NS_DP" sysctl -qw "net.ipv6.conf.$DEV_DP.disable_ipv6=1"
ip netns exec "$NS_PEER" sysctl -qw "net.ipv6.conf.$DEV_PEER.disable_ipv6=1"
# As in dataplane_exception.sh: the kernel must not answer on the veth itself, only via the TAP.
ip -n "$NS_DP" link set "$DEV_DP" arp off
ip netns exec "$NS_DP" sysctl -qw net.ipv4.conf.all.rp_filter=1
ip netns exec "$NS_DP" sysctl -qw "net.ipv4.conf.$DEV_DP.rp_filter=1"
DP_MAC=$(ip netns exec "$NS_DP" cat "/sys/class/net/$DEV_DP/address")
ip -n "$NS_PEER" addr add "$PEER4/24" dev "$DEV_PEER"
ip netns exec "$NS_PEER" ethtool -K "$DEV_PEER" tx off >/dev/null 2>&1 || true

cat >"$KT_TMP/spec.txt" <<EOF
src-mac $DP_MAC
gw-mac 02:00:00:00:00:fe
src4 203.0.113.128/25
vip $VIP4:80/tcp
backend 198.51.100.1
EOF

log "keel-dataplane $NAME on $DEV_DP with --exception --exception-rate $RATE"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" ip netns exec "$NS_DP" -- -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_af_packet0,iface=$DEV_DP" -- --name "$NAME" --idle backoff --flows 65536 \
	--exception --exception-iface-prefix "$TAP" --exception-rate "$RATE"
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec.txt" | sed 's/^/    /' || die "publish failed"
tap_exists() { ip -n "$NS_DP" link show "${TAP}0" >/dev/null 2>&1; }
wait_until 5 tap_exists || die "TAP ${TAP}0 not created: $(cat "$KT_TMP/dp.log")"
ip -n "$NS_DP" addr add "$HOST4/24" dev "${TAP}0"
ip -n "$NS_DP" link set "${TAP}0" up

bird_conf() { # file, router id, local, peer, local as, peer as, log
	cat >"$1" <<EOF
router id $2;
log "$7" all;
timeformat protocol iso long;
protocol device { scan time 10; }
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol bgp peer {
	local $3 as $5;
	neighbor $4 as $6;
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
	bfd on;
	ipv4 { import none; export none; };
}
EOF
}
bird_conf "$KT_TMP/host.conf" $HOST4 $HOST4 $PEER4 65001 65000 "$KT_TMP/bird-host.log"
bird_conf "$KT_TMP/router.conf" $PEER4 $PEER4 $HOST4 65000 65001 "$KT_TMP/bird-router.log"
BIRDS+=("$KT_TMP/bird-host.pid" "$KT_TMP/bird-router.pid")
ip netns exec "$NS_DP" bird -c "$KT_TMP/host.conf" -s "$HOST_CTL" -P "$KT_TMP/bird-host.pid"
ip netns exec "$NS_PEER" bird -c "$KT_TMP/router.conf" -s "$ROUTER_CTL" -P "$KT_TMP/bird-router.pid"

# "STATE SINCE" of the BFD session and of the BGP protocol at one end: a flap changes SINCE.
bfd_state() { birdc -s "$1" show bfd sessions 2>/dev/null | awk -v p="$2" '$1 == p { print $3, $4, $5 }'; }
bgp_state() { birdc -s "$1" show protocols peer 2>/dev/null | awk '$1 == "peer" { print $4, $5, $6, $7 }'; }
bfd_up() { [[ $(bfd_state "$ROUTER_CTL" $HOST4) == Up* && $(bfd_state "$HOST_CTL" $PEER4) == Up* ]]; }
bgp_up() { [[ $(bgp_state "$ROUTER_CTL") == *Established* && $(bgp_state "$HOST_CTL") == *Established* ]]; }
if ! wait_until 30 bfd_up || ! wait_until 10 bgp_up; then
	birdc -s "$ROUTER_CTL" show bfd sessions; birdc -s "$ROUTER_CTL" show protocols all peer | head -8
	tail -5 "$KT_TMP/bird-router.log" "$KT_TMP/bird-host.log"
	die "BFD/BGP between the host (behind the TAP) and the peer did not come up"
fi
sleep 1 # settled
# Without a flood the session must hold for 3 s first: on a machine too loaded for BFD at
# 100 ms x 3 (BIRD not scheduled for 300 ms) the flood's effect cannot be told apart.
quiet_since=$(bfd_state "$ROUTER_CTL" $HOST4)
sleep 3
[[ $(bfd_state "$ROUTER_CTL" $HOST4) == "$quiet_since" ]] ||
	skip "BFD at 100 ms x 3 flaps here without any flood (load $(cut -d' ' -f1 /proc/loadavg)): no verdict possible"
r_bfd=$(bfd_state "$ROUTER_CTL" $HOST4); h_bfd=$(bfd_state "$HOST_CTL" $PEER4)
r_bgp=$(bgp_state "$ROUTER_CTL"); h_bgp=$(bgp_state "$HOST_CTL")
log "before the flood: router BFD '$r_bfd' BGP '$r_bgp'; host BFD '$h_bfd' BGP '$h_bgp'"
c0=$("$SEAM" counters "$NAME" --json)

log "flood: UDP to $HOST4:9 from $NS_PEER for ${FLOOD_S}s ($FLOOD_PROCS x $FLOOD_PPS a second)"
cat >"$KT_TMP/flood.py" <<'EOF'
# Paced: PPS datagrams a second in batches of 100 (a sender faster than the veth drops on its own side).
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
dst, dur, pps = (sys.argv[1], 9), float(sys.argv[2]), int(sys.argv[3])
t0 = time.time()
n, b = 0, b"x" * 18
while True:
    now = time.time()
    if now - t0 >= dur:
        break
    if n > (now - t0) * pps:
        time.sleep(0.001)
        continue
    for _ in range(100):
        try:
            s.sendto(b, dst)
            n += 1
        except OSError:
            pass
print(n)
EOF
FLOODS=()
for k in $(seq "$FLOOD_PROCS"); do
	timeout $((FLOOD_S + 10)) ip netns exec "$NS_PEER" "$PY" "$KT_TMP/flood.py" $HOST4 "$FLOOD_S" "$FLOOD_PPS" \
		>"$KT_TMP/flood$k.out" 2>&1 &
	FLOODS+=("$!")
	KT_PIDS+=("$!")
done
# Watch both ends during the flood, every 100 ms: any moment not Up is a flap.
: >"$KT_TMP/watch"
end=$((SECONDS + FLOOD_S))
while ((SECONDS < end)); do
	bfd_up || echo "$(date +%T.%N) router '$(bfd_state "$ROUTER_CTL" $HOST4)' host '$(bfd_state "$HOST_CTL" $PEER4)'" >>"$KT_TMP/watch"
	sleep 0.1
done
for p in "${FLOODS[@]}"; do wait "$p" 2>/dev/null || true; done
sent=$(cat "$KT_TMP"/flood*.out | awk '{ s += $1 } END { print s + 0 }')
c1=$("$SEAM" counters "$NAME" --json)
softnet() { "$PY" -c 'print(sum(int(l.split()[1], 16) for l in open("/proc/net/softnet_stat")))'; }
log "kernel backlog drops so far (softnet_stat): $(softnet); ports: $("$SEAM" status "$NAME" --json | json_get 'j.get("ports")' 2>&1 | head -c 400)"
sleep 1
log "flood sent $sent datagrams ($((sent / FLOOD_S)) per second)"
delta() { "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print(eval(sys.argv[3]))' "$c0" "$c1" "$1"; }
log "during the flood: rx $(delta 'b["rx_pkts"]-a["rx_pkts"]') kernel $(delta 'b["kernel_pkts"]-a["kernel_pkts"]') control $(delta 'b["kernel_control"]-a["kernel_control"]') exception_limit $(delta 'b["drops"].get("exception_limit",0)-a["drops"].get("exception_limit",0)') tx_dropped $(delta 'b["tx_dropped"]-a["tx_dropped"]')"

check "the flood was a flood (> $((RATE * 3)) datagrams per second sent)" test "$sent" -gt $((RATE * 3 * FLOOD_S))
check "BFD Up at both ends at every 100 ms sample of the flood" test ! -s "$KT_TMP/watch"
check "router: the same BFD session, never down ('$r_bfd')" test "$(bfd_state "$ROUTER_CTL" $HOST4)" = "$r_bfd"
check "host: the same BFD session, never down ('$h_bfd')" test "$(bfd_state "$HOST_CTL" $PEER4)" = "$h_bfd"
check "router: BGP Established since before the flood ('$r_bgp')" test "$(bgp_state "$ROUTER_CTL")" = "$r_bgp"
check "host: BGP Established since before the flood ('$h_bgp')" test "$(bgp_state "$HOST_CTL")" = "$h_bgp"
check "the flood beyond the budget dropped as exception_limit" \
	test "$(delta 'b["drops"].get("exception_limit",0)-a["drops"].get("exception_limit",0) > 0')" = True
# The budget is a second's worth deep and refills RATE a second: at most RATE * (FLOOD_S + 2) passed.
check "what reached the kernel besides control stayed within the budget" test "$(delta \
	"(b['kernel_pkts']-a['kernel_pkts'])-(b['kernel_control']-a['kernel_control']) <= $RATE * ($FLOOD_S + 2)")" = True
check "BFD and BGP counted as control during the flood (>= 10 a second)" \
	test "$(delta "b['kernel_control']-a['kernel_control'] >= 10 * $FLOOD_S")" = True
check "counters: rx == fwd + replies + kernel + dropped" test "$(echo "$c1" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
((KT_FAILS == 0)) || { cat "$KT_TMP/watch"; grep -i "bfd\|state" "$KT_TMP/bird-router.log" | tail -5; }
stop_birds
dp_stop
check "keel-dataplane exits 0 on SIGTERM" test "$DP_RC" -eq 0
finish
