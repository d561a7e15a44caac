#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, drain, on the stream VIP (192.0.2.10:9000, TCP line echo; tools/sandbox.d/client.py
# persist: a line every 100 ms per connection, any reset / stall over 2 s / other peer is a failure):
#   - two groups of long-lived connections are opened first: A (30, closes itself 6 s after the
#     drain) and B (30, still open at the flush);
#   - `keelctl backend drain stream be2`: be2 keeps its place in the configuration but has 0 slots
#     in the table; 300 new connections (connect, one line, close) all succeed and none reaches be2;
#   - A's connections on be2 run to their end with no failure, and their close reaches be2 (be2's
#     socket for them is gone a second later): a drained backend's tracked flows go on;
#   - B's connections on be2 have no failure until the flush;
#   - `keelctl backend flush stream be2` drops be2's tracked flows: the next segment of each of B's
#     be2 connections is balanced anew, to be1 or be3 (be2 has no slots), whose kernel knows no
#     such connection and answers with a RST. Asserted: every one of B's be2 connections fails
#     within 3 s of the flush, with a reset (ECONNRESET / EOF), not a stall and not an answer from
#     another backend; connections on be1/be3 never fail; B's replacements never land on be2;
#   - /metrics: before the drain keel_backend_tracked_flows of be2 is its established connections
#     (+-1) and keel_vip_tracked_flows of stream the 60; after the flush be2's is 0.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B2=$(be4 2)
KC=("$SB_KEELCTL" --socket "$SB_SOCK")
cat >"$KT_TMP/once.py" <<'PYEOF'
# N new connections to VIP:9000, one line each: {"ok", "fail", "per", "errors"}
import collections, concurrent.futures, json, socket, sys
vip, n = sys.argv[1], int(sys.argv[2])
def one(i):
    try:
        s = socket.create_connection((vip, 9000), timeout=3)
        s.sendall(b"%d\n" % i)
        buf = b""
        while b"\n" not in buf:
            b = s.recv(4096)
            if not b:
                raise ConnectionResetError("EOF")
            buf += b
        s.close()
        name, _, seq = buf.split(b"\n")[0].decode().partition(" ")
        return (name, None) if seq == str(i) else (None, "bad answer")
    except OSError as e:
        return None, type(e).__name__
per, errs = collections.Counter(), collections.Counter()
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    for name, err in ex.map(one, range(n)):
        if name: per[name] += 1
        else: errs[err] += 1
print(json.dumps({"ok": sum(per.values()), "fail": sum(errs.values()), "per": dict(sorted(per.items())), "errors": dict(errs)}))
PYEOF
# ports of established connections to :9000 in backend N's namespace
be_ports() { in_ns "$(ns_be "$1")" ss -Htn state established '( sport = :9000 )' | awk '{print $4}' | sed 's/.*://' | sort -n; }

