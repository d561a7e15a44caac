# Shared by the keel-control scenarios that run under looping traffic: sourced after lib.sh,
# with NAME, SOCK, MPORT and KT_TMP set. Sets LCORES, WORKERS and RX_PCAPS (a pcap of 1000 flows
# to 192.0.2.1:80, one file per worker) and defines write_config FILE WEIGHT: VIP web with four
# backends, the first of them at WEIGHT. One worker on a small host (the main lcore and the
# worker on their own CPUs), two with 4+ CPUs.

if (($(nproc) >= 4)); then
	# shellcheck disable=SC2054 # one argument, commas are EAL syntax
	LCORES=(-l 0,1,2)
	WORKERS=2
else
	LCORES=(--lcores '0@0,1@1')
	WORKERS=1
fi

log "generating 1000 flows to 192.0.2.1:80 over $WORKERS pcap(s)"
"$PY" "$KT_ROOT/tests/fixtures/gen_bench_pcap.py" "$KT_TMP/loop" 1000 "$WORKERS" v4
RX_PCAPS=rx_pcap=$KT_TMP/loop-0.pcap
((WORKERS == 1)) || RX_PCAPS+=,rx_pcap=$KT_TMP/loop-1.pcap

write_config() { # file, weight of 10.0.0.1
	cat >"$1" <<EOF
instance: $NAME
next_hop: { mac: "02:00:5e:10:00:01" }
encap_source: { ipv4: 172.16.0.0/16 }
api: { socket: $SOCK }
metrics: { listen: "127.0.0.1:$MPORT" }
vips:
  - name: web
    address: 192.0.2.1
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    backends:
      - { address: 10.0.0.1, weight: $2 }
      - { address: 10.0.0.2 }
      - { address: 10.0.0.3 }
      - { address: 10.0.0.4 }
EOF
}
