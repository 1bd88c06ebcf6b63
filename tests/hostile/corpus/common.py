"""Helpers shared by the hostile-corpus builders: tar members, OCI layouts, docker
save archives, profiles, and the @case registry that make-corpus.py checks against
cases.json."""
import gzip
import hashlib
import io
import json
import os
import random
import tarfile

RANDOM = random.Random(20261123)  # the same corpus on every run: a failure can be replayed
ESCAPE = "/tmp/hpai-hostile-escape"  # a world-writable directory the tests check stays empty
VICTIM = "/tmp/hpai-hostile-victim"  # a world-writable file the tests check byte for byte
BUILDERS = {}


def case(fn):
    BUILDERS[fn.__name__.replace("_", "-")] = fn
    return fn


# --- tar helpers ------------------------------------------------------------------

def member(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link="", pax=None):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    info.mtime = 1700000000
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    if pax:
        info.pax_headers = pax
    return info, data


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def base_members():
    """A minimal but real-looking root file system."""
    return [member("etc/", tarfile.DIRTYPE, mode=0o755), member("etc/os-release", data=b"ID=hostile\n"),
            member("bin/", tarfile.DIRTYPE, mode=0o755), member("tmp/", tarfile.DIRTYPE, mode=0o1777)]


def rootfs(path, extra, fmt=tarfile.PAX_FORMAT):
    with open(path, "wb") as f:
        f.write(tar_bytes(base_members() + extra, fmt))


def sparse_member(name, realsize, chunk=b"x" * 4096, at=0):
    """A PAX 1.0 sparse file: a map block, then the data of its only chunk."""
    smap = f"1\n{at}\n{len(chunk)}\n".encode()
    smap += b"\0" * (512 - len(smap))
    pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
           "GNU.sparse.realsize": str(realsize)}
    return member(f"GNUSparseFile.0/{name}", data=smap + chunk, pax=pax)


# --- OCI helpers -------------------------------------------------------------------

def sha(data):
    return hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI image layout built in memory, mutated by a case, then written out."""

    def __init__(self, layers):
        self.blobs = {}
        self.layer_tars = [tar_bytes(m) for m in layers]
        self.layers = []
        for t in self.layer_tars:
            z = gzip.compress(t, mtime=0)
            self.layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": "sha256:" + self.put(z), "size": len(z)})
        self.config = {"architecture": host_arch(), "os": "linux", "config": {"Env": ["PATH=/bin"]},
                       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(t) for t in self.layer_tars]}}
        self.index_extra = {}
        self.manifest_type = "application/vnd.oci.image.manifest.v1+json"
        self.layout_text = '{"imageLayoutVersion": "1.0.0"}'

    def put(self, data):
        self.blobs[sha(data)] = data
        return sha(data)

    def manifest(self):
        c = json.dumps(self.config).encode()
        return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + self.put(c),
                           "size": len(c)},
                "layers": self.layers}

    def index(self, manifest_bytes=None):
        m = manifest_bytes if manifest_bytes is not None else json.dumps(self.manifest()).encode()
        d = {"mediaType": self.manifest_type, "digest": "sha256:" + self.put(m), "size": len(m),
             "annotations": {"org.opencontainers.image.ref.name": "hostile"}}
        d.update(self.index_extra)
        return {"schemaVersion": 2, "manifests": [d]}

    def write(self, path, index=None, drop=()):
        index_text = index if isinstance(index, (str, bytes)) else json.dumps(index or self.index())
        os.makedirs(path + "/blobs/sha256")
        if self.layout_text is not None:
            with open(path + "/oci-layout", "w") as f:
                f.write(self.layout_text)
        with open(path + "/index.json", "wb") as f:
            f.write(index_text.encode() if isinstance(index_text, str) else index_text)
        for hex_, data in self.blobs.items():
            if hex_ not in drop:
                with open(f"{path}/blobs/sha256/{hex_}", "wb") as f:
                    f.write(data)


def host_arch():
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def two_layers(upper):
    return Layout([base_members(), upper])


def hexdigest_of(desc):
    return desc["digest"].split(":", 1)[1]


def docker_archive(path, manifest, files, extra=()):
    """A docker save archive: EXTRA members (links, directories) first, then FILES
    (name -> bytes), then manifest.json."""
    members = list(extra) + [member(name, data=data) for name, data in files.items()]
    members.append(member("manifest.json", data=json.dumps(manifest).encode()))
    with open(path, "wb") as f:
        f.write(tar_bytes(members))


def layer_name(layer):
    return sha(layer) + "/layer.tar"


def good_docker_parts():
    """A layer, its config and the config's name, named as docker save names them."""
    layer = tar_bytes(base_members())
    config = json.dumps({"architecture": host_arch(), "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]}}).encode()
    return layer, config, sha(config) + ".json"



def profile(p, text):
    with open(p, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text, indent=2))

