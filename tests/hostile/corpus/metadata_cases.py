"""hpai's own .hpai/ metadata directory shipped by an archive (every entry point: flat
tar, OCI layer, OCI archive, docker-save layer, plain directory), and files hpai reads
that are FIFOs, devices or too large."""
import gzip
import io
import json
import os
import shutil
import tarfile
import tempfile

from common import *  # noqa: F401,F403 (builders and helpers)

DOTS = "../" * 12  # climbs out of any image, wherever the test keeps it

# --- .hpai/ in the archive: hpai's writes must never follow it ------------------------

def hpai_members(kind):
    """The hostile .hpai/ entries of one attack, as tar members."""
    return {
        "json-tmp-symlink": [member(".hpai/", tarfile.DIRTYPE), member(".hpai/image.json.tmp", tarfile.SYMTYPE, link=VICTIM)],
        "json-symlink": [member(".hpai/", tarfile.DIRTYPE), member(".hpai/image.json", tarfile.SYMTYPE, link=VICTIM)],
        "dir-abs-symlink": [member(".hpai", tarfile.SYMTYPE, link=ESCAPE)],
        "dir-rel-symlink": [member(".hpai", tarfile.SYMTYPE, link=DOTS + "tmp/hpai-hostile-escape")],
        "dir-dangling-symlink": [member(".hpai", tarfile.SYMTYPE, link=ESCAPE + "/made-by-hpai")],
    }[kind]

@case
def tar_hpai_json_tmp_symlink(p): rootfs(p, hpai_members("json-tmp-symlink"))
@case
def tar_hpai_json_symlink(p): rootfs(p, hpai_members("json-symlink"))
@case
def tar_hpai_dir_abs_symlink(p): rootfs(p, hpai_members("dir-abs-symlink"))
@case
def tar_hpai_dir_rel_symlink(p): rootfs(p, hpai_members("dir-rel-symlink"))
@case
def tar_hpai_dir_dangling_symlink(p): rootfs(p, hpai_members("dir-dangling-symlink"))
@case
def tar_hpai_through_link(p):
    # "x" names .hpai; a symlink planted through it would aim hpai's own write.
    rootfs(p, [member("x", tarfile.SYMTYPE, link=".hpai"), member("x/image.json.tmp", tarfile.SYMTYPE, link=VICTIM),
               member("x/image.json", tarfile.SYMTYPE, link=VICTIM)])
@case
def tar_hpai_hardlink_victim(p): rootfs(p, [member(".hpai/", tarfile.DIRTYPE), member(".hpai/image.json", tarfile.LNKTYPE, link=VICTIM)])
@case
def tar_hpai_json_fifo(p): rootfs(p, [member(".hpai/", tarfile.DIRTYPE), member(".hpai/image.json", tarfile.FIFOTYPE)])
@case
def tar_hpai_json_too_large(p): rootfs(p, [sparse_member(".hpai/image.json", 17 << 20)])
@case
def tar_hpai_json_deeply_nested(p): rootfs(p, [member(".hpai/image.json", data=b"[" * 100000 + b"]" * 100000)])
@case
def tar_hpai_json_wrong_types(p):
    rootfs(p, [member(".hpai/image.json", data=json.dumps({"hpai_image_version": "one", "config": []}).encode())])
@case
def tar_hpai_json_env_nul(p):
    rootfs(p, [member(".hpai/image.json", data=b'{"hpai_image_version": 1, "config": {"Env": ["A=x\\u0000y"]}}')])
@case
def tar_hpai_json_carried(p):
    # An hpai export's metadata: read as data (its ENV kept), never unpacked as a file.
    meta = {"hpai_image_version": 1, "config": {"Env": ["CARRIED=yes"], "Cmd": ["/bin/sh"]}}
    rootfs(p, [member(".hpai/", tarfile.DIRTYPE), member(".hpai/image.json", data=json.dumps(meta).encode())])

@case
def oci_layer_hpai_dir_symlink(p):
    two_layers(hpai_members("dir-abs-symlink") + [member(".hpai/image.json.tmp", tarfile.SYMTYPE, link=VICTIM)]).write(p)
@case
def oci_layer_hpai_json_symlink(p): two_layers(hpai_members("json-symlink")).write(p)
@case
def oci_layer_hpai_rel_symlink(p): two_layers(hpai_members("dir-rel-symlink")).write(p)

def oci_archive(p, layout):
    with tempfile.TemporaryDirectory() as d:
        layout.write(d + "/layout")
        with tarfile.open(p, "w", format=tarfile.PAX_FORMAT) as t:
            for name in sorted(os.listdir(d + "/layout")):
                t.add(d + "/layout/" + name, arcname=name)

@case
def oci_archive_hpai_dir_symlink(p): oci_archive(p, two_layers(hpai_members("dir-abs-symlink")))
@case
def oci_archive_hpai_json_tmp_symlink(p): oci_archive(p, two_layers(hpai_members("json-tmp-symlink")))

