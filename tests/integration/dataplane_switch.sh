#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Snapshot switching under traffic: a pcap loops forever (net_pcap infinite_rx=1) through the
# workers into net_null while 1000 snapshots alternate between two specs (a backend added and
# removed, weights and states changed). Every publication must be acknowledged by every worker,
# no snapshot refused, and after stopping every received packet accounted for.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 512
kt_tmpdir
kt_name NAME switch
PUBLICATIONS=${KEEL_SWITCH_PUBLICATIONS:-1000}

# Two workers if the host lets us: on 2 CPUs, main lcore 0 on CPU 0, workers 1 and 2 on CPUs 0
# and 1 (one of them sharing the main lcore's CPU); one worker on a single CPU.
NCPU=$(nproc)
if ((NCPU >= 3)); then
	# shellcheck disable=SC2054 # one argument, commas are EAL syntax
	LCORES=(-l 0,1,2)
	WORKERS=2
elif ((NCPU == 2)); then
	LCORES=(--lcores '0@0,1@1,2@0')
	WORKERS=2
else
	LCORES=(--lcores '0@0,1@0')
	WORKERS=1
fi

log "generating the looped traffic (IPv4 TCP, IPv4 UDP to a GUE VIP, IPv6 TCP; 3 x 300 flows)"
"$PY" - "$KT_TMP/loop0.pcap" "$KT_TMP/loop1.pcap" <<'EOF'
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, IPv6, TCP, UDP, Raw, wrpcap
pk = []
for k in range(300):
    # to net_pcap0's own MAC: Keel takes nothing else
    e = Ether(src="02:00:00:00:00:c1", dst="02:70:63:61:70:00")
    pk.append(e / IP(src=f"203.0.113.{k % 250 + 2}", dst="192.0.2.10") / TCP(sport=10000 + k, dport=80, flags="A") / Raw(b"x" * 32))
    pk.append(e / IP(src=f"203.0.113.{k % 250 + 2}", dst="192.0.2.53") / UDP(sport=20000 + k, dport=53) / Raw(b"q" * 24))
    pk.append(e / IPv6(src=f"2001:db8:c::{k + 1:x}", dst="2001:db8::10") / TCP(sport=30000 + k, dport=443, flags="A"))
# one file per RX queue (net_pcap: one queue per rx_pcap), flows split between them
wrpcap(sys.argv[1], pk[0::2])
wrpcap(sys.argv[2], pk[1::2])
EOF

# Spec A and spec B: same VIPs, stable backend ids; B removes 198.51.100.3, adds
# 198.51.100.4, changes weights and drains one; the GUE VIP swaps families of backends.
cat >"$KT_TMP/a.txt" <<'EOF'
src4 203.0.113.128/25
src6 2001:db8:5eed::/64
vip 192.0.2.10:80/tcp id=0
backend 198.51.100.1 id=0
backend 198.51.100.2 id=1
backend 198.51.100.3 id=2 weight=2
vip 192.0.2.53:53/udp gue id=1
backend 198.51.100.53 id=10
backend 2001:db8:b::53 id=11
vip [2001:db8::10]:443/tcp id=2
backend 2001:db8:b::1 id=20
backend 2001:db8:b::2 id=21
EOF
cat >"$KT_TMP/b.txt" <<'EOF'
src4 203.0.113.128/25
src6 2001:db8:5eed::/64
vip 192.0.2.10:80/tcp id=0
backend 198.51.100.1 id=0 weight=3
backend 198.51.100.2 id=1 state=draining
backend 198.51.100.4 id=3
vip 192.0.2.53:53/udp gue id=1
backend 2001:db8:b::53 id=11
backend 2001:db8:b::54 id=12 weight=2
vip [2001:db8::10]:443/tcp id=2
backend 2001:db8:b::1 id=20 weight=5
backend 2001:db8:b::2 id=21 state=down
backend 2001:db8:b::3 id=22
EOF

# net_pcap: one RX queue per rx_pcap (each worker loops its own file); net_null with no-rx=1,
# a TX-only sink (its default RX would invent packets that the workers poll too).
RX_PCAPS=rx_pcap=$KT_TMP/loop0.pcap
((WORKERS == 1)) || RX_PCAPS+=,rx_pcap=$KT_TMP/loop1.pcap
log "keel-dataplane $NAME: net_pcap (infinite_rx) -> net_null, $WORKERS worker(s) (${LCORES[*]})"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" -- "${LCORES[@]}" $(eal_opts "$NAME") \
	--vdev "net_pcap0,$RX_PCAPS,infinite_rx=1" --vdev net_null0,no-rx=1 \
	-- --name "$NAME" --workers "$WORKERS" --tx-port 0=1 --wait-snapshot --flows 65536 --slots 4 \
	--slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"

