#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, second chance (docs/second-chance.md), the hard case: 300 long-lived TCP connections
# to the stream VIP (GUE, backends be1 and be2), keel-dataplane stopped, be3 added (a third of the
# slots move), keel-dataplane started with empty flow tables (--no-adopt). A connection fails on a
# reset, or on no answer for 30 s (TCP's retransmission backoff after the outage reaches 25 s). Every packet of the
# old connections now misses; Keel sends it to the slot's new owner naming the previous one, and
# the new owner's keel-decap, finding no socket, hands it on to its peer.
#   with second chance (keel-decap --peer for the other backends): >= 99.9% survive, once with the
#   hand-on by XDP_TX and once through the kernel's forwarding (KEEL_SC_HANDOFF picks);
#   the same over IPv6 (stream6: VIP and backends IPv6, GUE over IPv6, IPv6 previous owners), by
#   XDP_TX (KEEL_SC_V6=0 leaves it out);
#   without (the peers removed from keel-decap): the connections on moved slots break (reported).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

CONNS=${KEEL_SC_CONNS:-300}
JSON=(-H 'Content-Type: application/json')
applied() { json_get 'j.get("applied") is True or j.get("changed") is False' | grep -q True; }
seam() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" "$@"; }
decap() { # b args...: keel-decap attach on backend b (updates the maps of the loaded program)
	local b=$1
	shift
	in_net "$(ns_be "$b")" "$SB_DECAP" attach "${SB_P}b$b" "$@" >/dev/null
}
sc_counter() { # b verdict -> packets
	in_net "$(ns_be "$1")" "$SB_DECAP" status "${SB_P}b$1" --json | json_get "j['counters']['$2']['packets']"
}
sc_sum() { # verdict -> packets, all backends
	local b n=0
	for b in "${SB_BES[@]}"; do n=$((n + $(sc_counter "$b" "$1"))); done
	echo "$n"
}

# The stream VIP over GUE (the only encapsulation with room for the previous owner), and stream6:
# the same service on the IPv6 VIP, to the backends' IPv6 addresses (keel-control puts
# [VIP6]:9000 in the steering maps when the apply adds it).
{
	sed 's/^  - name: stream$/  - name: stream\n    encap: gue/' "$SB_DIR/keel.yaml"
	cat <<EOT
  - name: stream6
    address: "$VIP6"
    port: 9000
    protocol: tcp
    encap: gue
    health_check: { type: tcp, port: 9000 }
    backends:
EOT
	for b in 1 2 3; do echo "      - { address: \"$(be6 "$b")\" }"; done
} >"$KT_TMP/gue.yaml"
sb_api POST '/v1/config/apply?force=1' -H 'Content-Type: application/yaml' --data-binary @"$KT_TMP/gue.yaml" |
	applied || die "switching the stream VIP to GUE and adding stream6 failed"
# bpf_fib_lookup, which finds the peer's MAC, wants forwarding on the backend's port, and the
# kernel path (--handoff kernel, or a peer without a neighbour entry yet) forwards.
for b in "${SB_BES[@]}"; do
	in_net "$(ns_be "$b")" sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1
done
PEERS=()
for b in 1 2 3; do PEERS+=(--peer "$(be4 "$b")" --peer "$(be6 "$b")"); done

