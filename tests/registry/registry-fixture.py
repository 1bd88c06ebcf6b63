#!/usr/bin/python3
"""Loopback registries for the `hpai-image pull` integration tests (see README.md).

  registry-fixture.py start DIR IMAGES_DIR [--lifetime SECONDS] [--watch-pid PID]
  registry-fixture.py stop DIR

start stops whatever an earlier start left in DIR, makes a CA and certificates, starts
five servers (basic, token + its token server, plain, faulty) under a supervisor process,
pushes the test images with skopeo and writes DIR/fixture.json, whose path it prints.
Exit 0: all up and pushed; 1: a step failed (its log tail is printed, everything is
stopped); 77: a needed tool is missing (a skip for CTest).

The servers are children of the supervisor with PR_SET_PDEATHSIG, so they die with it;
the supervisor exits after --lifetime seconds (default $HPAI_REGISTRY_FIXTURE_LIFETIME
or 7200), when --watch-pid exits, or when a later start in DIR takes over."""
import argparse
import base64
import ctypes
import importlib.util
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture_images as images  # noqa: E402
from fixture_images import StepError, run  # noqa: E402
from faulty_server import BEHAVIOURS  # noqa: E402

PY = sys.executable  # /usr/bin/python3 (the shebang): the one with python3-jwt and -cryptography
SERVICE, ISSUER = "hpai-registry", "hpai-token-issuer"
REGISTRIES = ("basic", "token", "plain")
SLOW_CHUNK, SLOW_DELAY = 16384, 0.05  # faulty slow/: 320 KiB/s, the busybox layer takes ~4.5 s


def paths(d):
    return {k: os.path.join(d, v) for k, v in {
        "run": "run", "logs": "logs", "certs": "certs", "storage": "storage",
        "layouts": "layouts", "ca": "ca.crt", "ca_key": "ca.key", "crt": "server.crt",
        "key": "server.key", "signer": "token-signer.crt", "signer_key": "token-signer.key",
        "users": "token-users.json", "htpasswd": "htpasswd", "secrets": "run/secrets.json",
        "fixture": "fixture.json"}.items()}


# ---------------------------------------------------------------- stopping

def names_dir(cmdline, d):
    """True when an argument of a NUL-separated command line is DIR or a path in it."""
    return any(a == d.encode() or a.startswith((d + "/").encode()) for a in cmdline.split(b"\0"))


