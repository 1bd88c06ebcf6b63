#!/usr/bin/python3
"""Images for the registry fixture: the OCI layouts it pushes (built with umoci, or
written here where umoci cannot: the multi-arch index and its tiny foreign-arch images),
the skopeo pushes, and reading the pushed manifests back for fixture.json.

Layouts live in DIR/layouts/NAME and are rebuilt only when their stamp (a key derived
from the inputs) changes, so a second start skips the umoci work."""
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import shutil
import ssl
import subprocess
import tarfile
import urllib.error
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
LAYOUT_VERSION = "5"  # bump to force every cached layout to be rebuilt


class StepError(Exception):
    """A failed step; .log names the log whose tail explains it."""

    def __init__(self, msg, log=None):
        super().__init__(msg)
        self.log = log


def run(argv, log, **kw):
    with open(log, "a") as f:
        f.write("+ " + " ".join(argv) + "\n")
        f.flush()
        kw.setdefault("stdin", subprocess.DEVNULL)
        r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, **kw)
    if r.returncode:
        raise StepError(f"{' '.join(argv[:2])} ... {argv[-1]} failed (exit {r.returncode})", log)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cached(path, key):
    try:
        with open(os.path.join(path, ".hpai-stamp")) as f:
            return f.read() == key
    except OSError:
        return False


def stamp(path, key):
    with open(os.path.join(path, ".hpai-stamp"), "w") as f:
        f.write(key)


