#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# The health check kinds against real servers in a namespace the test creates, each seen up and
# then down. keel-control runs alone in the namespace (no dataplane needed to check health).
#  - https: python3 http.server behind ssl with a certificate made here by `openssl req`; it
#    answers 200 only when the TLS server name (SNI) and the Host header are both svc.test, 421
#    otherwise. Check {type: https, host: svc.test, expect_status: "200-299"}: up. A second VIP
#    without `host` gets 421 there: down (bad status). Server stopped: down (refused).
#  - udp: a python echo answering "pong " + the datagram. {send: ping, expect: "pong ping"}: up;
#    a VIP expecting other bytes: down (bad_response); echo stopped: down (ICMP unreachable).
#  - dns: a tiny python responder (A 192.0.2.7 for svc.test, NXDOMAIN otherwise).
#    {query: svc.test, query_type: A}: up; a VIP asking gone.test: down (nxdomain); responder
#    stopped: down.
#  - health_check.address: a VIP whose backends do not exist, checked on the HTTPS server's
#    address and port (tcp): up while it listens, down when it stops.
#  - the API answers while every check is down or waiting (GET /v1/status timed).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl ip openssl
CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
"$PY" -c 'import http.server, ssl' 2>/dev/null || skip "$PY has no http.server or ssl"
kt_tmpdir
kt_name NAME hk
NS=kk$KT_ID
SOCK=$KT_TMP/control.sock
SRV=10.0.0.1
INTERVAL_MS=300
FALL=2
DOWN_MAX_S=$(((INTERVAL_MS * FALL + 1500) / 1000 + 1))

kt_netns "$NS"
if ! ip -n "$NS" link add hk0 type dummy 2>/dev/null; then
	ip -n "$NS" link add hk0 type veth peer name hk1 || skip "neither dummy nor veth interfaces here"
	ip -n "$NS" link set hk1 up
fi
ip -n "$NS" link set hk0 up
ip -n "$NS" addr add $SRV/24 dev hk0
ip -n "$NS" neigh replace 10.0.0.254 lladdr 02:00:5e:10:00:01 dev hk0 nud permanent

log "a self-signed certificate for svc.test (openssl req)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=svc.test \
	-keyout "$KT_TMP/key.pem" -out "$KT_TMP/cert.pem" >/dev/null 2>&1 || die "openssl req failed"

cat >"$KT_TMP/servers.py" <<'EOF'
import http.server, socket, ssl, struct, sys
kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "https":
    cert, key = sys.argv[4], sys.argv[5]
    sni = {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    def remember(sock, name, _ctx):
        sni[id(sock)] = name
    ctx.sni_callback = remember
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = sni.pop(id(self.connection), None)
            ok = name == "svc.test" and self.headers.get("Host") == "svc.test:8443" and self.path == "/ready"
            self.send_response(200 if ok else 421)
            self.end_headers()
            self.wfile.write(b"sni=%s host=%s\n" % (str(name).encode(), str(self.headers.get("Host")).encode()))
        def log_message(self, *a):
            pass
    srv = http.server.HTTPServer((addr, port), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    data, peer = s.recvfrom(4096)
    if kind == "udp":
        s.sendto(b"pong " + data, peer)
        continue
    # DNS (RFC 1035 4.1): copy the question; A 192.0.2.7 for svc.test, NXDOMAIN for the rest.
    if len(data) < 12:
        continue
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode(errors="replace"))
        i += 1 + data[i]
    question = data[12:i + 5]
    qtype = struct.unpack(">H", data[i + 1:i + 3])[0] if i + 3 <= len(data) else 0
    name = ".".join(labels).lower()
    if name == "svc.test" and qtype == 1:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 7])
        s.sendto(struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr, peer)
    else:
        s.sendto(struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question, peer)
EOF

