# Shared helpers of the integration scenarios: build and tool lookup, per-test names, temp dirs,
# network namespaces, keel-dataplane start/stop, bounded waits, skips (exit 77) and cleanup.
#
# Source it first thing:  . "$(dirname "$0")/lib.sh"
# Every scenario runs with `set -euo pipefail`; the EXIT trap undoes whatever the helpers
# created (processes by pid, namespaces, veths, temp dirs, DPDK runtime files), on failure too.

set -euo pipefail
# shellcheck disable=SC2317 # kt_cleanup runs from the EXIT trap

KT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KT_TEST=$(basename "$0" .sh)
BUILD=${KEEL_BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$KT_ROOT/$BUILD
DP=$BUILD/dataplane/keel-dataplane
SEAM=$BUILD/tools/keel-seam/keel-seam
# Debian's python3 with python3-scapy; the first python3 on PATH may be another interpreter.
PY=${KEEL_PYTHON:-/usr/bin/python3}
KT_ID=$$
KT_T0=$SECONDS

# The shared helpers in lib/: the config renderer (kt_config), the API client (kt_api, keel_http.py).
# shellcheck source=tests/integration/lib/config.bash
. "$KT_ROOT/tests/integration/lib/config.bash"
# shellcheck source=tests/integration/lib/http.bash
. "$KT_ROOT/tests/integration/lib/http.bash"

KT_PIDS=()
KT_NETNS=()
KT_LINKS=()
KT_PREFIXES=()
KT_TMP=

log() { printf '[%s %3ds] %s\n' "$KT_TEST" $((SECONDS - KT_T0)) "$*"; }

skip() {
	echo "SKIP: $KT_TEST: $*"
	exit 77
}

die() {
	echo "FAIL: $KT_TEST: $*"
	exit 1
}

# Checks report as they go; the scenario's result is the count of failures.
KT_FAILS=0
check() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then
		log "ok   $what"
	else
		log "FAIL $what"
		KT_FAILS=$((KT_FAILS + 1))
	fi
}

finish() {
	if ((KT_FAILS)); then
		echo "FAIL: $KT_TEST: $KT_FAILS check(s) failed ($((SECONDS - KT_T0)) s)"
		exit 1
	fi
	echo "PASS: $KT_TEST ($((SECONDS - KT_T0)) s)"
	exit 0
}

