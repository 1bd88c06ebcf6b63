#!/usr/bin/env python3
"""Builds the hostile-input corpus described in tests/hostile/cases.json.

Usage: make-corpus.py OUT_DIR

Each case gets OUT_DIR/NAME (a file or an OCI layout directory). Escapes aim at
ESCAPE (an absolute directory the tests create world-writable and check stays empty)
and at relative paths climbing out of the image. Every case in cases.json must have
a builder here and the other way round, so the list and the inputs can't drift.
"""
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import shutil
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
RANDOM = random.Random(20261123)  # the same corpus on every run: a failure can be replayed
ESCAPE = "/tmp/hpai-hostile-escape"
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


def docker_archive(path, manifest, files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in list(files.items()) + [("manifest.json", json.dumps(manifest).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def layer_name(layer):
    return sha(layer) + "/layer.tar"


def good_docker_parts():
    """A layer, its config and the config's name, named as docker save names them."""
    layer = tar_bytes(base_members())
    config = json.dumps({"architecture": host_arch(), "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]}}).encode()
    return layer, config, sha(config) + ".json"


# --- flat root file system tars: paths and links -----------------------------------

@case
def tar_dotdot_member(p): rootfs(p, [member("../../../../../../tmp/hpai-hostile-escape/dotdot", data=b"pwned")])
@case
def tar_dotdot_inside(p): rootfs(p, [member("etc/../../escape-inside", data=b"pwned")])
@case
def tar_absolute_member(p): rootfs(p, [member(ESCAPE + "/absolute", data=b"pwned")])
@case
def tar_symlink_dir_escape(p): rootfs(p, [member("evil", tarfile.SYMTYPE, link=ESCAPE), member("evil/through-symlink", data=b"pwned")])
@case
def tar_symlink_relative_escape(p):
    rootfs(p, [member("evil", tarfile.SYMTYPE, link="../../../../../../../../tmp/hpai-hostile-escape"),
               member("evil/through-relative", data=b"pwned")])
@case
def tar_symlink_chain_escape(p):
    rootfs(p, [member("a", tarfile.SYMTYPE, link="b"), member("b", tarfile.SYMTYPE, link="c/../../.."),
               member("c/", tarfile.DIRTYPE), member("a/tmp/hpai-hostile-escape/chain", data=b"pwned")])
@case
def tar_symlink_root_overwrite(p):
    rootfs(p, [member("root-link", tarfile.SYMTYPE, link="/"), member("root-link/etc/hostname", data=b"pwned\n")])
@case
def tar_symlink_magic_proc(p):
    rootfs(p, [member("m", tarfile.SYMTYPE, link="/proc/self/root/tmp/hpai-hostile-escape"), member("m/magic", data=b"pwned")])
@case
def tar_symlink_then_replace_file(p):
    # A symlink to a host file, then a regular file of the same name: the file must
    # replace the link, not write through it.
    rootfs(p, [member("etc/passwd", tarfile.SYMTYPE, link=ESCAPE + "/passwd"), member("etc/passwd", data=b"root:x:0:0::/:/bin/sh\n")])
@case
def tar_hardlink_host_file(p): rootfs(p, [member("etc/stolen", tarfile.LNKTYPE, link="/etc/shadow")])
@case
def tar_hardlink_dotdot(p): rootfs(p, [member("stolen", tarfile.LNKTYPE, link="../../../../../../etc/passwd")])
@case
def tar_hardlink_through_symlink(p):
    rootfs(p, [member("hostetc", tarfile.SYMTYPE, link="/etc"), member("stolen", tarfile.LNKTYPE, link="hostetc/passwd")])
@case
def tar_hardlink_to_directory(p): rootfs(p, [member("dirlink", tarfile.LNKTYPE, link="etc")])
@case
def tar_write_through_hardlinked_symlink(p):
    # A hard link to a symlink that points out, then a file written "through" it.
    rootfs(p, [member("s", tarfile.SYMTYPE, link=ESCAPE + "/hl"), member("h", tarfile.LNKTYPE, link="s"),
               member("h", data=b"pwned")])


# --- special files and modes -----------------------------------------------------

@case
def tar_char_device(p): rootfs(p, [member("mem", tarfile.CHRTYPE)])
@case
def tar_block_device(p): rootfs(p, [member("disk", tarfile.BLKTYPE)])
@case
def tar_fifo(p): rootfs(p, [member("pipe", tarfile.FIFOTYPE)])
@case
def tar_dev_content(p): rootfs(p, [member("dev/", tarfile.DIRTYPE), member("dev/sda", data=b"fake disk")])
@case
def tar_setuid_root_shell(p): rootfs(p, [member("bin/rootshell", data=b"#!/bin/sh\n", mode=0o4755)])
@case
def tar_setgid_directory(p): rootfs(p, [member("shared/", tarfile.DIRTYPE, mode=0o2775), member("shared/f", data=b"x")])
@case
def tar_unreadable_tree(p):
    # Mode 000 directories and files: the user must still be able to delete the image.
    rootfs(p, [member("locked/", tarfile.DIRTYPE, mode=0), member("locked/inner/", tarfile.DIRTYPE, mode=0),
               member("locked/inner/f", data=b"x", mode=0)])


# --- size and shape ------------------------------------------------------------------

@case
def tar_sparse_1tib(p): rootfs(p, [sparse_member("huge-sparse", 1 << 40)])
@case
def tar_sparse_impossible_size(p): rootfs(p, [sparse_member("too-big", (1 << 63) - 1)])
@case
def tar_deep_nesting(p):
    # 1500 levels of directories: legal, must import and stay removable.
    rootfs(p, [member("d/" * 1500 + "bottom", data=b"deep")])
@case
def tar_path_too_long(p): rootfs(p, [member("x/" * 2100 + "f", data=b"long")])
@case
def tar_component_too_long(p): rootfs(p, [member("n" * 300, data=b"long name")])
@case
def tar_many_empty_entries(p):
    rootfs(p, [member(f"many/{i}", data=b"") for i in range(20000)])


# --- whiteouts -----------------------------------------------------------------------

@case
def oci_whiteout_dotdot(p): two_layers([member("etc/../../.wh.escape")]).write(p)
@case
def oci_whiteout_dot_names(p): two_layers([member(".wh.."), member("etc/.wh..")]).write(p)
@case
def oci_whiteout_through_symlink(p):
    Layout([base_members() + [member("link", tarfile.SYMTYPE, link=ESCAPE)], [member("link/.wh.canary")]]).write(p)
@case
def oci_opaque_through_symlink(p):
    Layout([base_members() + [member("link", tarfile.SYMTYPE, link=ESCAPE)], [member("link/.wh..wh..opq")]]).write(p)
@case
def oci_whiteout_absolute(p): two_layers([member(ESCAPE + "/.wh.canary")]).write(p)


# --- compression -------------------------------------------------------------------

@case
def gzip_truncated(p):
    with open(p, "wb") as f:
        f.write(gzip.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(200000))]), mtime=0)[:60000])
@case
def gzip_corrupt(p):
    data = bytearray(gzip.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]), mtime=0))
    for i in range(2000, 2200):
        data[i] ^= 0x5A
    with open(p, "wb") as f:
        f.write(data)
