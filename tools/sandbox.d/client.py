#!/usr/bin/python3
"""The sandbox's client (standard library only). Prints one JSON object.

  client.py http  --vip A [--port 80] --n N [--conc C]   N new TCP connections, one GET / each:
                    {"ok", "fail", "per": {backend: n}, "errors": {...}, "seconds"}
  client.py udp   --vip A [--port 7] --n N               N datagrams from N source ports
  client.py persist --vip A [--port 9000] --conns 60 --seconds S [--interval 0.1]
                    [--events FILE]   long-lived connections, a line every interval each; any
                    reset, stall over 2 s or answer from another backend is a failure; a failed
                    connection is replaced by a new one. SIGUSR1 prints a progress line to stderr.
                    Each connection's record lists its answer gaps over --gap seconds.
  client.py probe --vip A [--port 7] --conns 32 --seconds S [--interval 0.02]
                    UDP probes from --conns source ports, one every interval each; per port: the
                    backend, probes sent and answered, and the gaps between answers over --gap.
  --sport-base P (http): connection i uses source port P+i and closes with a reset (no
                    TIME_WAIT), so the same 5-tuples can be sent again; the output maps ports to
                    backends ("by_sport").
SIGUSR2 ends a persist or probe run early (its JSON as at the end of --seconds).
Times in the output are seconds since "t0" (the epoch time the run started).
"""
import argparse, collections, concurrent.futures, json, selectors, signal, socket, struct, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["http", "udp", "persist", "probe"])
ap.add_argument("--vip", required=True)
ap.add_argument("--port", type=int)
ap.add_argument("--n", type=int, default=100)
ap.add_argument("--conc", type=int, default=16)
ap.add_argument("--conns", type=int, default=60)
ap.add_argument("--seconds", type=float, default=30)
ap.add_argument("--interval", type=float, default=0.1)
ap.add_argument("--stall", type=float, default=2.0)
ap.add_argument("--timeout", type=float, default=3.0)
ap.add_argument("--gap", type=float, default=0.25)
ap.add_argument("--sport-base", type=int)
a = ap.parse_args()
# SIGUSR2 ends a persist or probe run now, its JSON printed as after --seconds (a scenario whose
# events took less time than it allowed for them)
STOP = []
signal.signal(signal.SIGUSR2, lambda *_: STOP.append(1))
FAM = socket.AF_INET6 if ":" in a.vip else socket.AF_INET


