#!/usr/bin/python3
"""keel-replay counts every frame as keel-dataplane would (issue 14 items 1 and 6).

    test_replay.py KEEL_REPLAY

Writes a pcap (standard library only) of frames of every size class and checks the JSON
report: every frame counted once; frames longer than one dataplane mbuf holds (2048 bytes of
data room at the default port MTU 1500, see keel_frame_room) dropped as multi_segment, as the
dataplane's net_pcap port does, whatever their size (no silent skip past 9216 bytes); a DF
packet too big once encapsulated answered with ICMP (the replay clock must let the rate
limiter answer). Run with --out too, so an ASan build's leak check sees the pcap handles.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

PORT_MAC = bytes.fromhex("020000000002")   # keel-replay's port: the spec's src-mac by default
CLIENT_MAC = bytes.fromhex("0200000000c1")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp4_frame(total_ip_len, sport, df=True):
    """Ethernet + IPv4 (DF) + TCP SYN to the VIP 192.0.2.10:80, padded to total_ip_len."""
    src, dst = bytes([198, 51, 100, 7]), bytes([192, 0, 2, 10])
    payload = b"p" * (total_ip_len - 40)
    tcp = bytearray(struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 0x50, 0x02, 65535, 0, 0) + payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp[16:18] = struct.pack("!H", csum(pseudo + bytes(tcp)))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total_ip_len, 1, 0x4000 if df else 0,
                               64, 6, 0, src, dst))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    return PORT_MAC + CLIENT_MAC + b"\x08\x00" + bytes(ip) + bytes(tcp)


def write_pcap(path, frames):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        for i, fr in enumerate(frames):
            fh.write(struct.pack("<IIII", 1700000000, i, len(fr), len(fr)) + fr)


def main():
    replay = sys.argv[1]
    failures = []

    def check(what, ok):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    frames = [
        tcp4_frame(60, 1000),      # forwarded
        tcp4_frame(1986, 1001),    # 2000-byte frame: fits one mbuf, too big once encapsulated: ICMP
        tcp4_frame(2986, 1002),    # 3000: more than one mbuf holds: multi_segment
        tcp4_frame(9286, 1003),    # 9300: past the old 9216-byte cut-off
        tcp4_frame(19986, 1004),   # 20000
        tcp4_frame(65000, 1005),   # the largest IPv4 datagram, nearly
    ]
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.pcap"), os.path.join(tmp, "out.pcap")
        write_pcap(inp, frames)
        r = subprocess.run([replay, "--vip", "192.0.2.10:80/tcp", "--backend", "10.0.0.1",
                            "--pcap", inp, "--out", out, "--json"],
                           capture_output=True, text=True, timeout=120)
        sys.stderr.write(r.stderr)
        check("keel-replay exits 0 (got %d)" % r.returncode, r.returncode == 0)
        if r.returncode != 0:
            sys.exit(1)
        j = json.loads(r.stdout)["replay"]
        print("    " + json.dumps(j))
        check("every frame counted: frames == %d" % len(frames), j["frames"] == len(frames))
        check("verdicts add up to frames",
              j["dropped"] + j["forwarded"] + j["answered"] + j["to_kernel"] == j["frames"])
        check("frames past one mbuf dropped as multi_segment (4)",
              j["drops"].get("multi_segment", 0) == 4)
        check("no frame dropped as too_big: the DF one is answered",
              j["drops"].get("too_big", 0) == 0)
        check("one forwarded, one ICMP answer", j["forwarded"] == 1 and j["answered"] == 1)
        with open(out, "rb") as fh:
            data = fh.read()
        check("--out holds the two transmitted frames", data.count(b"\x08\x00\x45") >= 2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
