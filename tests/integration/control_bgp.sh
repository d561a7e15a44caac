#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# keel-control announcing through a real BIRD 2 (no sandbox). Host namespace: keel-dataplane on
# net_null, keel-control with a bgp: section, one backend (a TCP listener on a local address,
# health-checked; an IPv4 and an IPv6 VIP) and BIRD with the shipped dist/bird/keel-host.conf; router namespace: a BIRD
# peer over a veth, BGP + BFD. Asserted at the router:
#  - the VIP address is learned with MED 100 and without the degraded community;
#  - every backend down: still announced, MED 200 and community (65001,200); with
#    all_backends_down: withdraw (applied through the API) withdrawn; a bad ASN refused with
#    file:line:col and nothing changed; backend back: MED 100;
#  - a stalled dataplane (SIGSTOP) and kill -9 of it: the route is gone within 1 s (the time is measured and printed);
#    a new dataplane: announced again;
#  - keelctl host drain --wait 2s: withdrawn at once, forwarding stopped after 2 s, the drain
#    survives a keel-control restart, undrain announces again;
#  - keel-control killed and restarted: announced throughout (its routes are adopted);
#  - BIRD stopped: keel_bgp_speaker_up 0, routes stay in table 100, BIRD back: learned again;
#  - SIGTERM of keel-control (a restart): announced at the router throughout, the route stays;
#  - keel-control stopped and the dataplane kill -9'd: keel-announce-guard withdraws within 1 s;
#  - SIGINT of keel-control: withdrawn at the router, exit after drain_wait, table empty.
# Addresses: RFC 5737 VIP, RFC 1918 links and backend.
. "$(dirname "$0")/lib.sh"

need_root
need_build
need_cmd curl bird birdc
need_hugepages 256
CONTROL=$BUILD/control/keel-control
KEELCTL=$BUILD/tools/keelctl/keelctl
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
kt_tmpdir
kt_name NAME bgp
NS_H=kbh$KT_ID
NS_R=kbr$KT_ID
SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 11) % 20000))
VIP=192.0.2.1
VIP6=2001:db8::1
BE=10.0.9.1
TABLE=$((1000 + $$ % 1000)) # a table of our own even if another run shares the kernel
HOST_CTL=$KT_TMP/bird-host.ctl
ROUTER_CTL=$KT_TMP/bird-router.ctl
BIRDS=()

stop_birds() {
	local p
	for p in "${BIRDS[@]}"; do
		[[ -f $p ]] && kill -TERM "$(cat "$p")" 2>/dev/null
	done
	return 0
}
trap 'stop_birds; kt_cleanup' EXIT

kt_netns "$NS_H"
kt_netns "$NS_R"
kt_veth kbh0$KT_ID "$NS_H" kbr0$KT_ID "$NS_R"
ip -n "$NS_H" addr add 10.98.0.2/24 dev kbh0$KT_ID
ip -n "$NS_R" addr add 10.98.0.1/24 dev kbr0$KT_ID
ip -n "$NS_H" addr add $BE/32 dev lo

backend_up() { # a TCP listener for the health check
	ip netns exec "$NS_H" "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8081)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()' $BE >/dev/null 2>&1 &
	BE_PID=$!
	KT_PIDS+=("$BE_PID")
}
backend_up

kt_config ipv6=fd00:9::/64 >"$KT_TMP/keel.yaml" <<EOF
vips:
  - name: web
    address: $VIP
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    health_check: { type: tcp, port: 8081, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }
    backends:
      - { address: $BE }
  - name: web6
    address: "$VIP6"
    port: 443
    protocol: tcp
    maglev_table_size: 1021
    health_check: { type: tcp, port: 8081, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }
    backends:
      - { address: $BE }
bgp:
  local_asn: 65001
  router_id: 10.98.0.2
  neighbours: [ { address: 10.98.0.1, asn: 65000 } ]
  table: $TABLE
  drain_wait: 2s
  flap_limit: 50
  bfd: { interval: 100ms, multiplier: 3 }
  bird_socket: $HOST_CTL
