#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until and check
# The management API end to end: every resource of docs/api.md through keel-control's Unix socket
# with curl, oversized, truncated and malformed requests, wrong methods, unknown VIPs, callers
# without permission (read-only group, admin group, neither), and /metrics (promtool when present).
#
# Runs keel-control against a keel-dataplane on net_null.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl setpriv "$PY"
kt_tmpdir
chmod 0755 "$KT_TMP" # the unprivileged callers must reach the socket inside
kt_name NAME api

CONTROL=$BUILD/control/keel-control
DATAPLANE=1
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"

SOCK=$KT_TMP/control.sock
MPORT=$((20000 + $$ % 20000))
READ_GROUP=nogroup # nobody's own group: setpriv --regid=65534 makes a read-only caller
ADMIN_GID=100      # "users": setpriv --groups=100 makes an admin caller
getent group nogroup >/dev/null || skip "no group nogroup"
ADMIN_GROUP=$(getent group "$ADMIN_GID" | cut -d: -f1)
[[ -n $ADMIN_GROUP ]] || skip "no group with gid $ADMIN_GID"

write_config() { # file, then backends of VIP web as "addr:weight" ("[v6]:weight" for IPv6)
	local f=$1 b
	shift
	kt_config ipv6=fd00:1::/64 group="$READ_GROUP" admin_group="$ADMIN_GROUP" >"$f" <<EOF
vips:
  - name: web
    address: 192.0.2.10
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    backends:
EOF
	for b; do
		echo "      - { address: \"${b%:*}\", weight: ${b##*:} }" | tr -d '[]' >>"$f"
	done
}
write_config "$KT_TMP/keel.yaml" 10.0.0.1:1 10.0.0.2:1 "[2001:db8::1]:2"

if ((DATAPLANE)); then
	need_build
	need_hugepages 256
	log "keel-dataplane $NAME on net_null (no traffic: the API is under test)"
	# shellcheck disable=SC2046
	# The scenario takes about a minute; 300 s leaves room on a loaded machine (the exit status
	# is checked at the end, and `timeout` would make it 124).
	DP_TIMEOUT=300 dp_start "$KT_TMP/dp.log" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
		--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
		-- --name "$NAME" --workers 1 --tx-port 0=1 --slots 4 --slot-size 8M
	dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"
fi

log "starting $(basename "$CONTROL")"
control_start timeout -s TERM -k 5 300 --