declare -A PID
start() { # kind port [args]: a server in the namespace
	local kind=$1 port=$2
	shift 2
	ip netns exec "$NS" "$PY" "$KT_TMP/servers.py" "$kind" $SRV "$port" "$@" >>"$KT_TMP/srv-$kind.log" 2>&1 &
	PID[$kind]=$!
	KT_PIDS+=("$!")
}
stop() {
	kill -TERM "${PID[$1]}"
	wait "${PID[$1]}" 2>/dev/null || true
}
start https 8443 "$KT_TMP/cert.pem" "$KT_TMP/key.pem"
start udp 9000
start dns 5353
https_up() { ip netns exec "$NS" curl -sk -o /dev/null --max-time 1 --resolve svc.test:8443:$SRV https://svc.test:8443/ready; }
wait_until 5 https_up || die "the HTTPS server did not start"
check "the HTTPS server wants SNI and Host svc.test (curl)" test "$(ip netns exec "$NS" curl -sk -o /dev/null -w '%{http_code}' \
	--max-time 2 --resolve svc.test:8443:$SRV https://svc.test:8443/ready)" = 200

T="interval: ${INTERVAL_MS}ms, timeout: 200ms, rise: 1, fall: $FALL"
kt_config gateway=10.0.0.254 metrics=127.0.0.1:9107 >"$KT_TMP/keel.yaml" <<EOF
vips:
  - { name: web, address: 192.0.2.1, port: 8443, protocol: tcp, maglev_table_size: 251,
      health_check: { type: https, host: svc.test, path: /ready, expect_status: "200-299", $T },
      backends: [ { address: $SRV } ] }
  - { name: nosni, address: 192.0.2.2, port: 8443, protocol: tcp, maglev_table_size: 251,
      health_check: { type: https, path: /ready, $T }, backends: [ { address: $SRV } ] }
  - { name: echo, address: 192.0.2.3, port: 9000, protocol: udp, maglev_table_size: 251,
      health_check: { type: udp, send: ping, expect: "pong ping", $T }, backends: [ { address: $SRV } ] }
  - { name: echo-wrong, address: 192.0.2.4, port: 9000, protocol: udp, maglev_table_size: 251,
      health_check: { type: udp, send: ping, expect: "PONG", $T }, backends: [ { address: $SRV } ] }
  - { name: dns, address: 192.0.2.5, port: 53, protocol: udp, maglev_table_size: 251,
      health_check: { type: dns, port: 5353, query: svc.test, query_type: A, $T },
      backends: [ { address: $SRV } ] }
  - { name: dns-gone, address: 192.0.2.6, port: 53, protocol: udp, maglev_table_size: 251,
      health_check: { type: dns, port: 5353, query: gone.test, $T }, backends: [ { address: $SRV } ] }
  - { name: via, address: 192.0.2.7, port: 80, protocol: tcp, maglev_table_size: 251,
      health_check: { type: tcp, address: $SRV, port: 8443, $T },
      backends: [ { address: 10.0.0.50 }, { address: 10.0.0.51 } ] }
EOF

log "keel-control in $NS (no dataplane)"
control_start ip netns exec "$NS" --

health() { kt_api --max-time 5 /v1/health; }
# state VIP [BACKEND]: the health state (and last result) of the VIP's first or named backend
state() { health | json_get '[e["health"]["state"] + " " + e["health"].get("last", "") for e in j if e["vip"] == "'"$1"'" and e["backend"] == "'"${2:-$SRV}"'"][0]'; }
is() { [[ $(state "$1" "${3:-}") == "$2"* ]]; }
# expect VIP STATE LAST [BACKEND]: within the bound, the state and the start of the last result
expect() {
	local vip=$1 want=$2 last=${3:-} be=${4:-$SRV}
	check "$vip ($be): $want, $last" wait_until "${BOUND:-$DOWN_MAX_S}" is "$vip" "$want $last" "$be"
	is "$vip" "$want $last" "$be" || log "     now: $(state "$vip" "$be")"
}

log "every server answering"
expect web up ok
expect nosni down "bad status 421"
expect echo up ok
expect echo-wrong down "bad_response: answer without the expected bytes"
expect dns up ok
expect dns-gone down "bad_response: nxdomain"
expect via up ok 10.0.0.50
expect via up ok 10.0.0.51
check "GET /v1/config keeps the kinds (canonical form)" test "$(kt_api /v1/config |
	json_get '[v["health_check"] for v in j["vips"] if v["name"] == "web"][0]["expect_status"] + " " + [v["health_check"] for v in j["vips"] if v["name"] == "dns"][0]["query_type"]')" = "200-299 A"

log "servers stopped, one by one"
stop https
expect web down "refused"
expect via down "refused" 10.0.0.50
stop udp
expect echo down "refused"
stop dns
expect dns down
# The request's own time (curl's time_total), not curl's start-up on a busy machine.
worst=0
for _ in 1 2 3 4 5; do
	t=$(kt_api -o /dev/null -w '%{time_total}' --max-time 2 /v1/status) || t=9
	worst=$(echo "$worst $t" | awk '{print ($2 > $1) ? $2 : $1}')
done
log "MEASURED slowest of 5 x GET /v1/status with every check down: $worst s"
check "the API answers meanwhile (each GET in under 1 s)" awk -v w="$worst" 'BEGIN { exit !(w < 1) }'

log "servers back"
start https 8443 "$KT_TMP/cert.pem" "$KT_TMP/key.pem"
start udp 9000
start dns 5353
wait_until 10 https_up || die "the HTTPS server did not start again"
BOUND=10 # python servers start slowly on a busy machine; the checks follow within an interval
expect web up ok
expect via up ok 10.0.0.51
expect echo up ok
expect dns up ok

kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
if ((KT_FAILS)); then
	echo "    --- keel-control log (tail)"
	tail -20 "$KT_TMP/control.log" | sed 's/^/    /'
fi
finish
