#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, QUIC connection-ID routing (docs/quic.md): a UDP VIP $VIP4:4433 with quic: true and
# server ids 1..3 on be1..be3 is added through `config apply`; a listener on each backend records
# which datagrams reach it (after keel-decap, as the backend's QUIC server would get them).
#   - a long header (v1 Initial) from one client port is balanced by Maglev to some backend X;
#   - short headers carrying X's server id, from that port and then from 20 other source ports
#     (NAT rebinding: the 5-tuple changes, the CID does not), all reach X;
#   - short headers with an unknown server id from 30 ports are balanced by hash (more than one
#     backend) and counted: quic_cid_unknown +30, quic_cid_routed +25 (keel-seam counters), and
#     keel_quic_cid_*_total in /metrics;
#   - the API's backend add on the QUIC VIP: refused without a server_id and with a duplicate one,
#     applied with its own.
# The packets are crafted (plain UDP sockets carrying QUIC header bytes), not a real QUIC stack:
# Debian 12's ngtcp2-client/ngtcp2-server (0.12.1) examples choose random connection IDs with no
# option to put a server id in them, and a QUIC-LB-aware server is not packaged. What Keel reads
# is only the header's first octets, which a crafted datagram carries exactly.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

PORT=4433
seam_ctr() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$SB_NAME" --json | json_get "j[\"$1\"]"; }
applied() { json_get 'j.get("applied") is True or j.get("changed") is False' | grep -q True; }

# The sandbox's configuration plus the QUIC VIP, server id b on be<b>.
{
	cat "$SB_DIR/keel.yaml"
	printf '  - name: quic\n    address: %s\n    port: %s\n    protocol: udp\n    quic: true\n' "$VIP4" "$PORT"
	printf '    health_check: { type: http, port: 80, path: /healthz }\n    backends:\n'
	for b in "${SB_BES[@]}"; do printf '      - { address: %s, server_id: %s }\n' "$(be4 "$b")" "$b"; done
} >"$KT_TMP/quic.yaml"
sb_api POST '/v1/config/apply?force=1' -H 'Content-Type: application/yaml' --data-binary @"$KT_TMP/quic.yaml" \
	>"$KT_TMP/apply.json" || die "config apply failed"
applied <"$KT_TMP/apply.json" || die "the QUIC VIP was not applied: $(head -c 400 "$KT_TMP/apply.json")"
wait_until 15 all_backends_up || die "not every backend healthy after the apply: $(sb_api GET /v1/health)"

# Backend side: what arrives on VIP:4433, one line per datagram (the tag the client put in it).
cat >"$KT_TMP/listen.py" <<'PYEOF'
import socket, sys
vip, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((vip, port))
with open(out, "a", buffering=1) as f:
    while True:
        data, peer = s.recvfrom(2048)
        tag = data.split(b"tag:", 1)[1].decode() if b"tag:" in data else "?"
        f.write(f"{tag} {peer[0]}:{peer[1]}\n")
PYEOF
for b in "${SB_BES[@]}"; do
	: >"$KT_TMP/be$b.txt"
	ip netns exec "$(ns_be "$b")" timeout 50 "$PY" "$KT_TMP/listen.py" "$VIP4" "$PORT" "$KT_TMP/be$b.txt" &
	KT_PIDS+=("$!")
done
for b in "${SB_BES[@]}"; do
	wait_until 5 in_ns "$(ns_be "$b")" ss -Hlun "sport = :$PORT" || die "be$b's listener did not start"
done

# Client side: each argument SPORT:KIND:TAG[:SID] sends one datagram from that source port.
cat >"$KT_TMP/send.py" <<'PYEOF'
import socket, struct, sys, time
vip, port = sys.argv[1], int(sys.argv[2])
for a in sys.argv[3:]:
    sport, kind, tag, *sid = a.split(":")
    if kind == "long":  # RFC 9000 17.2.2 Initial, v1: DCID 8 octets, SCID 0, then a token length 0
        q = bytes([0xc3]) + struct.pack(">I", 1) + bytes([8]) + bytes(range(8)) + b"\x00\x00"
    else:               # short header, QUIC-LB plaintext CID: config rotation 0, server id, nonce
        q = bytes([0x40, 0x07]) + struct.pack(">H", int(sid[0])) + b"\x5a" * 5
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", int(sport)))
    s.sendto(q + b"\x00" * 20 + b"tag:" + tag.encode(), (vip, port))
    s.close()
    time.sleep(0.005)