kt_cleanup() {
	local rc=$? p i
	trap - EXIT INT TERM
	set +e
	for ((i = ${#KT_PIDS[@]} - 1; i >= 0; i--)); do
		p=${KT_PIDS[i]}
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for l in "${KT_LINKS[@]}"; do
		ip link del "$l" 2>/dev/null
	done
	for n in "${KT_NETNS[@]}"; do
		# Kill what still runs inside (only our own namespaces), then remove them.
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for p in "${KT_PREFIXES[@]}"; do
		rm -rf "/var/run/dpdk/$p"
		rm -f /dev/hugepages/"$p"map_* 2>/dev/null
	done
	if [[ -n $KT_TMP && -d $KT_TMP ]]; then
		if [[ $rc -ne 0 && $rc -ne 77 && -n ${KEEL_KEEP_TMP:-} ]]; then
			echo "kept $KT_TMP for inspection"
		else
			rm -rf "$KT_TMP"
		fi
	fi
	exit "$rc"
}
trap kt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites ---

need_root() { [[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, hugepages, TAP)"; }

need_cmd() {
	local c
	for c; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

need_build() {
	[[ -x $DP ]] || skip "no keel-dataplane at $DP (build with meson/ninja, or set KEEL_BUILD; -Ddataplane=disabled?)"
	[[ -x $SEAM ]] || skip "no keel-seam at $SEAM"
}

need_scapy() {
	"$PY" -c 'import scapy.all' 2>/dev/null || skip "$PY has no scapy (Debian: python3-scapy)"
}

need_hugepages() { # MiB wanted
	local want=${1:-256} free size
	free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
	size=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
	((free * size / 1024 >= want)) || skip "needs ${want} MiB of free hugepages, $((free * size / 1024)) MiB free (tools/deps sets them up)"
	mountpoint -q /dev/hugepages || skip "/dev/hugepages is not mounted (hugetlbfs)"
}

# Temp dir, also where keel-dataplane puts its shared region for this test.
kt_tmpdir() {
	KT_TMP=$(mktemp -d --tmpdir --suffix ".keel-$KT_TEST")
	export KEEL_REGION_DIR=$KT_TMP
}

# A per-test name (instance name and DPDK --file-prefix) that two runs cannot share.
kt_name() { # variable, suffix: sets the variable (not $(...): the cleanup list must see it)
	printf -v "$1" 'k%s%s' "$KT_ID" "${2:-}"
	KT_PREFIXES+=("${!1}")
}

# --- bounded waits ---

wait_until() { # seconds, command...: 0 as soon as the command succeeds, 1 after the deadline
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# --- keel-dataplane ---

# Start in the background: dp_start LOG [ip netns exec NS] -- EAL... -- keel...
# Sets DP_PID (the `timeout` wrapper: SIGTERM to it reaches keel-dataplane).
dp_start() {
	local logf=$1
	shift
	local pre=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		pre+=("$1")
		shift
	done
	shift
	"${pre[@]}" timeout -s TERM -k 5 "${DP_TIMEOUT:-120}" "$DP" "$@" >"$logf" 2>&1 &
	DP_PID=$!
	KT_PIDS+=("$DP_PID")
}

# Wait until instance NAME reports "running" (bounded); fails if the process died.
dp_wait_running() { # name, log
	local deadline=$((SECONDS + 20))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$DP_PID" 2>/dev/null; then
			echo "keel-dataplane exited early:"
			sed 's/^/    /' "$2"
			return 1
		fi
		if "$SEAM" status "$1" --json 2>/dev/null | grep -q '"state":"running"'; then
			return 0
		fi
		sleep 0.1
	done
	echo "keel-dataplane $1 not running after 20 s:"
	sed 's/^/    /' "$2"
	return 1
}

# SIGTERM and wait (bounded); sets DP_RC to the exit status (not $(...): wait needs this shell).
dp_stop() {
	local p=$DP_PID rc=0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || rc=$?
	# shellcheck disable=SC2034 # read by the scenarios
	DP_RC=$rc
}

# --- keel-control ---

api_up() { curl -s -o /dev/null --max-time 2 --unix-socket "$SOCK" http://keel/v1/status; }

# control_start [WRAPPER... --]: keel-control on ${CONTROL_CONFIG:-$KT_TMP/keel.yaml} with state in
# $KT_TMP/state, in the background, its output appended to $KT_TMP/control.log (a restart keeps
# what the first run said); WRAPPER is e.g. `ip netns exec NS` or `timeout -s TERM -k 5 300`
# (none where kill -9 must reach keel-control itself). Sets CONTROL_PID; returns once the API
# answers on $SOCK, or dies with the log after 15 s.
control_start() {
	local pre=()
	if [[ " $* " == *" -- "* ]]; then
		while [[ $1 != -- ]]; do
			pre+=("$1")
			shift
		done
		shift
	fi
	"${pre[@]}" "$CONTROL" --config "${CONTROL_CONFIG:-$KT_TMP/keel.yaml}" \
		--state-dir "$KT_TMP/state" "$@" >>"$KT_TMP/control.log" 2>&1 &
	CONTROL_PID=$!
	KT_PIDS+=("$CONTROL_PID")
	if ! wait_until 15 api_up; then
		sed 's/^/    /' "$KT_TMP/control.log"
		die "the API did not come up on $SOCK"
	fi
}

# One field of a JSON document on stdin, by a Python expression over `j`.
json_get() { "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

counter() { # name, python expression over j
	"$SEAM" counters "$1" --json | json_get "$2"
}

# --- network namespaces ---

kt_netns() { # name: create, register for cleanup, bring lo up
	ip netns add "$1"
	KT_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# A veth pair with each end in a namespace. Deleting one end removes both, and
# deleting the namespaces removes it anyway; it is registered for the host side too.
kt_veth() { # name-a ns-a name-b ns-b
	ip link add "$1" type veth peer name "$3"
	KT_LINKS+=("$1")
	ip link set "$1" netns "$2"
	ip link set "$3" netns "$4"
	ip -n "$2" link set "$1" up
	ip -n "$4" link set "$3" up
}

# EAL options every scenario uses: no PCI scan ever, a unique prefix, no telemetry socket.
eal_opts() { # prefix
	echo "--no-pci --file-prefix $1 --huge-unlink --no-telemetry"
}
