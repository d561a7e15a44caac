#!/usr/bin/python3
"""A sandbox backend's services (standard library only):
  HTTP on [::]:80 (dual stack, so the IPv4 and IPv6 VIPs and the host's own address for health
  checks): GET / answers "NAME\n", GET /healthz answers "ok";
  UDP echo on each VIP port 7: answers "NAME " + payload;
  TCP line echo on [::]:9000: each line "X" is answered "NAME X".
Runs until killed, or for --lifetime seconds (bounded)."""
import argparse, http.server, socket, socketserver, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--name", required=True)
ap.add_argument("--vip", action="append", default=[])
ap.add_argument("--lifetime", type=float, default=86400)
a = ap.parse_args()
NAME = a.name.encode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"ok\n" if self.path.startswith("/healthz") else NAME + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", a.name)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class HTTP6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 512

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for line in self.rfile:
            self.wfile.write(NAME + b" " + line)


class TCP6(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def udp_echo(vip):
    fam = socket.AF_INET6 if ":" in vip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((vip, 7))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(NAME + b" " + data, peer)


HTTP6.allow_reuse_address = True
servers = [HTTP6(("::", 80), H), TCP6(("::", 9000), Echo)]
for srv in servers:
    threading.Thread(target=srv.serve_forever, daemon=True).start()
for v in a.vip:
    threading.Thread(target=udp_echo, args=(v,), daemon=True).start()
print(f"{a.name}: http [::]:80, echo [::]:9000, udp {a.vip}:7", flush=True)
time.sleep(a.lifetime)
