#!/bin/bash
# shellcheck disable=SC2317 # predicates run through wait_until
# End to end, connection persistence: 60 long-lived TCP connections to the stream VIP
# (192.0.2.10:9000), a line every 100 ms each (tools/sandbox.d/client.py persist: any reset,
# stall over 2 s or answer from another backend is a failure, and the connection is replaced).
# Through each change below, no connection whose backend is not the one changed may fail:
#   add a backend (be3), remove another (be1), a weight change (be2), `config apply` (be3's
#   weight), keel-control kill -9 and restart (nothing), SIGHUP with a changed file (be1 back).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B1=$(be4 1) B2=$(be4 2) B3=$(be4 3)
JSON=(-H 'Content-Type: application/json')
# The sandbox's configuration with the stream VIP's backends replaced: stream_config "ADDR W"...
stream_config() {
	"$PY" - "$SB_DIR/keel.yaml" "$@" <<'PYEOF'
import sys
text = open(sys.argv[1]).read()
head, _, _ = text.partition("  - name: stream\n")
out = head + "  - name: stream\n    address: 192.0.2.10\n    port: 9000\n    protocol: tcp\n" \
    "    health_check: { type: tcp, port: 9000 }\n    backends:\n"
for b in sys.argv[2:]:
    a, w = b.split()
    out += f"      - {{ address: {a}, weight: {w} }}\n"
sys.stdout.write(out)
PYEOF
}
applied() { json_get 'j.get("applied") is True or j.get("changed") is False' | grep -q True; }
STEPS=$KT_TMP/steps.txt
: >"$STEPS"
step() { # changed-backends description: records the time of a change and what it touches
	printf '%s %s %s\n' "$(date +%s.%N)" "$1" "$2" >>"$STEPS"
	log "step: $2 (changed: $1)"
}

# Start from stream = be1, be2.
sb_api DELETE "/v1/vips/stream/backends/$B3?force=1" | applied || die "removing be3 before the start failed"
SECS=34
log "60 connections to $VIP4:9000 for $SECS s"
client persist --vip "$VIP4" --port 9000 --conns 60 --seconds $SECS >"$KT_TMP/persist.json" 2>"$KT_TMP/persist.err" &
CPID=$!
KT_PIDS+=("$CPID")
sleep 4
step be3 "add backend be3"
sb_api POST /v1/vips/stream/backends "${JSON[@]}" -d "{\"address\": \"$B3\", \"weight\": 1}" | applied ||
	die "adding be3 failed"
sleep 4
step be1 "remove backend be1"
sb_api DELETE "/v1/vips/stream/backends/$B1?force=1" | applied || die "removing be1 failed"
sleep 4
step be2 "weight of be2 1 -> 2"
sb_api PUT "/v1/vips/stream/backends/$B2/weight?force=1" "${JSON[@]}" -d '{"weight": 2}' | applied ||
	die "weight change failed"
sleep 4
stream_config "$B2 2" "$B3 2" >"$KT_TMP/apply.yaml"
log "config diff: $(sb_api POST /v1/config/diff -H 'Content-Type: application/yaml' --data-binary @"$KT_TMP/apply.yaml" |
	tr -d ' \n' | grep -o '"stream":{[^}]*}' | head -c 200)"
step be3 "config apply (be3 weight 1 -> 2)"
sb_api POST '/v1/config/apply?force=1' -H 'Content-Type: application/yaml' --data-binary @"$KT_TMP/apply.yaml" |
	applied || die "config apply failed"
sleep 4
step - "keel-control kill -9 and restart"
kill -KILL "$(cat "$SB_DIR/pid/control")"
sleep 1
"$SANDBOX" up >/dev/null || die "restarting keel-control (tools/sandbox up) failed"
log "keel-control back: $(sb_api GET /v1/status | tr -d '\n' | head -c 160)"
sleep 4
stream_config "$B1 1" "$B2 2" "$B3 2" >"$KT_TMP/hup.yaml"
# A reload never undoes API changes (docs/config.md, Reload): the file first catches up with
# them (apply.yaml is what runs; that reload finds nothing to change), then it adds be1 back.
reloads() { grep -cE 'event=(config_reload|reload_refused)' "$SB_DIR/log/control.log" || true; }
n=$(reloads)
cp "$KT_TMP/apply.yaml" "$SB_DIR/keel.yaml"
kill -HUP "$(cat "$SB_DIR/pid/control")"
reloads_past() { (($(reloads) > $1)); }
wait_until 5 reloads_past "$n" ||
	log "WARN no reload logged 5 s after the first SIGHUP"
cp "$KT_TMP/hup.yaml" "$SB_DIR/keel.yaml"
step be1 "SIGHUP with be1 back in the file"
kill -HUP "$(cat "$SB_DIR/pid/control")"
wait_until 5 bash -c "grep -q '$B1' <(curl -s --unix-socket '$SB_SOCK' http://keel/v1/vips/stream)" ||
	log "WARN be1 not back in the stream VIP 5 s after SIGHUP"
wait "$CPID" || die "the persist client failed: $(cat "$KT_TMP/persist.err")"

rc=0
"$PY" - "$KT_TMP/persist.json" "$STEPS" >"$KT_TMP/verdict.txt" 2>&1 <<'PYEOF' || rc=$?
import json, sys
j = json.load(open(sys.argv[1]))
steps = []
for line in open(sys.argv[2]):
    t, changed, what = line.split(" ", 2)
    steps.append((float(t) - j["t0"], set(changed.split(",")) - {"-"}, what.strip()))
conns = j["conns"]
bad, allowed = [], []
for c in conns:
    f = c["failure"]
    if not f:
        continue
    t, kind, detail = f
    # allowed: a change that touched this connection's backend happened up to 6 s before
    excuse = [w for (ts, ch, w) in steps if ts - 0.5 <= t <= ts + 6 and c["backend"] in ch]
    (allowed if excuse else bad).append((c, excuse))
survivors = [c for c in conns if not c["failure"] and c["start"] < 1]
print(f"connections: {len(conns)} ({len(conns) - 60} replacements), failures on a changed backend: "
      f"{len(allowed)}, on an unchanged one: {len(bad)}, original connections intact to the end: {len(survivors)}")
per = {}
for c in conns:
    per.setdefault(str(c["backend"]), [0, 0])[1 if c["failure"] else 0] += 1
print("per backend [intact, failed]: " + json.dumps(per, sort_keys=True))
for c, _ in bad[:10]:
    print(f"  UNEXCUSED: conn {c['id']} backend {c['backend']} sport {c['sport']} failure {c['failure']}")
for c, w in allowed[:3]:
    print(f"  excused:   conn {c['id']} backend {c['backend']} failure {c['failure']} ({w[0]})")
sys.exit(1 if bad or len(survivors) < 20 else 0)
PYEOF
sed 's/^/    /' "$KT_TMP/verdict.txt"
check "no failure on a connection whose backend was not the one changed; original connections on untouched backends intact" test $rc -eq 0
finish
