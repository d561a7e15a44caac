#!/bin/bash
# shellcheck disable=SC2317 # functions run inside the chroot script
# The Debian packages as an operator gets them: built from this tree (tools/build-deb, in a
# scratch copy), lintian clean, then installed with dpkg into a fresh root (an overlay of this
# host's root, so the host's packages satisfy the dependencies and nothing lands on the host)
# with the source tree hidden. There: the group and directories postinst makes, no unit
# enabled or started, systemd-analyze verify on the units, man pages and completion, and the
# installed binaries run: keelctl --version, keel-control --check /etc/keel/keel.yaml,
# keel-dataplane on net_null with keel-control and keelctl talking to it (both under the
# units' CapabilityBoundingSet and NoNewPrivileges), keel-decap on a veth in a namespace;
# keel-decap@'s ExecStart/ExecStop with the packaged example options; then remove (conffile kept) and purge (conffile, state and group gone).
#   KEEL_DEBS=DIR: use the .deb files there instead of building them.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd dpkg-buildpackage dpkg-deb lintian unshare chroot mount setpriv
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip "needs overlayfs (the fresh root is an overlay)"
need_hugepages 64
kt_tmpdir
kt_name NAME ins

if [[ -n ${KEEL_DEBS:-} ]]; then
	DEBS=$KEEL_DEBS
else
	log "building the packages (tools/build-deb)"
	t0=$SECONDS
	"$KT_ROOT/tools/build-deb" "$KT_TMP/debs" >/dev/null || die "tools/build-deb failed"
	log "built in $((SECONDS - t0)) s"
	DEBS=$KT_TMP/debs
fi
ls "$DEBS"/keel_*.deb "$DEBS"/keel-decap_*.deb >/dev/null 2>&1 || die "no keel and keel-decap .deb in $DEBS"

lintian_clean() {
	local out
	out=$(lintian --fail-on error,warning "$DEBS"/keel_*.deb "$DEBS"/keel-decap_*.deb 2>&1 | grep -v 'running with root privileges')
	[[ -z $out ]] || { echo "$out" | sed 's/^/    /'; return 1; }
}
check "lintian: no error or warning (remaining overrides are explained in debian/*.lintian-overrides)" lintian_clean
has_files() { # deb, path...
	local deb=$1 list
	shift
	list=$(dpkg-deb -c "$deb" | awk '{print $6}')
	for p; do grep -qx "\./$p" <<<"$list" || { echo "    $deb lacks $p"; return 1; }; done
}
check "keel ships the load-balancer host's files" has_files "$DEBS"/keel_*.deb \
	usr/sbin/keel-dataplane usr/sbin/keel-control usr/sbin/keelctl usr/bin/keel-maglev usr/bin/keel-seam \
	usr/lib/keel/steer.bpf.o etc/keel/keel.yaml lib/systemd/system/keel-control.service \
	lib/systemd/system/keel-dataplane@.service lib/systemd/system/keel-announce-guard.service \
	usr/share/bash-completion/completions/keelctl \
	usr/share/man/man8/keelctl.8.gz usr/share/man/man8/keel-control.8.gz \
	usr/share/man/man8/keel-dataplane.8.gz usr/share/man/man5/keel.yaml.5.gz \
	usr/share/keel/grafana/keel.json usr/share/keel/prometheus/keel-rules.yml
check "keel-decap ships the backend's files" has_files "$DEBS"/keel-decap_*.deb \
	usr/sbin/keel-decap usr/lib/keel/decap.bpf.o usr/share/man/man8/keel-decap.8.gz \
	lib/systemd/system/keel-decap@.service usr/share/doc/keel-decap/examples/decap.env
no_dpdk() { ! dpkg-deb -f "$DEBS"/keel-decap_*.deb Depends | grep -q librte; }
check "keel-decap does not depend on DPDK" no_dpdk
conffile() { dpkg-deb --ctrl-tarfile "$DEBS"/keel_*.deb | tar -xO ./conffiles | grep -qx /etc/keel/keel.yaml; }
check "/etc/keel/keel.yaml is a conffile" conffile

