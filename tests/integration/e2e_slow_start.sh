#!/bin/bash
# shellcheck disable=SC2317 # small predicates are called through wait_until
# End to end, slow start: VIP web of the sandbox with `slow_start: 30s` (steps of 7.5 s: 20 %, 40 %,
# 60 %, 80 % of a backend's weight, then all of it). be2 drained, then undrained: at each step,
# 200 new TCP connections (HTTP) from the sandbox's client through the VIP; be2's share of them
# follows the ramp: weight share p/100 beside two backends of weight 1 gives (p/100)/(p/100 + 2)
# of the table (1/11 at 20 %), within 3 sigma + 2 points. Every connection
# must succeed. Run under flock /tmp/keel-sandbox.lock (the sandbox's names are fixed).
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B2=$(be4 2)
N=200
sb_api GET /v1/config >"$KT_TMP/cfg.json" || die "no configuration"
"$PY" - "$KT_TMP/cfg.json" <<'PYEOF' >"$KT_TMP/cfg2.json" || die "cannot edit the configuration"
import json, sys
c = json.load(open(sys.argv[1]))
[v for v in c["vips"] if v["name"] == "web"][0]["slow_start"] = "30s"
print(json.dumps(c))
PYEOF
sb_api POST "/v1/config/apply?force=1" -H 'Content-Type: application/json' -d @"$KT_TMP/cfg2.json" \
	>"$KT_TMP/apply.json" || die "apply failed"
json_get 'j["applied"]' <"$KT_TMP/apply.json" | grep -q True || die "slow_start not applied: $(head -c 300 "$KT_TMP/apply.json")"
slots() { sb_api GET /v1/vips/web/table | json_get "[b['slots'] for b in j['backends'] if b['backend'] == '$B2'][0]"; }
percent() { sb_api GET /v1/vips/web | json_get "[b.get('slow_start', {}).get('percent', 100) for b in j['backends'] if b['address'] == '$B2'][0]"; }
b2_out() { [[ $(slots) == 0 ]]; }

sb_api POST "/v1/vips/web/backends/$B2/drain?force=1" >/dev/null || die "drain failed"
wait_until 5 b2_out || die "be2 kept its slots after the drain"
sb_api POST "/v1/vips/web/backends/$B2/undrain?force=1" >/dev/null || die "undrain failed"
log "be2 undrained: $N new connections per step"
rows=()
for _ in $(seq 20); do # 40 s at most: rounds of 1 s and more in steps of 7.5 s
	p0=$(percent) s0=$(slots)
	r=$(client http --vip "$VIP4" --n $N --conc 16) || die "client failed: $r"
	p1=$(percent) s1=$(slots)
	log "  ramp $p0% ($s0 slots) -> $p1% ($s1 slots): $(echo "$r" | json_get '(j["ok"], j["fail"], j["per"])')"
	# A step during the round mixes two tables: only rounds within one step count.
	[[ $p0 == "$p1" && $s0 == "$s1" ]] && rows+=("$p0 $s0 $r")
	[[ $p0 == 100 && $p1 == 100 ]] && break
	sleep 1
done
printf '%s\n' "${rows[@]}" >"$KT_TMP/rows.txt"
out=$("$PY" - "$KT_TMP/rows.txt" <<'PYEOF'
import json, sys
ok, seen, lines = True, set(), []
for line in open(sys.argv[1]):
    p, s, r = line.split(" ", 2)
    p, s, r = int(p), int(s), json.loads(r)
    n = r["ok"]
    share = r["per"].get("be2", 0) / n
    lines.append((p, s, round(share, 3)))
    seen.add(p)
    ok = ok and r["fail"] == 0
    # The share weight p % gives beside two backends at their whole weight 1 (Maglev: within 1 %).
    want = p / 100 / (p / 100 + 2)
    ok = ok and abs(share - want) <= 3 * (want * (1 - want) / n) ** 0.5 + 0.02
print(ok and len(seen - {100}) >= 2 and 100 in seen, lines)
PYEOF
)
log "MEASURED (percent, slots, be2's share of new connections): ${out#* }"
check "be2's share of new connections follows the ramp (>= 2 partial steps, then 100 %), none failed" \
	test "${out%% *}" = True
finish
