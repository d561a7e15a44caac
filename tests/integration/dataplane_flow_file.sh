#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# Flow-table files are neither followed nor trusted when someone else put them there (issue 20,
# item 10). The region directory is world-writable and sticky, as /dev/shm (the fallback without
# hugetlbfs), and keel-dataplane is started with, in place of its worker 0 table:
#   1. its own valid table, handed to nobody (chown, mode 0666), who keeps a second name for it:
#      not adopted, not mapped; nobody then writes 8 bytes where the table's buckets pointer used
#      to be and a backend flush makes the worker walk its table: keel-dataplane keeps running;
#   2. a symbolic link to a root-owned file: the link is replaced, the file unchanged;
#   3. a dangling symbolic link planted by nobody: its target is not created;
#   4. a directory, 5. a FIFO (both planted by nobody): an empty start with the reason, not exit 1;
#   6. a table of its own with 200 flows on backends 1-3, adopted by a start whose first snapshot
#      has no backend 3: that backend's flows are dropped and counted, the others kept.
# Every start must say why its table starts empty, and every stop must be a clean exit 0.
. "$(dirname "$0")/lib.sh"
need_root
need_build
need_hugepages 128
need_scapy
need_cmd setpriv getent
getent passwd nobody >/dev/null || skip "needs the user nobody"
kt_tmpdir
kt_name NAME ff

chmod 0711 "$KT_TMP" # nobody may reach the shared directory, nothing else of the test
SHM=$KT_TMP/shm
mkdir -m 1777 "$SHM"
export KEEL_REGION_DIR=$SHM
FLOWS=$SHM/keel-$NAME-flows-0
NOBODY_GID=$(id -g nobody)
as_nobody() { setpriv --reuid=nobody --regid="$NOBODY_GID" --clear-groups "$@"; }
dp_pid() { "$SEAM" status "$NAME" --json | json_get 'j["pid"]'; }

# start LABEL: keel-dataplane with one worker and a null port; the log is $KT_TMP/dp-LABEL.log
start() {
	LOGF=$KT_TMP/dp-$1.log
	# shellcheck disable=SC2046 # EAL options are words by design
	dp_start "$LOGF" -- -l 0,1 $(eal_opts "$NAME") --vdev net_null0 -- \
		--name "$NAME" --idle backoff --flows 65536
	dp_wait_running "$NAME" "$LOGF" || die "keel-dataplane did not start with $1 in place of its table"
	log "    $(grep -o 'event=flow_table.*' "$LOGF" || true)"
}

stop() { # label
	dp_stop
	check "$1: keel-dataplane exits 0 on SIGTERM (got $DP_RC)" test "$DP_RC" -eq 0
}

said() { grep -q "event=flow_table_empty.*reason=.*$1" "$LOGF"; }

ours() { # the path is now a regular file of root's, mode 0600, one link
	[[ ! -L $FLOWS && -f $FLOWS && $(stat -c '%u %a %h' "$FLOWS") == "0 600 1" ]]
}

log "1. a valid table handed to nobody"
start first
stop first
check "the first start made its table root's, mode 0600" ours
chown nobody:"$NOBODY_GID" "$FLOWS"
chmod 0666 "$FLOWS"
as_nobody ln "$FLOWS" "$SHM/nobody-keeps"
INO=$(stat -c %i "$FLOWS")
start planted
PID=$(dp_pid)
check "the planted table is not adopted" bash -c "! grep -q event=flow_table_adopted '$LOGF'"
check "the start says whose file it was" said "owned by uid $(id -u nobody)"
check "the planted file is not mapped by keel-dataplane" \
	bash -c "! awk -v i=$INO '\$5 == i' /proc/$PID/maps | grep -q ."
check "a new file of root's is in its place" ours
# Where the buckets pointer lived (the first byte past the header page): 8 bytes crashed it before.
printf 'AAAAAAAA' | as_nobody dd of="$SHM/nobody-keeps" bs=1 seek=4096 conv=notrunc status=none
"$SEAM" flush "$NAME" 1 >/dev/null || die "keel-seam flush failed"
sleep 1
check "keel-dataplane still runs after nobody wrote into the planted file" kill -0 "$PID"
stop planted