PYEOF
send() { in_ns "$NS_CLIENT" timeout 20 "$PY" "$KT_TMP/send.py" "$VIP4" "$PORT" "$@"; }
where() { grep -l "^$1 " "$KT_TMP"/be*.txt 2>/dev/null | sed 's/.*be\([0-9]*\)\.txt/\1/'; }
arrived() { [[ -n $(where "$1") ]]; }

r0=$(seam_ctr quic_cid_routed) u0=$(seam_ctr quic_cid_unknown)
send 42000:long:hs
wait_until 5 arrived hs || die "the long header reached no backend"
X=$(where hs)
log "the Initial from port 42000 went to be$X (Maglev); its connection IDs carry server id $X"

args=()
for i in 1 2 3 4 5; do args+=("42000:short:same$i:$X"); done
for i in $(seq 1 20); do args+=("$((43000 + 17 * i)):short:rebind$i:$X"); done
send "${args[@]}"
wait_until 5 arrived rebind20 || log "the last rebound datagram has not arrived"
n=$(grep -c '^same\|^rebind' "$KT_TMP/be$X.txt")
others=$(cat "$KT_TMP"/be*.txt | grep -c '^same\|^rebind')
log "short headers with server id $X: $n of 25 on be$X, $others in all"
check "25 short headers (5 from port 42000, 20 from other ports after rebinding) all reach be$X" \
	test "$n" -eq 25 -a "$others" -eq 25

args=()
for i in $(seq 1 30); do args+=("$((45000 + 31 * i)):short:unk$i:30583"); done
send "${args[@]}"
wait_until 5 arrived unk30 || log "the last unknown-id datagram has not arrived"
spread=$(for i in $(seq 1 30); do where "unk$i"; done | sort -u | wc -l)
got=$(cat "$KT_TMP"/be*.txt | grep -c '^unk')
log "unknown server id 0x7777: $got of 30 arrived, on $spread backend(s)"
check "unknown server id: 30 of 30 forwarded by flow hash, over more than one backend" \
	test "$got" -eq 30 -a "$spread" -gt 1

r1=$(seam_ctr quic_cid_routed) u1=$(seam_ctr quic_cid_unknown)
check "counters: quic_cid_routed $r0 -> $r1 (+25), quic_cid_unknown $u0 -> $u1 (+30)" \
	test $((r1 - r0)) -eq 25 -a $((u1 - u0)) -eq 30
in_ns "$(ns_keel 1)" curl -sf --max-time 5 "http://$SB_METRICS/metrics" >"$KT_TMP/metrics.txt" ||
	die "no scrape of http://$SB_METRICS/metrics"
check "/metrics: keel_quic_cid_routed_total counted" \
	grep -Eq '^keel_quic_cid_routed_total [1-9]' "$KT_TMP/metrics.txt"
check "/metrics: keel_quic_cid_unknown_total counted" grep -Eq '^keel_quic_cid_unknown_total [1-9]' "$KT_TMP/metrics.txt"

# Backend add through the API (keelctl backend add --server-id): the configuration's checks apply.
B3=$(be4 3)
JSON=(-H 'Content-Type: application/json')
sb_api DELETE "/v1/vips/quic/backends/$B3?force=1" | applied || die "removing be3 from the QUIC VIP failed"
sb_api POST '/v1/vips/quic/backends?force=1' "${JSON[@]}" -d "{\"address\": \"$B3\"}" >"$KT_TMP/add0.json"
check "backend add to a QUIC VIP without server_id: refused ($(tr -d "\n" <"$KT_TMP/add0.json" | head -c 160))" \
	grep -q 'missing required key \\"server_id\\"' "$KT_TMP/add0.json"
sb_api POST '/v1/vips/quic/backends?force=1' "${JSON[@]}" -d "{\"address\": \"$B3\", \"server_id\": 1}" >"$KT_TMP/add1.json"
check "backend add with another backend's server_id: refused ($(tr -d "\n" <"$KT_TMP/add1.json" | head -c 160))" \
	grep -q 'duplicate server_id 1' "$KT_TMP/add1.json"
sb_api POST '/v1/vips/quic/backends?force=1' "${JSON[@]}" -d "{\"address\": \"$B3\", \"server_id\": 3}" >"$KT_TMP/add3.json"
applied_file() { applied <"$1"; }
check "backend add with its own server_id: applied" applied_file "$KT_TMP/add3.json"
finish
