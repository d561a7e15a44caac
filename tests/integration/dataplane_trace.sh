#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keelctl trace through keel-control and keel-dataplane under looping traffic: a pcap (net_pcap
# infinite_rx=1 -> net_null) of background flows plus one packet of each kind: forwarded
# (tracked), an ICMP echo the VIP answers, and two drops (no_backend on a VIP without
# backends, ip4_src_link_local). Each kind is traced by its own filter and its block compared
# with what it must say (golden fields: tuple, VIP, flow, backend, verdict or reason, outer
# header); a filter that matches nothing yields no record; a trace of every packet armed and
# disarmed under traffic leaves every received packet accounted for, nothing dropped but the
# two planted reasons, and every worker at the generation.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl
need_scapy
need_hugepages 256
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME trc
SOCK=$KT_TMP/control.sock
# shellcheck disable=SC2034 # kt_config reads it
MPORT=$((20000 + ($$ + 11) % 20000))

kt_config >"$KT_TMP/keel.yaml" <<EOF
vips:
  - name: web
    address: 192.0.2.1
    port: 80
    protocol: tcp
    maglev_table_size: 251
    backends:
      - { address: 10.0.0.1 }
      - { address: 10.0.0.2 }
      - { address: 10.0.0.3 }
  - name: empty
    address: 192.0.2.2
    port: 80
    protocol: tcp
    backends: []
EOF

