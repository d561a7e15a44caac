# shellcheck shell=bash
# shellcheck disable=SC2317 # predicates run through wait_until / check
# Helpers of the fleet scenarios (tests/integration/fleet_*.sh), sourced after lib.sh: a sandbox
# of FLEET_HOSTS (2) Keel hosts with BIRD on the router and on every host (prefix kfl, or
# KEEL_E2E_PREFIX), long-lived TCP connections and UDP probes through the VIP, and what the
# router's kernel routes say.
E2E_HOSTS=${FLEET_HOSTS:-2}
E2E_BGP=1
KEEL_E2E_PREFIX=${KEEL_E2E_PREFIX:-kfl}
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
FLEET_PY=$KT_ROOT/tools/sandbox.d/fleet.py

# The sandbox, and every host's VIP addresses announced: the router's route to both VIPs has a
# next hop per host.
fleet_up() {
	need_cmd bird birdc
	e2e_up
	wait_until 30 nexthops_are "$VIP4" "$E2E_HOSTS" ||
		die "router: $VIP4 not over $E2E_HOSTS hosts after 30 s: $(in_ns "$NS_ROUTER" ip route show "$VIP4"); $(sb_birdc router show protocols 2>&1 | tail -n +3 | tr -s ' ' | tr '\n' ';')"
	wait_until 10 nexthops_are "$VIP6" "$E2E_HOSTS" ||
		die "router: $VIP6 not over $E2E_HOSTS hosts: $(in_ns "$NS_ROUTER" ip -6 route show "$VIP6")"
	log "router: $VIP4 and $VIP6 over $(nexthops "$VIP4" | tr '\n' ' ')"
}

# The router's next hops for a VIP (the kernel route BIRD installed), one per line
nexthops() { # vip
	local fam=-4
	[[ $1 == *:* ]] && fam=-6
	in_ns "$NS_ROUTER" ip "$fam" route show "$1" 2>/dev/null | grep -o 'via [0-9a-f.:]*' | awk '{print $2}' | sort
}
nexthops_are() { [[ $(nexthops "$1" | wc -l) == "$2" ]]; } # vip count
has_nexthop() { nexthops "$1" | grep -qx "$2"; }           # vip address
no_nexthop() { ! has_nexthop "$1" "$2"; }

# A BGP route's attribute as the router's BIRD sees it from one host: med_from VIP K
med_from() {
	local t=master4
	[[ $1 == *:* ]] && t=master6
	sb_birdc router show route "${1}/$([[ $1 == *:* ]] && echo 128 || echo 32)" table "$t" all protocol "keel${2}_$([[ $1 == *:* ]] && echo 6 || echo 4)" 2>/dev/null |
		awk '/BGP.med:/ {print $2}'
}

# Seconds (3 decimals) from epoch T0 until a predicate holds, polling every 20 ms; "never" after
# LIMIT seconds.
time_until() { # t0 limit cmd...
	local t0=$1 limit=$2 now
	shift 2
	while :; do
		now=$(date +%s.%N)
		if "$@"; then
			"$PY" -c "print(f'{$now - $t0:.3f}')"
			return 0
		fi
		if "$PY" -c "import sys; sys.exit(0 if $now - $t0 > $limit else 1)"; then
			echo never
			return 1
		fi
		sleep 0.02
	done
}

# Long-lived traffic in the background: 300 TCP connections to the stream VIP (a line every
# 100 ms each; no answer for FLEET_STALL seconds, default 2, fails one) and 32 UDP probe ports on
# the echo VIP (one every 20 ms each), for S seconds. Results in $KT_TMP/persist.json and
# $KT_TMP/probe.json.
traffic_start() { # seconds [conns]
	local s=$1 n=${2:-300}
	CLIENT_TIMEOUT=$((s + 30)) client persist --vip "$VIP4" --port 9000 --conns "$n" --seconds "$s" \
		--interval 0.1 --stall "${FLEET_STALL:-2}" >"$KT_TMP/persist.json" 2>"$KT_TMP/persist.err" &
	TRAFFIC_PIDS=($!)
	CLIENT_TIMEOUT=$((s + 30)) client probe --vip "$VIP4" --port 7 --conns 32 --seconds "$s" \
		--interval 0.02 >"$KT_TMP/probe.json" 2>"$KT_TMP/probe.err" &
	TRAFFIC_PIDS+=($!)
	KT_PIDS+=("${TRAFFIC_PIDS[@]}")
	# every connection open and answered before the event
	sleep 4
}
traffic_wait() {
	local p
	for p in "${TRAFFIC_PIDS[@]}"; do wait "$p" || die "client $p failed: $(tail -n 3 "$KT_TMP"/*.err)"; done
}
survival() { # event-epoch [--until epoch]
	local ev=$1
	shift
	"$PY" "$FLEET_PY" survival "$KT_TMP/persist.json" --event "$ev" "$@"
}
failover() { # event-epoch [--until epoch]
	local ev=$1
	shift
	"$PY" "$FLEET_PY" failover "$KT_TMP/probe.json" --event "$ev" "$@"
}
share_ok() { # survival JSON: at least 99.9% of 300 (that is: none) broken
	"$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if j["at_event"] >= 100 and j["share"] >= 0.999 else 1)' "$1"
}
jfield() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

host_rx() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" counters "$(keel_name "$1")" --json | json_get 'j["rx_pkts"]'; }
# a metric's value on host K (first sample whose line matches the pattern)
metric_of() { # K pattern
	in_ns "$(ns_keel "$1")" curl -sf --max-time 5 "http://$(keel_metrics "$1")/metrics" | grep -E "^$2" | head -n 1 | awk '{print $NF}'
}
dp_alive() { KEEL_REGION_DIR=$SB_DIR "$SB_SEAM" status "$(keel_name "$1")" --json 2>/dev/null | grep -q '"state":"running"'; }
