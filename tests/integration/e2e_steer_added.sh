#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, AF_XDP: keel-control fills the steering maps itself. In the sandbox keel-dataplane
# runs in a mount namespace with a BPF file system of its own (its pins) and keel-control under
# `ip netns exec`, which does not see it: keel-control finds the maps through the program on
# keel1's veth, says so (/v1/status steering, keelctl status), and a VIP added at run time that
# the maps did not hold ([VIP6]:9000, stream6: its entry deleted first) carries TCP at once.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
[[ ${KEEL_SANDBOX_IO:-afxdp} == afxdp ]] || skip "the steering program is AF_XDP's (KEEL_SANDBOX_IO=$KEEL_SANDBOX_IO)"
e2e_up

steering() { sb_api GET /v1/status | json_get "$1"; }
visible() { [[ $(steering 'j["steering"]["maps_visible"], j["steering"]["vips_missing"]') == "(True, 0)" ]]; }
check "keel-control sees keel1's steering maps, no VIP missing" wait_until 10 visible
sb_keelctl 1 status >"$KT_TMP/status.txt"
check "keelctl status: steering ok, through the program on ${SB_P}k1" grep -Eq "^steering +ok: every VIP in the maps of xdp program [0-9]+ on ${SB_P}k1\$" \
	"$KT_TMP/status.txt"

# [VIP6]:9000/tcp: family 6, proto 6, port 9000 (bpf/keel_bpf.h struct keel_bpf_vip_key).
KEY=$("$PY" -c 'import ipaddress, struct, sys
b = ipaddress.ip_address(sys.argv[1]).packed + struct.pack("!HBB", 9000, 6, 6)
print(" ".join(f"{x:02x}" for x in b))' "$VIP6")
PIN=$SB_DIR/bpf/$(keel_name 1)/keel_steer_vips
# shellcheck disable=SC2086 # KEY is the key's bytes
bpftool map delete pinned "$PIN" key hex $KEY 2>/dev/null || true
# shellcheck disable=SC2086
check "[VIP6]:9000 not in the steering map before it is a VIP" bash -c "! bpftool map lookup pinned '$PIN' key hex $KEY >/dev/null 2>&1"

log "stream6 ([VIP6]:9000) added at run time"
{
	cat "$SB_DIR/keel.yaml"
	cat <<EOT
  - name: stream6
    address: "$VIP6"
    port: 9000
    protocol: tcp
    health_check: { type: tcp, port: 9000 }
    backends:
EOT
	for b in "${SB_BES[@]}"; do echo "      - { address: \"$(be6 "$b")\" }"; done
} >"$KT_TMP/added.yaml"
code=$(sb_api POST /v1/config/apply -o "$KT_TMP/apply.json" -w '%{http_code}' \
	-H 'Content-Type: application/yaml' --data-binary @"$KT_TMP/added.yaml")
check "apply with stream6: 200" test "$code" = 200
# shellcheck disable=SC2086
in_map() { bpftool map lookup pinned "$PIN" key hex $KEY >/dev/null 2>&1; }
check "keel-control put [VIP6]:9000 in the steering map" wait_until 5 in_map
echo_ok() {
	ip netns exec "$NS_CLIENT" timeout 5 "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 9000), timeout=2)
s.sendall(b"steered\n")
sys.exit(0 if s.recv(100).rstrip().endswith(b"steered") else 1)' "$VIP6"
}
check "TCP to [VIP6]:9000 echoed by a backend" wait_until 10 echo_ok
check "no VIP missing in keel-control's steering state" wait_until 5 visible
finish
