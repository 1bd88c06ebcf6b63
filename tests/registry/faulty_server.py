#!/usr/bin/python3
"""A deliberately misbehaving OCI distribution server (read-only, anonymous, TLS) for
the fault tests of `hpai-image pull`. It serves OCI layouts from disk; a repository is
BEHAVIOUR/IMAGE, where IMAGE names a layout (--layout busybox=PATH) and BEHAVIOUR is:

  ok         a correct registry (Range -> 206 + Content-Range)
  drop       the first GET of each layer blob sends half of its body, then the
             connection is cut; later GETs are correct (with Range -> 206)
  norange    like drop the first time; afterwards Range is ignored (200, whole blob)
  ratelimit  the first 2 requests (any method) of each manifest/blob path -> 429 with
             Retry-After: 1; then correct
  baddigest  the first layer of each image is served with 16 bytes inverted (same length,
             Docker-Content-Digest still the true digest)
  schema1    the tag's manifest is a Docker schema-1 (v1+prettyjws) document
  slow       blobs trickle out (--slow-chunk bytes every --slow-delay s)
  auth401    every repository request -> 401, WWW-Authenticate: Basic realm="faulty"
  forbidden  every repository request -> 403 DENIED
  missing    every repository request -> 404 MANIFEST_UNKNOWN / BLOB_UNKNOWN
Anything else -> 404 NAME_UNKNOWN. GET/HEAD /v2/ -> 200. Every request except the
fixture's own is counted in GET /_counts as "METHOD /path"; POST /_reset clears the
counts and the first-time/rate-limit state. The Accept header is not looked at.

Usage: faulty_server.py --cert C --key K --port-file F --layout NAME=DIR [...]"""
import argparse
import hashlib
import json
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_http  # noqa: E402

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
BEHAVIOURS = ("ok", "drop", "norange", "ratelimit", "baddigest", "schema1", "slow",
              "auth401", "forbidden", "missing", "nosize", "bigmanifest", "endless", "escape")
PATH_RE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")


def oci_error(code, message):
    return {"errors": [{"code": code, "message": message, "detail": {}}]}


class Layout:
    """An OCI layout on disk: tags from index.json, and which blobs are manifests (with
    their media types) and which are layers, found by walking the index."""

    def __init__(self, path):
        self.path = path
        self.tags = {}
        self.manifests = {}   # digest -> media type
        self.layers = []      # layer digests, in order of first appearance
        self.first_layers = set()
        with open(os.path.join(path, "index.json")) as f:
            index = json.load(f)
        for desc in index["manifests"]:
            tag = desc.get("annotations", {}).get("org.opencontainers.image.ref.name")
            if tag:
                self.tags[tag] = desc["digest"]
            self.walk(desc)

    def blob_path(self, digest):
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
            return None
        path = os.path.join(self.path, "blobs", algo, hexpart)
        return path if os.path.isfile(path) else None

    def read(self, digest):
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def walk(self, desc):
        doc = json.loads(self.read(desc["digest"]))
        self.manifests[desc["digest"]] = desc.get("mediaType") or doc.get("mediaType")
        if self.manifests[desc["digest"]] in INDEX_TYPES:
            for child in doc["manifests"]:
                self.walk(child)
            return
        for i, layer in enumerate(doc.get("layers", [])):
            if layer["digest"] not in self.layers:
                self.layers.append(layer["digest"])
            if i == 0:
                self.first_layers.add(layer["digest"])

    def schema1(self, name, tag):
        """A plausible signed schema-1 body for the tag (first image of an index)."""
        digest = self.tags[tag]
        doc = json.loads(self.read(digest))
        while self.manifests[digest] in INDEX_TYPES:
            digest = doc["manifests"][0]["digest"]
            doc = json.loads(self.read(digest))
        config = json.loads(self.read(doc["config"]["digest"]))
        layers = [l["digest"] for l in doc["layers"]][::-1]  # schema 1 lists newest first
        history = [{"v1Compatibility": json.dumps({
            "id": hashlib.sha256(f"{name}{i}".encode()).hexdigest(),
            "architecture": config.get("architecture", "amd64"), "os": config.get("os", "linux"),
            "config": config.get("config", {}), "created": "2024-01-01T00:00:00Z"})}
            for i, _ in enumerate(layers)]
        body = {"schemaVersion": 1, "name": name, "tag": tag,
                "architecture": config.get("architecture", "amd64"),
                "fsLayers": [{"blobSum": d} for d in layers], "history": history,
                "signatures": [{"header": {"jwk": {"crv": "P-256", "kid": "HPAI:FAKE",
                                                   "kty": "EC", "x": "AAAA", "y": "AAAA"},
                                           "alg": "ES256"},
                                "signature": "ZmFrZQ", "protected": "e30"}]}
        return json.dumps(body, indent=3).encode()


