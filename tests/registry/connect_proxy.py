#!/usr/bin/python3
"""A minimal HTTP CONNECT proxy for the pull tests: tunnels TLS to the host asked for
and appends "CONNECT host:port" to LOG for each tunnel, so a test can tell the client
went through it. Usage: connect_proxy.py PORT_FILE LOG (the port it listens on, on
127.0.0.1, is written to PORT_FILE once it listens). Exits when stdin closes, so it dies
with the test that started it."""
import os
import select
import socket
import socketserver
import sys
import threading


class Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(8192).decode("latin-1").strip()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        method, _, rest = line.partition(" ")
        target = rest.split(" ")[0]
        if method != "CONNECT" or ":" not in target:
            self.wfile.write(b"HTTP/1.1 405 only CONNECT\r\n\r\n")
            return
        with open(LOG, "a") as f:
            f.write(f"CONNECT {target}\n")
        host, port = target.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError as e:
            self.wfile.write(f"HTTP/1.1 502 {e}\r\n\r\n".encode())
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        ends = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(ends, [], [], 60)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    server = Server(("127.0.0.1", 0), Tunnel)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin (or dies)