# --- the fresh root ---
ROOT=$KT_TMP/root
mkdir -p "$ROOT"
mkdir -p "$KT_TMP/in"
cp "$DEBS"/keel_*.deb "$DEBS"/keel-decap_*.deb "$KT_TMP/in/"
CAPS_CONTROL=$(dpkg-deb --fsys-tarfile "$DEBS"/keel_*.deb | tar -xO ./lib/systemd/system/keel-control.service | sed -n 's/^CapabilityBoundingSet=//p')
CAPS_DP=$(dpkg-deb --fsys-tarfile "$DEBS"/keel_*.deb | tar -xO ./lib/systemd/system/keel-dataplane@.service | sed -n 's/^CapabilityBoundingSet=//p')
CAPS_DECAP=$(dpkg-deb --fsys-tarfile "$DEBS"/keel-decap_*.deb | tar -xO ./lib/systemd/system/keel-decap@.service | sed -n 's/^CapabilityBoundingSet=//p')
[[ -n $CAPS_CONTROL && -n $CAPS_DP && -n $CAPS_DECAP ]] || die "no CapabilityBoundingSet in the units"
setpriv_caps() { # "CAP_A CAP_B" -> -all,+a,+b
	local c out=-all
	for c in $1; do out+=",+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
	echo "$out"
}

