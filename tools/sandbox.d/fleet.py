#!/usr/bin/python3
"""Reads what client.py persist / probe printed and says what an event did to it (one JSON line).

  fleet.py survival PERSIST.json --event EPOCH
      the connections open at EPOCH; how many ran to the end (or to --until) without a reset, a stall over 2 s or
      an answer from another backend; failures anywhere in the run by kind; and, over the
      connections whose answers paused across EPOCH, when the last of them was answered again
      ("traffic_back_s", TCP's retransmission back-off included)
  fleet.py failover PROBE.json --event EPOCH
      UDP probes: the ports that lost answers across EPOCH and when the last of them was answered
      again ("failover_s": the time until traffic flows again, to the probe interval), and the
      ports whose answers came from another backend (first time between EPOCH and --until)
  fleet.py stats [--higher-better] X...   median, worst and all of numbers (the 5-run loop)
"""
import argparse, json, statistics, sys

ap = argparse.ArgumentParser()
ap.add_argument("what", choices=["survival", "failover", "stats"])
ap.add_argument("args", nargs="+")
ap.add_argument("--event", type=float)
ap.add_argument("--higher-better", action="store_true", help="stats: the worst is the smallest")
ap.add_argument("--until", type=float, help="epoch: what happens after it is not the event's doing")
ap.add_argument("--window", type=float, default=10.0, help="a pause starting later than this after the event is not its doing")
a = ap.parse_args()


def load(path):
    with open(path) as f:
        return json.load(f)


def crossing(gaps, ev):
    """The end of the first answer gap that spans the event (or starts just after it), else None."""
    for s, e in gaps:
        if e > ev and s < ev + a.window:
            return e
    return None


if a.what == "stats":
    xs = [float(x) for x in a.args]
    print(json.dumps({"runs": len(xs), "median": round(statistics.median(xs), 3), "worst": round(min(xs) if a.higher_better else max(xs), 3),
                      "best": round(max(xs) if a.higher_better else min(xs), 3), "all": xs}))
    sys.exit(0)

j = load(a.args[0])
ev = a.event - j["t0"]
until = a.until - j["t0"] if a.until else float("inf")
if a.what == "survival":
    conns = j["conns"]
    pop = [c for c in conns if c["start"] <= ev and not (c["failure"] and c["failure"][0] < ev)]
    broken = [c for c in pop if c["failure"] and c["failure"][0] < until]
    kinds = {}
    for c in conns:
        if c["failure"] and ev <= c["failure"][0] < until:
            kinds[c["failure"][1]] = kinds.get(c["failure"][1], 0) + 1
    backs = [e for e in (crossing(c["gaps"], ev) for c in pop) if e is not None]
    out = {"at_event": len(pop), "survived": len(pop) - len(broken),
           "share": round((len(pop) - len(broken)) / len(pop), 5) if pop else None,
           "failures": kinds, "paused": len(backs),
           "traffic_back_s": round(max(backs) - ev, 3) if backs else 0.0,
           "broken": [{"sport": c["sport"], "backend": c["backend"], "failure": c["failure"]} for c in broken[:5]]}
else:
    probes = j["probes"]
    backs = [e for e in (crossing(p["gaps"], ev) for p in probes) if e is not None]
    # a port that never answered again after the event: its pause has no end
    never = [p for p in probes if p["last"] is not None and p["last"] < ev]
    out = {"ports": len(probes), "paused": len(backs), "never_back": len(never),
           "wrong_backend": sum(1 for p in probes if p["first_wrong"] is not None and ev <= p["first_wrong"] < until),
           "failover_s": round(max(backs) - ev, 3) if backs else 0.0}
print(json.dumps(out))