def our_process(pid, d):
    """pid is alive, not a zombie, and its command line names DIR (guards against a
    recycled pid in a stale pid file)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return names_dir(f.read(), d)
    except (OSError, IndexError):
        return False


def leftover_pids(d):
    """Pids from DIR/run/*.pid plus any process whose command line is one of ours in DIR
    (in case a pid file was lost)."""
    pids = set()
    rundir = os.path.join(d, "run")
    for name in os.listdir(rundir) if os.path.isdir(rundir) else []:
        if name.endswith(".pid"):
            try:
                pids.add(int(open(os.path.join(rundir, name)).read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
    markers = (b"docker-registry", b"token_server.py", b"faulty_server.py", b"_supervise")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if names_dir(cmd, d) and any(m in cmd for m in markers):
                pids.add(int(entry))
    pids.discard(os.getpid())
    return {p for p in pids if our_process(p, d)}


def stop(d):
    """SIGTERM everything of ours in DIR, SIGKILL what is left after 5 s. Idempotent."""
    pids = leftover_pids(d)
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while time.time() < deadline:
            pids = {p for p in pids if our_process(p, d)}
            if not pids:
                break
            time.sleep(0.1)
        if not pids:
            break
    rundir = os.path.join(d, "run")
    for name in os.listdir(rundir) if os.path.isdir(rundir) else []:
        if name.endswith((".pid", ".port")) or name in ("servers.json", "failed"):
            os.unlink(os.path.join(rundir, name))
    if os.path.exists(os.path.join(d, "fixture.json")):  # describes servers that are gone
        os.unlink(os.path.join(d, "fixture.json"))
    return not pids


# ---------------------------------------------------------------- supervisor

def set_pdeathsig():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def registry_config(d, p, name, realm=None):
    cfg = {"version": 0.1, "log": {"level": "info", "formatter": "text"},
           "storage": {"filesystem": {"rootdirectory": os.path.join(p["storage"], name)},
                       "delete": {"enabled": True},
                       "maintenance": {"uploadpurging": {"enabled": False}}},
           "http": {"addr": "127.0.0.1:0", "secret": secrets.token_hex(16),
                    "headers": {"X-Content-Type-Options": ["nosniff"]}}}
    if name != "plain":
        cfg["http"]["tls"] = {"certificate": p["crt"], "key": p["key"]}
    if name == "basic":
        cfg["auth"] = {"htpasswd": {"realm": "hpai-basic", "path": p["htpasswd"]}}
    if name == "token":
        cfg["auth"] = {"token": {"realm": realm, "service": SERVICE, "issuer": ISSUER,
                                 "rootcertbundle": p["signer"]}}
    path = os.path.join(p["run"], f"{name}.yml")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)  # JSON is YAML
    return path


def wait_port(proc, name, p, log, timeout=30):
    """The port a server got: from its port file (Python servers) or the registry's
    'listening on 127.0.0.1:N' log line."""
    port_file = os.path.join(p["run"], f"{name}.port")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise StepError(f"{name} exited with {proc.returncode} while starting", log)
        if os.path.exists(port_file):
            return int(open(port_file).read())
        with open(log) as f:
            for line in f:
                if "listening on 127.0.0.1:" in line:
                    return int(line.split("listening on 127.0.0.1:")[1].split()[0].strip('",'))
        time.sleep(0.05)
    raise StepError(f"{name} did not start listening within {timeout} s", log)


def supervise(d, lifetime, watch_pid):
    """Starts the servers, reports their ports in run/servers.json (or the failure in
    run/failed), then waits: the servers are its children and die with it."""
    p = paths(d)
    children = {}
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(1))
    me = str(os.getpid())

    def launch(name, argv):
        log = os.path.join(p["logs"], f"{name}.log")
        f = open(log, "w")
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=set_pdeathsig, cwd=d)
        children[name] = proc
        with open(os.path.join(p["run"], f"{name}.pid"), "w") as pf:
            pf.write(f"{proc.pid}\n")
        return wait_port(proc, name, p, log)

    try:
        common = ["--cert", p["crt"], "--key", p["key"]]
        ports = {"tokenserver": launch("tokenserver", [
            PY, os.path.join(HERE, "token_server.py"), *common, "--signer-cert", p["signer"],
            "--signer-key", p["signer_key"], "--users", p["users"], "--service", SERVICE,
            "--issuer", ISSUER, "--port-file", os.path.join(p["run"], "tokenserver.port")])}
        ports["faulty"] = launch("faulty", [
            PY, os.path.join(HERE, "faulty_server.py"), *common,
            "--port-file", os.path.join(p["run"], "faulty.port"),
            "--layout", "busybox=" + os.path.join(p["layouts"], "busybox"),
            "--layout", "multi=" + os.path.join(p["layouts"], "multi"),
            "--slow-chunk", str(SLOW_CHUNK), "--slow-delay", str(SLOW_DELAY)])
        realm = f"https://127.0.0.1:{ports['tokenserver']}/token"
        for name in REGISTRIES:
            shutil.rmtree(os.path.join(p["storage"], name), ignore_errors=True)
            ports[name] = launch(name, ["docker-registry", "serve",
                                        registry_config(d, p, name, realm)])
        tmp = os.path.join(p["run"], "servers.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"ports": ports, "realm": realm,
                       "pids": {n: c.pid for n, c in children.items()}}, f)
        os.rename(tmp, os.path.join(p["run"], "servers.json"))
        deadline = time.time() + lifetime
        while not stopping and time.time() < deadline:
            if watch_pid and not os.path.exists(f"/proc/{watch_pid}"):
                print(f"supervisor: watched pid {watch_pid} is gone", flush=True)
                break
            try:  # a newer start in DIR owns it now
                if open(os.path.join(p["run"], "supervisor.pid")).read().strip() != me:
                    break
            except OSError:
                break
            for name, c in children.items():
                if c.poll() is not None and not getattr(c, "reported", False):
                    c.reported = True
                    print(f"supervisor: {name} exited with {c.returncode}", flush=True)
            time.sleep(0.5)
        print("supervisor: stopping", "(lifetime over)" if time.time() >= deadline else "",
              flush=True)
    except StepError as e:
        with open(os.path.join(p["run"], "failed"), "w") as f:
            json.dump({"step": str(e), "log": e.log}, f)
    finally:
        for c in children.values():
            if c.poll() is None:
                c.terminate()
        end = time.time() + 5
        for c in children.values():
            try:
                c.wait(max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()


# ---------------------------------------------------------------- start

def openssl(args, log):
    run(["openssl", *args], log)


def make_certs(p, log):
    """A CA and a server certificate with the SANs Go's TLS insists on, and the token
    signer (self-signed, it is the registry's rootcertbundle). Reused while valid > 1 day."""
    def valid(crt):
        return os.path.exists(crt) and subprocess.run(
            ["openssl", "x509", "-checkend", "86400", "-noout", "-in", crt],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    def key(path):  # genpkey, unlike req -newkey, can keep quiet in the log
        openssl(["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", path], log)
        os.chmod(path, 0o600)
    if not (valid(p["ca"]) and valid(p["crt"]) and os.path.exists(p["key"])):
        key(p["ca_key"])
        openssl(["req", "-x509", "-key", p["ca_key"], "-out", p["ca"], "-days", "30",
                 "-subj", "/CN=hpai-test-ca"], log)
        key(p["key"])
        csr, ext = p["crt"] + ".csr", p["crt"] + ".ext"
        openssl(["req", "-new", "-key", p["key"], "-out", csr, "-subj", "/CN=localhost"], log)
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n")
        openssl(["x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["ca_key"],
                 "-CAcreateserial", "-days", "29", "-extfile", ext, "-out", p["crt"]], log)
        os.unlink(csr)
        os.unlink(ext)
    if not (valid(p["signer"]) and os.path.exists(p["signer_key"])):
        key(p["signer_key"])
        openssl(["req", "-x509", "-key", p["signer_key"], "-out", p["signer"], "-days", "30",
                 "-subj", "/CN=hpai-token-signer"], log)
    os.makedirs(p["certs"], exist_ok=True)
    shutil.copy(p["ca"], os.path.join(p["certs"], "ca.crt"))  # a skopeo --*-cert-dir


def bcrypt(password):
    """htpasswd line hash. Cost 4: the registry checks bcrypt on every request."""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        if h and h.startswith("$2"):
            return h
    except (ImportError, ValueError):
        pass
    out = subprocess.run(["htpasswd", "-nbB", "-C", "4", "x", password], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split(":", 1)[1]


def write_secrets(p):
    pw = {"basic": secrets.token_urlsafe(12), "token": secrets.token_urlsafe(12)}
    with open(p["htpasswd"], "w") as f:
        f.write(f"hpai:{bcrypt(pw['basic'])}\n")
    fd = os.open(p["users"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"hpai": pw["token"]}, f)
    return pw


def wait_servers(sup, p, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(os.path.join(p["run"], "failed")):
            info = json.load(open(os.path.join(p["run"], "failed")))
            raise StepError("starting servers: " + info["step"], info.get("log"))
        if os.path.exists(os.path.join(p["run"], "servers.json")):
            return json.load(open(os.path.join(p["run"], "servers.json")))
        if sup.poll() is not None:
            raise StepError(f"the supervisor exited with {sup.returncode}",
                            os.path.join(p["logs"], "supervisor.log"))
        time.sleep(0.05)
    raise StepError("servers did not start in time", os.path.join(p["logs"], "supervisor.log"))


def probe(url, ctx, expect, auth=None, method="GET"):
    req = urllib.request.Request(url, method=method, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            code = r.status
    except urllib.error.HTTPError as e:
        code = e.code
    if code != expect:
        raise StepError(f"{method} {url} answered {code}, expected {expect}")


def check_servers(fx, ctx):
    basic = "Basic " + base64.b64encode(f"hpai:{fx['basic']['password']}".encode()).decode()
    probe(f"https://{fx['basic']['host']}/v2/", ctx, 401)
    probe(f"https://{fx['basic']['host']}/v2/", ctx, 200, basic)
    probe(f"https://{fx['token']['host']}/v2/", ctx, 401)
    probe(f"http://{fx['plain']['host']}/v2/", None, 200)
    probe(f"https://{fx['faulty']['host']}/v2/", ctx, 200)
    probe(fx["token"]["counts_url"], ctx, 200)


def tail(log, n=25):
    try:
        with open(log, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except (OSError, TypeError):
        return ""


def start(d, images_dir, lifetime, watch_pid):
    missing = [t for t in ("docker-registry", "skopeo", "umoci", "openssl") if not shutil.which(t)]
    for mod in ("jwt", "cryptography"):  # the token server's; checked here to skip cleanly
        if importlib.util.find_spec(mod) is None:
            missing.append(f"Python module {mod} for {sys.executable} (python3-jwt, python3-cryptography)")
    if missing:
        print("registry-fixture: SKIP: missing " + ", ".join(missing))
        return 77
    t0 = time.time()
    stop(d)
    p = paths(d)

    def terminated(*_):  # a killed start (a CTest timeout) must not leave servers behind
        raise StepError("start was interrupted by a signal")
    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, terminated)
    shutil.rmtree(p["logs"], ignore_errors=True)  # stale logs would mislead a failure report
    for k in ("run", "logs", "certs", "storage", "layouts"):
        os.makedirs(p[k], exist_ok=True)
    log = os.path.join(p["logs"], "start.log")
    open(log, "w").close()
    timings = {}

    def mark(step):
        timings[step] = round(time.time() - t0, 2)

    try:
        step = "certificates"
        make_certs(p, log)
        pw = write_secrets(p)
        mark(step)
        step = "layouts"
        if not os.path.isdir(os.path.join(images_dir, "busybox", "bin")):
            raise StepError(f"{images_dir}/busybox is not a root file system tree")
        lay = {n: os.path.join(p["layouts"], n) for n in ("busybox", "multi", "debian-extra")}
        images.build_busybox(images_dir, lay["busybox"], log)
        images.build_multi(lay["busybox"], lay["multi"], log)
        with_debian = os.path.isfile(os.path.join(images_dir, "debian-oci", "oci", "index.json"))
        if with_debian:
            images.build_debian_extra(images_dir, lay["debian-extra"], log)
        else:
            print(f"registry-fixture: no {images_dir}/debian-oci/oci: hpai/debian* not pushed")
        mark(step)
        step = "servers"
        sup_log = open(os.path.join(p["logs"], "supervisor.log"), "w")
        sup = subprocess.Popen([PY, os.path.abspath(__file__), "_supervise", d, str(lifetime),
                                str(watch_pid or 0)], stdout=sup_log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd="/")
        with open(os.path.join(p["run"], "supervisor.pid"), "w") as f:
            f.write(f"{sup.pid}\n")
        srv = wait_servers(sup, p)
        ports = srv["ports"]
        host = lambda n: f"127.0.0.1:{ports[n]}"  # noqa: E731
        tok = f"https://{host('tokenserver')}"
        fx = {"ca": p["ca"], "certs_dir": p["certs"],
              "basic": {"host": host("basic"), "user": "hpai", "password": pw["basic"],
                        "realm": "hpai-basic"},
              "token": {"host": host("token"), "realm": srv["realm"], "service": SERVICE,
                        "issuer": ISSUER, "user": "hpai", "password": pw["token"],
                        "anonymous_pull_prefix": "public/", "counts_url": tok + "/_counts",
                        "reset_url": tok + "/_reset", "log_url": tok + "/_log"},
              "plain": {"host": host("plain")},
              "faulty": {"host": host("faulty"), "images": ["busybox", "multi"], "tag": "1",
                         "behaviours": list(BEHAVIOURS),
                         "slow": {"chunk_bytes": SLOW_CHUNK, "delay_seconds": SLOW_DELAY},
                         "counts_url": f"https://{host('faulty')}/_counts",
                         "reset_url": f"https://{host('faulty')}/_reset"}}
        ctx = ssl.create_default_context(cafile=p["ca"])
        check_servers(fx, ctx)
        mark(step)
        step = "pushes"
        plan = images.push_plan(lay, images_dir, with_debian)
        images.push_all(plan, fx, p["certs"], p["logs"])
        mark(step)
        step = "reading back"
        fx["images"] = images.read_back(plan, fx, p["ca"])
        fx["images"]["multi"]["ppc64le_hello"] = (
            "static" if shutil.which("powerpc64le-linux-gnu-gcc") else "shell script")
        fx["faulty"]["manifest_digest"] = fx["images"]["busybox"]["manifest_digest"]
        for url in (fx["token"]["reset_url"], fx["faulty"]["reset_url"]):
            probe(url, ctx, 200, method="POST")  # tests see only their own requests
        mark(step)
    except Exception as e:  # noqa: BLE001  any failure: report, clean up, exit 1
        print(f"registry-fixture: FAILED at step '{step}': {e}")
        if not isinstance(e, StepError):
            traceback.print_exc(file=sys.stdout)
        log_of = getattr(e, "log", None)
        for lg in [log_of] if log_of else [log, os.path.join(p["logs"], "supervisor.log")]:
            print(f"--- last lines of {lg}:\n{tail(lg)}")
        print(f"--- all logs: {p['logs']}/")
        stop(d)
        return 1
    fx["logs"] = {n[:-4]: os.path.join(p["logs"], n) for n in sorted(os.listdir(p["logs"]))
                  if n.endswith(".log")}
    fx["pids"] = sorted([sup.pid] + list(srv["pids"].values()))
    fx["supervisor_pid"] = sup.pid
    fx["start_seconds"] = timings
    tmp = p["fixture"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(fx, f, indent=1)
    os.rename(tmp, p["fixture"])
    # Tests run the client as another user: everything readable, private keys excepted.
    subprocess.run(["chmod", "-R", "a+rX", d], check=True)
    for k in ("ca_key", "key", "signer_key", "users"):
        if os.path.exists(p[k]):
            os.chmod(p[k], 0o600)
    print(p["fixture"])
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_supervise":
        supervise(os.path.realpath(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("dir")
    s.add_argument("images_dir")
    s.add_argument("--lifetime", type=float,
                   default=float(os.environ.get("HPAI_REGISTRY_FIXTURE_LIFETIME", 7200)))
    s.add_argument("--watch-pid", type=int, default=0)
    t = sub.add_parser("stop")
    t.add_argument("dir")
    args = ap.parse_args()
    d = os.path.realpath(args.dir)
    if args.cmd == "stop":
        ok = stop(d)
        print("registry-fixture: stopped" if ok else "registry-fixture: some processes survived")
        return 0 if ok else 1
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return start(d, os.path.realpath(args.images_dir), args.lifetime, args.watch_pid)


if __name__ == "__main__":
    sys.exit(main())
