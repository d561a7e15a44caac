#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Health checks through Keel's encapsulation (health_check.via: tunnel, docs/health.md): two
# namespaces joined by a veth, keel-control alone in the first (no dataplane: it builds and sends
# the probes itself), a backend in the second set up as docs/backend-setup.md says (VIPs on lo,
# keel-decap attached to its veth, strict rp_filter) with one TCP listener on 0.0.0.0:8080.
#  - VIPs tun (IPIP) and gue (GUE), checked via tunnel, and direct (the same backend and port,
#    checked on the backend's own address): all up;
#  - `keel-decap attach --del-vip` of tun's VIP on the backend: tun down within fall x interval
#    (+ slack), while direct and gue stay up (what the issue saw: be2 `up ok` while requests
#    through Keel timed out);
#  - `--vip` again: tun up;
#  - the listener stopped: tun and gue down "refused" (the backend's kernel answers the SYN with
#    a RST), direct down too; started: all up.
# Addresses are documentation ones (RFC 5737).
. "$(dirname "$0")/lib.sh"

DECAP=$BUILD/tools/keel-decap/keel-decap
CONTROL=$BUILD/control/keel-control

need_root
need_build
need_cmd ip nsenter curl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
[[ -x $DECAP ]] || skip "no keel-decap at $DECAP (-Dbpf=disabled, or clang/bpftool/libbpf missing?)"
kt_tmpdir
kt_name NAME ht
NSL=tl$KT_ID # the Keel host: keel-control
NSB=tb$KT_ID # the backend
IFL=tl$KT_ID
IFB=tb$KT_ID
PINS=/sys/fs/bpf/keel-decap-$IFB
SOCK=$KT_TMP/control.sock
LB4=203.0.113.1 BE4=203.0.113.5
VIP_TUN=198.51.100.10 VIP_GUE=198.51.100.11 VIP_DIRECT=198.51.100.12
INTERVAL_MS=300
FALL=2
# The checker's own time from the change to the verdict (the API's since_ms): fall x interval,
# plus the last probe's timeout and 1.5 s of slack for a loaded CI machine (its checks run late). The polls that
# see it get more room: each one is a curl and a python on that machine.
DOWN_MAX_MS=$((INTERVAL_MS * FALL + 200 + 1500))
DOWN_MAX_S=6

in_b() { nsenter --net="/var/run/netns/$NSB" "$@"; } # net namespace only: /sys/fs/bpf stays the host's

tunnel_cleanup() {
	local rc=$?
	set +e
	in_b "$DECAP" detach "$IFB" >/dev/null 2>&1
	rm -rf "$PINS"
	(exit "$rc")
	kt_cleanup
}
trap tunnel_cleanup EXIT

kt_netns "$NSL"
kt_netns "$NSB"
kt_veth "$IFL" "$NSL" "$IFB" "$NSB"
ip -n "$NSL" addr add $LB4/24 dev "$IFL"
# The SYN-ACKs come from the VIPs: route them back the way they come (strict rp_filter passes).
ip -n "$NSL" route add 198.51.100.0/24 via $BE4
ip -n "$NSB" addr add $BE4/24 dev "$IFB"
for v in $VIP_TUN $VIP_GUE $VIP_DIRECT; do ip -n "$NSB" addr add "$v/32" dev lo; done
for k in all.arp_ignore=1 all.arp_announce=2 all.rp_filter=1 "$IFB.rp_filter=1"; do
	ip netns exec "$NSB" sysctl -qw "net.ipv4.conf.$k"
done

cat >"$KT_TMP/listen.py" <<'EOF'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(64)
s.settimeout(0.5)
deadline = time.time() + 170
while time.time() < deadline:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
EOF
LISTENER=
listen_start() {
	ip netns exec "$NSB" "$PY" "$KT_TMP/listen.py" >>"$KT_TMP/listen.log" 2>&1 &
	LISTENER=$!
	KT_PIDS+=("$LISTENER")
	listening() { ip netns exec "$NSL" curl -s -o /dev/null --max-time 1 "telnet://$BE4:8080" </dev/null; [[ $? -ne 7 ]]; }
	wait_until 5 listening || die "the listener did not start"
}
listen_stop() {
	kill -TERM "$LISTENER"
	wait "$LISTENER" 2>/dev/null || true
}
listen_start

