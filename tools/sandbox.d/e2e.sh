# shellcheck shell=bash
# Helpers of the end-to-end scenarios (tests/integration/e2e_*.sh), sourced after lib.sh: each
# scenario brings up its own sandbox (prefix kte, state in a temp dir), serialised by a lock so two
# scenarios never share it, and takes it down in its EXIT trap, on failure too.
export KEEL_SANDBOX_PREFIX=${KEEL_E2E_PREFIX:-kte}
# One Keel host behind a static route: what these scenarios test (the fleet_*.sh ones test BGP
# and several hosts); the fleet scenarios set their own before sourcing this file.
export KEEL_SANDBOX_HOSTS=${E2E_HOSTS:-1} KEEL_SANDBOX_BGP=${E2E_BGP:-0}
# tools/sandbox's fleet mode (etcd holds the spec) only where a scenario sets E2E_FLEET=1
# (fleet_store_partition): the others test forwarding, BGP and health on hosts that
# agree by construction, and three etcd members would cost each of them seconds.
export KEEL_SANDBOX_FLEET=${E2E_FLEET:-0}
export KEEL_BUILD=$BUILD
. "$KT_ROOT/tools/sandbox.d/env.sh"
SANDBOX=$KT_ROOT/tools/sandbox
E2E_LOCK=/run/keel-e2e-$SB_P.lock

e2e_cleanup() {
	local rc=$?
	set +e
	if [[ -n ${E2E_UP:-} ]]; then
		if [[ $rc -ne 0 && $rc -ne 77 ]]; then
			echo "--- sandbox logs (tail) ---"
			for f in "$SB_DIR"/log/*.log; do [[ -f $f ]] && { echo "== $f"; tail -n 8 "$f"; }; done
		fi
		"$SANDBOX" down >/dev/null 2>&1 || echo "sandbox down failed"
	fi
	(exit $rc)
	kt_cleanup
}

e2e_prereqs() {
	need_root
	need_cmd ip nsenter ethtool bpftool curl setsid ss flock
	((KEEL_SANDBOX_FLEET == 0)) || need_cmd etcd etcdctl
	command -v prometheus >/dev/null 2>&1 || skip "needs prometheus (Debian package prometheus; tools/deps)"
	local f
	for f in "$SB_DP" "$SB_CTL" "$SB_SEAM" "$SB_DECAP" "$SB_STEER_OBJ"; do
		[[ -e $f ]] || skip "no $f (build with meson/ninja; -Dbpf/-Ddataplane disabled?)"
	done
	need_hugepages 256
	"$PY" -c 'import selectors, concurrent.futures' 2>/dev/null || skip "$PY lacks the standard library"
}

# Bring up a fresh sandbox (a leftover one of ours is taken down first).
e2e_up() {
	e2e_prereqs
	exec 9>"$E2E_LOCK"
	flock -w 300 9 || die "another e2e scenario holds $E2E_LOCK for more than 300 s"
	kt_tmpdir
	export KEEL_SANDBOX_DIR=$KT_TMP/sandbox
	SB_DIR=$KEEL_SANDBOX_DIR
	SB_SOCK=$SB_DIR/control.sock
	trap e2e_cleanup EXIT
	"$SANDBOX" down >/dev/null 2>&1 || true
	E2E_UP=1
	local t0=$SECONDS
	# (up includes the wait for the VIPs to answer, BGP converged: what fleet_up waited for after it)
	if ! timeout 150 "$SANDBOX" up; then
		die "tools/sandbox up failed"
	fi
	log "sandbox up in $((SECONDS - t0)) s"
	wait_until 15 all_backends_up || die "not every backend healthy after 15 s: $(sb_api GET /v1/health)"
}

client() { ip netns exec "$NS_CLIENT" timeout "${CLIENT_TIMEOUT:-120}" "$PY" "$KT_ROOT/tools/sandbox.d/client.py" "$@"; }

# every health check reports up
all_backends_up() {
	sb_api GET /v1/health 2>/dev/null | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if j and all(e["health"]["state"] == "up" for e in j) else 1)'
}
health_of() { # vip backend -> state
	sb_api GET /v1/health | "$PY" -c '
import json, sys
for e in json.load(sys.stdin):
    if e["vip"] == sys.argv[1] and e["backend"] == sys.argv[2]:
        print(e["health"]["state"])' "$1" "$2"
}
# shares: JSON from client.py http -> checks each backend's share against an expected one
shares_within() { # json tolerance be=share...
	"$PY" - "$@" <<'PYEOF'
import json, sys
j, tol = json.loads(sys.argv[1]), float(sys.argv[2])
want = dict((k, float(v)) for k, v in (a.split("=") for a in sys.argv[3:]))
n = j["ok"]
bad = [f"{b}: {j['per'].get(b, 0) / n:.3f} (want {w:.3f} +- {tol})" for b, w in want.items()
       if abs(j["per"].get(b, 0) / n - w) > tol]
print("    shares: " + ", ".join(f"{b} {j['per'].get(b, 0) / n:.3f}" for b in want) + (" BAD " + "; ".join(bad) if bad else ""))
sys.exit(1 if bad or j["fail"] or set(j["per"]) - set(want) else 0)
PYEOF
}
