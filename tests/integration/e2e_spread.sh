#!/bin/bash
# End to end, spread: 3000 new TCP connections (HTTP) from the sandbox's client through the VIP
# land 33% +- 5% on each of 3 equal backends; with weights 1:2:3 (set through the API), shares
# within +- 5% of 1/6, 2/6, 3/6. Every connection must succeed.
. "$(dirname "$0")/lib.sh"
. "$KT_ROOT/tools/sandbox.d/e2e.sh"
e2e_up

B1=$(be4 1) B2=$(be4 2) B3=$(be4 3)
N=3000
r=$(client http --vip "$VIP4" --n $N --conc 16)
log "equal weights, $N connections: $r"
check "3000 connections, each backend 33% +- 5%, none failed" \
	shares_within "$r" 0.05 be1=0.3333 be2=0.3333 be3=0.3333

for w in "$B1 1" "$B2 2" "$B3 3"; do
	read -r b n <<<"$w"
	sb_api PUT "/v1/vips/web/backends/$b/weight?force=1" -H 'Content-Type: application/json' \
		-d "{\"weight\": $n}" >"$KT_TMP/w.json" || die "weight change of $b failed"
	json_get 'j["applied"] or not j["changed"]' <"$KT_TMP/w.json" | grep -q True ||
		die "weight change of $b not applied: $(head -c 300 "$KT_TMP/w.json")"
done
# The first round's connections stay tracked for 10 s after their FIN (--timeout-tcp-closing): a
# client port reused within that time keeps its old backend. Let them expire first.
sleep 11
log "table: $(sb_api GET /v1/vips/web/table | tr -d '\n ' | head -c 300)"
r=$(client http --vip "$VIP4" --n $N --conc 16)
log "weights 1:2:3, $N connections: $r"
check "weights 1:2:3: shares within +- 5% of 1/6, 2/6, 3/6, none failed" \
	shares_within "$r" 0.05 be1=0.1667 be2=0.3333 be3=0.5
finish
