"""keel-control's HTTP API over its Unix socket, for the scenarios' Python helpers.

call(sock, method, path, body=None, ...) -> (status, body bytes); UnixHTTPConnection for a
caller that reads the response itself (headers, timing). One client: the scenarios used to
carry one each.
"""
import http.client
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket (the Host header says "keel")."""

    def __init__(self, path, timeout=10):
        super().__init__("keel", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def call(sock, method, path, body=None, ctype="application/json", headers=None, timeout=10):
    """One request on a fresh connection; the Content-Type is sent only with a body."""
    h = dict(headers or {})
    if body is not None:
        h.setdefault("Content-Type", ctype)
    c = UnixHTTPConnection(sock, timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()
