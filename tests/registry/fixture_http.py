#!/usr/bin/python3
"""Shared pieces of the two Python fixture servers (token_server.py, faulty_server.py):
a threaded HTTP/1.1 server over TLS on 127.0.0.1:0 that writes the port it got to a
file, and a thread-safe request counter behind GET /_counts and POST /_reset."""
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counts:
    """"METHOD /path" -> number of requests, plus whatever per-run state a server keeps
    (first-time flags, rate-limit counters) so POST /_reset can clear it all at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.state = {}

    def add(self, method, path):
        with self.lock:
            key = f"{method} {path}"
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def reset(self):
        with self.lock:
            self.counts.clear()
            self.state.clear()


class Handler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, every response has a Content-Length, logs go
    to stderr (the server's log file) with the thread so interleaved lines can be read."""
    protocol_version = "HTTP/1.1"
    server_version = "hpai-fixture/1"
    counts = None  # set by serve()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s [%s] %s\n" % (self.log_date_time_string(),
                                            threading.current_thread().name, fmt % args))
        sys.stderr.flush()

    def send_body(self, code, body=b"", ctype="application/json", headers=(), head=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def control(self):
        """The fixture's own endpoints; True when the request was one of them. They are
        not counted, so a test reading /_counts sees only registry traffic."""
        path = self.path.split("?", 1)[0]
        if path == "/_counts" and self.command == "GET":
            self.send_body(200, self.counts.snapshot())
            return True
        if path == "/_reset" and self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.counts.reset()
            self.send_body(200, {"reset": True})
            return True
        return False


def serve(handler_cls, cert, key, port_file):
    """Binds 127.0.0.1:0, writes the port to port_file (atomically: the supervisor polls
    for it), then serves forever. The TLS handshake is deferred to the handler thread so
    one stalled client cannot block accept()."""
    handler_cls.counts = Counts()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
    port = server.server_address[1]
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, port_file)
    sys.stderr.write(f"listening on 127.0.0.1:{port}, tls\n")
    sys.stderr.flush()
    server.serve_forever()
