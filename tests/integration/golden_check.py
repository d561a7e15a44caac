#!/usr/bin/python3
"""Compare keel-dataplane's output pcap and counters with the golden expectations.

    golden_check.py EXPECTED.json OUT.pcap COUNTERS.json

EXPECTED.json comes from tests/fixtures/gen_dataplane_fixtures.py. Outputs are compared in
order, packet by packet: every byte under the mask must match; masked bytes (per-flow entropy)
are checked by rule. Prints one line per check; exit 0 when all pass, 1 otherwise.
Standard library only, so the check does not depend on how scapy dissects.
"""
import ipaddress
import json
import struct
import sys

failures = []
per_next_hop = {}  # next hop index -> outputs that went by it (check_outputs)


def fail(msg):
    failures.append(msg)
    print("  FAIL " + msg)


def ok(msg):
    print("  ok   " + msg)


def read_pcap(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, not a pcap file")
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        endian = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        endian = ">"
    else:
        raise ValueError(f"{path}: bad pcap magic {magic:#x}")
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frames.append(data[off:off + incl])
        if incl != orig:
            fail(f"{path}: frame {len(frames) - 1} captured {incl} of {orig} bytes")
        off += incl
    return frames


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def check_rule(r, pkt):
    """None when the rule holds, else why not."""
    kind = r["rule"]
    if kind == "ip4_header_csum":
        o = r["off"]
        ihl = (pkt[o] & 0xf) * 4
        return None if csum(pkt[o:o + ihl]) == 0xffff else "outer IPv4 header checksum invalid"
    if kind == "in_prefix":
        o, n = r["off"], r["len"]
        addr = ipaddress.ip_address(bytes(pkt[o:o + n]))
        net = ipaddress.ip_network(r["prefix"])
        return None if addr in net else f"outer source {addr} outside {net}"
    if kind == "flow_label_nonzero":
        o = r["off"]
        fl = (pkt[o + 1] & 0xf) << 16 | pkt[o + 2] << 8 | pkt[o + 3]
        return None if fl else "outer IPv6 flow label is 0 (RFC 6437: unlabelled)"
    if kind == "port_range":
        p = struct.unpack("!H", pkt[r["off"]:r["off"] + 2])[0]
        return None if r["lo"] <= p <= r["hi"] else f"UDP source port {p} outside {r['lo']}-{r['hi']}"
    if kind == "udp6_csum":
        ip, u = r["ip"], r["udp"]
        ulen = struct.unpack("!H", pkt[u + 4:u + 6])[0]
        if struct.unpack("!H", pkt[u + 6:u + 8])[0] == 0:
            return "UDP checksum 0 over IPv6 (RFC 8200 8.1)"
        pseudo = bytes(pkt[ip + 8:ip + 40]) + struct.pack("!I3xB", ulen, 17)
        return None if csum(pseudo + bytes(pkt[u:u + ulen])) == 0xffff else "UDP checksum invalid"
    return f"unknown rule {kind}"


def match_alt(alt, pkt):
    """None when pkt matches this alternative, else a description of the first difference."""
    exp = bytes.fromhex(alt["hex"])
    mask = bytes.fromhex(alt["mask"])
    if len(pkt) != len(exp):
        return f"length {len(pkt)}, expected {len(exp)}"
    for i, (a, e, m) in enumerate(zip(pkt, exp, mask)):
        if (a ^ e) & m:
            return (f"byte {i}: got {a:02x}, expected {e:02x} (mask {m:02x}); "
                    f"got {pkt[max(0, i - 4):i + 8].hex()} expected {exp[max(0, i - 4):i + 8].hex()}")
    for r in alt["rules"]:
        why = check_rule(r, pkt)
        if why:
            return why
    return None


def check_outputs(exp, frames):
    outs = exp["outputs"]
    print(f"output pcap: {len(frames)} frames, expected {len(outs)}")
    if len(frames) != len(outs):
        fail(f"output count {len(frames)} != expected {len(outs)}")
    groups = {}
    per_backend = {}
    for k, (o, pkt) in enumerate(zip(outs, frames)):
        whys = []
        chosen = None
        for alt in o["alts"]:
            why = match_alt(alt, pkt)
            if why is None:
                chosen = alt
                break
            whys.append((alt.get("backend"), why))
        label = f"out[{k}] (in[{o['in_index']}]) {o['desc']}"
        if chosen is None:
            fail(label + ": " + "; ".join(f"[to {b}] {w}" if b else w for b, w in whys))
            continue
        ok(label + (f" -> {chosen['backend']}" if chosen.get("backend") else ""))
        if "backend_id" in chosen:
            per_backend[chosen["backend_id"]] = per_backend.get(chosen["backend_id"], 0) + 1
        if "next_hop" in chosen:
            per_next_hop[chosen["next_hop"]] = per_next_hop.get(chosen["next_hop"], 0) + 1
        if "group" in o:
            g = groups.setdefault(o["group"], [])
            g.append((k, chosen["backend"], outer_src(chosen, pkt), bytes(pkt[:6]).hex()))
    for name, members in sorted(groups.items()):
        bes = {m[1] for m in members}
        srcs = {m[2] for m in members}
        if len(bes) != 1:
            fail(f"flow {name}: packets went to different backends {sorted(bes)}")
        elif len(srcs) != 1:
            fail(f"flow {name}: outer source (per-flow entropy) differs between packets {sorted(srcs)}")
        elif len({m[3] for m in members}) != 1:
            fail(f"flow {name}: packets left by different next hops {sorted({m[3] for m in members})}")
    if groups:
        ok(f"{len(groups)} flows: all packets of a flow (and ICMP errors about it) to one backend, "
           f"same outer source")
    return per_backend


def outer_src(alt, pkt):
    for r in alt["rules"]:
        if r["rule"] == "in_prefix":
            return bytes(pkt[r["off"]:r["off"] + r["len"]]).hex()
    return ""


def check_counters(exp, ctr, per_backend):
    want = exp["counters"]
    print("counters:")
    for k, v in want.items():
        got = ctr.get(k)
        if k == "drops":
            got = {r: n for r, n in (got or {}).items() if n}
        if got == v:
            ok(f"{k} = {v}")
        else:
            fail(f"{k} = {got}, expected {v}")
    vips = ctr.get("vips", {})
    for vid, v in exp["vips"].items():
        got = vips.get(vid, {})
        if got.get("pkts") == v["pkts"] and got.get("bytes") == v["bytes"]:
            ok(f"vip {vid}: {v['pkts']} pkts, {v['bytes']} bytes")
        else:
            fail(f"vip {vid}: {got}, expected {v}")
    bes = ctr.get("backends", {})
    for bid, v in exp["backends"].items():
        got = bes.get(bid, {}).get("pkts")
        if got == v["pkts"]:
            ok(f"backend {bid}: {got} pkts")
        else:
            fail(f"backend {bid}: {got} pkts, expected {v['pkts']}")
    for m in exp["multi"]:
        counts = {b: bes.get(str(b), {}).get("pkts", 0) for b in m["backends"]}
        seen = {b: per_backend.get(b, 0) for b in m["backends"]}
        if sum(counts.values()) != m["pkts"]:
            fail(f"multi-backend vip {m['vip']}: backend counters {counts} sum to "
                 f"{sum(counts.values())}, expected {m['pkts']}")
        elif counts != seen:
            fail(f"multi-backend vip {m['vip']}: counters {counts} disagree with the pcap {seen}")
        elif min(counts.values()) == 0:
            fail(f"multi-backend vip {m['vip']}: a backend got nothing {counts}")
        else:
            ok(f"multi-backend vip {m['vip']}: {counts} (counters agree with the pcap, every backend used)")


def check_next_hops(exp, ctr):
    """Several next hops: each carried some flows, and the per-next-hop counters agree with the pcap."""
    nh = exp.get("next_hops")
    if not nh:
        return
    got = ctr.get("next_hop_pkts", [])
    seen = [per_next_hop.get(h, 0) for h in range(len(nh["macs"]))]
    if sum(seen) != nh["via_next_hop"]:
        fail(f"next hops: {sum(seen)} outputs by way of a next hop, expected {nh['via_next_hop']}")
    elif min(seen) == 0:
        fail(f"next hops: one carried nothing {dict(zip(nh['macs'], seen))}")
    elif got[:len(seen)] != seen or any(got[len(seen):]):
        fail(f"next hops: counters {got} disagree with the pcap {seen}")
    else:
        ok(f"next hops: {dict(zip(nh['macs'], seen))} (counters agree with the pcap, both used)")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: golden_check.py EXPECTED.json OUT.pcap COUNTERS.json")
    with open(sys.argv[1]) as fh:
        exp = json.load(fh)
    with open(sys.argv[3]) as fh:
        ctr = json.load(fh)
    try:
        frames = read_pcap(sys.argv[2])
    except (OSError, ValueError) as e:
        fail(str(e))
        frames = []
    per_backend = check_outputs(exp, frames)
    check_counters(exp, ctr, per_backend)
    check_next_hops(exp, ctr)
    if failures:
        print(f"golden_check: {len(failures)} check(s) failed")
        return 1
    print("golden_check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