@case
def gzip_bad_crc(p):
    data = bytearray(gzip.compress(tar_bytes(base_members()), mtime=0))
    data[-8] ^= 0xFF  # CRC32 in the trailer
    with open(p, "wb") as f:
        f.write(data)
@case
def xz_truncated(p):
    with open(p, "wb") as f:
        f.write(lzma.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]))[:50000])
@case
def bzip2_truncated(p):
    with open(p, "wb") as f:
        f.write(bz2.compress(tar_bytes(base_members() + [member("big", data=RANDOM.randbytes(100000))]))[:50000])
@case
def zstd_garbage(p):
    with open(p, "wb") as f:
        f.write(b"\x28\xb5\x2f\xfd" + RANDOM.randbytes(5000))
@case
def tar_bad_checksum(p):
    data = bytearray(tar_bytes(base_members()))
    data[100] ^= 0x01  # mode field of the first header: its checksum no longer matches
    with open(p, "wb") as f:
        f.write(data)
@case
def tar_truncated_member(p):
    with open(p, "wb") as f:
        f.write(tar_bytes(base_members() + [member("cut", data=RANDOM.randbytes(100000))])[:40000])
@case
def not_an_archive(p):
    with open(p, "wb") as f:
        f.write(RANDOM.randbytes(4096))
