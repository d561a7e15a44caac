#!/usr/bin/env bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Next hops on ports of their own (a dual-homed host, one port per ToR): the golden fixtures
# through a dataplane with two net_pcap ports, next hop 1 on port 1. Its frames must come out
# of port 1 alone, with port 1's source MAC; everything else out of port 0 as before.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 256
kt_tmpdir
kt_name NAME twoport

"$PY" "$KT_ROOT/tests/fixtures/gen_dataplane_fixtures.py" "$KT_TMP" >/dev/null
PORT1_SRC=02:00:00:00:00:b1
# The second next-hop line gains "port 2 (index 1 + 1) and its source MAC".
awk -v src="$PORT1_SRC" '/^next-hop / { n++; if (n == 2) { print $0 " 2 " src; next } } { print }' \
	"$KT_TMP/spec.txt" >"$KT_TMP/spec2.txt"
HOP1=$(awk '/^next-hop / { n++; if (n == 2) print $2 }' "$KT_TMP/spec.txt")
[[ -n $HOP1 ]] || die "the fixtures have no second next hop"
"$PY" -c 'from scapy.all import wrpcap; wrpcap("'"$KT_TMP"'/empty.pcap", [])'

log "starting keel-dataplane $NAME with two net_pcap ports"
# shellcheck disable=SC2046 # EAL options are words by design
dp_start "$KT_TMP/dp.log" -- -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_pcap0,rx_pcap=$KT_TMP/in.pcap,tx_pcap=$KT_TMP/out0.pcap" \
	--vdev "net_pcap1,rx_pcap=$KT_TMP/empty.pcap,tx_pcap=$KT_TMP/out1.pcap" \
	-- --name "$NAME" --wait-snapshot --idle backoff --flows 65536
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec2.txt" >/dev/null || die "publish failed"
N=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["n_in"])' "$KT_TMP/expected.json")
rx_done() { [[ $(counter "$NAME" 'j["rx_pkts"]') -ge $N ]]; }
wait_until 20 rx_done || log "only $(counter "$NAME" 'j["rx_pkts"]') of $N received"
sleep 0.5
dp_stop
"$SEAM" counters "$NAME" --json >"$KT_TMP/counters.json"
check "next hop 1's frames out of port 1 alone, with port 1's MAC; the others out of port 0" \
	"$PY" -c '
import json, sys
from scapy.all import rdpcap
hop1, src1 = sys.argv[1].lower(), sys.argv[2].lower()
out0 = [bytes(p) for p in rdpcap(sys.argv[3])]
out1 = [bytes(p) for p in rdpcap(sys.argv[4])]
ctr = json.load(open(sys.argv[5]))
mac = lambda b: ":".join(f"{x:02x}" for x in b)
bad0 = [f for f in out0 if mac(f[:6]) == hop1]
bad1 = [f for f in out1 if mac(f[:6]) != hop1 or mac(f[6:12]) != src1]
nh = ctr["next_hop_pkts"]
print(f"    port 0: {len(out0)} frames, port 1: {len(out1)}, next hop counters {nh[:2]}")
sys.exit(1 if bad0 or bad1 or not out1 or len(out1) != nh[1] else 0)
' "$HOP1" "$PORT1_SRC" "$KT_TMP/out0.pcap" "$KT_TMP/out1.pcap" "$KT_TMP/counters.json"
finish