def tree_key(root):
    """Cheap identity of a directory tree: names, sizes and mtimes."""
    h = hashlib.sha256(LAYOUT_VERSION.encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            st = os.lstat(os.path.join(dirpath, name))
            h.update(f"{dirpath}/{name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_busybox(images_dir, out, log):
    """hpai/busybox:1 — the busybox tree as one layer, made the way a user would with umoci.
    The tree's .hpai/ (hpai's own metadata) stays out: the pull has to produce it."""
    src = os.path.join(images_dir, "busybox")
    key = tree_key(src)
    if cached(out, key):
        return False
    shutil.rmtree(out, ignore_errors=True)
    image = f"{out}:1"
    bundle = out + ".bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    run(["umoci", "init", "--layout", out], log)
    run(["umoci", "new", "--image", image], log)
    run(["umoci", "unpack", "--rootless", "--image", image, bundle], log)
    tar = subprocess.Popen(["tar", "-C", src, "--exclude=./.hpai", "-cf", "-", "."],
                           stdout=subprocess.PIPE)
    run(["tar", "-C", os.path.join(bundle, "rootfs"), "-xf", "-"], log, stdin=tar.stdout)
    if tar.wait():
        raise StepError(f"tar of {src} failed", log)
    run(["umoci", "repack", "--image", image, bundle], log)
    run(["umoci", "config", "--image", image, "--config.cmd", "/bin/sh",
         "--config.env", "PATH=/usr/bin:/bin", "--config.env", "HPAI_PULLED=yes",
         "--config.workingdir", "/"], log)
    run(["umoci", "gc", "--layout", out], log)
    shutil.rmtree(bundle)
    stamp(out, key)
    return True


def link_blob(src, dst):
    """Blobs are content-addressed and never rewritten, so a hard link is a safe copy."""
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build_debian_extra(images_dir, out, log):
    """hpai/debian-extra:12 — the debian image plus one layer (/opt/extra/file), so a pull
    after hpai/debian:12 finds its two base layers already there. umoci adds the
    layer (unpacking the 60 MB base takes a few seconds, once: the layout is cached)."""
    src = os.path.join(images_dir, "debian-oci", "oci")
    with open(os.path.join(src, "index.json"), "rb") as f:
        index_bytes = f.read()
    key = LAYOUT_VERSION + sha256(index_bytes)
    if cached(out, key):
        return False
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    for name in os.listdir(os.path.join(src, "blobs", "sha256")):
        link_blob(os.path.join(src, "blobs", "sha256", name),
                  os.path.join(out, "blobs", "sha256", name))
    shutil.copy(os.path.join(src, "oci-layout"), out)
    index = json.loads(index_bytes)
    desc = next(d for d in index["manifests"]
                if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "debian")
    desc["annotations"]["org.opencontainers.image.ref.name"] = "12"
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    # unpack + repack, not `umoci insert`: umoci 0.4.7's insert writes a tar without its
    # end-of-archive blocks (the last file is not even padded), which no tar reader accepts.
    bundle = out + ".bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    run(["umoci", "unpack", "--rootless", "--image", f"{out}:12", bundle], log)
    extra = os.path.join(bundle, "rootfs", "opt", "extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, "file"), "w") as f:
        f.write("added by the hpai/debian-extra layer\n")
    run(["umoci", "repack", "--image", f"{out}:12", bundle], log)
    shutil.rmtree(bundle)
    run(["umoci", "gc", "--layout", out], log)
    stamp(out, key)
    return True


def tar_gz(files):
    """A deterministic gzip'd tar of {path: (mode, bytes)} (directories end in '/');
    returns (gzip bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path in sorted(files):
            mode, data = files[path]
            info = tarfile.TarInfo(path.rstrip("/"))
            info.mode, info.mtime, info.uname, info.gname = mode, 1704067200, "root", "root"
            if path.endswith("/"):
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0), sha256(raw.getvalue())


def put_blob(layout, data):
    digest = sha256(data)
    path = os.path.join(layout, "blobs", "sha256", digest[7:])
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return {"digest": digest, "size": len(data)}


def tiny_image(layout, platform, files, cmd):
    """One-layer image for a foreign platform; returns the manifest's descriptor."""
    layer, diff_id = tar_gz(files)
    config = {"created": "2024-01-01T00:00:00Z", "architecture": platform["architecture"],
              "os": platform["os"], "config": {"Env": ["PATH=/usr/bin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "hpai fixture"}]}
    if cmd:
        config["config"]["Cmd"] = cmd
    if "variant" in platform:
        config["variant"] = platform["variant"]
    cdesc = dict(mediaType=OCI_CONFIG, **put_blob(layout, json.dumps(config).encode()))
    ldesc = dict(mediaType=OCI_LAYER, **put_blob(layout, layer))
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": [ldesc]}
    return dict(mediaType=OCI_MANIFEST, **put_blob(layout, json.dumps(manifest).encode()),
                platform=platform)


def hello_binary(work, log):
    """/bin/hello for ppc64le: a static hello-world from the cross compiler."""
    c = os.path.join(work, "hello.c")
    with open(c, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("hello from ppc64le"); return 0; }\n')
    run(["powerpc64le-linux-gnu-gcc", "-static", "-O2", "-o", c[:-2], c], log)
    with open(c[:-2], "rb") as f:
        return f.read()


def build_multi(busybox, out, log):
    """hpai/multi:1 — an OCI index (umoci cannot write one): linux/amd64 is the busybox
    image, linux/arm64/v8 and linux/ppc64le are one-layer images made here."""
    with open(os.path.join(busybox, "index.json")) as f:
        bb_desc = json.load(f)["manifests"][0]
    have_gcc = shutil.which("powerpc64le-linux-gnu-gcc") is not None
    key = f"{LAYOUT_VERSION} {bb_desc['digest']} gcc={have_gcc}"
    if cached(out, key):
        return False
    shutil.rmtree(out, ignore_errors=True)
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(busybox, "blobs", "sha256", bb_desc["digest"][7:])) as f:
        bb_manifest = json.load(f)
    for d in [bb_desc, bb_manifest["config"]] + bb_manifest["layers"]:
        link_blob(os.path.join(busybox, "blobs", "sha256", d["digest"][7:]),
                  os.path.join(blobs, d["digest"][7:]))
    amd64 = {"mediaType": OCI_MANIFEST, "digest": bb_desc["digest"], "size": bb_desc["size"],
             "platform": {"architecture": "amd64", "os": "linux"}}
    arm64 = tiny_image(out, {"architecture": "arm64", "os": "linux", "variant": "v8"},
                       {"etc/": (0o755, b""), "etc/arch": (0o644, b"arm64\n")}, None)
    if have_gcc:
        hello = hello_binary(out, log)
        os.unlink(os.path.join(out, "hello"))
        os.unlink(os.path.join(out, "hello.c"))
    else:  # no cross compiler: a script stands in, fixture.json says so
        hello = b"#!/bin/sh\necho hello from ppc64le\n"
    ppc64le = tiny_image(out, {"architecture": "ppc64le", "os": "linux"},
                         {"bin/": (0o755, b""), "bin/hello": (0o755, hello),
                          "etc/": (0o755, b""), "etc/arch": (0o644, b"ppc64le\n")}, ["/bin/hello"])
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64, ppc64le]}
    idesc = dict(mediaType=OCI_INDEX, **put_blob(out, json.dumps(index).encode()),
                 annotations={"org.opencontainers.image.ref.name": "1"})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [idesc]}, f)
    stamp(out, key)
    return True


# (fixture.json key, layout, source tag, repository, tag, extra skopeo flags, registries)
def push_plan(layouts, images_dir, with_debian):
    bb, multi = layouts["busybox"], layouts["multi"]
    plan = [("busybox", bb, "1", "hpai/busybox", "1", [], ["basic", "token", "plain"]),
            ("busybox-public", bb, "1", "public/busybox", "1", [], ["token"]),
            # Docker Hub's name for busybox, for --registry-mirror.
            ("busybox-hub", bb, "1", "library/busybox", "1", [], ["basic"]),
            ("busybox-docker", bb, "1", "hpai/busybox-docker", "1", ["--format", "v2s2"],
             ["basic", "token", "plain"]),
            ("multi", multi, "1", "hpai/multi", "1", ["--all"], ["basic", "token", "plain"]),
            ("multi-docker", multi, "1", "hpai/multi-docker", "1", ["--all", "--format", "v2s2"],
             ["basic", "token", "plain"])]
    if with_debian:
        plan += [("debian", os.path.join(images_dir, "debian-oci", "oci"), "debian",
                  "hpai/debian", "12", [], ["basic"]),
                 ("debian-extra", layouts["debian-extra"], "12", "hpai/debian-extra", "12", [],
                  ["basic"])]
    return plan


def push_all(plan, fx, certs, logdir):
    """One worker per registry, pushes in plan order within it, so later images find
    shared blobs already there (debian-extra after debian); registries run in parallel."""
    def dest_flags(reg):
        if reg == "plain":
            return ["--dest-tls-verify=false"]
        return ["--dest-cert-dir", certs, "--dest-creds", f"{fx[reg]['user']}:{fx[reg]['password']}"]

    def worker(reg):
        log = os.path.join(logdir, f"push-{reg}.log")
        for key, layout, src_tag, repo, tag, flags, regs in plan:
            if reg in regs:
                run(["skopeo", "--insecure-policy", "copy", "--quiet", "--retry-times", "2",
                     *flags, *dest_flags(reg), f"oci:{layout}:{src_tag}",
                     f"docker://{fx[reg]['host']}/{repo}:{tag}"], log)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        for f in [pool.submit(worker, r) for r in ("basic", "token", "plain")]:
            f.result()


class Reader:
    """Minimal registry client to read back what was pushed (and check it is served)."""

    def __init__(self, fx, ca):
        self.fx = fx
        self.ctx = ssl.create_default_context(cafile=ca)

    def auth(self, reg, repo):
        info = self.fx[reg]
        basic = "Basic " + base64.b64encode(f"{info.get('user')}:{info.get('password')}".encode()).decode()
        if reg == "basic":
            return basic
        if reg == "token":
            url = f"{info['realm']}?service={info['service']}&scope=repository:{repo}:pull"
            req = urllib.request.Request(url, headers={"Authorization": basic})
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return "Bearer " + json.load(r)["token"]
        return None

    def get(self, reg, repo, ref, auth):
        scheme = "http" if reg == "plain" else "https"
        headers = {"Accept": ACCEPT}
        if auth:
            headers["Authorization"] = auth
        req = urllib.request.Request(f"{scheme}://{self.fx[reg]['host']}/v2/{repo}/manifests/{ref}",
                                     headers=headers)
        with urllib.request.urlopen(req, context=self.ctx if scheme == "https" else None,
                                    timeout=30) as r:
            body = r.read()
            return body, r.headers.get("Content-Type"), r.headers.get("Docker-Content-Digest")

    def describe(self, reg, repo, ref, auth=None):
        """fixture.json entry for a manifest or index (and, for an index, each platform)."""
        auth = auth or self.auth(reg, repo)
        body, ctype, dcd = self.get(reg, repo, ref, auth)
        doc, digest = json.loads(body), sha256(body)
        if dcd and dcd != digest:
            raise StepError(f"{reg} {repo}:{ref}: Docker-Content-Digest {dcd} != {digest}")
        entry = {"media_type": ctype, "manifest_digest": digest, "manifest_size": len(body)}
        if ctype in (OCI_INDEX, DOCKER_LIST):
            entry["platforms"] = {}
            for m in doc["manifests"]:
                p = m["platform"]
                name = "/".join(filter(None, [p["os"], p["architecture"], p.get("variant")]))
                entry["platforms"][name] = self.describe(reg, repo, m["digest"], auth)
        else:
            entry["config"] = doc["config"]["digest"]
            entry["layers"] = [l["digest"] for l in doc["layers"]]
            entry["layer_sizes"] = [l["size"] for l in doc["layers"]]
        return entry


def read_back(plan, fx, ca):
    """Describe every pushed image from each registry it went to; they must agree."""
    reader = Reader(fx, ca)
    images = {}
    for key, _, _, repo, tag, _, regs in plan:
        seen = {}
        for reg in regs:
            try:
                seen[reg] = reader.describe(reg, repo, tag)
            except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
                raise StepError(f"reading back {repo}:{tag} from {reg}: {e}")
        first = seen[regs[0]]
        for reg, entry in seen.items():
            if entry != first:
                raise StepError(f"{repo}:{tag} differs between {regs[0]} and {reg}")
        images[key] = {"repository": repo, "tag": tag, "registries": regs, **first}
    return images