EOF

log "BIRD on the host (dist/bird/keel-host.conf, includes from keel-control --bird-config)"
mkdir -p "$KT_TMP/bird"
"$CONTROL" --config "$KT_TMP/keel.yaml" --bird-config "$KT_TMP/bird" >/dev/null
sed -e "s#\"/etc/bird/#\"$KT_TMP/bird/#" -e "s#^log syslog all;#log \"$KT_TMP/bird-host.log\" all;#" \
	"$KT_ROOT/dist/bird/keel-host.conf" >"$KT_TMP/bird/bird.conf"
bird -p -c "$KT_TMP/bird/bird.conf" || die "BIRD refuses the host configuration"
start_host_bird() {
	ip netns exec "$NS_H" bird -c "$KT_TMP/bird/bird.conf" -s "$HOST_CTL" -P "$KT_TMP/bird-host.pid"
}
BIRDS+=("$KT_TMP/bird-host.pid" "$KT_TMP/bird-router.pid")
start_host_bird

cat >"$KT_TMP/router.conf" <<EOF
router id 10.98.0.1;
log "$KT_TMP/bird-router.log" all;
protocol device { scan time 10; }
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol bgp keel_host {
	local 10.98.0.1 as 65000;
	neighbor 10.98.0.2 as 65001;
	hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
	bfd on;
	ipv4 { import all; export none; };
}
EOF
ip netns exec "$NS_R" bird -c "$KT_TMP/router.conf" -s "$ROUTER_CTL" -P "$KT_TMP/bird-router.pid"

log "keel-dataplane $NAME on net_null, in $NS_H"
start_dp() {
	# shellcheck disable=SC2046
	DP_TIMEOUT=300 dp_start "$KT_TMP/dp.log" ip netns exec "$NS_H" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
		--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
		-- --name "$NAME" --workers 1 --tx-port 0=1 --idle backoff --flows 4096 --slots 4 --slot-size 8M
	dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
}
start_dp

start_control() {
	control_start ip netns exec "$NS_H" --
}
log "keel-control with a bgp: section (table $TABLE)"
start_control

# The router's view of the VIP: "MED COMMUNITIES" or nothing.
router_route() {
	birdc -s "$ROUTER_CTL" show route $VIP/32 all 2>/dev/null | awk '
		/BGP.med:/ { med = $2 } /BGP.community:/ { $1 = ""; comm = $0 } /unicast/ { got = 1 }
		END { if (got) print med, comm }'
}
learned_med() { [[ $(router_route | awk '{print $1}') == "$1" ]]; }
gone() { [[ -z $(router_route) ]]; }
metric() { # name{labels} value
	local m # whole, then grep: grep -q closing the pipe early would fail curl under pipefail
	m=$(ip netns exec "$NS_H" curl -s --max-time 2 "http://127.0.0.1:$MPORT/metrics") &&
		grep -qxF "$1 $2" <<<"$m"
}
ms() { date +%s%3N; }
show_state() {
	echo "--- router:"; birdc -s "$ROUTER_CTL" show protocols all keel_host 2>&1 | head -5
	echo "--- host BIRD:"; birdc -s "$HOST_CTL" show route all table keel4 2>&1 | head -12
	echo "--- table $TABLE:"; ip -n "$NS_H" route show table "$TABLE"
	echo "--- keel-control:"; tail -20 "$KT_TMP/control.log"
}

if ! wait_until 30 learned_med 100; then
	show_state
	die "the router did not learn $VIP/32 with MED 100"
fi
check "router: $VIP/32 learned with MED 100, no degraded community" \
	bash -c "[[ \"\$(birdc -s $ROUTER_CTL show route $VIP/32 all)\" != *'(65001,200)'* ]]"
check "kernel: one blackhole route in table $TABLE, proto 250, metric 100" \
	bash -c "ip -n $NS_H route show table $TABLE | grep -Eqx 'blackhole $VIP proto (250|keel) metric 100 *'"
