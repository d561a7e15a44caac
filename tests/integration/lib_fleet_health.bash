# shellcheck shell=bash
# For the fleet_health_* scenarios: after lib_fleet.bash, a seed spec whose VIP web checks its four
# backends (TCP, port 80, every 200 ms, rise 2, fall 2); after fleet_setup, fh_backends puts the
# backends at ETCD_NET.201-204 in a namespace of their own on the clients' bridge, one listener on
# port 80 for all four. Source it after lib_fleet.bash, before fleet_setup.
#
#   fh_backends                 the backends' namespace (FH_BNS) and listener
#   fh_nft NS CHAIN RULE...     add a rule to chain input or output of table inet kt in NS
#   fh_nft_flush NS             remove those rules
#   fh_await TIMEOUT EXPR I...  poll hosts I... every 20 ms until the Python expression holds on
#                               each: prints the ms it took (the slowest host), exit 1 on timeout.
#                               In EXPR: slots(b) (b's slots in web's running table), fh(b) (b's
#                               row of GET /v1/fleet/health), fhv (that whole answer); with
#                               FH_T0=EPOCH_SECONDS the ms are counted from then

FH_NET=${ETCD_NET:-10.99.0}
FH_B=("" "$FH_NET.201" "$FH_NET.202" "$FH_NET.203" "$FH_NET.204")
FH_HC='"health_check":{"type":"tcp","interval":"200ms","timeout":"100ms","rise":2,"fall":2}'
# shellcheck disable=SC2034 # read by fleet_setup (lib_fleet.bash)
FLEET_SEED='{"version":1,"fleet_seed":"0x6b65656c","vips":[{"name":"web","address":"192.0.2.1","port":80,"protocol":"tcp","maglev_table_size":1021,'$FH_HC',"backends":[{"address":"'${FH_B[1]}'"},{"address":"'${FH_B[2]}'"},{"address":"'${FH_B[3]}'"},{"address":"'${FH_B[4]}'"}]}]}'

fh_backends() {
	local i
	need_cmd nft
	FH_BNS=ke${KT_ID}b
	etcd_ns_on_bridge "$FH_BNS" 200
	for i in 1 2 3 4; do ip -n "$FH_BNS" addr add "${FH_B[i]}/24" dev eth0; done
	ip netns exec "$FH_BNS" "$PY" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()' >>"$KT_TMP/backends.log" 2>&1 &
	KT_PIDS+=("$!")
}

fh_nft() { # namespace, chain (input|output), rule...
	local ns=$1 ch=$2
	shift 2
	if ! ip netns exec "$ns" nft list table inet kt >/dev/null 2>&1; then
		ip netns exec "$ns" nft add table inet kt
		ip netns exec "$ns" nft add chain inet kt input '{ type filter hook input priority 0; }'
		ip netns exec "$ns" nft add chain inet kt output '{ type filter hook output priority 0; }'
	fi
	ip netns exec "$ns" nft add rule inet kt "$ch" "$@"
}
fh_nft_flush() { ip netns exec "$1" nft flush table inet kt 2>/dev/null || true; }

cat >"$KT_TMP/fh_await.py" <<'PYEOF'
import http.client, json, os, socket, sys, time
timeout, expr, socks = float(sys.argv[1]), sys.argv[2], sys.argv[3:]


class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("keel", timeout=5)
        self.upath = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.upath)
        self.sock = s


def get(path, what):
    c = Conn(path)
    c.request("GET", what)
    r = c.getresponse()
    d = json.loads(r.read())
    c.close()
    return d


t0 = float(os.environ.get('FH_T0') or time.time())  # the event's time, when the caller took it
done = {}
last = {}
while len(done) < len(socks):
    for p in socks:
        if p in done:
            continue
        try:
            tab = get(p, "/v1/vips/web/table")
            fhv = get(p, "/v1/fleet/health")
            slots = lambda b: [e["slots"] for e in tab["backends"] if e["backend"] == b][0]
            fh = lambda b: [e for e in fhv["backends"] if e["backend"] == b][0]
            last[p] = fhv
            if eval(expr):
                done[p] = time.time() - t0
        except Exception as e:
            last[p] = repr(e)
    if time.time() - t0 > timeout:
        print("    timeout after %.1f s: %s; last: %s" % (timeout, expr, json.dumps(last)[:1500]), file=sys.stderr)
        print(-1)
        sys.exit(1)
    time.sleep(0.02)
print(round(max(done.values()) * 1000))
PYEOF

fh_await() { # timeout_s expr host...
	local t=$1 e=$2 i socks=()
	shift 2
	for i in "$@"; do socks+=("$KT_TMP/c$i.sock"); done
	"$PY" "$KT_TMP/fh_await.py" "$t" "$e" "${socks[@]}"
}