cat >"$KT_TMP/in/inroot.sh" <<EOS
#!/bin/bash
# Runs inside the fresh root (chroot), in its own mount and network namespace.
set -uo pipefail
NAME=$NAME
SRC=$KT_ROOT
CAPS_CONTROL='$(setpriv_caps "$CAPS_CONTROL")'
CAPS_DP='$(setpriv_caps "$CAPS_DP")'
CAPS_DECAP='$(setpriv_caps "$CAPS_DECAP")'
EOS
cat >>"$KT_TMP/in/inroot.sh" <<'EOS'
fails=0
t0=$SECONDS
ok() { printf '[in the fresh root %3ds] ok   %s\n' $((SECONDS - t0)) "$1"; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else
		printf '[in the fresh root %3ds] FAIL %s\n' $((SECONDS - t0)) "$what"
		fails=$((fails + 1))
	fi
}
until_ok() { local n=$1; shift; for ((i = 0; i < n * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
no_src() { [[ ! -e $SRC/meson.build ]]; }
check "the source tree is not reachable" no_src
export DEBIAN_FRONTEND=noninteractive
dpkg -i /tmp/in/keel_*.deb /tmp/in/keel-decap_*.deb >/tmp/dpkg.log 2>&1
check "dpkg -i keel keel-decap (dependencies from the host's packages)" grep -q 'Setting up keel-decap' /tmp/dpkg.log
check "postinst made the system group keel" bash -c "getent group keel >/dev/null"
vardir() { [[ $(stat -c %G:%a /var/lib/keel) == keel:750 ]]; }
check "postinst made /var/lib/keel (root:keel 0750)" vardir
nothing_enabled() { ! ls /etc/systemd/system/*.wants/keel* >/dev/null 2>&1; }
check "no unit enabled by the installation" nothing_enabled
no_process() { ! pgrep -x keel-control >/dev/null && ! pgrep -x keel-dataplane >/dev/null; }
check "nothing started by the installation" no_process
verify() {
	local out
	out=$(systemd-analyze verify /lib/systemd/system/keel-control.service \
		/lib/systemd/system/keel-dataplane@edge1.service /lib/systemd/system/keel-decap@eth1.service \
		/lib/systemd/system/keel-announce-guard.service 2>&1)
	[[ -z $out ]] || { echo "$out" | sed 's/^/    /'; return 1; }
}
check "systemd-analyze verify: the four units clean (with their man pages)" verify
check "keelctl --version" bash -c '[[ $(keelctl --version) == "keelctl 0."* ]]'
check "keel-control --check /etc/keel/keel.yaml" bash -c 'keel-control --check /etc/keel/keel.yaml | grep -q ": valid"'
manpages() {
	local p
	for p in keelctl.8 keel-control.8 keel-dataplane.8 keel-decap.8 keel.yaml.5 keel-maglev.1 keel-seam.1; do
		man -l "/usr/share/man/man${p##*.}/$p.gz" 2>&1 | grep -q "^NAME" || { echo "    $p does not render"; return 1; }
	done
}
check "man pages render" manpages
check "bash completion of keelctl" bash -c '. /usr/share/bash-completion/completions/keelctl && complete -p keelctl >/dev/null'
linked() {
	local b
	for b in /usr/sbin/keel-dataplane /usr/sbin/keel-control /usr/sbin/keelctl /usr/sbin/keel-decap /usr/bin/keel-maglev /usr/bin/keel-seam; do
		ldd "$b" | grep -q 'not found' && { echo "    $b: $(ldd "$b" | grep 'not found')"; return 1; }
		readelf -d "$b" | grep -qE 'RPATH|RUNPATH' && { echo "    $b has a run path"; return 1; }
	done
	return 0
}
check "installed binaries resolve every library, no run path" linked
check "keel-maglev" bash -c 'printf "10.0.0.1\n10.0.0.2\n" >/tmp/be.txt && keel-maglev --seed 0x6b65656c /tmp/be.txt | grep -qi digest'

# The daemons, as the units run them: capabilities of CapabilityBoundingSet, no new privileges;
# the dataplane on AF_XDP (a veth) with the installed steering program, whose pinned maps
# keel-control then fills (this namespace's own BPF file system).
ip link set lo up
mount -t bpf bpf /sys/fs/bpf
ip link add kdp0 type veth peer name kdp1
ip link set kdp0 up && ip link set kdp1 up
mkdir -p /run/keel /tmp/region
export KEEL_REGION_DIR=/tmp/region
setpriv --no-new-privs --bounding-set "$CAPS_DP" timeout 60 keel-dataplane -l 0,1 --no-pci \
	--file-prefix "$NAME" --huge-unlink --no-telemetry \
	--vdev net_af_xdp0,iface=kdp0,start_queue=0,queue_count=1,xdp_prog=/usr/lib/keel/steer.bpf.o \
	-- --name "$NAME" --workers 1 --slots 2 --slot-size 4M --flows 4096 --idle backoff >/tmp/dp.log 2>&1 &
dp=$!
dp_up() { keel-seam status "$NAME" --json 2>/dev/null | grep -q '"state":"running"'; }
check "keel-dataplane runs on AF_XDP with the installed steering program, under the unit's capabilities" \
	until_ok 20 dp_up || sed 's/^/    /' /tmp/dp.log
sed -e "s/^instance: .*/instance: $NAME/" -e 's/^next_hop: .*/next_hop: { mac: "02:00:5e:10:00:01" }/' \
	-e 's/127.0.0.1:9105/127.0.0.1:19105/' /etc/keel/keel.yaml >/tmp/keel.yaml
# With BGP, keel-control writes the announcement routes into its kernel table (rtnetlink needs
# CAP_NET_ADMIN); BIRD is not running here, which keel-control reports and does not wait for.
cat >>/tmp/keel.yaml <<'EOY'
bgp:
  local_asn: 65001
  router_id: 10.9.0.1
  neighbours: [{ address: 10.9.0.254, asn: 65000 }]
  settle: 0s
  bird_socket: /run/bird-absent/bird.ctl
EOY
setpriv --no-new-privs --bounding-set "$CAPS_CONTROL" timeout 60 keel-control --config /tmp/keel.yaml \
	--state-dir /var/lib/keel >/tmp/control.log 2>&1 &
ctl=$!
check "keel-control runs under the unit's capabilities" until_ok 15 test -S /run/keel/control.sock || sed 's/^/    /' /tmp/control.log
published() { keelctl table show web >/dev/null 2>&1; }
check "keelctl status: the dataplane runs the published state" until_ok 10 published
steered() { bpftool map dump pinned /sys/fs/bpf/keel_steer_vips 2>/dev/null | grep -q '"key"\|key:'; }
check "keel-control filled the steering program's VIP map (CAP_BPF within its bounding set)" until_ok 10 steered
announced() { ip route show table 100 proto 250 2>/dev/null | grep -q '^blackhole 192.0.2.10 '; }
check "keel-control put the VIP into kernel table 100 (CAP_NET_ADMIN within its bounding set)" \
	until_ok 15 announced || { grep -i 'bgp\|route' /tmp/control.log | sed 's/^/    /'; }
sock_group() { [[ $(stat -c %G /run/keel/control.sock) == keel ]]; }
check "the API socket belongs to group keel" sock_group
as_group() { setpriv --reuid=65534 --regid=65534 --groups="$(getent group keel | cut -d: -f3)" keelctl status >/dev/null; }
check "a member of group keel may read (keelctl status)" as_group
no_group() { setpriv --reuid=65534 --regid=65534 --clear-groups keelctl status >/dev/null 2>/tmp/err; [[ $? == 77 ]] && grep -q 'permission denied' /tmp/err; }
check "a user outside group keel gets exit 77" no_group
check "metrics answer" bash -c 'exec 3<>/dev/tcp/127.0.0.1/19105 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && grep -q "^keel_dataplane_up 1" <&3'
kill -TERM "$ctl" "$dp" 2>/dev/null
wait "$ctl" "$dp" 2>/dev/null
rm -rf "/var/run/dpdk/$NAME"

# keel-decap on a veth, in this namespace, with its BPF file system.
ip link add kinst0 type veth peer name kinst1
ip link set kinst0 up && ip link set kinst1 up
check "keel-decap attach on a veth" bash -c "keel-decap attach kinst0 --vip 192.0.2.10 --local 10.9.9.9 --mode generic >/dev/null"
check "keel-decap status" bash -c 'keel-decap status kinst0 | grep -q 192.0.2.10'
check "the XDP program is on the veth" bash -c 'ip -d link show kinst0 | grep -q xdp'
check "keel-decap detach" bash -c "keel-decap detach kinst0 >/dev/null"
# keel-decap@kinst0 as systemd would run it: the unit's ExecStart and ExecStop with %I and the
# options of /etc/keel/decap-kinst0.env (the packaged example), under its CapabilityBoundingSet.
unit_cmd() { # directive
	sed -n "s/^$1=//p" /lib/systemd/system/keel-decap@.service | sed 's/%I/kinst0/g'
}
sed 's/^KEEL_DECAP_OPTS="/KEEL_DECAP_OPTS="--mode generic /' /usr/share/doc/keel-decap/examples/decap.env \
	>/etc/keel/decap-kinst0.env
unit_start() {
	# shellcheck disable=SC1091 # the file written just above
	(. /etc/keel/decap-kinst0.env && eval "setpriv --no-new-privs --bounding-set $CAPS_DECAP $(unit_cmd ExecStart)") >/dev/null
}
unit_stop() { eval "setpriv --no-new-privs --bounding-set $CAPS_DECAP $(unit_cmd ExecStop)" >/dev/null; }
unit_attached() { unit_start && keel-decap status kinst0 | grep -q 2001:db8::10; }
check "keel-decap@kinst0's ExecStart attaches with the example's VIPs and peers" unit_attached
unit_detached() { unit_stop && ! keel-decap status kinst0 >/dev/null 2>&1 && ! ip -d link show kinst0 | grep -q xdp; }
check "keel-decap@kinst0's ExecStop detaches" unit_detached
rm -f /etc/keel/decap-kinst0.env
check "keel-decap on an interface that does not exist: one line, exit 1" bash -c \
	'keel-decap attach nosuch0 --vip 192.0.2.10 2>/tmp/err; [[ $? == 1 && $(wc -l </tmp/err) == 1 ]] && grep -q "no such interface" /tmp/err'

dpkg -r keel keel-decap >/tmp/dpkg.log 2>&1
check "dpkg -r keeps the conffile" test -f /etc/keel/keel.yaml
check "dpkg -r removes the binaries" test ! -e /usr/sbin/keel-control
dpkg --purge keel keel-decap >>/tmp/dpkg.log 2>&1
check "dpkg --purge removes the conffile, the state and the group" bash -c \
	'[[ ! -e /etc/keel/keel.yaml && ! -e /var/lib/keel ]] && ! getent group keel >/dev/null'
exit $((fails > 0))
EOS

cat >"$KT_TMP/in/setup.sh" <<EOS
#!/bin/bash
# In private mount, network and PID namespaces (pgrep sees only what the packages started):
# the overlay root, its API file systems, then chroot.
set -eu
R=$ROOT
mount -t tmpfs tmpfs "\$R"
mkdir -p "\$R/upper" "\$R/work" "\$R/merged"
mount -t overlay overlay -o lowerdir=/,upperdir="\$R/upper",workdir="\$R/work" "\$R/merged"
M=\$R/merged
mount --rbind /dev "\$M/dev"
mount -t proc proc "\$M/proc"
mount -t sysfs sysfs "\$M/sys"
mount -t tmpfs tmpfs "\$M/run"
mount -t tmpfs tmpfs "\$M/tmp"
# The source tree and this test's files: not there.
mount -t tmpfs tmpfs "\$M$(dirname "$KT_ROOT")"
mkdir -p "\$M/tmp/in"
cp $KT_TMP/in/* "\$M/tmp/in/"
exec chroot "\$M" /bin/bash /tmp/in/inroot.sh
EOS

log "installing into a fresh root"
if timeout 240 unshare --mount --net --pid --fork --propagation private bash "$KT_TMP/in/setup.sh"; then
	log "ok   the installed Keel, in the fresh root"
else
	log "FAIL the installed Keel, in the fresh root"
	KT_FAILS=$((KT_FAILS + 1))
fi
finish
