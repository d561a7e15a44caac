# shellcheck shell=bash
# The sandbox Prometheus' alerts (it loads dist/prometheus/keel-rules.yml, or the installed
# copy with KEEL_PREFIX), sourced after env.sh by tools/demo and the e2e scenarios.

# sb_alerts [STATE]: one line per alert in STATE (firing, the default, or pending):
# "NAME label=value ..." from Prometheus' /api/v1/alerts.
sb_alerts() {
	in_ns "$(ns_keel 1)" curl -sS --max-time 10 "http://$SB_PROM/api/v1/alerts" | "$SB_PY" -c '
import json, sys
want = sys.argv[1]
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["state"] == want:
        l = a["labels"]
        print(l["alertname"] + "".join(f" {k}={l[k]}" for k in sorted(l) if k not in ("alertname", "job")))' "${1:-firing}"
}

# sb_wait_alert SECONDS PATTERN: 0 once a firing alert's line matches PATTERN (grep -E).
sb_wait_alert() {
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		sb_alerts firing 2>/dev/null | grep -qE "$2" && return 0
		sleep 1
	done
	return 1
}

# sb_wait_no_alert SECONDS PATTERN: 0 once no firing alert matches PATTERN.
sb_wait_no_alert() {
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		if out=$(sb_alerts firing 2>/dev/null) && ! grep -qE "$2" <<<"$out"; then return 0; fi
		sleep 1
	done
	return 1
}
