#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through check and wait_until
# keelctl end to end: every command in human and JSON form against keel-control and a
# keel-dataplane on net_null; the config dump | apply round trip; exit codes of each failure
# class (usage 64, refused 65, daemon down 69, permission 77); dangerous applies refused
# without --force and accepted with it.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd setpriv "$PY"
kt_tmpdir
chmod 0755 "$KT_TMP" # the unprivileged caller must reach the socket and the binary inside
kt_name NAME ctl

CONTROL=$BUILD/control/keel-control
[[ -x $CONTROL ]] || skip "no keel-control at $CONTROL (built with the dataplane: needs libdpdk)"
KEELCTL=${KEELCTL:-$BUILD/tools/keelctl/keelctl} # KEELCTL=build-asan/...: a sanitizer build
[[ -x $KEELCTL ]] || skip "no keelctl at $KEELCTL"
need_build
need_hugepages 256
# A copy nobody can run wherever the build tree is.
install -m 0755 "$KEELCTL" "$KT_TMP/keelctl"
K=$KT_TMP/keelctl

SOCK=$KT_TMP/control.sock
# shellcheck disable=SC2034 # kt_config reads it
MPORT=$((20000 + ($$ + 7) % 20000))
SOCK_GID=100 # "users": nobody (65534) with --clear-groups is not in it, so the mode refuses
SOCK_GROUP=$(getent group "$SOCK_GID" | cut -d: -f1)
[[ -n $SOCK_GROUP ]] || skip "no group with gid $SOCK_GID"
export KEEL_SOCKET=$SOCK