# phase NAME FAMILY: 300 connections to the stream VIP of FAMILY (4: stream, 6: stream6) on
# be1+be2; stop keel-dataplane, add be3, start it empty; prints the verdict
phase() {
	local name=$1 fam=$2 t_restart vip_name vip b3
	if [[ $fam == 6 ]]; then vip_name=stream6 vip=$VIP6 b3=$(be6 3); else vip_name=stream vip=$VIP4 b3=$(be4 3); fi
	sb_api DELETE "/v1/vips/$vip_name/backends/$b3?force=1" | applied || die "$name: removing be3 failed"
	sleep 1
	client persist --vip "$vip" --port 9000 --conns "$CONNS" --seconds 55 --interval 0.5 --stall 30 \
		>"$KT_TMP/$name.json" 2>"$KT_TMP/$name.err" &
	local cpid=$!
	KT_PIDS+=("$cpid")
	sleep 8
	kill -TERM "$(cat "$SB_DIR/pid/dataplane")"
	wait_until 10 bash -c "! kill -0 $(cat "$SB_DIR/pid/dataplane") 2>/dev/null" || die "$name: dataplane did not stop"
	sb_api POST "/v1/vips/$vip_name/backends" "${JSON[@]}" -d "{\"address\": \"$b3\", \"weight\": 1}" | applied ||
		die "$name: adding be3 failed"
	t_restart=$(date +%s.%N)
	KEEL_SANDBOX_DP_ARGS=--no-adopt "$SANDBOX" up >>"$KT_TMP/sandbox-up.log" 2>&1 || die "$name: restart failed"
	# (a restart slower than the client's 30 s stall limit, on a loaded machine, breaks them all)
	log "$name: keel-dataplane back with empty tables after $("$PY" -c "import time; print(f'{time.time() - $t_restart:.1f}')") s, be3 added; $(grep -o 'event=flow_table_empty.*' "$SB_DIR/log/dataplane.log" | tail -n 1 | cut -c1-60)" >&2
	wait "$cpid" || die "$name: the persist client failed: $(cat "$KT_TMP/$name.err")"
	"$PY" - "$KT_TMP/$name.json" "$t_restart" "$CONNS" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
t = float(sys.argv[2]) - j["t0"] - 12  # from before the stop
orig = [c for c in j["conns"] if c["start"] < 5]
broken = [c for c in orig if c["failure"] and c["failure"][0] >= t]
early = [c for c in orig if c["failure"] and c["failure"][0] < t]
for c in broken[:5]:
    print(f"  broken: conn {c['id']} backend {c['backend']} sport {c['sport']} failure {c['failure']} "
          f"(restart at {t + 12:.1f}s)", file=sys.stderr)
print(len(orig), len(broken), len(early))
PYEOF
}

# sc_with FAMILY PATH: the with-second-chance phase. xdp sends the handed-on frames back out of the
# backend's port with XDP_TX (on these veths the router's end runs an XDP program for that:
# tools/sandbox, veth_peer_xdp), kernel lets the kernel forward them. The keel-decap counters
# say which path carried them: tx_second_chance (XDP_TX) and fwd_second_chance (kernel; with xdp
# too, for a peer whose neighbour entry the backend lacks yet).
sc_with() {
	local fam=$1 path=$2 name="with-v$1-$2" b tx0 fwd0 tx fwd n broken early sent
	for b in "${SB_BES[@]}"; do decap "$b" "${PEERS[@]}" --handoff "$path"; done
	tx0=$(sc_sum tx_second_chance) fwd0=$(sc_sum fwd_second_chance)
	read -r n broken early < <(phase "$name" "$fam" | tail -n 1)
	tx=$(($(sc_sum tx_second_chance) - tx0)) fwd=$(($(sc_sum fwd_second_chance) - fwd0))
	sent=$(seam counters "$SB_NAME" --json | json_get 'j["second_chance"]') # since the restart
	for b in "${SB_BES[@]}"; do
		log "be$b keel-decap: $(in_net "$(ns_be "$b")" "$SB_DECAP" status "${SB_P}b$b" --json | json_get '{k: v["packets"] for k, v in j["counters"].items() if v["packets"] and ("sc" in k or "second" in k)}')"
	done
	log "with second chance (IPv$fam, $path): $broken of $n broken ($early before the restart); Keel sent $sent packets naming a previous owner, backends handed on $tx with XDP_TX and $fwd through the kernel"
	check "with second chance (IPv$fam, $path), >= 99.9% of $n connections survive ($broken broken)" \
		"$PY" -c "import sys; sys.exit(0 if $n >= $CONNS and ($n - $broken) >= 0.999 * $n and $early == 0 else 1)"
	if [[ $path == xdp ]]; then
		check "IPv$fam: Keel named previous owners ($sent packets) and backends handed them on with XDP_TX ($tx; $fwd through the kernel)" \
			test "$sent" -gt 0 -a "$tx" -gt 0
	else
		check "IPv$fam: Keel named previous owners ($sent packets) and backends handed them on through the kernel ($fwd), none with XDP_TX ($tx)" \
			test "$sent" -gt 0 -a "$fwd" -gt 0 -a "$tx" -eq 0
	fi
}

for path in ${KEEL_SC_HANDOFF:-xdp kernel}; do sc_with 4 "$path"; done
[[ ${KEEL_SC_V6:-1} == 0 ]] || sc_with 6 xdp

for b in "${SB_BES[@]}"; do decap "$b" "${PEERS[@]//--peer/--del-peer}"; done
read -r n_without broken_without early_without < <(phase without 4 | tail -n 1)
log "without second chance (no peers in keel-decap): $broken_without of $n_without broken ($early_without before the restart)"
check "without second chance some connections break (the slots that moved: $broken_without)" \
	test "$broken_without" -gt 0
finish