v6_route() { ip -6 -n "$NS_H" route show table "$TABLE" | grep -Eq "^blackhole $VIP6 (dev lo )?proto (250|keel) metric 100"; }
check "kernel: the IPv6 VIP as a /128 blackhole in table $TABLE" wait_until 3 v6_route
v6_learned() { birdc -s "$HOST_CTL" show route table keel6 2>/dev/null | grep -q "^$VIP6/128"; }
check "host BIRD learns $VIP6/128 into keel6" wait_until 5 v6_learned
check "main table untouched: no route to $VIP" \
	bash -c "! ip -n $NS_H route show table main | grep -q $VIP"
check "metric keel_bgp_announced{vip=\"web\"} 1" wait_until 3 metric 'keel_bgp_announced{vip="web"}' 1
check "metric keel_bgp_preference{vip=\"web\"} 100" metric 'keel_bgp_preference{vip="web"}' 100
check "metric keel_bgp_speaker_up 1" wait_until 3 metric keel_bgp_speaker_up 1
check "metric keel_bgp_session_up{peer=\"10.98.0.1\"} 1" wait_until 5 metric 'keel_bgp_session_up{peer="10.98.0.1"}' 1
check "metric keel_host_draining 0" metric keel_host_draining 0
digest=$("$KEELCTL" --socket "$SOCK" table digest | awk '$1 == "web" {print $2}')
log "digest web $digest; metrics: $(ip netns exec "$NS_H" curl -s "http://127.0.0.1:$MPORT/metrics" | grep -E "^keel_(maglev_table_digest|fleet_seed)")"
check "keelctl table digest: web has a digest" test -n "$digest"
check "keel_maglev_table_digest{vip=\"web\"} = low 48 bits of it" wait_until 3 \
	metric 'keel_maglev_table_digest{vip="web"}' "$((0x$digest & 0xffffffffffff))"
check "keel_fleet_seed_fingerprint exported" bash -c \
	"ip netns exec $NS_H curl -s http://127.0.0.1:$MPORT/metrics | grep -q '^keel_fleet_seed_fingerprint [0-9]'"
check "keelctl bgp: web announced, exported to 1 of 1 peers, serving" wait_until 3 bash -c \
	"'$KEELCTL' --socket '$SOCK' bgp | grep -E '^web +$VIP +yes +1/1 +normal +100 +serving'"
bgpj() { local j; j=$(kt_api --max-time 2 /v1/bgp) && json_get "$1" <<<"$j"; }
exported_to() { [[ $(bgpj '[v["exported_to"] for v in j["vips"] if v["vip"] == "web"][0]') == "$1" ]]; }
check "/v1/bgp: web exported to 10.98.0.1 (BIRD's show route export)" wait_until 3 exported_to "['10.98.0.1']"
peer_routes() { [[ $(bgpj 'j["peers"][0]["exported_routes"]') == "$1" ]]; }
check "/v1/bgp: BIRD exports 1 route to the peer (the IPv4 VIP)" peer_routes 1
check "metric keel_bgp_exported_peers{vip=\"web\"} 1" metric 'keel_bgp_exported_peers{vip="web"}' 1

status_bgp() { "$KEELCTL" --socket "$SOCK" status | grep -Eq "^bgp +BIRD up, table $TABLE"; }
check "keelctl status: the announcements, BIRD up" status_bgp
peer_up() { "$KEELCTL" --socket "$SOCK" bgp | grep -Eq '^10\.98\.0\.1 +keel_peer0 +65000 +up +1 routes +Established'; }
check "keelctl bgp: peer 10.98.0.1 up, 1 route exported, Established" peer_up

