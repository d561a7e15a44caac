# shellcheck shell=bash
# The keel.yaml renderer every scenario uses: the head each one writes (instance, next hop,
# encapsulation source, API socket, metrics), then the scenario's own keys (vips:, bgp:, ...)
# from stdin (always read: </dev/null for none), so that a key added to the head is added in
# one place.
#
#   kt_config [key=value...] >"$KT_TMP/keel.yaml" <<EOF
#   vips:
#     - { name: web, ... }
#   EOF
#
# Keys (default): instance ($NAME), mac (02:00:5e:10:00:01; the next hop's MAC), gateway (none;
# the next hop by address instead of mac), ipv4 (172.16.0.0/16) and ipv6 (none) of encap_source,
# socket ($SOCK), group and admin_group (none) of api, metrics (127.0.0.1:$MPORT; empty: no
# metrics key). An unknown key dies: a typo must not render a default silently.
kt_config() {
	local instance=${NAME:-} mac=02:00:5e:10:00:01 gateway='' ipv4=172.16.0.0/16 ipv6=''
	local socket=${SOCK:-} group='' admin_group='' metrics=${MPORT:+127.0.0.1:$MPORT} kv
	for kv; do
		case ${kv%%=*} in
		instance | mac | gateway | ipv4 | ipv6 | socket | group | admin_group | metrics)
			local "$kv" ;;
		*) die "kt_config: unknown key '${kv%%=*}'" ;;
		esac
	done
	[[ -n $instance && -n $socket ]] || die "kt_config: no instance or socket (set NAME and SOCK)"
	echo "instance: $instance"
	if [[ -n $gateway ]]; then
		echo "next_hop: { gateway: $gateway }"
	else
		echo "next_hop: { mac: \"$mac\" }"
	fi
	echo "encap_source: { ipv4: $ipv4${ipv6:+, ipv6: \"$ipv6\"} }"
	echo "api: { socket: $socket${group:+, group: $group}${admin_group:+, admin_group: $admin_group} }"
	[[ -z $metrics ]] || echo "metrics: { listen: \"$metrics\" }"
	cat
}
