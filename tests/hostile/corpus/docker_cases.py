"""docker save archives: member paths, digests, layers."""
import json

from common import *  # noqa: F401,F403 (builders and helpers)


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