log "2. a symbolic link to a root-owned file"
rm -f "$FLOWS" "$SHM/nobody-keeps"
printf 'precious\n' >"$KT_TMP/target"
SUM=$(sha256sum <"$KT_TMP/target")
ln -s "$KT_TMP/target" "$FLOWS"
start symlink
check "the start says a link was there" said "symbolic link (not followed)"
check "the link's target is unchanged" test "$(sha256sum <"$KT_TMP/target")" = "$SUM"
check "the link is replaced by a file of root's" ours
stop symlink

log "3. a dangling symbolic link planted by nobody"
rm -f "$FLOWS"
as_nobody ln -s "$KT_TMP/absent" "$FLOWS"
start dangling
check "the start says a link was there" said "symbolic link (not followed)"
check "the link's target was not created" test ! -e "$KT_TMP/absent"
check "the link is replaced by a file of root's" ours
stop dangling

log "4. a directory planted by nobody"
rm -f "$FLOWS"
as_nobody mkdir "$FLOWS"
start directory
check "the start says a directory is there and the table is not kept" said "a directory is in its place"
check "the directory is left as it was" test -d "$FLOWS"
stop directory
rmdir "$FLOWS"

log "5. a FIFO planted by nobody"
as_nobody mkfifo -m 0666 "$FLOWS"
start fifo
check "the start says a FIFO was there" said "a FIFO was in its place"
check "the FIFO is replaced by a file of root's" ours
stop fifo

log "6. an adopted table checked against the first snapshot"
# 200 connections to one VIP on backends 1, 2 and 3; the next start's first snapshot lacks 3.
rm -f "$FLOWS"
"$PY" - "$KT_TMP/conns.pcap" <<'PYEOF'
import struct, sys
from scapy.all import Ether, IP, TCP, raw
with open(sys.argv[1], "wb") as fh:
    fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(200):
        fr = raw(Ether(src="02:00:00:00:00:c1", dst="02:70:63:61:70:00") /
                 IP(src="203.0.113.%d" % (2 + i % 50), dst="192.0.2.20") /
                 TCP(sport=10000 + i, dport=80, flags="S", seq=i))
        fh.write(struct.pack("<IIII", 1700000000, i, len(fr), len(fr)) + fr)
PYEOF
spec() { # backend ids...
	printf 'seed 1\nmtu 1500\nsrc-mac 02:00:00:00:00:02\ngw-mac 02:00:00:00:00:fe\nsrc4 203.0.113.128/25\n'
	printf 'vip 192.0.2.20:80/tcp id=1\n'
	for b; do printf 'backend 198.51.100.%d id=%d\n' "$b" "$b"; done
}
spec 1 2 3 >"$KT_TMP/spec-123.txt"
spec 1 2 >"$KT_TMP/spec-12.txt"
LOGF=$KT_TMP/dp-conns.log
# shellcheck disable=SC2046 # EAL options are words by design
dp_start "$LOGF" -- -l 0,1 $(eal_opts "$NAME") \
	--vdev "net_pcap0,rx_pcap=$KT_TMP/conns.pcap,tx_pcap=$KT_TMP/out.pcap" -- \
	--name "$NAME" --wait-snapshot --idle backoff --flows 65536
dp_wait_running "$NAME" "$LOGF" || die "keel-dataplane did not start with the pcap"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec-123.txt" >/dev/null || die "publish failed"
tracked() { [[ $(counter "$NAME" 'j["flows"]["occupancy"]') -ge 200 ]]; }
wait_until 20 tracked || die "only $(counter "$NAME" 'j["flows"]["occupancy"]') of 200 flows tracked"
ON3=$(counter "$NAME" 'j["backends"].get("3", {}).get("new_flows", 0)')
stop conns
log "    200 flows tracked, $ON3 on backend 3"
check "some flows are on backend 3, not all" test "$ON3" -gt 0 -a "$ON3" -lt 200
start checked
check "the table is adopted" grep -q "event=flow_table_adopted worker=0 flows=200 dropped=0" "$LOGF"
timeout 20 "$SEAM" publish "$NAME" "$KT_TMP/spec-12.txt" >/dev/null || die "publish failed"
checked() { grep -q "event=flow_table_checked" "$LOGF"; }
wait_until 10 checked || true
log "    $(grep -o 'event=flow_table_checked.*' "$LOGF" || true)"
check "the check drops the flows of backend 3, no other" grep -q "event=flow_table_checked worker=0 dropped=$ON3 " "$LOGF"
check "the table keeps the others" test "$(counter "$NAME" 'j["flows"]["occupancy"]')" -eq $((200 - ON3))
stop checked

finish