BODY=$KT_TMP/body
# api STATUS METHOD PATH [curl args]: the status must match and the body be JSON, with "error"
# exactly when the status is 4xx/5xx; 000: no connection. CURL_AS runs curl as another caller.
CURL_AS=()
api() {
	local want=$1 method=$2 path=$3 out code
	shift 3
	# The body comes through stdout: an unprivileged curl cannot write into $KT_TMP.
	out=$("${CURL_AS[@]}" curl -sS -w '\n%{http_code}' --max-time 20 \
		--unix-socket "$SOCK" -X "$method" "$@" "http://keel$path" 2>"$KT_TMP/curl.err") || true
	code=${out##*$'\n'}
	printf '%s' "${out%$'\n'*}" >"$BODY"
	if [[ $code != "$want" ]]; then
		echo "    $method $path: status $code, want $want: $(head -c 300 "$BODY" 2>/dev/null) $(cat "$KT_TMP/curl.err")"
		return 1
	fi
	[[ $want != 000 ]] || return 0 # no connection, no body
	"$PY" - "$BODY" "$want" <<'EOF' || { echo "    $method $path: body is not the JSON expected: $(head -c 300 "$BODY")"; return 1; }
import json, sys
j = json.load(open(sys.argv[1]))
err = int(sys.argv[2]) >= 400
sys.exit(0 if (not err or (isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"])) else 1)
EOF
}
body_has() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$BODY" "$1"; }
generation() { api 200 GET /v1/status >/dev/null && json_get 'j["generation"]' <"$BODY"; }
JSON=(-H 'Content-Type: application/json')
YAML=(-H 'Content-Type: application/yaml')

log "socket: mode 0660, group $READ_GROUP"
check "socket mode and group" test "$(stat -c '%a %G' "$SOCK")" = "660 $READ_GROUP"

log "read-only resources"
check "GET /v1/status" api 200 GET /v1/status
check "GET /v1/config" api 200 GET /v1/config
check "config names the instance" body_has 'j["instance"] == "'"$NAME"'"'
check "GET /v1/vips" api 200 GET /v1/vips
check "GET /v1/vips/web" api 200 GET /v1/vips/web
check "GET /v1/vips/web/table" api 200 GET /v1/vips/web/table
check "GET /v1/health" api 200 GET /v1/health
check "GET /v1/stats" api 200 GET /v1/stats
if ((DATAPLANE)); then
	check "GET /v1/lookup" api 200 GET '/v1/lookup?vip=web&src=203.0.113.7&sport=40000'
	check "lookup names the slot's Maglev owner and its previous owner (second chance) or null" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
p = j.get("previous_owner", 0)
sys.exit(0 if isinstance(j.get("maglev_backend"), str) and (p is None or isinstance(p, str)) else 1)' "$BODY"
	check "lookup of an IPv6 client on an IPv4 VIP (%-encoded): 400" api 400 GET '/v1/lookup?vip=web&src=2001%3Adb8%3Ac%3A%3A7&sport=1'
else
	check "GET /v1/lookup without a dataplane: 503" api 503 GET '/v1/lookup?vip=web&src=203.0.113.7&sport=40000'
fi
check "lookup without sport: 400" api 400 GET '/v1/lookup?vip=web&src=203.0.113.7'
check "lookup with a bad address: 400" api 400 GET '/v1/lookup?vip=web&src=203.0.113.777&sport=1'
check "lookup with a bad port: 400" api 400 GET '/v1/lookup?vip=web&src=203.0.113.7&sport=70000'
check "lookup of an unknown VIP: 404" api 404 GET '/v1/lookup?vip=nope&src=203.0.113.7&sport=1'
check "lookup with another dport than the VIP's: 400" api 400 GET '/v1/lookup?vip=web&src=203.0.113.7&sport=1&dport=81'

log "unknown resources and VIPs, wrong methods"
check "GET /v2/status: 404" api 404 GET /v2/status
check "GET /v1/vips/: 404" api 404 GET /v1/vips/
check "GET /v1/vips/nope: 404" api 404 GET /v1/vips/nope
check "GET /v1/vips/nope/table: 404" api 404 GET /v1/vips/nope/table
check "POST to an unknown VIP's backends: 404" api 404 POST /v1/vips/nope/backends "${JSON[@]}" -d '{"address": "10.0.0.9"}'
check "DELETE an unknown backend: 404" api 404 DELETE /v1/vips/web/backends/10.9.9.9
check "POST /v1/status: 405" api 405 POST /v1/status
allow=$(curl -sS -o /dev/null -D - --unix-socket "$SOCK" -X POST http://keel/v1/status | tr -d '\r' | awk -F': ' 'tolower($1) == "allow" {print $2}')
check "405 carries Allow: GET" test "$allow" = GET
check "GET /v1/config/apply: 405" api 405 GET /v1/config/apply
check "DELETE /v1/vips/web: 405" api 405 DELETE /v1/vips/web
check "PUT .../drain: 405" api 405 PUT /v1/vips/web/backends/10.0.0.1/drain
check "bad %-escape in the path: 400" api 400 GET /v1/vips/we%zz
check "bad address in the path: 400" api 400 POST /v1/vips/web/backends/10.0.0.300/drain
check "unknown query parameter: 400" api 400 GET '/v1/status?verbose=1'
check "bad flag value: 400" api 400 POST '/v1/vips/web/backends/10.0.0.1/drain?dry_run=maybe'

log "config check, diff, apply"
write_config "$KT_TMP/same.yaml" 10.0.0.1:1 10.0.0.2:1 "[2001:db8::1]:2"
write_config "$KT_TMP/more.yaml" 10.0.0.1:1 10.0.0.2:1 "[2001:db8::1]:2" 10.0.0.3:1
write_config "$KT_TMP/all_new.yaml" 10.0.1.1:1 10.0.1.2:1
write_config "$KT_TMP/bad.yaml" 10.0.0.1:70000
check "check (YAML): valid" api 200 POST /v1/config/check "${YAML[@]}" --data-binary @"$KT_TMP/same.yaml"
check "check says valid and lists warnings" body_has 'j["valid"] is True and isinstance(j["warnings"], list)'
api 200 GET /v1/config >/dev/null && cp "$BODY" "$KT_TMP/running.json"
check "check (JSON, the running config): valid" api 200 POST /v1/config/check "${JSON[@]}" --data-binary @"$KT_TMP/running.json"
check "check of a refused file: 422" api 422 POST /v1/config/check "${YAML[@]}" --data-binary @"$KT_TMP/bad.yaml"
check "422 says line:column: reason" body_has '__import__("re").match(r"api:\d+:\d+: .*weight", j["error"])'
sed 's/^    port: 80$/    port: 0/' "$KT_TMP/same.yaml" >"$KT_TMP/port0.yaml"
check "check of port 0: 422" api 422 POST /v1/config/check "${YAML[@]}" --data-binary @"$KT_TMP/port0.yaml"
check "port 0 is not read as all ports" body_has '"write \"all\" for every port" in j["error"]'
sed 's/^    address: 192.0.2.10$/    address: 127.0.0.1/' "$KT_TMP/same.yaml" >"$KT_TMP/loopback.yaml"
check "apply of a loopback VIP: 422" api 422 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/loopback.yaml"
check "422 says where and why" body_has '__import__("re").match(r"api:\d+:\d+: vips\[0\]\.address: 127\.0\.0\.1 is a loopback address", j["error"])'
check "check without a Content-Type: 415" api 415 POST /v1/config/check --data-binary @"$KT_TMP/same.yaml" -H 'Content-Type:'
check "check, malformed JSON: 400" api 400 POST /v1/config/check "${JSON[@]}" -d '{"instance": '
check "check, duplicate JSON key: 400" api 400 POST /v1/config/check "${JSON[@]}" -d '{"instance": "a", "instance": "b"}'
check "check, JSON not an object: 400" api 400 POST /v1/config/check "${JSON[@]}" -d '[1, 2]'
check "check, truncated YAML: 422" api 422 POST /v1/config/check "${YAML[@]}" --data-binary "$(head -c 200 "$KT_TMP/same.yaml")"
check "diff: 200" api 200 POST /v1/config/diff "${YAML[@]}" --data-binary @"$KT_TMP/more.yaml"
g0=$(generation)
check "apply?dry_run=1: 200" api 200 POST '/v1/config/apply?dry_run=1' "${YAML[@]}" --data-binary @"$KT_TMP/more.yaml"
check "dry run says not applied" body_has 'j["applied"] is False and j["dry_run"] is True'
check "dry run leaves the generation" test "$(generation)" = "$g0"
check "apply: 200" api 200 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/more.yaml"
check "apply reports applied and a preview" body_has 'j["applied"] is True and "preview" in j'
check "apply moves the generation on" test "$(generation)" -gt "$g0"
check "apply replacing every backend: 409" api 409 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/all_new.yaml"
check "apply of a refused file: 422" api 422 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/bad.yaml"
check "apply back to the first file: 200" api 200 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/same.yaml"

log "backend edits"
B=/v1/vips/web/backends
check "add: 201" api 201 POST $B "${JSON[@]}" -d '{"address": "10.0.0.9", "weight": 3}'
check "add again: 409" api 409 POST $B "${JSON[@]}" -d '{"address": "10.0.0.9"}'
check "add?dry_run=1: 200" api 200 POST "$B?dry_run=1" "${JSON[@]}" -d '{"address": "10.0.0.10"}'
check "the dry run added nothing" api 404 DELETE $B/10.0.0.10
check "add, weight out of range: 400" api 400 POST $B "${JSON[@]}" -d '{"address": "10.0.0.11", "weight": 70000}'
check "add, unknown key: 400" api 400 POST $B "${JSON[@]}" -d '{"address": "10.0.0.11", "wieght": 1}'
check "add, no address: 400" api 400 POST $B "${JSON[@]}" -d '{"weight": 1}'
check "add, truncated JSON: 400" api 400 POST $B "${JSON[@]}" -d '{"address": "10.0.0.11", "wei'
check "add, empty body: 400" api 400 POST $B "${JSON[@]}"
check "add of the VIP's own address: 422" api 422 POST $B "${JSON[@]}" -d '{"address": "192.0.2.10"}'
check "add of 127.0.0.1: 422" api 422 POST $B "${JSON[@]}" -d '{"address": "127.0.0.1"}'
check "422 names the field" body_has '__import__("re").search(r"vips\[0\]\.backends\[\d+\]\.address: 127\.0\.0\.1 is a loopback address", j["error"])'
check "a weight moving most of the slots, without force: 409" api 409 PUT $B/10.0.0.9/weight "${JSON[@]}" -d '{"weight": 60}'
check "weight: 200" api 200 PUT $B/10.0.0.9/weight "${JSON[@]}" -d '{"weight": 1}'
check "weight, IPv6 raw: 200" api 200 PUT $B/2001:db8::1/weight "${JSON[@]}" -d '{"weight": 4}'
check "weight, IPv6 %-encoded: 200" api 200 PUT $B/2001%3Adb8%3A%3A1/weight "${JSON[@]}" -d '{"weight": 3}'
check "weight, IPv6 long form: 200" api 200 PUT $B/2001:0db8:0:0:0:0:0:0001/weight "${JSON[@]}" -d '{"weight": 2}'
check "weight without weight: 400" api 400 PUT $B/10.0.0.9/weight "${JSON[@]}" -d '{}'
check "drain: 200" api 200 POST $B/10.0.0.9/drain
check "undrain: 200" api 200 POST $B/10.0.0.9/undrain "${JSON[@]}" -d '{}'
check "disable: 200" api 200 POST $B/10.0.0.9/disable
check "drain with a body: 400" api 400 POST $B/10.0.0.9/drain "${JSON[@]}" -d '{"now": true}'
if ((DATAPLANE)); then
	check "flush: 200" api 200 POST $B/10.0.0.9/flush
else
	check "flush without a dataplane: 503" api 503 POST $B/10.0.0.9/flush
fi
check "flush?dry_run=1: 400" api 400 POST "$B/10.0.0.9/flush?dry_run=1"
check "flush of an unknown backend: 404" api 404 POST $B/10.9.9.9/flush
check "delete: 200" api 200 DELETE $B/10.0.0.9
check "delete again: 404" api 404 DELETE $B/10.0.0.9
check "state after the edits" api 200 GET /v1/vips/web
check "IPv6 backend has weight 2" body_has '[b["weight"] for b in j["backends"] if b["address"] == "2001:db8::1"] == [2]'
g0=$(generation)
check "drain in every VIP: 200" api 200 POST /v1/backends/10.0.0.1/drain
check "its report names the VIPs" body_has 'j["applied"] is True and j["vips"] == ["web"]'
check "one generation" test "$(generation)" = $((g0 + 1))
check "undrain in every VIP (%-encoded, {}): 200" api 200 POST /v1/backends/10%2E0.0.1/undrain "${JSON[@]}" -d '{}'
check "drain of a backend no VIP has: 404" api 404 POST /v1/backends/10.9.9.9/drain
check "GET /v1/backends/.../drain: 405" api 405 GET /v1/backends/10.0.0.1/drain
check "drain everywhere with a body: 400" api 400 POST /v1/backends/10.0.0.1/drain "${JSON[@]}" -d '{"vip": "web"}'
api 200 DELETE "$B/10.0.0.2?force=1" >/dev/null
api 200 DELETE "$B/2001:db8::1?force=1" >/dev/null
check "deleting the last backend: 409" api 409 DELETE $B/10.0.0.1
check "deleting it with force: 200" api 200 DELETE "$B/10.0.0.1?force=1"
check "add it back: 201" api 201 POST $B "${JSON[@]}" -d '{"address": "10.0.0.1"}'

log "oversized, truncated and malformed requests"
head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$KT_TMP/64k1"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$KT_TMP/1m1"
check "edit body over 64 KiB: 413" api 413 POST $B "${JSON[@]}" --data-binary @"$KT_TMP/64k1"
check "config body over 16 MiB: 413" api 413 POST /v1/config/check "${YAML[@]}" --data-binary @"$KT_TMP/1m1"
check "config body over 16 MiB, chunked: 413" api 413 POST /v1/config/apply "${YAML[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$KT_TMP/1m1"
check "edit body over 64 KiB, chunked: 413" api 413 PUT $B/10.0.0.1/weight "${JSON[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$KT_TMP/64k1"
check "GET with a body: 413" api 413 GET /v1/status -d x
check "64 KiB of spaces is still a body: 400 under the limit" api 400 POST $B "${JSON[@]}" --data-binary @<(head -c 65536 "$KT_TMP/64k1")
# A body cut short (Content-Length promises more, then EOF), headers cut short, and garbage: the
# server answers none of them with success and keeps serving.
raw() { # bytes to send, then half-close; prints the status line
	"$PY" - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    pass
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
EOF
}
no_success() { local l; l=$(raw "$1"); [[ $l != *" 2"[0-9][0-9]* ]] || { echo "    got $l"; return 1; }; }
check "truncated body: no success" no_success 'PUT /v1/vips/web/backends/10.0.0.1/weight HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"weight": 1'
check "truncated headers: no success" no_success 'GET /v1/status HTTP/1.1\r\nHost: k\r\nX-Cut'
check "garbage request line: no success" no_success 'BLAH\x01\x02 / HTTP/9\r\n\r\n'
check "malformed Content-Length: no success" no_success 'POST /v1/config/check HTTP/1.1\r\nHost: k\r\nContent-Length: 12x\r\n\r\n'
check "oversized headers: no success" no_success "GET /v1/status HTTP/1.1\r\nHost: k\r\nX-Big: $(head -c 70000 /dev/zero | tr '\0' a)\r\n\r\n"
te_unknown() { # a Transfer-Encoding the server cannot decode: 501 from the headers, at once
	"$PY" - "$SOCK" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(8)
s.connect(sys.argv[1])
t = time.monotonic()
s.sendall(b"POST /v1/config/check HTTP/1.1\r\nHost: k\r\nContent-Type: application/yaml\r\n"
          b"Transfer-Encoding: gzip\r\n\r\n")
data = b""
try:
    while b"\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    pass
line = data.split(b"\r\n", 1)[0].decode("latin-1")
took = time.monotonic() - t
print("    %r after %.1f s" % (line, took))
sys.exit(0 if line.startswith("HTTP/1.1 501") and took < 3 else 1)
EOF
}
check "unknown Transfer-Encoding: 501 at once" te_unknown
check "still serving" api 200 GET /v1/status
idle_closed() { # a connection that sends nothing is closed by the server's timeout (10 s)
	"$PY" - "$SOCK" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
t = time.monotonic()
sys.exit(0 if s.recv(1) == b"" and time.monotonic() - t < 15 else 1)
EOF
}
check "an idle connection is closed within 15 s" idle_closed

log "callers: read-only ($READ_GROUP), admin ($ADMIN_GROUP), neither"
CURL_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
check "reader: GET /v1/status" api 200 GET /v1/status
check "reader: GET /v1/vips/web/table" api 200 GET /v1/vips/web/table
check "reader: POST /v1/config/check" api 200 POST /v1/config/check "${YAML[@]}" --data-binary @"$KT_TMP/same.yaml"
check "reader: weight: 403" api 403 PUT $B/10.0.0.1/weight "${JSON[@]}" -d '{"weight": 9}'
check "403 says permission denied" body_has 'j["error"].startswith("permission denied")'
check "reader: apply: 403" api 403 POST /v1/config/apply "${YAML[@]}" --data-binary @"$KT_TMP/same.yaml"
check "reader: add: 403" api 403 POST $B "${JSON[@]}" -d '{"address": "10.0.0.12"}'
check "reader: delete: 403" api 403 DELETE $B/10.0.0.1
check "reader: drain: 403" api 403 POST $B/10.0.0.1/drain
check "reader: flush: 403" api 403 POST $B/10.0.0.1/flush
CURL_AS=(setpriv --reuid=65534 --regid=65534 --groups="$ADMIN_GID")
check "admin group: weight: 200" api 200 PUT $B/10.0.0.1/weight "${JSON[@]}" -d '{"weight": 2}'
CURL_AS=(setpriv --reuid=65534 --regid=12345 --clear-groups)
check "stranger: the socket's mode refuses the connection" api 000 GET /v1/status
chmod 0666 "$SOCK" # behind the mode, the API's own check
check "stranger past the mode: read: 403" api 403 GET /v1/status
check "stranger past the mode: write: 403" api 403 PUT $B/10.0.0.1/weight "${JSON[@]}" -d '{"weight": 9}'
chmod 0660 "$SOCK"
CURL_AS=()

log "/metrics on 127.0.0.1:$MPORT"
M=http://127.0.0.1:$MPORT
mcode() { curl -s -o "$KT_TMP/metrics" -w '%{http_code} %{content_type}' --max-time 10 "$@"; }
check "GET /metrics: 200, text 0.0.4" test "$(mcode "$M/metrics" | cut -d';' -f1-2)" = "200 text/plain; version=0.0.4"
check "metrics show a generation" grep -q '^keel_' "$KT_TMP/metrics"
check "GET /other: 404" test "$(mcode "$M/other" | cut -d' ' -f1)" = 404
check "POST /metrics: 405" test "$(mcode -X POST "$M/metrics" | cut -d' ' -f1)" = 405
if command -v promtool >/dev/null; then
	curl -s -o "$KT_TMP/metrics" --max-time 10 "$M/metrics"
	check "promtool check metrics" promtool check metrics <"$KT_TMP/metrics"
else
	log "skip promtool check metrics (no promtool: Debian's prometheus package)"
fi

log "stop: the socket goes away"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
check "keel-control exits on SIGTERM" wait_until 10 gone
check "socket removed" test ! -e "$SOCK"
if ((DATAPLANE)); then
	dp_stop
	check "keel-dataplane exits 0" test "$DP_RC" = 0
fi
grep -q 'event=api_request uid=65534 .*status=403' "$KT_TMP/control.log" && log "refusals are logged"
check "metrics_listening: the address is one key=value" grep -qE "^ts=[^ ]+ level=info event=metrics_listening address=127\.0\.0\.1:$MPORT\$" "$KT_TMP/control.log"
# The access log shows paths decoded (grep for an address works) and stays one key=value line.
check "access log: the %-encoded weight edit, decoded" grep -qE '^ts=[^ ]+ level=info event=api_request uid=0 pid=[0-9]+ method=PUT path=/v1/vips/web/backends/2001:db8::1/weight status=200 delivered=yes$' "$KT_TMP/control.log"
# shellcheck disable=SC2016 # $1 belongs to the inner shell
check "access log: no %-escape of an address left" bash -c '! grep "event=api_request .*%3A" "$1"' _ "$KT_TMP/control.log"
finish