log "writing the looping pcap (200 background flows and the four planted packets)"
"$PY" - "$KT_TMP/loop.pcap" <<'EOF'
import sys
from scapy.all import Ether, IP, TCP, ICMP, wrpcap
port, client = "02:70:63:61:70:00", "02:00:00:00:00:01"  # net_pcap0's MAC, as gen_bench_pcap.py
e = Ether(dst=port, src=client)
pk = []
for i in range(200):
    pk.append(e / IP(src="10.9.%d.%d" % (i // 250, i % 250 + 1), dst="192.0.2.1") /
              TCP(sport=20000 + i, dport=80, flags="A") / (b"x" * 20))
pk.insert(50, e / IP(src="198.51.100.10", dst="192.0.2.1") / TCP(sport=1111, dport=80, flags="A") / (b"y" * 20))
pk.insert(100, e / IP(src="198.51.100.11", dst="192.0.2.1") / ICMP(type=8, id=7, seq=1) / (b"p" * 16))
pk.insert(150, e / IP(src="198.51.100.12", dst="192.0.2.2") / TCP(sport=2222, dport=80, flags="S"))
pk.insert(175, e / IP(src="169.254.1.1", dst="192.0.2.1") / TCP(sport=3333, dport=80, flags="S"))
wrpcap(sys.argv[1], pk)
EOF

log "keel-dataplane $NAME: net_pcap (infinite_rx) -> net_null, one worker"
# shellcheck disable=SC2046
DP_TIMEOUT=170 dp_start "$KT_TMP/dp.log" -- --lcores '0@0,1@1' $(eal_opts "$NAME") \
	--vdev "net_pcap0,rx_pcap=$KT_TMP/loop.pcap,infinite_rx=1" --vdev net_null0,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --wait-snapshot --flows 65536 \
	--slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
control_start timeout -s TERM -k 5 170 --
ctl() { timeout 30 "$KEELCTL" --socket "$SOCK" "$@"; }
status() { kt_api --max-time 5 /v1/status; }
workers_at() { "$SEAM" status "$NAME" --json | json_get "all(w['generation'] == $1 for w in j['workers'])" | grep -qx True; }
G=$(status | json_get 'j["generation"]')
check "first publish: every worker at generation $G" wait_until 10 workers_at "$G"

# One trace, one packet: its JSON record, and keelctl's text block for the log.
trace1() { # file, keelctl trace options...
	local f=$1
	shift
	ctl trace -j -c 1 -t 5 "$@" >"$f" 2>"$f.err" || { cat "$f.err"; return 1; }
	ctl trace show >"$f.txt" 2>&1 || true
	sed 's/^/    /' "$f.txt"
}
rec() { json_get "j['records'][0]$2 if j['records'] else None" <"$1"; }
golden() { # file, python expression over r (the record) that must hold
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); r=j["records"][0] if j["records"] else None; sys.exit(0 if r and eval(sys.argv[2]) else 1)' "$1" "$2"
}

log "trace: the forwarded flow (--src 198.51.100.10 --sport 1111)"
F=$KT_TMP/fwd.json
trace1 "$F" --src 198.51.100.10 --sport 1111
check "one record" test "$(json_get 'len(j["records"])' <"$F")" -eq 1
check "tuple tcp 198.51.100.10:1111 -> 192.0.2.1:80" golden "$F" \
	'r["tuple"] == {"family": 4, "proto": "tcp", "src": "198.51.100.10", "sport": 1111, "dst": "192.0.2.1", "dport": 80}'
check "VIP web, flow tracked (hit: the loop came round before)" golden "$F" 'r["vip"] == "web" and r["flow"] == "hit"'
check "forwarded to a backend of web, Maglev slot < 251" golden "$F" \
	'r["verdict"] == "forward" and r["backend"] in ("10.0.0.1", "10.0.0.2", "10.0.0.3") and 0 <= r["slot"] < 251 and r["drop_reason"] is None'
check "outer header: ipip 172.16.x.x -> the backend" golden "$F" \
	'r["outer"]["proto"] == "4" and r["outer"]["dst"] == r["backend"] and r["outer"]["src"].startswith("172.16.") and r["out_len"] == r["in_len"] + 20'
check "port 0, queue 0, not second chance" golden "$F" 'r["port"] == 0 and r["queue"] == 0 and r["second_chance"] is False'
LB=$(kt_api --max-time 5 "/v1/lookup?vip=web&src=198.51.100.10&sport=1111" | json_get 'j["backend"]')
check "keelctl lookup names the traced backend ($LB)" golden "$F" "r['backend'] == '$LB'"

log "trace: the answered echo (--proto icmp)"
F=$KT_TMP/echo.json
trace1 "$F" --proto icmp --vip web
check "echo from 198.51.100.11 answered: verdict reply, no flow, no backend" golden "$F" \
	'r["tuple"]["src"] == "198.51.100.11" and r["verdict"] == "reply" and r["flow"] == "none" and r["backend"] is None'
check "the reply's outer header goes back to the client" golden "$F" \
	'r["outer"]["proto"] == "icmp" and r["outer"]["src"] == "192.0.2.1" and r["outer"]["dst"] == "198.51.100.11"'

log "trace: drops, by reason"
F=$KT_TMP/nob.json
trace1 "$F" --drop no_backend
check "no_backend: VIP empty, 198.51.100.12:2222, dropped" golden "$F" \
	'r["vip"] == "empty" and r["tuple"]["sport"] == 2222 and r["verdict"] == "drop" and r["drop_reason"] == "no_backend" and r["outer"] is None'
F=$KT_TMP/ll.json
trace1 "$F" --drop any --src 169.254.0.0/16
check "ip4_src_link_local: 169.254.1.1:3333 to web, dropped before the flow table" golden "$F" \
	'r["tuple"]["src"] == "169.254.1.1" and r["drop_reason"] == "ip4_src_link_local" and r["flow"] == "none" and r["backend"] is None'

log "trace: a filter that matches nothing (--src 203.0.113.0/24, 2 s)"
F=$KT_TMP/none.json
ctl trace -j -c 5 -t 2 --src 203.0.113.0/24 >"$F"
check "no record, trace ended" test "$(json_get 'len(j["records"]) == 0 and j["done"]' <"$F")" = True
check "keelctl says so" bash -c "'$KEELCTL' --socket '$SOCK' trace show | grep -q 'no packet matched'"

log "trace: refusals"
check "--src without a valid prefix is refused (exit 65, nothing armed)" bash -c \
	"'$KEELCTL' --socket '$SOCK' trace --src 10.0.0.0/40 -t 1 >/dev/null 2>&1; test \$? -eq 64 -o \$? -eq 65"
check "an unknown VIP is refused" bash -c "! '$KEELCTL' --socket '$SOCK' trace --vip nosuch -t 1 >/dev/null 2>&1"
check "an unknown drop reason is refused" bash -c "! '$KEELCTL' --socket '$SOCK' trace --drop nosuch -t 1 >/dev/null 2>&1"

log "trace: 256 packets of anything, armed then disarmed under traffic"
c0=$(counter "$NAME" 'j["rx_pkts"]')
ctl trace --no-wait -c 256 -t 30 >/dev/null
sleep 0.5
ctl trace stop
A=$KT_TMP/all.json
ctl trace show -j >"$A"
check "records taken, at most 256, none after the stop" test "$(json_get '0 < len(j["records"]) <= 256 and not j["armed"]' <"$A")" = True
check "every record's verdict is forward, reply or drop" test "$(json_get 'all(r["verdict"] in ("forward", "reply", "drop") for r in j["records"])' <"$A")" = True
sleep 0.5
c1=$(counter "$NAME" 'j["rx_pkts"]')
check "traffic went on meanwhile (rx $c0 -> $c1)" test "$c1" -gt "$c0"
check "every worker still at generation $G" workers_at "$G"

log "stopping (SIGTERM keel-dataplane)"
dp_stop
check "keel-dataplane exits 0 (got $DP_RC)" test "$DP_RC" -eq 0
c=$("$SEAM" counters "$NAME" --json)
check "rx == forwarded + answered + kernel + dropped" test "$(echo "$c" |
	json_get 'j["rx_pkts"] == j["fwd_pkts"] + j["reply_pkts"] + j["kernel_pkts"] + j["dropped"]')" = True
check "no drop but the two planted reasons" test "$(echo "$c" |
	json_get 'sorted(k for k, v in j["drops"].items() if v) == ["ip4_src_link_local", "no_backend"]')" = True
check "the planted drops as often as each other (one per loop)" test "$(echo "$c" |
	json_get 'abs(j["drops"]["no_backend"] - j["drops"]["ip4_src_link_local"]) <= 1')" = True
kill -TERM "$CONTROL_PID"
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
	echo "    --- keel-dataplane log (tail)"
	tail -20 "$KT_TMP/dp.log" | sed 's/^/    /'
fi
finish
