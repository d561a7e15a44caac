#!/bin/bash
# keel-dataplane --print-memory against what a real start maps, for three sets of options (net_null,
# and AF_XDP on a veth, whose PMD has memory of its own): the
# region and every flow-table file must be exactly the size printed, and the hugepages the EAL
# maps (the process's Hugetlb in smaps: mbuf pools, rings, worker state) must fit in the printed
# eal_bytes, hold at least the printed pool, and not be far under it (an allowance, not a guess).
# --print-memory itself must start nothing: no region, no DPDK runtime directory.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_hugepages 256
kt_tmpdir

FAILS=0
fail() {
	echo "FAIL: $KT_TEST: $*"
	FAILS=$((FAILS + 1))
}

field() { # key, file: the value of key=value in the printed figures
	grep -o "\b$1=[0-9]*" "$2" | head -1 | cut -d= -f2
}

# Hugetlb bytes the process maps, outside the region and flow files (those are checked by size).
eal_hugetlb() { # pid
	awk '/^[0-9a-f]+-[0-9a-f]+ / { ours = ($0 ~ /keel-/) } /^(Private|Shared)_Hugetlb:/ && !ours { kb += $2 }
		END { print kb * 1024 }' "/proc/$1/smaps"
}

# One case: name suffix, worker count, the Keel options beyond --name/--workers.
check_case() {
	local suffix=$1 workers=$2 name out dpid region_want flow_want pool eal actual sz w lcores
	shift 2
	kt_name name "$suffix"
	if ((workers == 1)); then
		lcores=(--lcores '0@0,1@1')
	else
		lcores=(--lcores '0@0,1@1,2@0')
	fi
	# shellcheck disable=SC2207 # eal_opts is meant to split
	local eal_args=("${lcores[@]}" $(eal_opts "$name") --vdev "$VDEV")
	out=$KT_TMP/$name.mem

	log "$name: --print-memory with ${workers} worker(s) $*"
	if ! "$DP" "${eal_args[@]}" -- --name "$name" --workers "$workers" --idle backoff "$@" --print-memory >"$out" 2>&1; then
		fail "$name: --print-memory failed: $(cat "$out")"
		return
	fi
	sed 's/^/    /' "$out"
	[[ ! -e $KT_TMP/keel-$name ]] || fail "$name: --print-memory created the region"
	[[ ! -e /var/run/dpdk/$name ]] || fail "$name: --print-memory started the EAL (/var/run/dpdk/$name)"
	region_want=$(field region_bytes "$out")
	flow_want=$(field flow_file_bytes "$out")
	pool=$(field pool_bytes "$out")
	eal=$(field eal_bytes "$out")
	[[ -n $region_want && -n $flow_want && -n $pool && -n $eal ]] || {
		fail "$name: figures missing from the output"
		return
	}

	dp_start "$KT_TMP/$name.log" "${PRE[@]}" -- "${eal_args[@]}" -- --name "$name" --workers "$workers" --idle backoff "$@"
	if ! dp_wait_running "$name" "$KT_TMP/$name.log"; then
		fail "$name: the real start did not run"
		return
	fi
	dpid=$(pgrep -P "$DP_PID" -x keel-dataplane | head -1)
	[[ -n $dpid ]] || dpid=$DP_PID

	sz=$(stat -c %s "$KT_TMP/keel-$name")
	((sz == region_want)) || fail "$name: region is $sz bytes, --print-memory said $region_want"
	for ((w = 0; w < workers; w++)); do
		sz=$(stat -c %s "$KT_TMP/keel-$name-flows-$w")
		((sz == flow_want)) || fail "$name: flow file $w is $sz bytes, --print-memory said $flow_want"
	done
	actual=$(eal_hugetlb "$dpid")
	log "$name: EAL hugepages mapped $((actual >> 20)) MiB; printed eal_bytes $((eal >> 20)) MiB, pool $((pool >> 20)) MiB"
	((actual <= eal)) || fail "$name: the EAL maps $actual bytes of hugepages, more than the printed $eal"
	((actual >= pool)) || fail "$name: the EAL maps $actual bytes, less than the printed pool $pool (pool sized wrong?)"
	((eal - actual <= 8 << 20)) || fail "$name: printed eal_bytes $eal is over 8 MiB above the $actual mapped"
	dp_stop
	((DP_RC == 0)) || fail "$name: keel-dataplane exited $DP_RC"
}

PRE=()
VDEV=net_null0
check_case a 1 --flows 65536
check_case b 2 --flows 100000 --mtu 9000 --slots 2 --slot-size 8M

# AF_XDP (the PMD's default XDP program) on a veth in a namespace of this test.
NS=keel${KT_ID}mem
kt_netns "$NS"
ip netns exec "$NS" ip link add "km$KT_ID" type veth peer name "kp$KT_ID"
ip -n "$NS" link set "km$KT_ID" up
ip -n "$NS" link set "kp$KT_ID" up
PRE=(ip netns exec "$NS")
VDEV=net_af_xdp0,iface=km$KT_ID,start_queue=0,queue_count=1
check_case c 1 --flows 65536 --slots 2 --slot-size 4M

log "--print-memory without devices or workers is a usage error"
rc=0
"$DP" --no-pci -- --name nodev --workers 1 --print-memory >/dev/null 2>"$KT_TMP/err" || rc=$?
if ((rc != 64)) || ! grep -q 'needs the devices' "$KT_TMP/err"; then fail "no devices: exit $rc, $(cat "$KT_TMP/err")"; fi
rc=0
"$DP" --no-pci --vdev net_null0 -- --name nodev --print-memory >/dev/null 2>"$KT_TMP/err" || rc=$?
if ((rc != 64)) || ! grep -q 'needs --workers' "$KT_TMP/err"; then fail "no workers: exit $rc, $(cat "$KT_TMP/err")"; fi

((FAILS == 0)) || die "$FAILS check(s) failed"
log "PASS"
