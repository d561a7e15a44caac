#!/usr/bin/python3
"""slow_start.sh's sampler and judge.

Sample: LIB SOCK MPORT BACKEND WINDOW_MS KEELCTL
  from a backend's return until it has its whole share (at most WINDOW_MS + 6 s), every 100 ms:
  its slots in VIP web's running table, its "slow_start" percent in GET /v1/vips/web and
  keel_backend_effective_weight, and between samples 15 new flows (random clients) through the
  dataplane's lookup on its active snapshot (GET /v1/lookup: it names the generation that
  answered, so each is counted at the table of its generation); once, while it ramps,
  `keelctl backend list web`. Then the audit log (GET /v1/history). Prints one JSON document.
Judge: --judge FILE M WINDOW_MS WHAT: prints "True|False detail" for one property (see below)."""
import json
import random
import subprocess
import sys
import time
import urllib.request


def sample(lib, sock, mport, b, window, keelctl):
    sys.path.insert(0, lib)
    import keel_http

    def get(path):
        st, d = keel_http.call(sock, "GET", path, timeout=5)
        return json.loads(d) if st == 200 else None

    def metric():
        t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5).read().decode()
        key = 'keel_backend_effective_weight{vip="web",backend="%s"} ' % b
        return [float(l.split()[-1]) for l in t.splitlines() if l.startswith(key)][0]

    def lookups(n, by_gen):
        """n new flows (random clients) through the dataplane's lookup, counted by the generation that answered."""
        for _ in range(n):
            src = "198.51.100.%d" % random.randint(1, 254)
            r = get("/v1/lookup?vip=web&src=%s&sport=%d" % (src, random.randint(1024, 65535)))
            if r is not None:
                g = by_gen.setdefault(str(r["generation"]), [0, 0])
                g[0] += 1
                g[1] += r.get("backend") == b

    samples, levels, listing, by_gen, gen_slots = [], {}, "", {}, {}
    t_end = time.time() + window / 1000 + 6
    while time.time() < t_end:
        t = time.time()
        tab = get("/v1/vips/web/table")
        view = get("/v1/vips/web")
        met = metric()
        s = [x["slots"] for x in tab["backends"] if x["backend"] == b][0]
        p = [x.get("slow_start", {}).get("percent", 100) for x in view["backends"] if x["address"] == b][0]
        samples.append({"t_ms": int(t * 1000), "slots": s, "percent": p, "metric": met})
        gen_slots[str(tab["generation"])] = s
        if s and str(s) not in levels:
            levels[str(s)] = {"first_ms": int(t * 1000), "percent": p, "share": s / tab["size"]}
            if p < 100 and not listing:
                listing = subprocess.run([keelctl, "--socket", sock, "backend", "list", "web"],
                                         capture_output=True, text=True).stdout
        # Done: the whole share for a second.
        if s and p == 100 and levels and t * 1000 > max(l["first_ms"] for l in levels.values()) + 1000:
            break
        lookups(15, by_gen)
    # New flows per level: the lookups of every generation whose table was read.
    for g, (n, hit) in by_gen.items():
        s = gen_slots.get(g)
        if s and str(s) in levels:
            lv = levels[str(s)]
            lv["lookups"] = lv.get("lookups", 0) + n
            lv["lookup_hits"] = lv.get("lookup_hits", 0) + hit
    print(json.dumps({"samples": samples, "levels": levels, "listing": listing, "history": get("/v1/history")}))


def judge(path, m, window, what):
    r = json.load(open(path))
    step = window // 4
    levels = sorted(r["levels"].items(), key=lambda kv: kv[1]["first_ms"])
    # Maglev's share for weight f of a backend beside two of weight 1: f / (f + 2) of the slots.
    want = {p: round(p / 100 / (p / 100 + 2) * m) for p in (20, 40, 60, 80, 100)}
    partial = [l for s, l in levels if l["percent"] < 100]
    if what == "levels":  # each level is a step's share (by the percent shown), >= 3 of the 4 partial seen
        ok = all(abs(int(s) - want[l["percent"]]) <= 15 for s, l in levels) and \
            len({l["percent"] for l in partial}) >= 3 and levels[-1][1]["percent"] == 100
        return ok, [(int(s), l["percent"], want[l["percent"]]) for s, l in levels]
    if what == "increasing":  # slots only grow during the ramp, up to the whole share
        s = [x["slots"] for x in r["samples"] if x["slots"]]
        return bool(s) and all(a <= b for a, b in zip(s, s[1:])) and abs(s[-1] - want[100]) <= 15, s[::5]
    if what == "aligned":  # each audited step (GET /v1/history) within 500 ms after a wall-clock multiple of the step
        late = [e["time_ms"] % step for e in r["history"]["events"] if e["source"] == "slow_start"]
        return len(late) >= 3 and all(x < 500 for x in late), late
    if what == "window":  # the whole share no later than the window (+ 1 s) after the first step
        d = levels[-1][1]["first_ms"] - levels[0][1]["first_ms"]
        return window // 2 <= d <= window + 1000, d
    if what == "metric":  # keel_backend_effective_weight (weight 1) says the view's percent (read just after)
        bad = [x for x in r["samples"] if x["slots"] and abs(x["metric"] * 100 - x["percent"]) > 0.01]
        # A step may fall between the two reads: one such sample per step at most.
        return len(bad) < len(levels), bad[:3]
    if what == "lookups":
        # New flows through the dataplane's lookup: at each level (>= 50 flows) the table's share
        # within 4 sigma + 1 point, and over all levels the hits expected from the tables within 3 sigma.
        d = [(round(l["share"], 3), round(l["lookup_hits"] / l["lookups"], 3), l["lookups"])
             for s, l in levels if l.get("lookups", 0) >= 50]
        ok = len(d) >= 4 and all(abs(a - h) <= 4 * (a * (1 - a) / n) ** 0.5 + 0.01 for a, h, n in d)
        hits = sum(l.get("lookup_hits", 0) for s, l in levels)
        want = sum(l["share"] * l.get("lookups", 0) for s, l in levels)
        var = sum(l["share"] * (1 - l["share"]) * l.get("lookups", 0) for s, l in levels)
        ok = ok and abs(hits - want) <= 3 * var ** 0.5
        return ok, {"per_level": d, "hits": hits, "expected": round(want, 1)}
    raise SystemExit("unknown property " + what)


if __name__ == "__main__":
    if sys.argv[1] == "--judge":
        ok, detail = judge(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        print(ok, json.dumps(detail))
    else:
        sample(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
