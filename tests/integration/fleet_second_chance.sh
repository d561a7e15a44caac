#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until / check
# Fleet, second chance across hosts (docs/second-chance.md): two Keel hosts share the stream VIP
# (GUE) by ECMP and carry 300 long-lived TCP connections on be1 and be2 (a line every 100 ms
# each; a reset, no answer for FLEET_STALL=5 s or an answer from another backend breaks one).
# Then, within a few milliseconds: be3 is added on keel1, keel2's dataplane is killed (kill -9),
# be3 is added on keel2 (whose keel-control stays up). The router withdraws keel2 and its
# connections move to keel1, whose flow table has never seen them; about a third of them are
# on Maglev slots that now belong to be3. keel1 sends those to be3 naming the previous owner,
# and be3's keel-decap, finding no socket, hands them on to it (XDP_TX; KEEL_SC_HANDOFF=kernel:
# through the kernel's forwarding). keel1's own connections stay in its flow table. 6 s later keel2's
# dataplane comes back with empty flow tables (--no-adopt: as a host that lost its memory), is
# announced again and gets its connections back: the moved ones now go through keel2's own
# second chance. The killed host comes back in each phase; both hosts must then report the same
# table digests and, for every connection's 5-tuple, the same slot owner and previous owner.
#   with second chance (keel-decap --peer on the backends): >= 99.9% of the 300 survive;
#   without (the peers removed): the connections on moved slots that crossed keel2 break
#     (reported; checked: some break, and only those).
# Which host a connection crossed: the one whose flow table tracked it before the event.
# Prints the kill-to-withdrawal, UDP and TCP failover and return times, and a JSON line.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/fleet.sh"
# keel2 is withdrawn and announced again twice: four changes of the address in about a minute
export KEEL_SANDBOX_FLAP_LIMIT=8
# The killed host's connections wait out TCP's retransmission back-off: a stall is a failure
# only after 5 s (a reset, from a backend without the socket, breaks one at once).
export FLEET_STALL=${FLEET_STALL:-5}
fleet_up

B1=$(be4 1) B2=$(be4 2) B3=$(be4 3)
CONNS=${KEEL_SC_CONNS:-300}
SECS=45
JSON=(-H 'Content-Type: application/json')
applied() { json_get 'j.get("applied") is True or j.get("changed") is False' | grep -q True; }
decap() { # b args...: keel-decap attach on backend b (updates the maps of the loaded program)
	local b=$1
	shift
	in_net "$(ns_be "$b")" "$SB_DECAP" attach "${SB_P}b$b" "$@" >/dev/null
}
sc_sum() { # counter: packets over every backend's keel-decap
	local b n=0
	for b in "${SB_BES[@]}"; do
		n=$((n + $(in_net "$(ns_be "$b")" "$SB_DECAP" status "${SB_P}b$b" --json | json_get "j['counters']['$1']['packets']")))
	done
	echo "$n"
}
decap_handed_on() { echo $(($(sc_sum tx_second_chance) + $(sc_sum fwd_second_chance))); }
dp_second_chance() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$(keel_name "$1")" --json | json_get 'j["second_chance"]'; }
digests_agree() {
	sb_keelctl 1 table digest >"$KT_TMP/digest1" 2>&1 && sb_keelctl 2 table digest >"$KT_TMP/digest2" 2>&1 &&
		cmp -s "$KT_TMP/digest1" "$KT_TMP/digest2"
}
# The source ports of the client's established connections to the stream VIP, one a line
client_sports() {
	in_ns "$NS_CLIENT" ss -Htn state established "( dst $VIP4 and dport = :9000 )" | awk '{print $3}' |
		sed 's/.*://' | sort -n
}
# sport -> per host (keel1, then keel2): the Maglev owner of that 5-tuple's slot, its previous
# owner, and the worker whose flow table tracks it ("-": none; "?": no answer), GET /v1/lookup
lookups() { # sports-file
	"$PY" - "$(keel_sock 1)" "$(keel_sock 2)" "$CLIENT4" "$1" <<'PYEOF'
import json, sys
import keel_http
def lookup(sock, src, port):
    j = json.loads(keel_http.call(sock, "GET", f"/v1/lookup?vip=stream&src={src}&sport={port}")[1])
    # "?": no worker answered the flow-table question in time
    tracked = str(j.get("tracked_by_worker", "-")) if j.get("workers_answered") else "?"
    return [j.get("maglev_backend") or "-", j.get("previous_owner") or "-", tracked]
for p in open(sys.argv[4]).read().split():
    print(p, *lookup(sys.argv[1], sys.argv[3], p), *lookup(sys.argv[2], sys.argv[3], p))
PYEOF
}
add_be3() { # K
	sb_api_k "$1" POST /v1/vips/stream/backends "${JSON[@]}" -d "{\"address\": \"$B3\", \"weight\": 1}" |
		applied || die "adding be3 on keel$1 failed"
}