log "every backend down: fail-static, MED 200 + community (65001,200)"
kill "$BE_PID"
wait "$BE_PID" 2>/dev/null || true
check "router: MED 200 within 5 s" wait_until 5 learned_med 200
has_comm() { [[ $(router_route) == *'(65001,200)'* ]]; }
check "router: community (65001,200)" has_comm
check "keel_bgp_preference{vip=\"web\"} 200" metric 'keel_bgp_preference{vip="web"}' 200
log "all_backends_down: withdraw, applied while every backend is down"
sed 's/^  drain_wait: 2s$/  drain_wait: 2s\n  all_backends_down: withdraw/' "$KT_TMP/keel.yaml" >"$KT_TMP/withdraw.yaml"
"$KEELCTL" --socket "$SOCK" config apply "$KT_TMP/withdraw.yaml" >/dev/null ||
	check "keelctl config apply (all_backends_down: withdraw)" false
check "policy withdraw: gone at the router within 2 s" wait_until 2 gone
"$KEELCTL" --socket "$SOCK" config apply "$KT_TMP/keel.yaml" >/dev/null ||
	check "keelctl config apply (back to degraded)" false
# The apply restarts the health checks (unknown counts as up until the first round): the backends'
# health changes, so the way back up waits bgp.settle (3 s) after the last change.
check "policy degraded again: MED 200 within 7 s (bgp.settle)" wait_until 7 learned_med 200

log "a bgp: section with a bad ASN is refused and changes nothing"
sed 's/local_asn: 65001/local_asn: 4294967296/' "$KT_TMP/keel.yaml" >"$KT_TMP/bad.yaml"
set +e
out=$("$KEELCTL" --socket "$SOCK" config apply "$KT_TMP/bad.yaml" 2>&1)
rc=$?
set -e
check "refused (exit 65) with file:line:col ($out)" bash -c \
	"[[ $rc -eq 65 && '$out' == *bad.yaml:*:*:*4294967296* ]]"
code=$(KT_API_BODY=$KT_TMP/bad.out kt_api_code -H 'Content-Type: application/yaml' \
	--data-binary @"$KT_TMP/bad.yaml" /v1/config/apply)
api_refused() { [[ $code == 422 ]] && grep -Eq ':[0-9]+:14: bgp.local_asn' "$KT_TMP/bad.out"; }
check "the API refuses it too: 422 at line:col" api_refused
check "still announced after the refusal" learned_med 200

backend_up
check "backend back: MED 100 within 5 s" wait_until 5 learned_med 100

DP_REAL=$(pgrep -P "$DP_PID" keel-dataplane || pgrep -P "$DP_PID")
log "a stalled dataplane (SIGSTOP: the process is there, its heartbeats stop)"
t0=$(ms)
kill -STOP "$DP_REAL"
while ! gone && (($(ms) - t0 < 5000)); do sleep 0.01; done
t_stall=$(($(ms) - t0))
kill -CONT "$DP_REAL"
log "stall to withdrawn at the router: $t_stall ms"
check "withdrawn at the router within 1 s of the stall ($t_stall ms)" test "$t_stall" -lt 1000
check "log: withdraw event, worker stalled" grep -q "event=bgp_withdraw address=$VIP reason=\"worker stalled\"" "$KT_TMP/control.log"
check "heartbeats again: announced within 5 s" wait_until 5 learned_med 100

log "kill -9 the dataplane"
t0=$(ms)
kill -KILL "$DP_REAL"
while ! gone && (($(ms) - t0 < 5000)); do sleep 0.01; done
t_kill=$(($(ms) - t0))
log "kill -9 to withdrawn at the router: $t_kill ms"
check "withdrawn at the router within 1 s of kill -9 ($t_kill ms)" test "$t_kill" -lt 1000
check "log: withdraw event, dataplane down" grep -q "event=bgp_withdraw address=$VIP reason=\"dataplane down\"" "$KT_TMP/control.log"
wait "$DP_PID" 2>/dev/null || true
start_dp
check "new dataplane: announced again within 10 s" wait_until 10 learned_med 100