write_config() { # file, then backends of VIP web as "addr:weight"
	local f=$1 b
	shift
	kt_config ipv6=fd00:1::/64 group="$SOCK_GROUP" >"$f" <<EOC
vips:
  - name: web
    address: 192.0.2.10
    port: 80
    protocol: tcp
    maglev_table_size: 1021
    backends:
EOC
	if (($# == 0)); then
		sed -i 's/^    backends:$/    backends: []/' "$f"
	fi
	for b; do
		echo "      - { address: \"${b%:*}\", weight: ${b##*:} }" >>"$f"
	done
}
write_config "$KT_TMP/keel.yaml" 10.0.0.1:1 10.0.0.2:1 10.0.0.3:2

log "keel-dataplane $NAME on net_null"
# shellcheck disable=SC2046
dp_start "$KT_TMP/dp.log" -- --lcores '0@0,1@0' $(eal_opts "$NAME") \
	--vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
	-- --name "$NAME" --workers 1 --tx-port 0=1 --slots 4 --slot-size 8M
dp_wait_running "$NAME" "$KT_TMP/dp.log" || die "keel-dataplane did not start"

log "keel-control"
timeout -s TERM -k 5 300 "$CONTROL" --config "$KT_TMP/keel.yaml" --state-dir "$KT_TMP/state" \
	>"$KT_TMP/control.log" 2>&1 &
CONTROL_PID=$!
KT_PIDS+=("$CONTROL_PID")
up() { "$K" status >/dev/null 2>&1; }
wait_until 15 up || { sed 's/^/    /' "$KT_TMP/control.log"; die "the API did not come up"; }
# Wait for the first table to reach the worker (table show and lookup read it).
published() { "$K" table show web >/dev/null 2>&1; }
wait_until 10 published || die "no table published"

OUT=$KT_TMP/out
ERR=$KT_TMP/err
# run WANT_RC keelctl-args...: stdout in $OUT, stderr in $ERR, the exit code must match.
run() {
	local want=$1 rc=0
	shift
	"${AS[@]}" "$K" "$@" >"$OUT" 2>"$ERR" || rc=$?
	if [[ $rc != "$want" ]]; then
		echo "    keelctl $*: exit $rc, want $want"
		sed 's/^/    out: /' "$OUT" | head -20
		sed 's/^/    err: /' "$ERR" | head -5
		return 1
	fi
}
AS=()
has() { grep -qE -- "$1" "$OUT" || { echo "    no /$1/ in:"; sed 's/^/    | /' "$OUT" | head -20; return 1; }; }
err_has() { grep -qE -- "$1" "$ERR" || { echo "    no /$1/ in stderr: $(cat "$ERR")"; return 1; }; }
err_one_line() { [[ $(wc -l <"$ERR") -eq 1 ]] || { echo "    stderr: $(cat "$ERR")"; return 1; }; }
jq_true() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$OUT" "$1" ||
	{ echo "    false: $1 on $(head -c 400 "$OUT")"; return 1; }; }
ok() { run 0 "$@"; }

log "help and usage (64)"
check "help" ok help
check "help lists the objects" has '^  backend '
check "--help" ok --help
check "vip help" ok vip help
check "vip help lists verbs" has 'keelctl vip add NAME ADDRESS'
check "help backend" ok help backend
check "backend weight --help" ok backend weight --help
check "config apply help" ok config apply help
check "no arguments: 64" run 64
check "unknown object: 64" run 64 frob
check "unknown verb: 64" run 64 vip frob
check "missing argument: 64" run 64 backend add web
check "bad address: 64" run 64 backend drain web 10.0.0.300
check "bad weight: 64" run 64 backend weight web 10.0.0.1 70000
check "unknown option: 64" run 64 vip list --frob
check "usage error is one line" err_one_line
check "an object's own verb with an extra argument: 64" run 64 stats extra
check "the error names the command once" err_has '^keelctl: stats: unexpected argument "extra"'
check "an object's own verb with an unknown option: 64" run 64 status --frob
check "the error names the command once" err_has '^keelctl: status: unknown option --frob'
check "vip add with port 0: 64" run 64 vip add zero 192.0.2.30 0
check "port 0 is not all" err_has 'port must be 1\.\.65535, or "all"'

log "status, vips, backends, tables, lookups, health (human and JSON)"
check "status" ok status
check "status: dataplane alive" has "^dataplane +alive: instance $NAME"
check "status: worker table" has '^WORKER +LCORE +SOCKET +GENERATION'
check "status -j" ok -j status
check "status -j: alive, workers" jq_true 'j["dataplane"]["alive"] and len(j["dataplane"]["workers"]) == 1'
check "vip list" ok vip list
check "vip list: columns" has '^NAME +ADDRESS +PORT +PROTO +ENCAP +SLOTS +ACTIVE +HEALTHY +PANIC$'
check "vip list: web, 3 of 3 active, no health check" has '^web +192\.0\.2\.10 +80 +tcp +ipip +1021 +3/3 +- +no$'
check "vip list -q" ok vip list -q
check "vip list -q: names" test "$(cat "$OUT")" = web
check "vip list -j" ok vip list --json
check "vip list -j: schema" jq_true '[v["name"] for v in j] == ["web"] and j[0]["port"] == 80'
check "vip show web" ok vip show web
check "vip show: backend with weight and slots" has '^10\.0\.0\.3 +2 +active +'
check "vip show -j" ok vip show web -j
check "vip show -j: backends" jq_true '[b["address"] for b in j["backends"]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]'
check "vip show of an unknown VIP: 65" run 65 vip show nope
check "its reason on stderr" err_has 'no VIP named "nope"'
check "the error names the command, not the API path" err_has '^keelctl: vip show: no VIP named'
check "backend list web" ok backend list web
check "backend list: columns" has '^BACKEND +WEIGHT +STATE +HEALTH'
check "backend list -j" ok -j backend list web
check "backend list -j: weights" jq_true '[b["weight"] for b in j] == [1, 1, 2]'
check "table show web" ok table show web
check "table show: header" has '^vip web: 1021 slots, generation [0-9]+, digest [0-9a-f]{16}'
check "table show -j" ok table show web -j
check "table show -j: slots sum to the size" jq_true 'sum(b["slots"] for b in j["backends"]) == j["size"] == 1021'
check "lookup" ok lookup web --src 203.0.113.7 --sport 40000 --proto tcp
check "lookup: backend and why" has '^web 203\.0\.113\.7 port 40000 to port 80 -> 10\.0\.0\.[123]$'
check "lookup: why" has '^why: maglev, hash 0x[0-9a-f]+, slot [0-9]+'
check "lookup -j" ok -j lookup web --src 203.0.113.7 --sport 40000
check "lookup -j: backend" jq_true 'j["backend"] in ("10.0.0.1", "10.0.0.2", "10.0.0.3") and j["source_port"] == 40000'
check "lookup with the wrong protocol: 65" run 65 lookup web --src 203.0.113.7 --sport 1 --proto udp
check "lookup of an IPv6 client on an IPv4 VIP: 65" run 65 lookup web --src 2001:db8::7 --sport 1
check "lookup without --sport: 64" run 64 lookup web --src 203.0.113.7
check "health" ok health
check "health: a row per backend" test "$(grep -c '^web ' "$OUT")" = 3
check "health -j" ok health -j
check "health -j: check type" jq_true 'len(j) == 3 and all(h["check"] == "none" for h in j)'

log "stats and top"
check "stats" ok stats
check "stats: summary" has '^received +0 packets +0 B$'
check "stats: flow table" has '^flows +0 entries'
check "stats -j" ok -j stats
check "stats -j: counters" jq_true 'j["dataplane"] is True and j["rx_packets"] == 0 and "flows" in j'
check "stats vip" ok stats vip
check "stats vip: web" has '^web +0 +0 B$'
check "stats vip -j" ok stats vip -j
check "stats vip -j" jq_true 'j == {"web": {"packets": 0, "bytes": 0}}'
check "stats backend" ok stats backend
check "stats backend: rows" test "$(grep -c '^web ' "$OUT")" = 3
check "stats backend -j" ok stats backend -j
check "stats backend -j: new flows" jq_true 'len(j) == 3 and all(b["new_flows"] == 0 for b in j)'
check "stats worker" ok stats worker
check "stats worker: worker 0" has '^ +0 +[0-9]+ +[0-9]+ +[0-9]+'
check "stats worker -j" ok stats worker -j
check "stats worker -j: busy cycles" jq_true 'j[0]["worker"] == 0 and "busy_cycles" in j[0]'
check "stats drops" ok stats drops
check "stats drops -j" ok stats drops -j
check "stats drops -j: an object" jq_true 'isinstance(j, dict)'
check "top --once" ok top --once
check "top: sections" has '^keel top: generation [0-9]+, dataplane alive'
check "top: backend rates with units" has '^web +10\.0\.0\.1 +0 pps +0 B/s +0 /s$'
check "top: workers" has '^WORKER +LCORE +GENERATION +BUSY'
check "top -n 2 -j: two samples" ok top -n 2 -d 0.2 -j
check "top -j: JSON lines with rates" "$PY" -c '
import json, sys
ls = open(sys.argv[1]).read().splitlines()
assert len(ls) == 2, ls
for l in ls:
    j = json.loads(l)
    assert j["interval_s"] > 0.1 and j["rx_pps"] == 0 and "web" in j["vips"] and len(j["backends"]) == 3
' "$OUT"

log "config check (offline), dump, diff, apply"
write_config "$KT_TMP/bad.yaml" 10.0.0.1:70000
check "check: valid" ok config check "$KT_TMP/keel.yaml"
check "check: says valid" has 'keel.yaml: valid$'
check "check without a daemon" env KEEL_SOCKET=/nonexistent "$K" -j config check "$KT_TMP/keel.yaml" >/dev/null
check "check of a refused file: 65" run 65 config check "$KT_TMP/bad.yaml"
check "refusal says file:line:column" err_has "^keelctl: $KT_TMP/bad.yaml:[0-9]+:[0-9]+: .*weight"
check "check -j of a refused file: 65" run 65 -j config check "$KT_TMP/bad.yaml"
check "check -j: valid false" jq_true 'j["valid"] is False and "weight" in j["error"]'
check "check of a missing file: 65" run 65 config check "$KT_TMP/none.yaml"
check "dump" ok config dump
cp "$OUT" "$KT_TMP/dump.yaml"
check "dump is YAML with the VIP" has '^  - name: "web"$'
check "dump -j" ok config dump -j
check "dump -j: canonical JSON" jq_true 'j["instance"] == "'"$NAME"'" and j["vips"][0]["maglev_table_size"] == 1021'
check "the dump passes check" ok config check "$KT_TMP/dump.yaml"
check "diff of the dump: 0" ok config diff "$KT_TMP/dump.yaml"
check "diff: no differences" has '^no differences'
check "apply of the dump" ok config apply "$KT_TMP/dump.yaml"
check "apply of the dump: no change" has 'no change'
check "apply -j of the dump" ok -j config apply "$KT_TMP/dump.yaml"
check "round trip is a no-op" jq_true 'j["changed"] is False and j["applied"] is False'
"$K" config dump | "$K" -j config apply - >"$OUT" 2>"$ERR"
check "config dump | config apply -: no-op" jq_true 'j["changed"] is False'
write_config "$KT_TMP/more.yaml" 10.0.0.1:1 10.0.0.2:1 10.0.0.3:2 10.0.0.4:1
check "diff with a new backend: 1" run 1 config diff "$KT_TMP/more.yaml"
check "diff names the change" has '^  \+ vips\[web\]\.backends\[10\.0\.0\.4\]: '
check "diff shows the preview" has '^web +[0-9.]+% .*10\.0\.0\.1 +[0-9]+ +[0-9]+$'
check "diff -j: 1" run 1 -j config diff "$KT_TMP/more.yaml"
check "diff -j: changes and preview" jq_true 'j["changed"] and j["changes"][0]["path"] == "vips[web].backends[10.0.0.4]" and j["preview"]["web"]["backends"]["10.0.0.4"]["after"] > 0'
check "diff of a refused file: 65" run 65 config diff "$KT_TMP/bad.yaml"
check "apply --dry-run" ok config apply --dry-run "$KT_TMP/more.yaml"
check "dry run says so" has 'dry run: would change'
check "the dry run changed nothing" ok config diff "$KT_TMP/dump.yaml"
check "apply" ok config apply "$KT_TMP/more.yaml"
check "apply: applied" has 'applied, generation [0-9]+'
check "apply: preview with before/after" has '^ +10\.0\.0\.4 +0 +[0-9]+$'
check "apply of a refused file: 65" run 65 config apply "$KT_TMP/bad.yaml"

log "dangerous applies: refused (65) without --force"
write_config "$KT_TMP/all_new.yaml" 10.0.1.1:1 10.0.1.2:1
write_config "$KT_TMP/empty.yaml"
check "moving > 50% of the slots: 65" run 65 config apply "$KT_TMP/all_new.yaml"
check "the daemon's reason, one line" err_has '^keelctl: config apply .*: refused: 100\.0% of a VIP.s slots would move'
check "refusal shows the preview" has '^web +100\.0%'
check "nothing changed" run 1 config diff "$KT_TMP/all_new.yaml"
check "with --force: applied" ok config apply --force "$KT_TMP/all_new.yaml"
check "emptying a VIP: 65" run 65 config apply "$KT_TMP/empty.yaml"
check "the reason" err_has 'without any backend'
check "refused -j: the daemon's JSON with its report" run 65 -j config apply "$KT_TMP/empty.yaml"
check "refused -j: error and preview" jq_true '"error" in j and j["report"]["preview"]["web"]["empty"] is True'
check "emptying with --force" ok config apply --force "$KT_TMP/empty.yaml"
check "back to the first file, --force" ok config apply --force "$KT_TMP/keel.yaml"

log "backend edits and VIP edits"
check "backend add" ok backend add web 10.0.0.9 --weight 1
check "backend add: applied with a preview" has '^ +10\.0\.0\.9 +0 +[0-9]+$'
check "backend add again: 65" run 65 backend add web 10.0.0.9
check "already there" err_has 'already in VIP web'
check "backend add --dry-run -j" ok -j backend add web 10.0.0.10 --dry-run
check "dry run -j: report" jq_true 'j["dry_run"] is True and j["applied"] is False'
check "a weight moving most slots: 65" run 65 backend weight web 10.0.0.9 60
check "backend weight" ok backend weight web 10.0.0.9 2
check "backend weight: applied" has 'backend weight web 10\.0\.0\.9: applied'
check "backend drain -j" ok backend drain web 10.0.0.9 -j
check "drain -j: applied" jq_true 'j["applied"] is True and j["preview"]["web"]["backends"]["10.0.0.9"]["after"] == 0'
check "drained" ok -j vip show web
check "state draining" jq_true '[b["state"] for b in j["backends"] if b["address"] == "10.0.0.9"] == ["draining"]'
check "backend undrain" ok backend undrain web 10.0.0.9
check "backend flush" ok backend flush web 10.0.0.9
check "flush says so" has 'tracked flows dropped'
check "backend flush -j" ok -j backend flush web 10.0.0.9
check "flush -j" jq_true 'j["flushed"] is True'
check "backend del" ok backend del web 10.0.0.9
check "backend del again: 65" run 65 backend del web 10.0.0.9
check "backend of an unknown VIP: 65" run 65 backend drain nope 10.0.0.1
check "vip add" ok vip add api 192.0.2.20 443 --proto tcp
check "vip add: applied" has 'vip add api: applied'
check "vip add: it is there" ok vip list -q
check "two VIPs" test "$(tr '\n' ' ' <"$OUT")" = "web api "
check "vip add of an existing VIP: 65" run 65 vip add api 192.0.2.21 443
check "vip add refused by the validator: 65" run 65 vip add udp1 192.0.2.22 53 --proto sctp
check "the validator's reason" err_has 'protocol'
check "vip add of a loopback address: 65" run 65 vip add lo 127.0.0.1 80
check "the validator says why" err_has 'loopback address'
check "backend add of a VIP's address: 65" run 65 backend add web 192.0.2.10
check "the validator says why" err_has 'a backend must not be a VIP'
check "backend add to the new VIP" ok backend add api 10.0.2.1

log "one server in every VIP: backend drain|undrain --all"
check "backend add api 10.0.2.2" ok backend add api 10.0.2.2
check "backend add api 10.0.0.1 (also in web)" ok backend add api 10.0.0.1
gen() { "$K" -j status | json_get 'j["generation"]'; }
g0=$(gen)
check "backend drain --all" ok backend drain --all 10.0.0.1
check "drain --all: one change" has '^backend drain --all 10\.0\.0\.1: applied, generation [0-9]+$'
check "drain --all: names the VIPs" has '^changed in: web api$'
check "drain --all: one generation for both VIPs" test "$(gen)" = $((g0 + 1))
check "vip list -j" ok -j vip list
check "10.0.0.1 draining in web and api" jq_true '[b["state"] for v in j for b in v["backends"] if b["address"] == "10.0.0.1"] == ["draining", "draining"]'
check "the others still active" jq_true 'all(b["state"] == "active" for v in j for b in v["backends"] if b["address"] != "10.0.0.1")'
check "undrain --all --dry-run -j" ok -j backend undrain --all 10.0.0.1 --dry-run
check "dry run: would change web and api" jq_true 'j["dry_run"] is True and j["applied"] is False and j["vips"] == ["web", "api"]'
check "backend undrain --all" ok backend undrain --all 10.0.0.1
check "vip list -j" ok -j vip list
check "10.0.0.1 active again everywhere" jq_true '[b["state"] for v in j for b in v["backends"] if b["address"] == "10.0.0.1"] == ["active", "active"]'
check "drain --all of a backend no VIP has: 65" run 65 backend drain --all 10.9.9.9
check "says so" err_has '^keelctl: backend drain --all 10\.9\.9\.9: no VIP has backend 10\.9\.9\.9'
check "--all with a VIP: 64" run 64 backend drain --all web 10.0.0.1
check "--all is for drain and undrain: 64" run 64 backend disable --all 10.0.0.1
check "vip del --dry-run" ok vip del api --dry-run
check "vip del --dry-run: preview says removed" has '^api +100\.0% +removed'
check "vip del --dry-run: says the real run needs --force" err_has 'VIP api has 3 backends: the real run needs --force'
check "vip del of a VIP with backends: 65" run 65 vip del api
check "it asks for --force" err_has '^keelctl: vip del api: VIP api has 3 backends: --force'
check "still there" ok vip show api
check "vip del --force" ok vip del api --force
check "vip gone" run 65 vip show api

log "permission denied (77)"
AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
check "nobody, not in $SOCK_GROUP: the socket's mode refuses: 77" run 77 status
check "says permission denied" err_has 'permission denied'
chmod 0666 "$SOCK" # past the mode, the API's own check: nobody is in no API group
check "nobody past the mode: read 403: 77" run 77 vip list
check "nobody past the mode: change 403: 77" run 77 backend drain web 10.0.0.1
check "the daemon's reason" err_has 'permission denied'
check "nobody can still check a file offline" run 0 config check "$KT_TMP/keel.yaml"
# The daemon answers 403 from the headers and hangs up without reading the body: keelctl's
# write then fails with EPIPE, and it must still read and report the answer (issue 20 item 13).
# A body larger than the socket's buffer makes the early answer certain, run after run.
cp "$KT_TMP/keel.yaml" "$KT_TMP/big.yaml"
head -c 600000 /dev/zero | tr '\0' 'x' | fold -w 100 | sed 's/^/# /' >>"$KT_TMP/big.yaml"
chmod 0644 "$KT_TMP/big.yaml"
applies_refused() { # 20 applies and 20 dry runs by a read-only caller: each exits 77, none 69
	local i
	for ((i = 0; i < 20; i++)); do
		run 77 config apply "$KT_TMP/big.yaml" || return 1
		err_has 'permission denied' || return 1
		run 77 config apply --dry-run "$KT_TMP/big.yaml" || return 1
	done
}
check "nobody past the mode: 20 large applies and dry runs, each 77" applies_refused
chmod 0660 "$SOCK"
AS=(setpriv --reuid=65534 --regid=65534 --groups="$SOCK_GID") # in the API's group: read-only
check "a read-only caller can read" ok vip list
check "a read-only caller: 20 large applies and dry runs, each 77" applies_refused
AS=()

log "daemon unavailable (69)"
check "--socket to nothing: 69" run 69 --socket "$KT_TMP/none.sock" status
check "says not running" err_has 'keel-control is not running'
# shellcheck disable=SC2016 # $0 and $? belong to the inner shell
check "KEEL_SOCKET to nothing: 69" env KEEL_SOCKET="$KT_TMP/none.sock" bash -c '"$0" vip list 2>/dev/null; test $? = 69' "$K"
kill -TERM "$CONTROL_PID"
gone() { ! kill -0 "$CONTROL_PID" 2>/dev/null; }
wait_until 10 gone || die "keel-control did not stop"
check "daemon stopped: 69" run 69 status
check "daemon stopped: config apply 69" run 69 config apply "$KT_TMP/keel.yaml"

log "HTTP framing: a chunked answer, a garbage answer"
fake() { # one answer (printf escapes) on a Unix socket, for one connection; prints nothing
	"$PY" - "$KT_TMP/fake.sock" "$1" <<'EOP' &
import os, socket, sys
p = sys.argv[1]
if os.path.exists(p):
    os.unlink(p)
s = socket.socket(socket.AF_UNIX)
s.bind(p)
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
c.recv(65536)
c.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
c.close()
EOP
	KT_PIDS+=($!)
	wait_until 5 test -S "$KT_TMP/fake.sock"
}
fake 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n10\r\n{"generation": 7\r\n9;ext=1\r\n, "x": 1}\r\n0\r\n\r\n'
check "chunked answer" run 0 --socket "$KT_TMP/fake.sock" -j status
check "chunked answer decoded" jq_true 'j == {"generation": 7, "x": 1}'
rm -f "$KT_TMP/fake.sock"
fake 'SSH-2.0-OpenSSH\r\n\r\n'
check "not HTTP: 69" run 69 --socket "$KT_TMP/fake.sock" status
rm -f "$KT_TMP/fake.sock"
fake 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut": '
check "answer cut short: 69" run 69 --socket "$KT_TMP/fake.sock" status
dp_stop
check "keel-dataplane exits 0" test "$DP_RC" = 0
finish
