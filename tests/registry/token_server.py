#!/usr/bin/python3
"""A docker token server (distribution spec/auth/token.md) for the fixture's "token"
registry. GET /token?service=S&scope=repository:NAME:ACTIONS (scope repeated, or
space-separated) with optional Basic credentials answers a JWT the registry verifies
against --signer-cert (its rootcertbundle):
  * a wrong password or an unknown user: 401 (a client must not fall back to anonymous);
  * anonymous: "pull" on repositories under public/ only;
  * a user from --users: pull and push on every repository.
Rights the caller lacks are left out of the token (still 200), as the spec says; the
registry then answers 401 insufficient_scope. Also GET /_counts, POST /_reset
(fixture_http) and GET /_log: the last 200 token requests (user, scopes, granted).

Usage: token_server.py --cert C --key K --signer-cert C --signer-key K --users FILE
                       --service S --issuer I --port-file F
(--users is JSON {"user": "password"}.) Needs python3-jwt and python3-cryptography."""
import argparse
import base64
import datetime
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_http  # noqa: E402

import jwt  # noqa: E402  PyJWT 2.6 (python3-jwt)

EXPIRES_IN = 300
PUBLIC_PREFIX = "public/"


def parse_scopes(values):
    """'repository:a/b:pull,push' -> ('repository', 'a/b', ['pull', 'push']). A name may
    itself hold ':' (host:port/x), so the type is before the first ':' and the actions
    after the last."""
    scopes = []
    for value in values:
        for item in value.split():
            typ, sep, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not sep or not sep2 or not name:
                continue
            scopes.append((typ, name, [a for a in actions.split(",") if a]))
    return scopes


def allowed(user, typ, name):
    if typ != "repository":
        return set()
    if user:
        return {"pull", "push"}
    return {"pull"} if name.startswith(PUBLIC_PREFIX) else set()


class TokenHandler(fixture_http.Handler):
    timeout = 120
    cfg = None  # argparse namespace + loaded users and signer, set in main()
    log = []
    log_lock = threading.Lock()

    def do_GET(self):
        if self.control():
            return
        url = urlsplit(self.path)
        if url.path == "/_log":
            with self.log_lock:
                self.send_body(200, list(self.log))
            return
        self.counts.add("GET", url.path)
        if url.path != "/token":
            self.send_body(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        user, err = self.authenticate()
        query = parse_qs(url.query)
        scopes = parse_scopes(query.get("scope", []))
        if err:
            self.record(None, scopes, [], 401, err)
            self.send_body(401, {"errors": [{"code": "UNAUTHORIZED", "message": err}]},
                           headers=[("WWW-Authenticate", 'Basic realm="hpai-token"')])
            return
        service = query.get("service", [""])[0]
        if service and service != self.cfg.service:
            self.record(user, scopes, [], 400, "unknown service")
            self.send_body(400, {"errors": [{"code": "UNSUPPORTED",
                                             "message": f"unknown service {service}"}]})
            return
        access = []
        for typ, name, actions in scopes:
            grant = [a for a in actions if a in allowed(user, typ, name)]
            if grant:
                access.append({"type": typ, "name": name, "actions": grant})
        token = self.sign(user, access)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.record(user, scopes, access, 200, "")
        self.send_body(200, {"token": token, "access_token": token,
                             "expires_in": EXPIRES_IN,
                             "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")})

    def do_POST(self):
        if self.control():
            return
        # The OAuth2 POST form (spec/auth/oauth.md) is not implemented: clients must use GET.
        self.counts.add("POST", urlsplit(self.path).path)
        self.send_body(404, {"errors": [{"code": "UNSUPPORTED", "message": "use GET"}]})

    def authenticate(self):
        """(user, None) for good Basic credentials, (None, None) for none, (None, why) for bad."""
        header = self.headers.get("Authorization")
        if not header:
            return None, None
        kind, _, value = header.partition(" ")
        if kind.lower() != "basic":
            return None, "only Basic credentials are accepted"
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, "malformed Basic credentials"
        expected = self.cfg.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None, f"bad credentials for {user!r}"
        return user, None

    def sign(self, user, access):
        """RS256 with the signer certificate in x5c: distribution 2.8 accepts a chain that
        verifies against its rootcertbundle, and aud must be a string, not a list."""
        now = int(time.time())
        claims = {"iss": self.cfg.issuer, "sub": user or "", "aud": self.cfg.service,
                  "exp": now + EXPIRES_IN, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        return jwt.encode(claims, self.cfg.signer_key, algorithm="RS256",
                          headers={"x5c": [self.cfg.signer_der]})

    def record(self, user, scopes, access, status, why):
        entry = {"time": time.time(), "user": user, "status": status,
                 "scopes": [f"{t}:{n}:{','.join(a)}" for t, n, a in scopes],
                 "granted": access, "error": why}
        with self.log_lock:
            self.log.append(entry)
            del self.log[:-200]

    def control(self):
        handled = super().control()
        if handled and self.path.startswith("/_reset"):
            with self.log_lock:
                self.log.clear()
        return handled


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--cert", "--key", "--signer-cert", "--signer-key", "--users",
                "--service", "--issuer", "--port-file"):
        ap.add_argument(opt, required=True)
    cfg = ap.parse_args()
    with open(cfg.users) as f:
        cfg.users = json.load(f)
    with open(cfg.signer_key, "rb") as f:
        cfg.signer_key = f.read()
    with open(cfg.signer_cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    cfg.signer_der = base64.b64encode(der).decode()  # x5c is standard base64, not url-safe
    TokenHandler.cfg = cfg
    fixture_http.serve(TokenHandler, cfg.cert, cfg.key, cfg.port_file)


if __name__ == "__main__":
    main()