log "keelctl host drain --wait 2s"
t0=$(ms)
"$KEELCTL" --socket "$SOCK" host drain --wait 2s >/dev/null || check "keelctl host drain succeeds" false
while ! gone && (($(ms) - t0 < 5000)); do sleep 0.01; done
t_drain=$(($(ms) - t0))
log "drain to withdrawn at the router: $t_drain ms"
check "drain: withdrawn at the router within 1 s ($t_drain ms)" test "$t_drain" -lt 1000
check "keel_host_draining 1" metric keel_host_draining 1
check "forwarding goes on during the wait" test "$(bgpj 'j["forwarding_stopped"]')" = False
fwd_stopped() { [[ $(bgpj 'j["forwarding_stopped"]') == True ]]; }
check "forwarding stopped after the wait" wait_until 4 fwd_stopped
no_vips() { "$SEAM" status "$NAME" --json | grep -q '"n_vips":0' || \
	[[ $(kt_api /v1/table/digest | json_get 'len(j["vips"])') == 0 ]]; }
check "drained: the dataplane runs a snapshot without VIPs" wait_until 3 no_vips

log "restart keel-control while drained: the drain holds"
kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
start_control
sleep 2
check "still withdrawn after the restart" gone
check "still draining after the restart" test "$(bgpj 'j["draining"]')" = True
"$KEELCTL" --socket "$SOCK" host undrain >/dev/null || check "keelctl host undrain succeeds" false
check "undrain: announced again within 5 s" wait_until 5 learned_med 100

log "kill -9 keel-control and start it again: the routes stay (adopted, no flap)"
# Watched from before the kill until well after the new one is up.
(for _ in $(seq 60); do gone && echo gone; sleep 0.05; done) >"$KT_TMP/flap" &
WATCH=$!
kill -KILL "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
start_control
wait "$WATCH"
check "announced throughout a keel-control crash and restart" test ! -s "$KT_TMP/flap"
check "log: the route adopted from the earlier run" grep -q "event=bgp_route_adopted address=$VIP table=$TABLE" "$KT_TMP/control.log"

log "BIRD stopped on the host"
kill -TERM "$(cat "$KT_TMP/bird-host.pid")"
check "keel_bgp_speaker_up 0 within 3 s" wait_until 3 metric keel_bgp_speaker_up 0
check "route stays in table $TABLE while BIRD is away" bash -c \
	"ip -n $NS_H route show table $TABLE | grep -q 'blackhole $VIP'"
check "BIRD's absence logged once" test "$(grep -c 'event=bgp_speaker_down' "$KT_TMP/control.log")" -eq 1
# announced is keel's table; exported is what BIRD sends: nothing while BIRD is away.
check "BIRD away: /v1/bgp web announced, exported to no peer" bash -c \
	"[[ \$(curl -s --max-time 5 --unix-socket '$SOCK' http://keel/v1/bgp | $PY -c 'import json,sys; j=json.load(sys.stdin); v=[v for v in j[\"vips\"] if v[\"vip\"] == \"web\"][0]; print(v[\"announced\"], v[\"exported\"], v[\"exported_to\"], j[\"peers\"][0][\"exported_routes\"])') == 'True 0 [] None' ]]"
check "BIRD away: keelctl bgp says yes 0/1" bash -c \
	"'$KEELCTL' --socket '$SOCK' bgp | grep -E '^web +$VIP +yes +0/1 +normal'"
check "BIRD away: keel_bgp_exported_peers{vip=\"web\"} 0" metric 'keel_bgp_exported_peers{vip="web"}' 0
start_host_bird
check "BIRD back: keel_bgp_speaker_up 1" wait_until 5 metric keel_bgp_speaker_up 1
check "BIRD back: the router learns $VIP again" wait_until 15 learned_med 100
check "BIRD back: web exported to 10.98.0.1 again" wait_until 5 exported_to "['10.98.0.1']"