@case
def empty_file(p): open(p, "wb").close()


# --- OCI layouts -------------------------------------------------------------------

def layout_with_bad_layer(p, tamper):
    l = two_layers([member("hello", data=b"hello\n")])
    h = hexdigest_of(l.layers[1])
    l.blobs[h] = tamper(l.blobs[h])
    l.write(p)

@case
def oci_layer_digest_mismatch(p):
    layout_with_bad_layer(p, lambda b: gzip.compress(tar_bytes([member("hello", data=b"HELLO\n")]), mtime=0))
@case
def oci_diff_id_mismatch(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.config["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    l.write(p)
@case
def oci_manifest_digest_mismatch(p):
    l = two_layers([member("hello", data=b"hello\n")])
    idx = l.index()
    l.blobs[hexdigest_of(idx["manifests"][0])] = json.dumps(l.manifest()).encode() + b" "
    l.write(p, idx)
@case
def oci_config_digest_mismatch(p):
    l = two_layers([member("hello", data=b"hello\n")])
    m = l.manifest()
    l.blobs[hexdigest_of(m["config"])] = b'{"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": []}}'
    l.write(p, l.index(json.dumps(m).encode()))
@case
def oci_size_mismatch(p):
    l = two_layers([member("hello", data=b"hello\n")])
    m = l.manifest()
    m["config"]["size"] += 1
    l.write(p, l.index(json.dumps(m).encode()))
@case
def oci_missing_layer(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.write(p, drop=[hexdigest_of(l.layers[1])])
@case
def oci_missing_config(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.write(p, drop=[hexdigest_of(l.manifest()["config"])])
@case
def oci_missing_manifest(p):
    l = two_layers([member("hello", data=b"hello\n")])
    idx = l.index()
    l.write(p, idx, drop=[hexdigest_of(idx["manifests"][0])])
@case
def oci_missing_oci_layout(p):
    l = two_layers([])
    l.layout_text = None
    l.write(p)
@case
def oci_unknown_layout_version(p):
    l = two_layers([])
    l.layout_text = '{"imageLayoutVersion": "9.9.9"}'
    l.write(p)
@case
def oci_index_not_json(p): two_layers([]).write(p, '{"schemaVersion": 2, "manifests": [')
@case
def oci_index_wrong_shape(p): two_layers([]).write(p, '{"schemaVersion": 2, "manifests": {"a": 1}}')
@case
def oci_index_deeply_nested_json(p): two_layers([]).write(p, "[" * 200000 + "]" * 200000)
@case
def oci_manifest_not_json(p):
    l = two_layers([])
    l.write(p, l.index(b"{this is not json"))
@case
def oci_manifest_without_layers(p):
    l = two_layers([])
    l.write(p, l.index(b'{"schemaVersion": 2, "config": {}}'))
@case
def oci_layer_media_type(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.layers[1]["mediaType"] = "application/x-shockwave-flash"
    l.write(p)
@case
def oci_manifest_media_type(p):
    l = two_layers([])
    l.manifest_type = "text/html"
    l.write(p)
@case
def oci_digest_traversal(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.layers[1]["digest"] = "sha256:../../../../../../etc/passwd"
    l.write(p)
@case
def oci_digest_algorithm(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.layers[1]["digest"] = "md5:d41d8cd98f00b204e9800998ecf8427e"
    l.write(p)
@case
def oci_blob_symlink_escape(p):
    # A blob that is a symlink to a host file with the right name: must not be followed
    # outside the layout (or, if read, fail its digest).
    l = two_layers([member("hello", data=b"hello\n")])
    l.write(p)
    h = hexdigest_of(l.layers[1])
    os.remove(f"{p}/blobs/sha256/{h}")
    os.symlink("/etc/passwd", f"{p}/blobs/sha256/{h}")
@case
def oci_nested_index_loop(p):
    # Indexes nested six deep.
    l = two_layers([])
    inner = l.index()
    for _ in range(6):
        data = json.dumps(inner).encode()
        inner = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                                      "digest": "sha256:" + l.put(data), "size": len(data)}]}
    l.write(p, inner)
@case
def oci_config_number_overflow(p):
    l = two_layers([])
    config = b'{"architecture": "amd64", "os": "linux", "size": 1e999999, "rootfs": {"diff_ids": []}}'
    m = l.manifest()
    m["config"].update({"digest": "sha256:" + l.put(config), "size": len(config)})
    m["layers"] = []
    l.write(p, l.index(json.dumps(m).encode()))
@case
def oci_layer_count_mismatch(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.config["rootfs"]["diff_ids"].pop()
    l.write(p)


# --- docker save archives ------------------------------------------------------------

@case
def docker_manifest_not_list(p): docker_archive(p, {"Config": "x.json"}, {})
@case
def docker_layer_path_traversal(p):
    layer, config, config_name = good_docker_parts()
    docker_archive(p, [{"Config": config_name, "RepoTags": ["h:1"], "Layers": ["../../../../../../etc/passwd"]}],
                   {config_name: config})
@case
def docker_config_path_traversal(p):
    layer, config, _ = good_docker_parts()
    docker_archive(p, [{"Config": "../../../../../../etc/passwd", "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {layer_name(layer): layer})
@case
def docker_missing_layer(p):
    layer, config, config_name = good_docker_parts()
    docker_archive(p, [{"Config": config_name, "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}], {config_name: config})
@case
def docker_layer_diff_id_mismatch(p):
    layer, config, config_name = good_docker_parts()
    docker_archive(p, [{"Config": config_name, "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {config_name: config, layer_name(layer): tar_bytes(base_members() + [member("extra", data=b"x")])})
@case
def docker_config_digest_mismatch(p):
    layer, config, config_name = good_docker_parts()
    docker_archive(p, [{"Config": config_name, "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {config_name: config.replace(b"linux", b"Linux"), layer_name(layer): layer})


# --- site profiles -------------------------------------------------------------------

def profile(p, text):
    with open(p, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text, indent=2))

@case
def profile_not_json(p): profile(p, '{"hpai_profile": 1, "name": "x",\n  "binds": [\n    {"source": "/opt",},\n  ]\n}\n')
@case
def profile_deeply_nested(p): profile(p, '{"hpai_profile": 1, "name": "x", "env": ' + "[" * 100000 + "]" * 100000 + "}")
@case
def profile_wrong_types(p): profile(p, {"hpai_profile": 1, "name": "x", "binds": "/opt", "devices": [42], "env": {"set": {"A": 1}}})
@case
def profile_relative_and_dotdot_binds(p):
    profile(p, {"hpai_profile": 1, "name": "x", "binds": [{"source": "opt/x"}, {"source": "/opt", "target": "/../../etc"}]})
@case
def profile_nul_in_path(p): profile(p, '{"hpai_profile": 1, "name": "x", "binds": [{"source": "/opt\\u0000/etc"}]}')
@case
def profile_unknown_keys(p): profile(p, {"hpai_profile": 1, "name": "x", "bindz": [], "nvidia": {"enabeld": True}})
@case
def profile_extends_itself(p):
    profile(p, {"hpai_profile": 1, "name": "x", "extends": os.path.basename(p).removesuffix(".json")})
@case
def profile_extends_traversal(p): profile(p, {"hpai_profile": 1, "name": "x", "extends": "../../../../etc/passwd"})
@case
def profile_future_version(p): profile(p, {"hpai_profile": 99, "name": "x"})
@case
def profile_invalid_utf8(p):
    with open(p, "wb") as f:
        f.write(b'{"hpai_profile": 1, "name": "\xff\xfe\xc0\xaf"}')


def main():
    out = sys.argv[1]
    cases = json.load(open(os.path.join(HERE, "cases.json")))["cases"]
    names = [c["name"] for c in cases]
    missing = [n for n in names if n not in BUILDERS]
    unused = [n for n in BUILDERS if n not in names]
    if missing or unused or len(set(names)) != len(names):
        sys.exit(f"make-corpus: cases.json and builders differ: no builder for {missing}, not listed {unused}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for c in cases:
        suffix = ".json" if c["kind"] == "profile" else ""
        BUILDERS[c["name"]](os.path.join(out, c["name"] + suffix))
    os.system(f"chmod -R a+rX {out}")
    print(f"make-corpus: {len(cases)} cases in {out}")


if __name__ == "__main__":
    main()