log "$PUBLICATIONS publications alternating a.txt / b.txt under traffic"
failed_pub=0
t_pub=$SECONDS
for ((i = 1; i <= PUBLICATIONS; i++)); do
	spec=$KT_TMP/a.txt
	((i % 2)) || spec=$KT_TMP/b.txt
	if ! out=$(timeout 10 "$SEAM" publish "$NAME" "$spec" --timeout 5000 2>&1); then
		failed_pub=$((failed_pub + 1))
		((failed_pub > 5)) || log "publication $i failed: $out"
		((failed_pub < 50)) || break
		continue
	fi
	if [[ $out != *"generation $i active on $WORKERS workers"* ]]; then
		failed_pub=$((failed_pub + 1))
		((failed_pub > 5)) || log "publication $i not acknowledged by all workers: $out"
	fi
	if ((i == 1)); then
		log "first: $out"
	fi
done
log "publications done in $((SECONDS - t_pub)) s; last: $out"
mid=$("$SEAM" counters "$NAME" --json | json_get 'j["rx_pkts"]')
log "packets received so far: $mid"

dp_stop
check "keel-dataplane exits 0 on SIGTERM (got $DP_RC)" test "$DP_RC" -eq 0
st=$("$SEAM" status "$NAME" --json)
c=$("$SEAM" counters "$NAME" --json)
echo "$st" >"$KT_TMP/status.json"
echo "$c" >"$KT_TMP/counters.json"
log "status: $(echo "$st" | json_get '[{k: w[k] for k in ("worker","generation","activations","refused")} for w in j["workers"]]')"
log "counters: $(echo "$c" | json_get '{k: j[k] for k in ("rx_pkts","fwd_pkts","reply_pkts","kernel_pkts","dropped","tx_dropped","drops","rechosen")}')"

check "every publication succeeded, acknowledged by all $WORKERS workers ($failed_pub failed)" test "$failed_pub" -eq 0
check "state ended after SIGTERM" test "$(echo "$st" | json_get 'j["state"]')" = ended
check "$WORKERS worker(s) in the region" test "$(echo "$st" | json_get 'len(j["workers"])')" -eq "$WORKERS"
check "every worker at generation >= $PUBLICATIONS" test "$(echo "$st" |
	json_get "all(w['generation'] >= $PUBLICATIONS for w in j['workers'])")" = True
check "every worker activated all $PUBLICATIONS snapshots" test "$(echo "$st" |
	json_get "all(w['activations'] >= $PUBLICATIONS for w in j['workers'])")" = True
check "no snapshot refused by any worker" test "$(echo "$st" |
	json_get 'sum(w["refused"] for w in j["workers"])')" -eq 0
check "traffic flowed throughout (rx > 100000)" test "$(echo "$c" | json_get 'j["rx_pkts"]')" -gt 100000
check "rx == forwarded + replies + kernel + dropped" test "$(echo "$c" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
check "no drop of any reason (every packet met a valid snapshot with a backend)" test "$(echo "$c" |
	json_get 'j["dropped"]')" -eq 0
check "net_null refused nothing (tx_dropped == 0)" test "$(echo "$c" | json_get 'j["tx_dropped"]')" -eq 0
check "per-backend packets sum to forwarded" test "$(echo "$c" |
	json_get 'sum(b["pkts"] for b in j["backends"].values()) == j["fwd_pkts"]')" = True
check "per-VIP packets sum to forwarded" test "$(echo "$c" |
	json_get 'sum(v["pkts"] for v in j["vips"].values()) == j["fwd_pkts"]')" = True
check "backends only in spec B (ids 3, 12, 22) received traffic" test "$(echo "$c" |
	json_get 'all(j["backends"].get(b, {}).get("pkts", 0) > 0 for b in ("3", "12", "22"))')" = True
check "backend only in spec A (id 2) received traffic" test "$(echo "$c" |
	json_get 'j["backends"].get("2", {}).get("pkts", 0) > 0')" = True
((KT_FAILS == 0)) || sed 's/^/    /' "$KT_TMP/dp.log"
finish
