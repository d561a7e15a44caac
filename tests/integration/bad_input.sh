#!/bin/bash
# shellcheck disable=SC2317 # cases run through check
# What an operator sees when a host is not ready: keelctl, keel-control, keel-dataplane and
# keel-decap run without root, without the API group, with a missing socket, without enough
# hugepages, and with an interface that does not exist. Each must print exactly one line that
# says what is wrong and what to do, and exit with the status its man page documents.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd setpriv
kt_tmpdir
chmod 0755 "$KT_TMP"
kt_name NAME bad
CTL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
DECAP=$BUILD/tools/keel-decap/keel-decap
[[ -x $CTL && -x $KEELCTL ]] || skip "no keel-control/keelctl in $BUILD"
need_build
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# expect RC PATTERN CMD...: exit status RC, one line on stderr matching PATTERN (grep -E)
expect() {
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$KT_TMP/out" 2>"$KT_TMP/err" </dev/null || rc=$?
	local lines
	lines=$(grep -vc '^EAL: \|^vdev_probe\|^TELEMETRY' "$KT_TMP/err" || true)
	if [[ $rc != "$want" || $lines != 1 ]] || ! grep -v '^EAL: \|^vdev_probe' "$KT_TMP/err" | grep -qE "$pat"; then
		echo "    exit $rc (want $want), $lines line(s):"
		sed 's/^/    | /' "$KT_TMP/err" | tail -n 5
		return 1
	fi
	echo "    $(grep -v '^EAL: \|^vdev_probe' "$KT_TMP/err")"
}

kt_config socket="$KT_TMP/root-only/control.sock" metrics="127.0.0.1:$((20000 + ($$ + 11) % 20000))" >"$KT_TMP/keel.yaml" </dev/null
mkdir -m 0700 "$KT_TMP/root-only"
chmod 0644 "$KT_TMP/keel.yaml"

# keelctl (keelctl(8): 69 unavailable, 77 permission denied)
check "keelctl, no socket: exit 69, says keel-control is not running" \
	expect 69 'not running.*start it' "$KEELCTL" --socket "$KT_TMP/none.sock" status
check "keelctl, not root and not in the socket's group: exit 77" \
	expect 77 'permission denied.*group' nobody "$KEELCTL" --socket "$KT_TMP/root-only/control.sock" status

# keel-control (keel-control(8): 1 cannot start, 64 usage, 65 refused)
check "keel-control, not root: exit 1, says run as root" \
	expect 1 'event=start_failed reason=".*Permission denied" hint="run as root' nobody "$CTL" --config "$KT_TMP/keel.yaml" --state-dir "$KT_TMP/root-only/state"
check "keel-control, missing configuration: exit 1" \
	expect 1 'event=start_failed reason=".*cannot read.*hint="give --config an existing file' "$CTL" --config "$KT_TMP/missing.yaml" --state-dir "$KT_TMP/state"
# Under systemd ($JOURNAL_STREAM names stderr) the line carries its syslog priority, no timestamp.
journal_line() {
	local f=$KT_TMP/journal.txt
	local js
	: >"$f"
	js=$(stat -c '%d:%i' "$f")
	JOURNAL_STREAM=$js "$CTL" --config "$KT_TMP/missing.yaml" --state-dir "$KT_TMP/state" 2>>"$f" || true
	echo "    $(cat "$f")"
	grep -qE '^<3>level=error event=start_failed reason=' "$f" && ! grep -q 'ts=' "$f"
}
check "keel-control, stderr is the journal: <3> priority, no timestamp of its own" journal_line
check "keel-control --check of a bad file: exit 65, FILE:LINE:COL" \
	expect 65 "$KT_TMP/bad.yaml:[0-9]+:[0-9]+: " bash -c "printf 'instance: x\nmtu: 1\n' >$KT_TMP/bad.yaml && exec $CTL --check $KT_TMP/bad.yaml"
check "keel-control, unknown option: exit 64" expect 64 "unknown or incomplete option '--no-such-option'" "$CTL" --no-such-option

# keel-control with an api.group that does not exist: it runs (root only may call) and says so.
no_group_warned() {
	sed -e "s|root-only/control.sock|control.sock|" -e 's|^api: { socket: \(.*\) }|api: { socket: \1, group: keel-no-such-group }|' \
		-e "s|127.0.0.1:[0-9]*|127.0.0.1:$((20000 + ($$ + 13) % 20000))|" "$KT_TMP/keel.yaml" >"$KT_TMP/nogroup.yaml"
	timeout -s TERM 20 "$CTL" --config "$KT_TMP/nogroup.yaml" --state-dir "$KT_TMP/state-ng" 2>"$KT_TMP/ng.log" &
	local pid=$! ok=1
	KT_PIDS+=("$pid")
	wait_until 10 grep -q 'event=api_listening' "$KT_TMP/ng.log" &&
		grep -q 'level=warn event=api_group_missing reason="group \\"keel-no-such-group\\" does not exist: read-only calls for root only"' "$KT_TMP/ng.log" && ok=0
	grep 'api_group_missing' "$KT_TMP/ng.log" | sed 's/^/    /'
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $ok
}
check "keel-control, api.group missing: runs, one warn line naming the group" no_group_warned

# keel-dataplane (keel-dataplane(8): 1 cannot start, 64 usage)
read -ra EAL <<<"$(eal_opts "$NAME")"
DPEAL=(-l "0,1" "${EAL[@]}" --vdev net_null0)
check "keel-dataplane, not root: exit 1, says run as root" \
	expect 1 'event=start_failed .*hint="not root: run as root' nobody timeout 20 "$DP" "${DPEAL[@]}" -- --name "$NAME"
check "keel-dataplane, not enough hugepages (-m 10 TiB): exit 1, says reserve more" \
	expect 1 'hugepages.*reserve' timeout 20 "$DP" "${DPEAL[@]}" -m 10485760 -- --name "$NAME"
check "keel-dataplane, an interface that does not exist: exit 1, names it" \
	expect 1 'event=start_failed iface=nosuch0 .*reason="no such interface' timeout 20 "$DP" -l 0,1 "${EAL[@]}" --vdev net_af_packet0,iface=nosuch0 -- --name "$NAME"
check "keel-dataplane, no --name: exit 64" expect 64 'name NAME is required' "$DP" -l 0,1 -- --workers 1

# keel-decap (keel-decap(8): 1 failure, 64 usage)
if [[ -x $DECAP ]]; then
	check "keel-decap, an interface that does not exist: exit 1" \
		expect 1 'nosuch0: no such interface' "$DECAP" attach nosuch0 --vip 192.0.2.10
	check "keel-decap, not root: exit 1, says run it as root" \
		expect 1 'needs root.*run it as root' nobody "$DECAP" attach lo --vip 192.0.2.10
fi
finish