log "keel-announce-guard (keel-control --announce-guard) beside keel-control"
ip netns exec "$NS_H" "$CONTROL" --announce-guard --config "$KT_TMP/keel.yaml" >>"$KT_TMP/guard.log" 2>&1 &
GUARD_PID=$!
KT_PIDS+=("$GUARD_PID")
guard_sees_dp() { grep -q 'event=guard_dataplane .*state="dataplane running"' "$KT_TMP/guard.log"; }
check "guard: watching a running dataplane" wait_until 5 guard_sees_dp
check "still announced beside the guard" learned_med 100
# What the guard deletes on a tick where it saw the dataplane differently comes back: keel-control
# re-asserts its installed routes once a second.
ip -n "$NS_H" route del blackhole $VIP table "$TABLE" metric 100
check "a route deleted behind keel-control's back is put back within 2 s" wait_until 2 bash -c \
	"ip -n $NS_H route show table $TABLE | grep -q 'blackhole $VIP'"
check "... and learned at the router again" wait_until 5 learned_med 100

log "SIGTERM keel-control (a restart, an upgrade): the routes stay, no BGP event"
(for _ in $(seq 60); do gone && echo gone; sleep 0.05; done) >"$KT_TMP/flap" &
WATCH=$!
t0=$(ms)
kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
t_term=$(($(ms) - t0))
check "SIGTERM: keel-control exits at once, no drain wait (${t_term} ms)" test "$t_term" -lt 1500
check "SIGTERM: the route stays in table $TABLE" bash -c \
	"ip -n $NS_H route show table $TABLE | grep -q 'blackhole $VIP'"
start_control
wait "$WATCH"
check "announced at the router throughout the SIGTERM restart" test ! -s "$KT_TMP/flap"

log "keel-control stopped, then kill -9 the dataplane: the guard withdraws"
kill -TERM "$CONTROL_PID"
wait "$CONTROL_PID" 2>/dev/null || true
check "keel-control stopped: still announced" learned_med 100
DP_REAL=$(pgrep -P "$DP_PID" keel-dataplane || pgrep -P "$DP_PID")
t0=$(ms)
kill -KILL "$DP_REAL"
while ! gone && (($(ms) - t0 < 5000)); do sleep 0.01; done
t_guard=$(($(ms) - t0))
log "kill -9 (keel-control down) to withdrawn at the router: $t_guard ms"
check "withdrawn at the router within 1 s of kill -9 with keel-control down ($t_guard ms)" test "$t_guard" -lt 1000
check "guard log: guard_withdraw $VIP, dataplane down" \
	grep -q "event=guard_withdraw address=$VIP table=$TABLE reason=\"dataplane down\"" "$KT_TMP/guard.log"
check "table $TABLE empty" test -z "$(ip -n "$NS_H" route show table "$TABLE" 2>/dev/null; ip -6 -n "$NS_H" route show table "$TABLE" 2>/dev/null)"
wait "$DP_PID" 2>/dev/null || true
start_dp
start_control
check "dataplane and keel-control back: announced again within 10 s" wait_until 10 learned_med 100

log "SIGINT keel-control (a foreground stop): withdraw, wait drain_wait, exit"
t0=$(ms)
kill -INT "$CONTROL_PID"
while ! gone && (($(ms) - t0 < 5000)); do sleep 0.01; done
t_int=$(($(ms) - t0))
check "SIGINT: withdrawn at the router within 1 s ($t_int ms)" test "$t_int" -lt 1000
wait "$CONTROL_PID" 2>/dev/null || true
t_exit=$(($(ms) - t0))
check "keel-control exited after drain_wait (${t_exit} ms >= 2000)" test "$t_exit" -ge 1900
check "table $TABLE empty after the stop" test -z "$(ip -n "$NS_H" route show table "$TABLE" 2>/dev/null; ip -6 -n "$NS_H" route show table "$TABLE" 2>/dev/null)"
kill -TERM "$GUARD_PID" 2>/dev/null || true
wait "$GUARD_PID" 2>/dev/null || true
echo "figures: stall -> withdrawn ${t_stall} ms; kill -9 -> withdrawn ${t_kill} ms; drain -> withdrawn ${t_drain} ms; SIGTERM -> exit ${t_term} ms (announced throughout); kill -9 with keel-control down -> withdrawn ${t_guard} ms (guard); SIGINT -> withdrawn ${t_int} ms, exit ${t_exit} ms"
finish
