#!/bin/bash
# shellcheck disable=SC2317 # predicates run through check / wait_until
# End to end from an installed Keel, so what is packaged is what is tested: the sandbox runs
# with KEEL_PREFIX pointing at an install root (the .deb files unpacked with dpkg -x when
# KEEL_DEBS names them, as tools/check does, else `meson install --destdir` of the build), so
# keel-dataplane, keel-control, keel-decap, keel-seam, keelctl, the steering program and the
# Prometheus rules all come from there. Requests through the VIP succeed; the sandbox's
# Prometheus has loaded the installed rules; stopping a backend's service fires KeelBackendDown
# for that backend (and only it), and starting it again resolves the alert; keel-control logs
# backend_down and backend_up for it, one line each.
. "$(dirname "$0")/lib.sh"
# The install root outlives the sandbox's own temp dir (e2e_up makes that one): removed last.
INST=$(mktemp -d --tmpdir --suffix .keel-installed)
eval "$(declare -f kt_cleanup | sed '1s/kt_cleanup/kt_cleanup_base/')"
kt_cleanup() {
	local rc=$?
	rm -rf "$INST"
	(exit $rc)
	kt_cleanup_base
}
if [[ -n ${KEEL_DEBS:-} ]]; then
	for d in "$KEEL_DEBS"/keel_*.deb "$KEEL_DEBS"/keel-decap_*.deb; do
		[[ -f $d ]] || skip "no $d"
		dpkg -x "$d" "$INST"
	done
	export KEEL_PREFIX=$INST/usr
	FROM="the packages in $KEEL_DEBS"
else
	[[ -f $BUILD/build.ninja ]] || skip "no build in $BUILD"
	prefix=$(meson introspect --buildoptions "$BUILD" | "$PY" -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
	DESTDIR=$INST meson install -C "$BUILD" --no-rebuild --quiet >"$INST.log" 2>&1 ||
		die "meson install --destdir failed: $(tail -n 5 "$INST.log")"
	rm -f "$INST.log"
	export KEEL_PREFIX=$INST$prefix
	FROM="meson install --destdir of $BUILD"
fi
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
. "$KT_ROOT/tools/sandbox.d/alerts.sh"
log "Keel from $FROM (KEEL_PREFIX=$KEEL_PREFIX)"
e2e_up

# the pid files hold the launcher's pid (setsid, ip netns exec, nsenter...): find the daemon
daemon_exe() { # binary name -> 0 when a process of that name runs from KEEL_PREFIX
	local p
	for p in $(pgrep -x "$1"); do
		[[ $(readlink "/proc/$p/exe") == "$KEEL_PREFIX"/* ]] && return 0
	done
	echo "    no $1 from $KEEL_PREFIX: $(for p in $(pgrep -x "$1"); do readlink "/proc/$p/exe"; done | sort -u | tr '\n' ' ')"
	return 1
}
check "keel-dataplane runs from the installed root" daemon_exe keel-dataplane
check "keel-control runs from the installed root" daemon_exe keel-control
steer_from_prefix() {
	local p
	for p in $(pgrep -x keel-dataplane); do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "xdp_prog=$KEEL_PREFIX/lib/keel/steer.bpf.o" && return 0
	done
	return 1
}
check "the steering program is the installed one" steer_from_prefix
keelctl_status() { "$SB_KEELCTL" --socket "$SB_SOCK" status >/dev/null; }
check "installed keelctl talks to the sandbox" keelctl_status

r=$(client http --vip "$VIP4" --n 200 --conc 8)
ok200() { [[ $(json_get "j['ok'] == 200 and j['fail'] == 0" <<<"$r") == True ]]; }
check "200 requests through the VIP, 0 failures" ok200

rules_loaded() {
	in_ns "$(ns_keel 1)" curl -sS --max-time 10 "http://$SB_PROM/api/v1/rules" | "$PY" -c '
import json, sys
g = {x["name"]: x for x in json.load(sys.stdin)["data"]["groups"]}
ok = "keel-alerts" in g and "keel-recording" in g and g["keel-alerts"]["file"] == sys.argv[1]
sys.exit(0 if ok else 1)' "$SB_RULES"
}
check "Prometheus loaded the installed rules ($SB_RULES)" wait_until 10 rules_loaded
none_firing() { ! sb_alerts firing | grep -qE '^KeelBackendDown'; }
check "no KeelBackendDown firing while every backend is healthy" none_firing

BE=$(be4 2)
log "stopping be2's services ($BE)"
"$SANDBOX" svc-stop 2
t0=$SECONDS
fired() { sb_wait_alert 45 "^KeelBackendDown .*backend=$BE .*vip=web"; }
check "KeelBackendDown fires for $BE (vip web) after the service stops" fired
log "  fired after $((SECONDS - t0)) s: $(sb_alerts firing | grep "^KeelBackendDown .*vip=web$")"
# be2 serves every VIP (IPv4 and IPv6 addresses): its alerts may fire for each, nobody else's.
only_be2() { ! sb_alerts firing | grep '^KeelBackendDown' | grep -v -e "backend=$BE " -e "backend=$(be6 2) " | grep -q .; }
check "no other backend's alert fires" only_be2
# keel-control's log: one line per event, not per request or packet
CLOG=$SB_DIR/log/control.log
down_logged() { grep -qE "^ts=[0-9T:.-]+Z level=warn event=backend_down vip=web backend=$BE check=http reason=" "$CLOG"; }
check "keel-control logged level=warn event=backend_down vip=web backend=$BE" down_logged
grep -m1 "event=backend_down vip=web " "$CLOG" | sed 's/^/    /'
few_lines() { (($(wc -l <"$CLOG") < 100)); }
check "the log has a line per event, not per packet ($(wc -l <"$CLOG") lines after $(json_get "j['ok']" <<<"$r") requests)" few_lines
"$SANDBOX" svc-start 2
t0=$SECONDS
check "the alert resolves once be2 is back" sb_wait_no_alert 45 "^KeelBackendDown .*backend=$BE "
log "  resolved after $((SECONDS - t0)) s"
up_logged() { grep -q "level=info event=backend_up vip=web backend=$BE\$" "$CLOG"; }
check "keel-control logged event=backend_up vip=web backend=$BE" wait_until 5 up_logged
finish