def http_one(i):
    try:
        s = socket.socket(FAM, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        if a.sport_base:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.bind(("", a.sport_base + i))
        s.connect((a.vip, a.port or 80))
        s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200"):
            return None, "status " + head[:20].decode(errors="replace")
        return body.strip().decode(), None
    except OSError as e:
        return None, type(e).__name__


def run_http():
    t0 = time.time()
    per, errs, by_sport = collections.Counter(), collections.Counter(), {}
    with concurrent.futures.ThreadPoolExecutor(a.conc) as ex:
        for i, (name, err) in enumerate(ex.map(http_one, range(a.n))):
            if name:
                per[name] += 1
            else:
                errs[err] += 1
            if a.sport_base:
                by_sport[a.sport_base + i] = name
    out = {"ok": sum(per.values()), "fail": sum(errs.values()), "per": dict(sorted(per.items())),
           "errors": dict(errs), "seconds": round(time.time() - t0, 2)}
    if a.sport_base:
        out["by_sport"] = by_sport
    print(json.dumps(out))


def run_udp():
    t0 = time.time()
    per, fail = collections.Counter(), 0
    for i in range(a.n):
        s = socket.socket(FAM, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        msg = b"ping %d" % i
        try:
            s.sendto(msg, (a.vip, a.port or 7))
            data, peer = s.recvfrom(2048)
            name, _, rest = data.partition(b" ")
            if rest != msg or peer[0] != a.vip:
                fail += 1
            else:
                per[name.decode()] += 1
        except OSError:
            fail += 1
        s.close()
    print(json.dumps({"ok": sum(per.values()), "fail": fail, "per": dict(sorted(per.items())),
                      "seconds": round(time.time() - t0, 2)}))


class Conn:
    def __init__(self, idx):
        self.idx = idx
        self.sock = socket.socket(FAM, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(a.timeout)
        self.sock.connect((a.vip, a.port or 9000))
        self.sport = self.sock.getsockname()[1]
        self.sock.setblocking(False)
        self.backend = None
        self.seq = 0
        self.buf = b""
        self.pending = {}  # seq -> send time
        self.next_send = time.time()
        self.last_rx = time.time()
        self.start = time.time()
        self.exchanges = 0
        self.gaps = []  # [last answer, next answer] pairs further apart than --gap
        self.failure = None  # (t, kind, detail)


def run_persist():
    sel = selectors.DefaultSelector()
    conns, done = [], []
    t0 = time.time()
    end = t0 + a.seconds
    counter = [0]

    def open_one():
        counter[0] += 1
        try:
            c = Conn(counter[0])
        except OSError as e:
            done.append({"id": counter[0], "backend": None, "sport": None, "start": round(time.time() - t0, 3),
                         "exchanges": 0, "failure": [round(time.time() - t0, 3), "connect", type(e).__name__]})
            return
        sel.register(c.sock, selectors.EVENT_READ, c)
        conns.append(c)

    def fail(c, kind, detail):
        c.failure = [round(time.time() - t0, 3), kind, detail]
        close(c)

    def close(c):
        sel.unregister(c.sock)
        c.sock.close()
        conns.remove(c)
        done.append({"id": c.idx, "backend": c.backend, "sport": c.sport, "start": round(c.start - t0, 3),
                     "end": round(time.time() - t0, 3), "exchanges": c.exchanges, "gaps": c.gaps,
                     "failure": c.failure})

    def progress(*_):
        fails = sum(1 for d in done if d["failure"])
        print(f"persist: {time.time() - t0:.1f}s open {len(conns)} failed {fails} "
              f"per {dict(collections.Counter(c.backend for c in conns))}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGUSR1, progress)

    for _ in range(a.conns):
        open_one()
    while time.time() < end and not STOP:
        now = time.time()
        for c in list(conns):
            if now >= c.next_send:
                c.seq += 1
                try:
                    c.sock.send(b"%d\n" % c.seq)
                except OSError as e:
                    fail(c, "reset", type(e).__name__)
                    continue
                c.pending[c.seq] = now
                c.next_send = now + a.interval
            oldest = min(c.pending.values()) if c.pending else None
            if oldest is not None and now - oldest > a.stall:
                fail(c, "stall", f"no answer for {now - oldest:.1f}s")
        for key, _ in sel.select(timeout=0.02):
            c = key.data
            try:
                b = c.sock.recv(65536)
            except OSError as e:
                fail(c, "reset", type(e).__name__)
                continue
            if not b:
                fail(c, "reset", "EOF")
                continue
            c.buf += b
            while b"\n" in c.buf:
                line, c.buf = c.buf.split(b"\n", 1)
                name, _, seq = line.decode(errors="replace").partition(" ")
                if c.backend is None:
                    c.backend = name
                elif name != c.backend:
                    fail(c, "wrong_peer", f"{name} instead of {c.backend}")
                    break
                c.pending.pop(int(seq), None)
                c.exchanges += 1
                now = time.time()
                if c.exchanges > 1 and now - c.last_rx > a.gap:
                    c.gaps.append([round(c.last_rx - t0, 3), round(now - t0, 3)])
                c.last_rx = now
        while len(conns) < a.conns and time.time() < end:
            open_one()
    for c in list(conns):
        close(c)
    print(json.dumps({"t0": t0, "seconds": round(time.time() - t0, 2), "conns": sorted(done, key=lambda d: d["id"])}))


def run_probe():
    t0 = time.time()
    end = t0 + a.seconds
    sel = selectors.DefaultSelector()
    probes = []
    for _ in range(a.conns):
        s = socket.socket(FAM, socket.SOCK_DGRAM)
        s.bind(("", 0))
        s.connect((a.vip, a.port or 7))
        s.setblocking(False)
        p = {"sport": s.getsockname()[1], "backend": None, "sent": 0, "answered": 0, "wrong": 0, "first_wrong": None,
             "gaps": [], "last": None, "sock": s}
        sel.register(s, selectors.EVENT_READ, p)
        probes.append(p)
    nxt = t0
    while time.time() < end and not STOP:
        now = time.time()
        if now >= nxt:
            for p in probes:
                try:
                    p["sock"].send(b"probe %d" % p["sent"])
                except OSError:
                    pass  # (unreachable answers from a moment without a route: a gap)
                p["sent"] += 1
            nxt += a.interval
        for key, _ in sel.select(timeout=max(0, min(nxt, end) - time.time())):
            p = key.data
            try:
                data = p["sock"].recv(2048)
            except OSError:
                continue
            name = data.partition(b" ")[0].decode(errors="replace")
            if p["backend"] is None:
                p["backend"] = name
            elif name != p["backend"]:
                p["wrong"] += 1
                if p["first_wrong"] is None:
                    p["first_wrong"] = round(time.time() - t0, 3)
            now = time.time()
            if p["last"] is not None and now - p["last"] > a.gap:
                p["gaps"].append([round(p["last"] - t0, 3), round(now - t0, 3)])
            p["last"] = now
            p["answered"] += 1
    for p in probes:
        p.pop("sock").close()
        p["last"] = round(p["last"] - t0, 3) if p["last"] else None
    print(json.dumps({"t0": t0, "seconds": round(time.time() - t0, 2), "probes": probes}))


{"http": run_http, "udp": run_udp, "persist": run_persist, "probe": run_probe}[a.mode]()