SA=9 SB=16
client persist --vip "$VIP4" --port 9000 --conns 30 --seconds $SA >"$KT_TMP/a.json" 2>"$KT_TMP/a.err" &
PA=$!
client persist --vip "$VIP4" --port 9000 --conns 30 --seconds $SB >"$KT_TMP/b.json" 2>"$KT_TMP/b.err" &
PB=$!
KT_PIDS+=("$PA" "$PB")
sleep 3
N2=$(be_ports 2 | wc -l)
log "be2's established connections before the drain: $N2"
# keel-control's census of the workers' flow tables (about a second old): one flow per connection.
metric() { in_ns "$(ns_keel 1)" curl -sf --max-time 5 "http://$SB_METRICS/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
flows_match() {
	local be2 vip
	be2=$(metric "keel_backend_tracked_flows{vip=\"stream\",backend=\"$B2\"}")
	vip=$(metric 'keel_vip_tracked_flows{vip="stream"}')
	log "tracked flows: be2 $be2 (established there: $N2), stream $vip (60 connections open)"
	# +-1: a health check's own connection to be2 can be established at that moment
	[[ -n $be2 && -n $vip ]] && ((N2 > 0 && be2 >= N2 - 1 && be2 <= N2 + 1 && vip >= 60 && vip <= 64))
}
check "keel_backend_tracked_flows of be2 = its $N2 connections, keel_vip_tracked_flows of stream = the 60" \
	wait_until 3 flows_match
T_DRAIN=$(date +%s.%N)
"${KC[@]}" backend drain stream "$B2" --force >"$KT_TMP/drain.txt" || die "keelctl backend drain failed: $(cat "$KT_TMP/drain.txt")"
log "drained be2: $(grep -i moved -A3 "$KT_TMP/drain.txt" | tr '\n' ' ' | tr -s ' ' | head -c 200)"
tab=$("${KC[@]}" -j table show stream)
log "table: $("${KC[@]}" table show stream | tr '\n' ' ' | tr -s ' ')"
check "be2 draining with 0 slots in stream's table" "$PY" -c '
import json, sys
b = next(b for b in json.loads(sys.argv[1])["backends"] if b["backend"] == sys.argv[2])
sys.exit(0 if b["slots"] == 0 and b["state"] == "draining" else 1)' "$tab" "$B2"

r=$(ip netns exec "$NS_CLIENT" timeout 60 "$PY" "$KT_TMP/once.py" "$VIP4" 300)
log "300 new connections during the drain: $r"
check "300 new connections during the drain: 0 failures, none on be2" \
	shares_within "$r" 0.1 be1=0.5 be3=0.5

wait "$PA" || die "persist client A failed: $(cat "$KT_TMP/a.err")"
sleep 1
be_ports 2 >"$KT_TMP/be2-after-a.txt"
sleep 1
T_FLUSH=$(date +%s.%N)
"${KC[@]}" -j backend flush stream "$B2" >"$KT_TMP/flush.json" || die "keelctl backend flush failed: $(cat "$KT_TMP/flush.json")"
log "flush: $(tr -d '\n ' <"$KT_TMP/flush.json")"
be2_flushed() { [[ $(metric "keel_backend_tracked_flows{vip=\"stream\",backend=\"$B2\"}") == 0 ]]; }
check "after the flush be2 has no tracked flow (keel_backend_tracked_flows 0 within 3 s)" wait_until 3 be2_flushed
wait "$PB" || die "persist client B failed: $(cat "$KT_TMP/b.err")"
sleep 1
log "be2's established connections at the end: $(be_ports 2 | wc -l) (B's flushed ones stay open on be2: nothing reaches it any more)"

rc=0
"$PY" - "$KT_TMP/a.json" "$KT_TMP/b.json" "$T_DRAIN" "$T_FLUSH" "$KT_TMP/be2-after-a.txt" \
	>"$KT_TMP/verdict.txt" 2>&1 <<'PYEOF' || rc=$?
import json, sys
A, B = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t_drain, t_flush = float(sys.argv[3]), float(sys.argv[4])
be2_left = set(int(p) for p in open(sys.argv[5]).read().split())
bad = []
def rel(j, t): return t - j["t0"]
# A: everything opened before the drain runs to the end without a failure
a_pre = [c for c in A["conns"] if c["start"] < rel(A, t_drain)]
a2 = [c for c in a_pre if c["backend"] == "be2"]
print(f"A: {len(A['conns'])} connections, {len(a2)} on be2 before the drain, "
      f"failures {sum(1 for c in A['conns'] if c['failure'])}, exchanges on be2 "
      f"min {min((c['exchanges'] for c in a2), default=0)}")
for c in A["conns"]:
    if c["failure"]:
        bad.append(f"A conn {c['id']} ({c['backend']}) failed: {c['failure']}")
    if c["start"] > rel(A, t_drain) and c["backend"] == "be2":
        bad.append(f"A conn {c['id']} opened after the drain landed on be2")
for c in a2:
    if c["exchanges"] < 60:
        bad.append(f"A conn {c['id']} on be2: only {c['exchanges']} exchanges")
    if c["sport"] in be2_left:
        bad.append(f"A conn {c['id']} (port {c['sport']}) still established on be2 after its close")
if not a2:
    bad.append("no connection of A on be2: nothing tested")
# B: be2's connections fail at the flush (reset), and not before; others never fail
b_pre = [c for c in B["conns"] if c["start"] < rel(B, t_drain)]
b2 = [c for c in b_pre if c["backend"] == "be2"]
fl = rel(B, t_flush)
kinds = {}
for c in b2:
    f = c["failure"]
    if not f:
        bad.append(f"B conn {c['id']} on be2 survived the flush")
        continue
    t, kind, detail = f
    kinds[f"{kind}:{detail}"] = kinds.get(f"{kind}:{detail}", 0) + 1
    if t < fl - 0.05:
        bad.append(f"B conn {c['id']} on be2 failed before the flush ({t:.2f} < {fl:.2f}): {f}")
    elif t > fl + 3:
        bad.append(f"B conn {c['id']} on be2 failed {t - fl:.2f}s after the flush (> 3 s): {f}")
    elif kind != "reset":
        bad.append(f"B conn {c['id']} on be2 ended by {kind} ({detail}), not a reset")
delays = sorted(c["failure"][0] - fl for c in b2 if c["failure"])
print(f"B: {len(B['conns'])} connections, {len(b2)} on be2 before the drain, their end after the flush: "
      f"{kinds}, delay {delays[0] if delays else 0:.3f}..{delays[-1] if delays else 0:.3f} s")
for c in B["conns"]:
    if c["backend"] != "be2" and c["failure"]:
        bad.append(f"B conn {c['id']} ({c['backend']}) failed: {c['failure']}")
    if c["start"] > rel(B, t_drain) and c["backend"] == "be2":
        bad.append(f"B conn {c['id']} opened after the drain landed on be2")
repl = [c for c in B["conns"] if c["start"] > fl]
print(f"B: {len(repl)} replacements after the flush, on {sorted(set(str(c['backend']) for c in repl))}")
if not b2:
    bad.append("no connection of B on be2: nothing tested")
for b in bad[:15]:
    print("  BAD " + b)
sys.exit(1 if bad else 0)
PYEOF
sed 's/^/    /' "$KT_TMP/verdict.txt"
check "A's be2 connections finish normally after the drain, B's end by a reset within 3 s of the flush, no other failure" test $rc -eq 0
finish
