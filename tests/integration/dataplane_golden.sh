#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# Golden pcap replay: fixtures from tests/fixtures/gen_dataplane_fixtures.py go through the real
# keel-dataplane (net_pcap rx/tx, one worker); the output pcap must match the expected frames
# packet by packet and the counters the expected drops by reason (golden_check.py).
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_scapy
need_hugepages 256
kt_tmpdir
kt_name NAME golden

log "generating fixtures in $KT_TMP"
"$PY" "$KT_ROOT/tests/fixtures/gen_dataplane_fixtures.py" "$KT_TMP" | sed 's/^/    /'
N=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["n_in"])' "$KT_TMP/expected.json")

log "starting keel-dataplane $NAME (net_pcap, --wait-snapshot)"
# shellcheck disable=SC2046 # EAL options are words by design
dp_start "$KT_TMP/dp.log" -- -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_pcap0,rx_pcap=$KT_TMP/in.pcap,tx_pcap=$KT_TMP/out.pcap" \
	-- --name "$NAME" --wait-snapshot --idle backoff --flows 65536
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
# Keel takes only frames to its port's MAC: the fixtures are addressed to net_pcap0's.
PORT_MAC=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port_mac"])' "$KT_TMP/expected.json")
grep -q "event=port .*mac=$PORT_MAC" "$KT_TMP/dp.log" ||
	die "net_pcap0's MAC is not $PORT_MAC, which the fixtures are sent to: $(grep -m1 ' mac=' "$KT_TMP/dp.log")"

log "publishing $KT_TMP/spec.txt"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec.txt" | sed 's/^/    /' || die "publish failed"

log "waiting (at most 20 s) until the dataplane has received all $N input packets"
rx_done() { [[ $(counter "$NAME" 'j["rx_pkts"]') -ge $N ]]; }
wait_until 20 rx_done || log "only $(counter "$NAME" 'j["rx_pkts"]') of $N received"
# Drained on the TX timer (100 us) after the last burst; a moment so the pcap gets them.
sleep 0.5
dp_stop
check "keel-dataplane exits 0 on SIGTERM (got $DP_RC)" test "$DP_RC" -eq 0
check "region marked ended after exit" \
	bash -c "'$SEAM' status '$NAME' --json | grep -q '\"state\":\"ended\"'"
"$SEAM" counters "$NAME" --json >"$KT_TMP/counters.json"

log "comparing output and counters with the golden expectations"
if "$PY" "$KT_ROOT/tests/integration/golden_check.py" "$KT_TMP/expected.json" "$KT_TMP/out.pcap" \
	"$KT_TMP/counters.json"; then
	log "ok   golden outputs and counters"
else
	KT_FAILS=$((KT_FAILS + 1))
	log "FAIL golden outputs and counters (dataplane log follows)"
	sed 's/^/    /' "$KT_TMP/dp.log"
fi

# keel-replay must give every frame the dataplane's verdict (issue 14 item 6): same inputs, same
# spec, the port's MAC and no exception path; every counter it reports must equal the dataplane's.
REPLAY=$BUILD/tools/keel-replay/keel-replay
if [[ -x $REPLAY ]]; then
	"$REPLAY" --spec "$KT_TMP/spec.txt" --pcap "$KT_TMP/in.pcap" --port-mac "$PORT_MAC" \
		--non-vip drop --json >"$KT_TMP/replay.json" || die "keel-replay failed"
	check "keel-replay over the same frames: the dataplane's counters, reason by reason" \
		"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["replay"]
c = json.load(open(sys.argv[2]))
got = (r["frames"], r["forwarded"], r["answered"], r["to_kernel"], r["dropped"], r["drops"])
want = (c["rx_pkts"], c["fwd_pkts"], c["reply_pkts"], c["kernel_pkts"], c["dropped"],
        {k: v for k, v in c["drops"].items() if v})
if got != want:
    print("keel-replay:", got)
    print("dataplane:  ", want)
    sys.exit(1)
' "$KT_TMP/replay.json" "$KT_TMP/counters.json"
else
	log "no keel-replay at $REPLAY (libpcap headers missing?): replay comparison not run"
fi
finish