log "keel-decap on the backend's $IFB: VIPs $VIP_TUN $VIP_GUE $VIP_DIRECT"
in_b "$DECAP" attach "$IFB" --vip $VIP_TUN --vip $VIP_GUE --vip $VIP_DIRECT >/dev/null ||
	die "keel-decap attach failed"

T="interval: ${INTERVAL_MS}ms, timeout: 200ms, rise: 1, fall: $FALL"
kt_config >"$KT_TMP/keel.yaml" <<EOF
vips:
  - { name: tun, address: $VIP_TUN, port: 8080, protocol: tcp, maglev_table_size: 251,
      health_check: { type: tcp, via: tunnel, $T }, backends: [ { address: $BE4 } ] }
  - { name: gue, address: $VIP_GUE, port: 8080, protocol: tcp, encap: gue, maglev_table_size: 251,
      health_check: { type: tcp, via: tunnel, $T }, backends: [ { address: $BE4 } ] }
  - { name: direct, address: $VIP_DIRECT, port: 8080, protocol: tcp, maglev_table_size: 251,
      health_check: { type: tcp, $T }, backends: [ { address: $BE4 } ] }
EOF

log "keel-control in $NSL (no dataplane)"
control_start ip netns exec "$NSL" --

state() { kt_api --max-time 5 /v1/health | json_get '[e["health"]["state"] + " " + e["health"].get("last", "") for e in j if e["vip"] == "'"$1"'"][0]'; }
is() { [[ $(state "$1") == "$2"* ]]; }
expect() { # VIP "STATE LAST": within DOWN_MAX_S
	check "$1: $2" wait_until "$DOWN_MAX_S" is "$1" "$2"
	is "$1" "$2" || log "     now: $(state "$1")"
}

log "everything answering"
expect tun "up ok"
expect gue "up ok"
expect direct "up ok"
check "GET /v1/config keeps via: tunnel (canonical form)" test "$(kt_api /v1/config |
	json_get '[v["health_check"].get("via") for v in j["vips"]]')" = "['tunnel', 'tunnel', None]"
decap_counter() { in_b "$DECAP" status "$IFB" --json | json_get "j['counters']['$1']['packets']"; }
check "keel-decap stripped IPIP probes (decap_ipip)" test "$(decap_counter decap_ipip)" -gt 0
check "keel-decap stripped GUE probes (decap_gue)" test "$(decap_counter decap_gue)" -gt 0

log "keel-decap --del-vip $VIP_TUN on the backend"
ms() { echo $(($(date +%s%N) / 1000000)); }
in_b "$DECAP" attach "$IFB" --del-vip $VIP_TUN >/dev/null || die "keel-decap --del-vip failed"
t0=$(ms) # when the map no longer has the VIP (keel-decap returned)
expect tun "down timeout"
since=$(kt_api --max-time 5 /v1/health | json_get '[e["health"]["since_ms"] for e in j if e["vip"] == "tun"][0]')
log "MEASURED tun down after --del-vip: $((since - t0)) ms (fall x interval $((FALL * INTERVAL_MS)) ms)"
check "tun went down within fall x interval + timeout + 1.5 s ($((since - t0)) ms, limit $DOWN_MAX_MS ms)" \
	test $((since - t0)) -gt 0 -a $((since - t0)) -le $DOWN_MAX_MS
expect direct "up ok"
expect gue "up ok"
KEELCTL=$BUILD/tools/keelctl/keelctl
if [[ -x $KEELCTL ]]; then
	"$KEELCTL" --socket "$SOCK" health >"$KT_TMP/health.txt" 2>&1 || true
	check "keelctl health: tun's backend down, direct's up" \
		grep -qE "^tun +$BE4 .*down" "$KT_TMP/health.txt"
	grep -qE "^direct +$BE4 .*up" "$KT_TMP/health.txt" || { log "keelctl health:"; sed 's/^/    /' "$KT_TMP/health.txt"; }
fi

log "keel-decap --vip $VIP_TUN again"
in_b "$DECAP" attach "$IFB" --vip $VIP_TUN >/dev/null || die "keel-decap --vip failed"
expect tun "up ok"

log "the listener stopped: the backend's kernel answers the SYN with a RST"
listen_stop
expect tun "down refused"
expect gue "down refused"
expect direct "down refused"
listen_start
expect tun "up ok"
expect gue "up ok"
expect direct "up ok"

if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
