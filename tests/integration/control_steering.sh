#!/bin/bash
# keel-control keeps the AF_XDP steering program's pinned VIP maps equal to its configuration:
# VIPs appear in keel_steer_vips / keel_steer_addrs without restarting anything, leave when
# removed, and the program's per-verdict counters are exported on /metrics.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd bpftool curl "$PY"
CONTROL=$BUILD/control/keel-control
STEER_O=$BUILD/bpf/steer.bpf.o
[[ -x $CONTROL ]] || skip "no keel-control (built with the dataplane)"
[[ -f $STEER_O ]] || skip "steer.bpf.o not built (-Dbpf disabled)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip "no bpf filesystem"
PINS=(/sys/fs/bpf/keel_steer_vips /sys/fs/bpf/keel_steer_addrs /sys/fs/bpf/keel_steer_cnt)
for p in "${PINS[@]}"; do
	# Steering maps of a real deployment are not ours to touch.
	[[ -e $p ]] && skip "$p exists: a steering program is in use on this host"
done
kt_tmpdir
kt_name NAME steer
PROG=/sys/fs/bpf/keel_test_steer_$KT_ID
trap 'rm -f "$PROG" "${PINS[@]}"; kt_cleanup' EXIT

# Loading the object pins its maps by name in /sys/fs/bpf, as the af_xdp PMD's load does.
bpftool prog load "$STEER_O" "$PROG" type xdp || die "cannot load $STEER_O"
for p in "${PINS[@]}"; do
	check "$p pinned by the load" test -e "$p"
done

SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 7) % 20000))
kt_config ipv6=fd00:1::/64 >"$KT_TMP/keel.yaml" <<YAML
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, maglev_table_size: 251,
      backends: [ { address: 10.0.0.1 } ] }
  - { name: dns, address: "2001:db8::53", port: all, protocol: udp, fragments: true,
      maglev_table_size: 251, backends: [ { address: "2001:db8:b::1" } ] }
YAML
timeout -s TERM -k 5 120 "$CONTROL" --config "$KT_TMP/keel.yaml" --state-dir "$KT_TMP/state" \
	>"$KT_TMP/control.log" 2>&1 &
KT_PIDS+=($!)

entries() { bpftool -j map dump pinned "$1" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
has_entries() { [[ $(entries "$1") == "$2" ]]; }

log "keel-control fills the maps (no dataplane needed)"
check "keel_steer_vips holds the 2 VIPs" wait_until 10 has_entries /sys/fs/bpf/keel_steer_vips 2
check "keel_steer_addrs holds the 2 addresses" wait_until 10 has_entries /sys/fs/bpf/keel_steer_addrs 2
check "the dns address takes UDP fragments" bash -c \
	"bpftool -j map dump pinned /sys/fs/bpf/keel_steer_addrs | grep -q '\"flags\": *2'"

log "a VIP removed by an apply leaves the maps"
sed -i '/name: dns/,$d' "$KT_TMP/keel.yaml"
code=$(KT_API_BODY=$KT_TMP/apply.json kt_api_code -X POST -H 'Content-Type: application/yaml' \
	--data-binary @"$KT_TMP/keel.yaml" '/v1/config/apply?force=1')
check "apply without the dns VIP: 200" test "$code" = 200
check "keel_steer_vips down to 1" wait_until 10 has_entries /sys/fs/bpf/keel_steer_vips 1
check "keel_steer_addrs down to 1" wait_until 10 has_entries /sys/fs/bpf/keel_steer_addrs 1

log "the steering counters on /metrics"
check "keel_steer_packets_total per verdict" bash -c \
	"curl -s --max-time 5 http://127.0.0.1:$MPORT/metrics | grep -q '^keel_steer_packets_total{verdict=\"redirect_vip\"} '"
finish
