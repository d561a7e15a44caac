# shellcheck shell=bash
# For the fleet_health_* scenarios: tools/sandbox in fleet mode (two Keel hosts behind the router's
# ECMP, BGP, three etcd members; tools/sandbox.d/fleet.sh), its VIP stream (192.0.2.10:9000, the
# backends be1..be3, a TCP check every 1 s, rise 2, fall 2) under fleet.sh's 300 long-lived
# connections. Source it after fleet.sh, call fh_setup after fleet_up.
#
#   fh_setup                    the poller below, in KT_TMP
#   fh_nft NS CHAIN RULE...     add a rule to chain input or output of table inet kt in NS
#   fh_nft_flush NS             remove those rules
#   fh_await TIMEOUT EXPR K...  poll hosts K... every 50 ms until the Python expression holds on
#                               each, exit 1 on timeout; with FH_T0=EPOCH_SECONDS it prints the ms
#                               from then until it held on every host.
#                               In EXPR: slots(b) (b's slots in FH_VIP's running table, stream
#                               by default), fh(b) (b's row of FH_VIP in GET /v1/fleet/health),
#                               fhv (that whole answer), tab (the table). With FH_ACROSS=1, EXPR
#                               once over every host's answers: H (health), T (tables), row(h, b)
#   fh_across TIMEOUT EXPR K... fh_await with FH_ACROSS=1
#   fh_converged [TIMEOUT]      every host at the store's spec revision, with keel1's digests
#   fh_disagree K BACKEND V     keel_health_disagreement{vip=FH_VIP,backend} is V on host K
#   vip_via_only K              the router sends VIP4 to host K alone
#   traffic_ready               fleet.sh's 300 connections all open (else the
#                               scenario stops: the sandbox does not forward)
#   traffic_end                 end fleet.sh's clients now (SIGUSR2): their JSON as it stands
#   clients_run                 the clients still run
#   broken_except BACKEND...    the long-lived connections open at EV (epoch) that broke, but
#                               for those to BACKEND... (names: be1..be3): a JSON line
# Every wait is a poll with a deadline (a loaded machine answers late, not never).

FH_VIP=${FH_VIP:-stream}

