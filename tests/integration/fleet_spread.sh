#!/bin/bash
# Fleet, spread and consistency: the router's ECMP route (L4 hash) spreads 1000 new HTTP
# connections over both Keel hosts (each host's dataplane counts at least 25% of the packets);
# both hosts report the same Maglev table digests (keelctl table digest). Then the same 5-tuples
# are sent through each host in turn: the router's policy routing sends client source ports
# 61000-61299 (outside the ephemeral range; IPv4 and IPv6) through keel1 only, then through keel2
# only, and every one of those connections reaches the same backend both times; and each host's
# keelctl lookup of those 300 IPv4 5-tuples names the backend the connection reached.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
fleet_up

rx1=$(host_rx 1) rx2=$(host_rx 2)
r=$(client http --vip "$VIP4" --n 1000 --conc 16)
d1=$(($(host_rx 1) - rx1)) d2=$(($(host_rx 2) - rx2))
log "1000 connections: $r; keel1 received $d1 packets, keel2 $d2"
check "1000 connections through the fleet, none failed" test "$(jfield "$r" fail)" = 0
check "both hosts carry at least 25% each (keel1 $d1, keel2 $d2)" \
	"$PY" -c "import sys; t = $d1 + $d2; sys.exit(0 if t and min($d1, $d2) >= 0.25 * t else 1)"

sb_keelctl 1 table digest >"$KT_TMP/digest1" || die "keelctl table digest on keel1 failed"
sb_keelctl 2 table digest >"$KT_TMP/digest2" || die "keelctl table digest on keel2 failed"
log "keel1: $(tr '\n' ' ' <"$KT_TMP/digest1" | tr -s ' ' | head -c 300)"
check "keel1 and keel2 report the same table digests" cmp -s "$KT_TMP/digest1" "$KT_TMP/digest2"
check "the digests name every VIP" test "$(grep -cE '^(web|web6|echo|echo6|stream)[[:space:]]' "$KT_TMP/digest1")" = 5

# Policy routing on the router: client source ports 61000-61299 through one chosen host.
for fam in -4 -6; do
	in_ns "$NS_ROUTER" ip "$fam" rule add pref 100 iif "${SB_P}rc" ipproto tcp sport 61000-61299 lookup 201
done
via() { # K: the policy table sends the VIPs through host K
	in_ns "$NS_ROUTER" ip route replace "$VIP4/32" via "$(keel4 "$1")" table 201
	in_ns "$NS_ROUTER" ip -6 route replace "$VIP6/128" via "$(keel6 "$1")" table 201
}
for vip in "$VIP4" "$VIP6"; do
	via 1
	a1=$(host_rx 1) a2=$(host_rx 2)
	r1=$(client http --vip "$vip" --n 300 --conc 8 --sport-base 61000)
	b1=$(($(host_rx 1) - a1)) b2=$(($(host_rx 2) - a2))
	via 2
	a1=$(host_rx 1) a2=$(host_rx 2)
	r2=$(client http --vip "$vip" --n 300 --conc 8 --sport-base 61000)
	c1=$(($(host_rx 1) - a1)) c2=$(($(host_rx 2) - a2))
	log "$vip through keel1: $(jfield "$r1" per) $(jfield "$r1" errors) (packets: keel1 $b1, keel2 $b2); through keel2: $(jfield "$r2" per) $(jfield "$r2" errors) (keel1 $c1, keel2 $c2)"
	check "$vip: the first round crossed keel1 only, the second keel2 only" \
		test "$b2" = 0 -a "$c1" = 0 -a "$b1" -gt 1000 -a "$c2" -gt 1000
	check "$vip: 300 connections each way, none failed" test "$(jfield "$r1" fail)" = 0 -a "$(jfield "$r2" fail)" = 0
	check "$vip: every 5-tuple reached the same backend through keel1 and through keel2" "$PY" -c '
import json, sys
a, b = json.loads(sys.argv[1])["by_sport"], json.loads(sys.argv[2])["by_sport"]
both = [p for p in a if a[p] and b.get(p)]
diff = [p for p in both if a[p] != b[p]]
print(f"    {len(both) - len(diff)} of {len(both)} ports on the same backend" + (f"; differ: {diff[:5]}" if diff else ""))
sys.exit(1 if diff or len(both) != 300 else 0)' "$r1" "$r2"
	[[ $vip == "$VIP4" ]] && R4=$r1
done

# Every one of those 300 5-tuples, asked of each host's keel-control (keelctl lookup: the flow
# table, else the Maglev slot): both name the backend the connection reached.
"$PY" - "$(keel_sock 1)" "$(keel_sock 2)" "$CLIENT4" >"$KT_TMP/lookups" <<'PYEOF'
import json, sys
import keel_http
def lookup(sock, src, port):
    j = json.loads(keel_http.call(sock, "GET", f"/v1/lookup?vip=web&src={src}&sport={port}")[1])
    return j.get("backend", "?")
for p in range(61000, 61300):
    print(p, lookup(sys.argv[1], sys.argv[3], p), lookup(sys.argv[2], sys.argv[3], p))
PYEOF
check "keelctl lookup: keel1 and keel2 name the same backend for all 300 5-tuples, the one they reached" "$PY" - "$R4" "$KT_TMP/lookups" <<'PYEOF'
import json, sys
seen = json.loads(sys.argv[1])["by_sport"]
rows = [l.split() for l in open(sys.argv[2])]
name = {f"203.0.113.{20 + i}": f"be{i}" for i in (1, 2, 3)}
bad = [r for r in rows if len(r) != 3 or r[1] != r[2] or (seen.get(r[0]) and name.get(r[1]) != seen[r[0]])]
print(f"    {len(rows) - len(bad)} of {len(rows)} agree" + (f"; differ: {bad[:5]}" if bad else ""))
sys.exit(1 if bad or len(rows) != 300 else 0)
PYEOF
finish
