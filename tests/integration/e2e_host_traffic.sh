#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end, host traffic: an SSH-like TCP service on the Keel host's own addresses (a Python
# echo server on 203.0.113.10:2222 and [2001:db8:b::10]:2222 in keel1's namespace, outside
# keel-dataplane: the steering program hands non-VIP traffic to the kernel) keeps working while
# keel-dataplane forwards: 300 connections to it from the client (alternately IPv4 and IPv6,
# each a 16 KiB exchange echoed back byte for byte, as an interactive session plus a copy) all
# succeed while HTTP bursts to the VIP run the whole time (every VIP request succeeds too, and
# they overlap: at least 3 bursts run during the host series).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

K4=$KEEL1_4 K6=$(keel6 1)
cat >"$KT_TMP/hostsvc.py" <<'PYEOF'
import socket, socketserver, sys, time
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(65536)
            if not b:
                return
            self.request.sendall(b)
class S(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
srv = S(("::", 2222), Echo)
print("listening", flush=True)
srv.timeout = 0.5
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline:
    srv.handle_request()
PYEOF
in_ns "$(ns_keel 1)" "$PY" "$KT_TMP/hostsvc.py" 100 >"$KT_TMP/hostsvc.log" 2>&1 &
KT_PIDS+=("$!")
wait_until 10 grep -q listening "$KT_TMP/hostsvc.log" || die "host service did not start: $(cat "$KT_TMP/hostsvc.log")"

cat >"$KT_TMP/hostcl.py" <<'PYEOF'
# N sequential sessions to the host service, alternating addresses: {"ok", "fail", "errors", "seconds"}
import collections, json, os, socket, sys, time
addrs, n = sys.argv[1].split(","), int(sys.argv[2])
t0, ok, errs = time.time(), 0, collections.Counter()
for i in range(n):
    a = addrs[i % len(addrs)]
    try:
        s = socket.create_connection((a, 2222), timeout=3)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for k in range(3):  # keystrokes
            s.sendall(b"ls -l %d\n" % k)
            if s.recv(100) != b"ls -l %d\n" % k:
                raise ValueError("bad echo")
        data = os.urandom(16384)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                raise ConnectionResetError("EOF")
            got += b
        if got != data:
            raise ValueError("corrupt copy")
        s.close()
        ok += 1
    except (OSError, ValueError) as e:
        errs[f"{a}: {type(e).__name__} {e}"[:80]] += 1
    time.sleep(0.01)
print(json.dumps({"ok": ok, "fail": sum(errs.values()), "errors": dict(errs), "seconds": round(time.time() - t0, 2)}))
PYEOF

rx0=$(KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$SB_NAME" --json | json_get 'j["rx_pkts"]')
N=300
ip netns exec "$NS_CLIENT" timeout 90 "$PY" "$KT_TMP/hostcl.py" "$K4,$K6" $N >"$KT_TMP/host.json" 2>&1 &
HP=$!
KT_PIDS+=("$HP")
bursts=0 vip_ok=0 vip_fail=0
while kill -0 "$HP" 2>/dev/null; do
	r=$(client http --vip "$VIP4" --n 500 --conc 16)
	read -r o f < <(json_get '"%d %d" % (j["ok"], j["fail"])' <<<"$r")
	vip_ok=$((vip_ok + o)) vip_fail=$((vip_fail + f)) bursts=$((bursts + 1))
	((f == 0)) || log "VIP burst $bursts: $r"
done
wait "$HP" || true
rx1=$(KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$SB_NAME" --json | json_get 'j["rx_pkts"]')
host=$(cat "$KT_TMP/host.json")
log "host service ($K4, [$K6] port 2222), $N sessions: $host"
log "VIP during it: $bursts bursts, $vip_ok requests ok, $vip_fail failed; keel-dataplane rx_pkts +$((rx1 - rx0))"
host_ok() { [[ $(json_get "j['ok'] == $N and j['fail'] == 0" <<<"$host") == True ]]; }
check "all $N sessions to the Keel host's own service succeeded" host_ok
check "every VIP request during them succeeded ($vip_ok, 0 failed)" test "$vip_fail" -eq 0 -a "$vip_ok" -gt 0
check "the VIP was busy the whole time: at least 3 bursts during the host series ($bursts)" test "$bursts" -ge 3
finish