# The stream VIP over GUE on both hosts (the only encapsulation with room for the previous owner).
for k in 1 2; do
	sed 's/^  - name: stream$/  - name: stream\n    encap: gue/' "$(keel_dir "$k")/keel.yaml" >"$KT_TMP/gue$k.yaml"
	sb_api_k "$k" POST '/v1/config/apply?force=1' -H 'Content-Type: application/yaml' \
		--data-binary @"$KT_TMP/gue$k.yaml" | applied || die "switching keel$k's stream VIP to GUE failed"
done
# Handing on goes through the backend kernel's forwarding (bpf_fib_lookup wants it on too).
for b in "${SB_BES[@]}"; do
	in_net "$(ns_be "$b")" sysctl -qw net.ipv4.conf.all.forwarding=1
done

# phase NAME: one kill of keel2 while be3 is added, and keel2's return; logs the figures and
# leaves them in PHASE (one JSON object)
phase() {
	local name=$1 k ev t_ret t_ann w r sc1 sc2 hand s f s_ret f_ret ret_json res add2 fwd2
	for k in 1 2; do
		sb_api_k "$k" DELETE "/v1/vips/stream/backends/$B3?force=1" | applied || die "$name: removing be3 on keel$k failed"
	done
	wait_until 10 digests_agree || die "$name: keel1 and keel2 differ: $(cat "$KT_TMP/digest1") / $(cat "$KT_TMP/digest2")"
	wait_until 20 nexthops_are "$VIP4" 2 || die "$name: $VIP4 not over both hosts: $(nexthops "$VIP4" | tr '\n' ' ')"
	traffic_start "$SECS" "$CONNS"
	client_sports >"$KT_TMP/$name.sports"
	# Which host each connection crosses: the one whose flow table tracks it. (Not ip route get:
	# the router's ECMP hashes the hash the client's socket put on the packet, which veth keeps,
	# not the headers, and TCP picks a new one after a retransmission timeout.)
	lookups "$KT_TMP/$name.sports" >"$KT_TMP/$name.before"
	sc1=$(dp_second_chance 1) hand=$(decap_handed_on)
	# be3 on keel1 first, so that every packet of keel2's connections that reaches keel1 finds it
	# there; keel2's keel-control learns of it while its dataplane is dead (the API answers once
	# the publish has timed out: in the background)
	add_be3 1
	ev=$(date +%s.%N)
	"$SANDBOX" kill 2
	add_be3 2 &
	add2=$!
	w=$(time_until "$ev" 5 no_nexthop "$VIP4" "$(keel4 2)") || true
	wait "$add2" || die "$name: adding be3 on keel2 failed"
	log "$name: be3 added on keel1, keel2's dataplane killed, be3 added on keel2 (answered after $("$PY" -c "import time; print(f'{time.time() - $ev:.3f}')")s); router withdrew keel2 ${w}s after the kill"
	sleep 6
	t_ret=$(date +%s.%N)
	KEEL_SANDBOX_DP_ARGS=--no-adopt "$SANDBOX" start 2 >>"$KT_TMP/sandbox-up.log" 2>&1 || die "$name: restarting keel2's dataplane failed"
	r=$(time_until "$t_ret" 20 has_nexthop "$VIP4" "$(keel4 2)") || true
	log "$name: keel2's dataplane back with empty tables ($(grep -c 'event=flow_table_empty' "$SB_DIR/log/dataplane2.log") worker(s) started empty so far); announced again after ${r}s"
	traffic_wait
	sc1=$(($(dp_second_chance 1) - sc1)) sc2=$(dp_second_chance 2) hand=$(($(decap_handed_on) - hand))
	fwd2=$(KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$(keel_name 2)" --json | json_get 'j["fwd_pkts"]')
	wait_until 10 digests_agree || log "$name: digests differ: $(tr '\n' ' ' <"$KT_TMP/digest1") / $(tr '\n' ' ' <"$KT_TMP/digest2")"
	check "$name: keel1 and keel2 report the same table digests after be3's addition and keel2's return" \
		cmp -s "$KT_TMP/digest1" "$KT_TMP/digest2"
	lookups "$KT_TMP/$name.sports" >"$KT_TMP/$name.lookups"
	# The kill's pauses start within a second of it (--window 3: not later ones, such as a
	# starting dataplane's load on two shared cores); the return's, from the announcement
	s=$(survival "$ev" --window 3) f=$(failover "$ev" --until "$t_ret" --window 3)
	log "$name: connections: $s"
	log "$name: UDP probes: $f"
	if [[ $r != never ]]; then
		t_ann=$("$PY" -c "print($t_ret + $r)")
		s_ret=$(survival "$t_ann" --window 3) f_ret=$(failover "$t_ann" --window 3)
		log "$name: keel2's return: TCP $(jfield "$s_ret" paused) connections paused, back after $(jfield "$s_ret" traffic_back_s)s; UDP $(jfield "$f_ret" paused) ports paused, back after $(jfield "$f_ret" failover_s)s, $(jfield "$f_ret" wrong_backend) changed backend"
		ret_json="{\"tcp_paused\": $(jfield "$s_ret" paused), \"traffic_back_tcp_s\": $(jfield "$s_ret" traffic_back_s), \"udp_paused\": $(jfield "$f_ret" paused), \"failover_udp_s\": $(jfield "$f_ret" failover_s)}"
	else
		ret_json=null
	fi
	res=$("$PY" - "$KT_TMP/persist.json" "$KT_TMP/$name.before" "$KT_TMP/$name.lookups" "$ev" "$t_ret" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
rows = lambda f: {l.split()[0]: l.split()[1:] for l in open(f) if len(l.split()) == 7}
before, lk = rows(sys.argv[2]), rows(sys.argv[3])
ev, ret = float(sys.argv[4]) - j["t0"], float(sys.argv[5]) - j["t0"]
def host(r):  # the host whose flow table tracked the connection before the event
    if "?" in (r[2], r[5]):
        return None
    t1, t2 = r[2] != "-", r[5] != "-"
    return "keel1" if t1 and not t2 else "keel2" if t2 and not t1 else None
be = {f"203.0.113.{20 + i}": f"be{i}" for i in (1, 2, 3)}
pop = [c for c in j["conns"] if c["start"] <= ev and not (c["failure"] and c["failure"][0] < ev)]
out = {"at_event": len(pop), "via_keel1": 0, "via_keel2": 0, "moved": 0, "moved_via_keel2": 0,
       "broken": 0, "broken_moved_via_keel2": 0, "broken_moved_via_keel1": 0, "broken_unmoved": 0,
       "broken_after_return": 0,
       "prev_named": 0, "hosts_disagree": 0, "unmapped": 0, "broken_unmapped": 0}
for c in pop:
    p = str(c["sport"])
    h, l = host(before[p]) if p in before else None, lk.get(p)
    if not h or not l:
        out["unmapped"] += 1
        out["broken_unmapped"] += bool(c["failure"])
        continue
    m1, p1, _, m2, p2, _ = (be.get(x, x) for x in l)
    out["via_" + h] += 1
    out["hosts_disagree"] += (m1, p1) != (m2, p2)
    moved = m1 != c["backend"]
    out["moved"] += moved
    out["prev_named"] += moved and p1 == c["backend"] and p2 == c["backend"]
    hard = moved and h == "keel2"
    out["moved_via_keel2"] += hard
    if c["failure"]:
        out["broken_unmoved" if not moved else "broken_moved_via_" + h] += 1
        out["broken_after_return"] += c["failure"][0] >= ret
        if out["broken_moved_via_keel2"] + out["broken_moved_via_keel1"] + out["broken_unmoved"] <= 5:
            print(f"  broken: conn {c['id']} sport {p} via {h} on {c['backend']}, slot now {m1} "
                  f"(previous owner {p1}), {c['failure']}", file=sys.stderr)
out["broken"] = sum(1 for c in pop if c["failure"])
out["share"] = round((len(pop) - out["broken"]) / len(pop), 5) if pop else None
print(json.dumps(out))
PYEOF
)
	log "$name: $res"
	log "$name: Keel named previous owners in $sc1 packets on keel1 and $sc2 on keel2 (after its return, of $fwd2 it forwarded); backends handed on $hand"
	PHASE="{\"withdraw_s\": ${w/never/null}, \"failover_udp_s\": $(jfield "$f" failover_s), \"traffic_back_tcp_s\": $(jfield "$s" traffic_back_s), \"announced_again_s\": ${r/never/null}, \"return\": $ret_json, \"keel2_fwd_after_return\": $fwd2, \"second_chance_pkts\": {\"keel1\": $sc1, \"keel2\": $sc2, \"handed_on\": $hand}, \"conns\": $res}"
}
pick() { "$PY" -c 'import json, sys; j = json.loads(sys.argv[1])
for k in sys.argv[2].split("."): j = j[k]
print(j)' "$1" "$2"; }

# xdp: handed on with XDP_TX (the sandbox's router ends run veth_peer_xdp for it), kernel: by the
# backend kernel's forwarding (e2e_second_chance.sh runs both)
HANDOFF=${KEEL_SC_HANDOFF:-xdp}
for b in "${SB_BES[@]}"; do decap "$b" --peer "$B1" --peer "$B2" --peer "$B3" --handoff "$HANDOFF"; done
tx0=$(sc_sum tx_second_chance)
phase with
tx=$(($(sc_sum tx_second_chance) - tx0))
WITH=$PHASE
n=$(pick "$WITH" conns.at_event) broken=$(pick "$WITH" conns.broken) hard=$(pick "$WITH" conns.moved_via_keel2)
check "with second chance, >= 99.9% of $n connections survive ($broken broken; $hard of them were keel2's on moved slots)" \
	"$PY" -c "import sys; sys.exit(0 if $n >= $CONNS and ($n - $broken) >= 0.999 * $n else 1)"
check "the hard case happened: keel2 carried connections on slots that moved to be3 ($hard)" test "$hard" -gt 0
check "the host of at most 1% of the connections is unknown ($(pick "$WITH" conns.unmapped): tracked by both, neither, or no answer)" \
	test "$(pick "$WITH" conns.unmapped)" -le $((CONNS / 100))
check "both hosts name the same slot owner and previous owner for every 5-tuple ($(pick "$WITH" conns.hosts_disagree) differ)" \
	test "$(pick "$WITH" conns.hosts_disagree)" = 0
check "both hosts name the original backend as previous owner of every moved slot ($(pick "$WITH" conns.prev_named) of $(pick "$WITH" conns.moved))" \
	test "$(pick "$WITH" conns.prev_named)" = "$(pick "$WITH" conns.moved)"
check "keel1 named previous owners ($(pick "$WITH" second_chance_pkts.keel1) packets) and backends handed packets on ($(pick "$WITH" second_chance_pkts.handed_on))" \
	test "$(pick "$WITH" second_chance_pkts.keel1)" -gt 0 -a "$(pick "$WITH" second_chance_pkts.handed_on)" -gt 0
if [[ $HANDOFF == xdp ]]; then
	check "backends handed packets on with XDP_TX ($tx of $(pick "$WITH" second_chance_pkts.handed_on))" test "$tx" -gt 0
fi
check "keel2, back with empty tables, named previous owners too ($(pick "$WITH" second_chance_pkts.keel2) packets)" \
	test "$(pick "$WITH" second_chance_pkts.keel2)" -gt 0

for b in "${SB_BES[@]}"; do decap "$b" --del-peer "$B1" --del-peer "$B2" --del-peer "$B3"; done
phase without
WITHOUT=$PHASE
n=$(pick "$WITHOUT" conns.at_event) broken=$(pick "$WITHOUT" conns.broken) hard=$(pick "$WITHOUT" conns.moved_via_keel2)
log "without second chance: $broken of $n broken; keel2 carried $hard on moved slots"
# keel2's connections on moved slots break when keel1 sends them to be3; after keel2's return,
# keel1's own ones on moved slots that the router now hands to keel2 (empty tables) may too. A
# connection on a slot that did not move must not.
check "without second chance, connections break ($broken: $(pick "$WITHOUT" conns.broken_moved_via_keel2) of keel2's $hard on moved slots, $(pick "$WITHOUT" conns.broken_moved_via_keel1) of keel1's after keel2's return), none on a slot that did not move ($(pick "$WITHOUT" conns.broken_unmoved))" \
	test "$broken" -gt 0 -a "$(pick "$WITHOUT" conns.broken_unmoved)" = 0 -a "$(pick "$WITHOUT" conns.broken_moved_via_keel2)" -gt 0

echo "{\"scenario\": \"second_chance\", \"with\": $WITH, \"without\": $WITHOUT}"
finish