class FaultyHandler(fixture_http.Handler):
    timeout = 120
    layouts = {}
    slow_chunk = 16384
    slow_delay = 0.05

    def do_HEAD(self):
        self.dispatch(head=True)

    def do_GET(self):
        if not self.control():
            self.dispatch(head=False)

    def do_POST(self):
        if not self.control():
            self.counts.add("POST", self.path.split("?", 1)[0])
            self.send_body(405, oci_error("UNSUPPORTED", "read-only registry"))

    def dispatch(self, head):
        path = self.path.split("?", 1)[0]
        self.counts.add(self.command, path)
        if path in ("/v2/", "/v2"):
            self.send_body(200, {}, headers=[("Docker-Distribution-API-Version", "registry/2.0")],
                           head=head)
            return
        m = PATH_RE.match(path)
        if not m:
            self.send_body(404, oci_error("NAME_UNKNOWN", path), head=head)
            return
        name, kind, ref = m["name"], m["kind"], m["ref"]
        behaviour, _, image = name.partition("/")
        if behaviour == "auth401":
            self.send_body(401, oci_error("UNAUTHORIZED", "authentication required"), head=head,
                           headers=[("WWW-Authenticate", 'Basic realm="faulty"')])
            return
        if behaviour == "forbidden":
            self.send_body(403, oci_error("DENIED", "requested access to the resource is denied"),
                           head=head)
            return
        if behaviour == "endless":  # an error whose body never ends
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        if behaviour == "escape":  # terminal escapes in the error message
            self.send_body(404, oci_error("MANIFEST_UNKNOWN", "\x1b]0;PWNED\x07\x1b[2Jall good"), head=head)
            return
        if behaviour == "missing":
            code = "MANIFEST_UNKNOWN" if kind == "manifests" else "BLOB_UNKNOWN"
            self.send_body(404, oci_error(code, f"{name}: {ref} not found"), head=head)
            return
        layout = self.layouts.get(image)
        if behaviour not in BEHAVIOURS or layout is None:
            self.send_body(404, oci_error("NAME_UNKNOWN", f"repository {name} not known"),
                           head=head)
            return
        if behaviour == "ratelimit":
            with self.counts.lock:
                seen = self.counts.state.setdefault(("ratelimit", path), 0)
                self.counts.state[("ratelimit", path)] = seen + 1
            if seen < 2:
                self.send_body(429, oci_error("TOOMANYREQUESTS", "slow down"), head=head,
                               headers=[("Retry-After", "1")])
                return
        if kind == "manifests":
            self.manifest(layout, behaviour, name, ref, head)
        else:
            self.blob(layout, behaviour, ref, head)

    def manifest(self, layout, behaviour, name, ref, head):
        digest = layout.tags.get(ref) if not ref.startswith("sha256:") else ref
        if digest is None or digest not in layout.manifests:
            self.send_body(404, oci_error("MANIFEST_UNKNOWN", f"{name}:{ref} not found"), head=head)
            return
        if behaviour == "schema1" and not ref.startswith("sha256:"):
            body, ctype = layout.schema1(name, ref), SCHEMA1
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        else:
            body, ctype = layout.read(digest), layout.manifests[digest]
        if behaviour == "nosize" and not ref.startswith("sha256:"):  # layers without a size
            doc = json.loads(body)
            for layer in doc.get("layers", []):
                layer.pop("size", None)
            body = json.dumps(doc).encode()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if behaviour == "bigmanifest" and not ref.startswith("sha256:"):  # valid, then 5 MiB of spaces
            body = body + b" " * (5 << 20)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.send_body(200, body, ctype=ctype, head=head,
                       headers=[("Docker-Content-Digest", digest), ("ETag", f'"{digest}"')])

    def blob(self, layout, behaviour, digest, head):
        if layout.blob_path(digest) is None:
            self.send_body(404, oci_error("BLOB_UNKNOWN", f"{digest} not found"), head=head)
            return
        data = layout.read(digest)
        is_layer = digest in layout.layers
        if behaviour == "baddigest" and digest in layout.first_layers:
            mid = len(data) // 2
            data = data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 16]) + data[mid + 16:]
        # The first GET of a layer is the one cut short (drop/norange); HEAD does not count.
        cut = False
        if behaviour in ("drop", "norange") and is_layer and not head:
            with self.counts.lock:
                cut = ("first", behaviour, digest) not in self.counts.state
                self.counts.state[("first", behaviour, digest)] = True
        start, end, status = 0, len(data), 200
        rng = self.headers.get("Range")
        if rng and behaviour != "norange":
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m[1])
                end = min(int(m[2]) + 1, len(data)) if m[2] else len(data)
                if start >= len(data) or start >= end:
                    self.send_body(416, oci_error("RANGE_INVALID", rng), head=head,
                                   headers=[("Content-Range", f"bytes */{len(data)}")])
                    return
                status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Docker-Content-Digest", digest)
        self.send_header("ETag", f'"{digest}"')
        if behaviour != "norange":
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        body = memoryview(data)[start:end]
        try:
            if cut:
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.log_message("cut %s after %d of %d bytes", digest, len(body) // 2, len(body))
                self.close_connection = True
                # Drop the TLS state without close_notify: the client sees the stream end early.
                self.connection.shutdown(socket.SHUT_RDWR)
            elif behaviour == "slow":
                for off in range(0, len(body), self.slow_chunk):
                    self.wfile.write(body[off:off + self.slow_chunk])
                    self.wfile.flush()
                    time.sleep(self.slow_delay)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            self.log_message("client went away during %s: %s", digest, e)
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--cert", "--key", "--port-file"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--layout", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--slow-chunk", type=int, default=16384)
    ap.add_argument("--slow-delay", type=float, default=0.05)
    args = ap.parse_args()
    for item in args.layout:
        name, _, path = item.partition("=")
        FaultyHandler.layouts[name] = Layout(path)
    FaultyHandler.slow_chunk, FaultyHandler.slow_delay = args.slow_chunk, args.slow_delay
    fixture_http.serve(FaultyHandler, args.cert, args.key, args.port_file)


if __name__ == "__main__":
    main()
