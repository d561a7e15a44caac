#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# Slow clients cannot lock keel-control's servers (issue 20 item 11): an unprivileged user holds
# 80 connections to the API's Unix socket and 40 to /metrics, each sending one header byte a
# second. Meanwhile root and another read-only user get their answers, /metrics answers every
# scrape, every slow connection is answered (503 when its place went to a newer one, 408 past
# the request deadline) and closed, and the log says so in a few lines, not one per connection.
#
# keel-control runs without a dataplane: only its HTTP servers are under test.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl setpriv "$PY"
kt_tmpdir
chmod 0755 "$KT_TMP" # the unprivileged callers must reach the socket inside
kt_name NAME slow

CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
getent group nogroup >/dev/null || skip "no group nogroup"

SOCK=$KT_TMP/control.sock
MPORT=$((20000 + ($$ + 11) % 20000))
kt_config group=nogroup >"$KT_TMP/keel.yaml" <<EOF
vips:
  - { name: web, address: 192.0.2.10, port: 80, protocol: tcp, backends: [{ address: 10.0.0.1 }] }
EOF

log "keel-control (no dataplane)"
control_start timeout -s TERM -k 5 120 --

# The slow user: nobody in nogroup (a read-only caller). It writes "holding" to stderr once every
# connection is open, then a JSON summary on stdout when it is done.
cat >"$KT_TMP/slow.py" <<'EOF'
import json, select, socket, sys, time
sock, port, n_unix, n_tcp, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
req = b"GET /v1/status HTTP/1.1\r\nHost: k\r\nX-Slow: " + b"a" * 200
conns = []
for kind, n in (("unix", n_unix), ("tcp", n_tcp)):
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX) if kind == "unix" else socket.socket()
        s.connect(sock if kind == "unix" else ("127.0.0.1", port))
        s.setblocking(False)
        conns.append({"kind": kind, "s": s, "t0": time.monotonic(), "sent": 0, "data": b"", "closed": None})
print("holding", file=sys.stderr, flush=True)
end = time.monotonic() + hold
next_byte = time.monotonic()
while time.monotonic() < end:
    live = [c for c in conns if c["closed"] is None]
    if not live:
        break
    now = time.monotonic()
    if now >= next_byte:
        for c in live:
            try:
                c["s"].send(req[c["sent"]:c["sent"] + 1])
                c["sent"] += 1
            except OSError:
                pass
        next_byte = now + 1.0
    r, _, _ = select.select([c["s"] for c in live], [], [], 0.2)
    for c in live:
        if c["s"] in r:
            try:
                b = c["s"].recv(4096)
            except OSError:
                b = b""
            c["data"] += b
            if not b:
                c["closed"] = time.monotonic() - c["t0"]
out = {}
for kind in ("unix", "tcp"):
    mine = [c for c in conns if c["kind"] == kind]
    status = {}
    for c in mine:
        line = c["data"].split(b"\r\n", 1)[0].decode("latin-1")
        key = line.split(" ")[1] if line.startswith("HTTP/1.1 ") else ("none" if c["closed"] is not None else "open")
        status[key] = status.get(key, 0) + 1
    closed = [c["closed"] for c in mine if c["closed"] is not None]
    out[kind] = {"n": len(mine), "status": status, "open": len(mine) - len(closed),
                 "longest": round(max(closed), 1) if closed else None}
print(json.dumps(out))
EOF

log "80 slow connections to the API socket, 40 to /metrics, by nobody"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$KT_TMP/slow.py" "$SOCK" "$MPORT" 80 40 17 \
	>"$KT_TMP/slow.json" 2>"$KT_TMP/slow.err" &
SLOW_PID=$!
KT_PIDS+=("$SLOW_PID")
holding() { grep -q holding "$KT_TMP/slow.err"; }
wait_until 10 holding || { cat "$KT_TMP/slow.err"; die "the slow client did not get going"; }
sleep 2 # they have been trickling for a while

# answer CODE-WANTED CURL-ARGS...: within 3 s, whatever the slow ones do.
answer() {
	local want=$1 code
	shift
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@") || true
	[[ $code == "$want" ]] || { echo "    status $code, want $want"; return 1; }
}
check "root gets an answer" answer 200 --unix-socket "$SOCK" http://keel/v1/status
check "another read-only user gets an answer" setpriv --reuid=12345 --regid=65534 --clear-groups \
	bash -c "$(declare -f answer); answer 200 --unix-socket '$SOCK' http://keel/v1/status"
scrapes() { # three scrapes a second apart: each answers
	local _
	for _ in 1 2 3; do
		answer 200 "http://127.0.0.1:$MPORT/metrics" || return 1
		sleep 1
	done
}
check "/metrics answers every scrape" scrapes
check "root still gets an answer" answer 200 --unix-socket "$SOCK" http://keel/v1/status

log "the slow ones are answered and closed"
slow_done() { ! kill -0 "$SLOW_PID" 2>/dev/null; }
wait_until 30 slow_done || die "the slow client did not finish"
log "slow client saw: $(cat "$KT_TMP/slow.json")"
summary() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$KT_TMP/slow.json" "$1"; }
# Every one got 503 (a newer one of the same user took its place) or 408 (12 s for the request
# on the API, 6 s on /metrics) and was closed in time; some reached the deadline.
check "API: every slow connection closed" summary 'j["unix"]["open"] == 0'
check "API: each answered 503 or 408" summary 'set(j["unix"]["status"]) <= {"503", "408"}'
check "API: the request deadline closed some (408)" summary 'j["unix"]["status"].get("408", 0) > 0'
check "API: none held past 14 s" summary 'j["unix"]["longest"] is not None and j["unix"]["longest"] <= 14'
check "metrics: every slow connection closed" summary 'j["tcp"]["open"] == 0'
check "metrics: each answered 503 or 408" summary 'set(j["tcp"]["status"]) <= {"503", "408"}'
check "metrics: none held past 8 s" summary 'j["tcp"]["longest"] is not None and j["tcp"]["longest"] <= 8'
check "root after the storm" answer 200 --unix-socket "$SOCK" http://keel/v1/status

# A few lines, not one per connection: at most one a second per server and reason.
lines=$(grep -cE 'event=(api|metrics)_(connection_refused|connection_closed|request_timeout|http_error)' "$KT_TMP/control.log" || true)
log "$lines log lines about refused or slow connections"
check "the log is not flooded (<= 40 lines for 120 slow connections)" test "$lines" -le 40

kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
finish
