"""OCI image layouts: whiteouts, digests, media types, JSON shapes."""
import gzip
import json
import os
import tarfile

from common import *  # noqa: F401,F403 (builders and helpers)


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