fh_setup() {
	need_cmd nft
	cat >"$KT_TMP/fh_get.py" <<'PYEOF'
import http.client, json, socket


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
PYEOF
	cat >"$KT_TMP/fh_await.py" <<'PYEOF'
import json, os, sys, time
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])
from fh_get import get
timeout, expr, socks = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
vip = os.environ.get("FH_VIP", "stream")
t0 = float(os.environ.get('FH_T0') or time.time())  # the event's time, when the caller took it
done = {}
last = {}
row = lambda h, b: [e for e in h["backends"] if e["backend"] == b and e["vip"] == vip][0]
while os.environ.get("FH_ACROSS"):  # one expression over every host's answers: H, T
    try:
        H = [get(p, "/v1/fleet/health") for p in socks]
        T = [get(p, "/v1/vips/%s/table" % vip) for p in socks]
        last = [{"revision": h["revision"], "rows": [e for e in h["backends"] if e["vip"] == vip]} for h in H]
        if eval(expr):
            sys.exit(0)
    except Exception as e:
        last = repr(e)
    if time.time() - t0 > timeout:
        print("    timeout after %.1f s: %s; last: %s" % (timeout, expr, json.dumps(last)[:2000]), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
while len(done) < len(socks):
    for p in socks:
        if p in done:
            continue
        try:
            tab = get(p, "/v1/vips/%s/table" % vip)
            fhv = get(p, "/v1/fleet/health")
            slots = lambda b: [e["slots"] for e in tab["backends"] if e["backend"] == b][0]
            fh = lambda b: [e for e in fhv["backends"] if e["backend"] == b and e["vip"] == vip][0]
            last[p] = {"verdicts": fhv.get("verdicts"), "revision": fhv.get("revision"),
                       "rows": [e for e in fhv.get("backends", []) if e["vip"] == vip],
                       "slots": [(e["backend"], e["slots"]) for e in tab.get("backends", [])]}
            if eval(expr):
                done[p] = time.time() - t0
        except Exception as e:
            last[p] = repr(e)
    if time.time() - t0 > timeout:
        print("    timeout after %.1f s: %s; last: %s" % (timeout, expr, json.dumps(last)[:2000]), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
if os.environ.get('FH_T0'):
    print(round(max(done.values()) * 1000))
PYEOF
	cat >"$KT_TMP/fh_conv.py" <<'PYEOF'
import json, sys, time
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])
from fh_get import get
timeout, rev, socks = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
t0, last = time.time(), None
while True:
    try:
        st = [(get(p, "/v1/status")["fleet"]["applied_revision"],
               sorted((v["vip"], v["digest"]) for v in get(p, "/v1/table/digest")["vips"])) for p in socks]
        last = st
        if all(a == rev and d == st[0][1] for a, d in st):
            sys.exit(0)
    except Exception as e:
        last = repr(e)
    if time.time() - t0 >= timeout:
        if timeout:
            print("    not converged at revision %d after %.0f s: %s" % (rev, timeout, str(last)[:600]), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
PYEOF
	FH_REV=$(fh_spec_rev)
	[[ $FH_REV =~ ^[0-9]+$ ]] || die "no spec revision in the store: '$FH_REV'"
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
fh_nft_flush() { ip netns exec "$1" nft delete table inet kt 2>/dev/null || true; }

fh_await() { # timeout_s expr host...
	local t=$1 e=$2 k socks=()
	shift 2
	for k in "$@"; do socks+=("$(keel_sock "$k")"); done
	FH_VIP=$FH_VIP FH_ACROSS=${FH_ACROSS:-} "$PY" "$KT_TMP/fh_await.py" "$t" "$e" "${socks[@]}"
}

fh_across() { FH_ACROSS=1 fh_await "$@"; } # timeout expr K...: EXPR over H and T at once

fh_spec_rev() { sb_etcdctl get "$SB_FLEET_PREFIX/spec" -w json | json_get 'j["kvs"][0]["mod_revision"]'; }
fh_digests() { sb_api_k "$1" GET /v1/table/digest | json_get 'sorted((v["vip"], v["digest"]) for v in j["vips"])'; }
# Every host runs the spec's revision (FH_REV, read once by fh_setup: these scenarios edit nothing)
# with keel1's digests, polled for up to TIMEOUT seconds (default 0: once). One process for every
# read: on a loaded machine a python start per value costs seconds.
fh_converged() {
	local k socks=()
	for k in "${SB_KEELS[@]}"; do socks+=("$(keel_sock "$k")"); done
	"$PY" "$KT_TMP/fh_conv.py" "${1:-0}" "$FH_REV" "${socks[@]}"
}
fh_disagree() { # K backend value
	[[ $(metric_of "$1" "keel_health_disagreement\\{vip=\"$FH_VIP\",backend=\"$2\"\\}") == "$3" ]]
}
# med_becomes K MED SECONDS: the router's BIRD sees host K's route to VIP4 with that MED (polled)
med_is() { [[ $(med_from "$VIP4" "$1") == "$2" ]]; }
med_becomes() {
	wait_until "$3" med_is "$1" "$2" && return 0
	echo "    keel$1's route at the router: MED '$(med_from "$VIP4" "$1")'; $(sb_birdc router show route "$VIP4/32" table master4 all 2>&1 | tr -s ' \n' ' ' | cut -c1-400)"
	return 1
}

vip_via_only() { nexthops_are "$VIP4" 1 && has_nexthop "$VIP4" "$(keel4 "$1")"; } # K: the router's one next hop
fh_descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; fh_descendants "$c"; done; }
traffic_end() { fh_client_signal USR2 "${TRAFFIC_PIDS[@]}"; } # their JSON now
fh_client_signal() { # signal pid...: to client.py below each (ip netns exec and timeout)
	local p c sig=$1
	shift
	for p in "$@"; do
		for c in $(fh_descendants "$p"); do
			[[ $(cat "/proc/$c/comm" 2>/dev/null) == python3* ]] && kill "-$sig" "$c"
		done
	done
}
fh_traffic_open() { # the client's established connections to the stream VIP (no signal: a
	# client.py that has not installed its handlers yet would die of SIGUSR1)
	(($(in_ns "$NS_CLIENT" ss -Htn state established "( dport = :9000 )" | wc -l) >= 300))
}
traffic_ready() {
	wait_until 30 fh_traffic_open && return 0
	echo "    $(in_ns "$NS_CLIENT" ss -Htn state established "( dport = :9000 )" | wc -l) connections established"
	die "the 300 connections did not all open through the VIP (load average $(cut -d' ' -f1-3 /proc/loadavg))"
}
clients_run() { local p; for p in "${TRAFFIC_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done; }

broken_except() { # backend...: over $KT_TMP/persist.json, the connections open at $EV
	"$PY" - "$KT_TMP/persist.json" "$EV" "$@" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
ev, skip = float(sys.argv[2]) - j["t0"], set(sys.argv[3:])
pop = [c for c in j["conns"] if c["start"] <= ev and not (c["failure"] and c["failure"][0] < ev)]
mine = [c for c in pop if c["backend"] not in skip]
broken = [c for c in mine if c["failure"]]
per = {}
for c in pop:
    per[c["backend"]] = per.get(c["backend"], 0) + 1
print(json.dumps({"at_event": len(pop), "counted": len(mine), "broken": len(broken), "per_backend": per,
                  "skipped_broken": sum(1 for c in pop if c["backend"] in skip and c["failure"]),
                  "first": [{"sport": c["sport"], "backend": c["backend"], "failure": c["failure"]} for c in broken[:5]]}))
PYEOF
}
