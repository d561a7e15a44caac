# shellcheck shell=bash
# Two Keel hosts in one fleet for the fleet_store_* scenarios: a three-member etcd cluster
# (lib_etcd.bash), and per host a keel-dataplane on net_null vdevs and a keel-control whose
# keel.yaml has a fleet: section (it runs in the etcd client namespace, where the members are
# reachable; the dataplane's region and the API socket are files, so the namespace does not
# matter to them). Source it after lib.sh.
#
#   fleet_setup N              cluster, spec seeded (VIP web, 4 backends), N hosts started
#   fleet_host_add I           one more host: its dataplane (--slot-size FLEET_SLOT_SIZE, 8M) and control
#   fleet_host_start I         (re)start host I's keel-control (its dataplane keeps running)
#   fleet_host_kill I          kill -9 host I's keel-control
#   fapi I METHOD PATH [curl args]   the API of host I (body on stdout)
#   kctl I ARGS                keelctl against host I
#   fstatus I EXPR             a Python expression over host I's /v1/status
#   fleet_applied I            host I's applied revision
#   fleet_spec_rev             the spec key's mod_revision in the store
#   fleet_converged REV        every host runs REV with the digests of host 1
#   fleet_metric I NAME        a metric of host I
# FLEET_YAML_EXTRA: lines added to every host's fleet: section (indented by two spaces).
# FLEET_OWN_NS=1 (set before fleet_setup): each keel-control in a namespace of its own on the
# clients' bridge (FLEET_NS[I], at ETCD_NET.(110+I)), so that a host can be cut from a backend or
# the store alone (nftables there).

need_root
need_build
need_cmd etcd etcdctl curl
need_hugepages 512
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
[[ -x $KEELCTL ]] || skip "no keelctl at $KEELCTL"
kt_tmpdir
. "$KT_ROOT/tests/integration/lib_etcd.bash"

FLEET_PREFIX=/keel/t$KT_ID
FLEET_SPEC=$FLEET_PREFIX/spec
FLEET_N=0
FLEET_NAME=()
FLEET_CPID=()
FLEET_NS=()
FLEET_OWN_NS=${FLEET_OWN_NS:-0}
FLEET_T0=()

fleet_config() { # host index
	local i=$1
	cat >"$KT_TMP/keel$i.yaml" <<EOF
instance: ${FLEET_NAME[i]}
next_hop: { mac: "02:00:5e:10:00:01" }
encap_source: { ipv4: 172.16.0.0/16 }
api: { socket: $KT_TMP/c$i.sock }
metrics: { listen: "127.0.0.1:$((20000 + ($$ + i) % 20000))" }
fleet:
  endpoints: [${ETCD_ENDPOINTS//,/, }]
  prefix: $FLEET_PREFIX
  host: h$i
  timeout: 1500ms
  lease_ttl: 3s
  watch_idle_timeout: 5s
  wait_timeout: 10s
${FLEET_YAML_EXTRA:-}
EOF
}

# The seed spec: what every host runs first (written with etcdctl, as an operator would).
FLEET_SEED='{"version":1,"fleet_seed":"0x6b65656c","vips":[{"name":"web","address":"192.0.2.1","port":80,"protocol":"tcp","maglev_table_size":1021,"backends":[{"address":"10.0.0.1"},{"address":"10.0.0.2"},{"address":"10.0.0.3"},{"address":"10.0.0.4"}]}]}'

fleet_host_start() { # index
	local i=$1
	FLEET_T0[i]=$(($(date +%s%N) / 1000000)) # when it started (ms): tools/fleet-figures
	ip netns exec "${FLEET_NS[i]:-$ETCD_CLIENT_NS}" "$CONTROL" --config "$KT_TMP/keel$i.yaml" \
		--state-dir "$KT_TMP/state$i" >>"$KT_TMP/control$i.log" 2>&1 &
	FLEET_CPID[i]=$!
	KT_PIDS+=("$!")
	if ! wait_until 15 curl -s -o /dev/null --max-time 2 --unix-socket "$KT_TMP/c$i.sock" \
		http://keel/v1/status; then
		sed 's/^/    /' "$KT_TMP/control$i.log"
		die "host $i: the API did not come up"
	fi
}

fleet_host_kill() { # index
	kill -KILL "${FLEET_CPID[$1]}" 2>/dev/null || true
	wait "${FLEET_CPID[$1]}" 2>/dev/null || true
}

fleet_setup() { # hosts
	local i
	log "starting a three-member etcd cluster"
	etcd_cluster_start
	etcdctl_c put "$FLEET_SPEC" "$FLEET_SEED" >/dev/null
	FLEET_N=$1
	for ((i = 1; i <= $1; i++)); do
		fleet_host_add "$i"
	done
	log "$FLEET_N hosts started in fleet $FLEET_PREFIX"
}

fleet_host_add() { # index
	local i=$1
	kt_name "FLEET_NAME[$i]" "f$i"
	if ((FLEET_OWN_NS)); then
		FLEET_NS[i]=ke${KT_ID}h$i
		etcd_ns_on_bridge "${FLEET_NS[i]}" $((110 + i))
	fi
	fleet_config "$i"
	# shellcheck disable=SC2046
	DP_TIMEOUT=300 dp_start "$KT_TMP/dp$i.log" -- --lcores "0@0,1@$((i % $(nproc)))" \
		$(eal_opts "${FLEET_NAME[i]}") --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
		-- --name "${FLEET_NAME[i]}" --workers 1 --tx-port 0=1 --slots 4 --slot-size "${FLEET_SLOT_SIZE:-8M}"
	dp_wait_running "${FLEET_NAME[i]}" "$KT_TMP/dp$i.log" || die "keel-dataplane $i did not start"
	fleet_host_start "$i"
	((i <= FLEET_N)) || FLEET_N=$i
}

fapi() { # index method path [curl args]
	local i=$1 m=$2 p=$3
	shift 3
	curl -sS --max-time 20 --unix-socket "$KT_TMP/c$i.sock" -X "$m" "$@" "http://keel$p"
}

kctl() { # index args
	local i=$1
	shift
	"$KEELCTL" --socket "$KT_TMP/c$i.sock" "$@"
}

fstatus() { fapi "$1" GET /v1/status | json_get "$2"; }
fleet_applied() { fstatus "$1" 'j["fleet"]["applied_revision"]'; }
fleet_spec_rev() { etcdctl_c get "$FLEET_SPEC" -w json | json_get 'j["kvs"][0]["mod_revision"]'; }
fleet_digests() {
	fapi "$1" GET /v1/table/digest | json_get 'sorted((v["vip"], v["digest"]) for v in j["vips"])'
}

fleet_converged() { # revision: every host runs it, with the digests of host 1
	local i d1
	d1=$(fleet_digests 1) || return 1
	for ((i = 1; i <= FLEET_N; i++)); do
		[[ $(fleet_applied "$i") == "$1" ]] || return 1
		[[ $(fleet_digests "$i") == "$d1" ]] || return 1
	done
}

fleet_metric() { # index name
	ip netns exec "${FLEET_NS[$1]:-$ETCD_CLIENT_NS}" curl -sS --max-time 5 "http://127.0.0.1:$((20000 + ($$ + $1) % 20000))/metrics" |
		awk -v n="$2" '($1 == n || index($1, n "{") == 1) && !v {v = $2} END {print v}'
}