def docker_with_layer(p, extra):
    layer = tar_bytes(base_members() + extra)
    config = json.dumps({"architecture": host_arch(), "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]}}).encode()
    docker_archive(p, [{"Config": sha(config) + ".json", "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {sha(config) + ".json": config, layer_name(layer): layer})

@case
def docker_layer_hpai_dir_symlink(p): docker_with_layer(p, hpai_members("dir-abs-symlink"))
@case
def docker_layer_hpai_rel_symlink(p): docker_with_layer(p, hpai_members("dir-rel-symlink"))
@case
def docker_layer_hpai_json_tmp_symlink(p): docker_with_layer(p, hpai_members("json-tmp-symlink"))

def plain_dir(p):
    for d in ("etc", "bin", "tmp"):
        os.makedirs(f"{p}/{d}")
    with open(p + "/etc/os-release", "w") as f:
        f.write("ID=hostile\n")

@case
def dir_hpai_dir_symlink(p):
    plain_dir(p)
    os.symlink(ESCAPE, p + "/.hpai")
@case
def dir_hpai_dir_rel_symlink(p):
    plain_dir(p)
    os.symlink(DOTS + "tmp/hpai-hostile-escape", p + "/.hpai")
@case
def dir_hpai_json_tmp_symlink(p):
    plain_dir(p)
    os.makedirs(p + "/.hpai")
    os.symlink(VICTIM, p + "/.hpai/image.json.tmp")
@case
def dir_hpai_json_devzero(p):
    plain_dir(p)
    os.makedirs(p + "/.hpai")
    os.symlink("/dev/zero", p + "/.hpai/image.json")


# --- files that are FIFOs, devices, too large or too deep -----------------------------

def layout_dir(p):
    l = two_layers([member("hello", data=b"hello\n")])
    l.write(p)
    return l

@case
def oci_index_devzero(p):
    layout_dir(p)
    os.remove(p + "/index.json")
    os.symlink("/dev/zero", p + "/index.json")
@case
def oci_index_fifo(p):
    layout_dir(p)
    os.remove(p + "/index.json")
    os.mkfifo(p + "/index.json")
@case
def oci_layout_file_fifo(p):
    layout_dir(p)
    os.remove(p + "/oci-layout")
    os.mkfifo(p + "/oci-layout")
@case
def oci_manifest_blob_devzero(p):
    l = two_layers([])
    idx = l.index()
    l.write(p, idx)
    h = hexdigest_of(idx["manifests"][0])
    os.remove(f"{p}/blobs/sha256/{h}")
    os.symlink("/dev/zero", f"{p}/blobs/sha256/{h}")
@case
def oci_layer_blob_fifo(p):
    l = layout_dir(p)
    h = hexdigest_of(l.layers[1])
    os.remove(f"{p}/blobs/sha256/{h}")
    os.mkfifo(f"{p}/blobs/sha256/{h}")
@case
def oci_config_too_large(p):
    l = two_layers([])
    config = json.dumps({"architecture": host_arch(), "os": "linux", "pad": " " * (17 << 20),
                         "rootfs": {"type": "layers", "diff_ids": l.config["rootfs"]["diff_ids"]}}).encode()
    m = l.manifest()
    m["config"].update({"digest": "sha256:" + l.put(config), "size": len(config)})
    l.write(p, l.index(json.dumps(m).encode()))
@case
def oci_config_deeply_nested(p):
    l = two_layers([])
    config = b'{"architecture": "amd64", "os": "linux", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    m = l.manifest()
    m["config"].update({"digest": "sha256:" + l.put(config), "size": len(config)})
    l.write(p, l.index(json.dumps(m).encode()))
@case
def tar_source_fifo(p): os.mkfifo(p)
@case
def tar_source_devzero(p): os.symlink("/dev/zero", p)


# --- docker save details ---------------------------------------------------------------

@case
def docker_config_deeply_nested(p):
    layer = tar_bytes(base_members())
    config = b'{"rootfs": {"diff_ids": ["sha256:' + sha(layer).encode() + b'"]}, "x": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    docker_archive(p, [{"Config": sha(config) + ".json", "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {sha(config) + ".json": config, layer_name(layer): layer})
@case
def docker_config_uppercase_digest(p):
    # Named by its digest in upper case, then altered: still a digest, still checked;
    # and still a docker archive, not a root file system tar.
    layer, config, config_name = good_docker_parts()
    name = config_name.upper().replace(".JSON", ".json")
    docker_archive(p, [{"Config": name, "RepoTags": ["h:1"], "Layers": [layer_name(layer)]}],
                   {name: config.replace(b"linux", b"Linux"), layer_name(layer): layer})
def docker_one_layer(p, layer_path, diff_id_of, extra):
    """A docker save archive whose one layer is LAYER_PATH, with EXTRA members."""
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(diff_id_of)]}}).encode()
    docker_archive(p, [{"Config": sha(config) + ".json", "RepoTags": ["h:1"], "Layers": [layer_path]}],
                   {sha(config) + ".json": config}, extra)

@case
def docker_layer_dotdot_to_root(p):
    # "../../x/layer.tar" normalises to nothing, the name of the archive's "./" entry,
    # whose empty content matches a diff_id of the empty string.
    docker_one_layer(p, "../../x/layer.tar", b"", [member("./", tarfile.DIRTYPE)])
@case
def docker_layer_is_directory(p):
    # Named as docker names layer directories.
    docker_one_layer(p, "d" * 64, b"", [member("d" * 64 + "/", tarfile.DIRTYPE)])
@case
def docker_layer_symlink_escape(p):
    docker_one_layer(p, "e" * 64 + "/layer.tar", tar_bytes(base_members()),
                     [member("e" * 64 + "/layer.tar", tarfile.SYMTYPE, link=DOTS + "etc/passwd")])
@case
def docker_shared_layer_symlink(p):
    # Legitimate: docker save stores a layer two images share once and links the other.
    layer = tar_bytes(base_members())
    other = tar_bytes([member("hello", data=b"hello\n")])
    config = json.dumps({"architecture": host_arch(), "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer), "sha256:" + sha(other),
                                                                   "sha256:" + sha(layer)]}}).encode()
    a, b, c = ("a" * 64 + "/layer.tar", "b" * 64 + "/layer.tar", "c" * 64 + "/layer.tar")
    docker_archive(p, [{"Config": sha(config) + ".json", "RepoTags": ["h:1"], "Layers": [a, b, c]}],
                   {sha(config) + ".json": config, a: layer, b: other},
                   [member(c, tarfile.SYMTYPE, link="../" + a)])
