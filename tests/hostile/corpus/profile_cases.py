"""Site profiles hpai-profile check must reject."""
import json
import os

from common import *  # noqa: F401,F403 (builders and helpers)


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
def profile_extends_traversal(p): profile(p, {"hpai_profile": 1, "name": "x", "extends": "../" * 12 + "etc/passwd"})
@case
def profile_future_version(p): profile(p, {"hpai_profile": 99, "name": "x"})
@case
def profile_invalid_utf8(p):
    with open(p, "wb") as f:
        f.write(b'{"hpai_profile": 1, "name": "\xff\xfe\xc0\xaf"}')


# --- profiles that exhaust, block, or are someone else's --------------------------------

@case
def profile_extends_fanout(p):
    # 14 levels, each of 4 files extending all 4 of the next: 4^14 paths, 56 files.
    d = os.path.dirname(p)
    for level in range(1, 15):
        for i in range(4):
            nxt = [f"fanout-{level + 1}-{j}" for j in range(4)] if level < 14 else []
            profile(f"{d}/fanout-{level}-{i}.json",
                    {"hpai_profile": 1, "extends": nxt, "env": {"set": {f"L{level}_{i}": "x"}}})
    profile(p, {"hpai_profile": 1, "name": "fanout", "extends": [f"fanout-1-{j}" for j in range(4)]})
@case
def profile_extends_relative_path(p):
    # A relative path in "extends" means beside this profile, not the working directory.
    sub = p.removesuffix(".json") + ".d"
    os.makedirs(sub)
    profile(sub + "/base.json", {"hpai_profile": 1, "env": {"set": {"FROM_BASE": "1"}}})
    profile(p, {"hpai_profile": 1, "extends": os.path.basename(sub) + "/base.json"})
@case
def profile_env_nul(p): profile(p, '{"hpai_profile": 1, "env": {"set": {"A": "safe\\u0000; evil"}}}')
@case
def profile_env_unset_nul(p): profile(p, '{"hpai_profile": 1, "env": {"unset": ["SAFE\\u0000*"]}}')
@case
def profile_fifo(p): os.mkfifo(p)
@case
def profile_devzero(p): os.symlink("/dev/zero", p)
@case
def profile_extends_fifo(p):
    os.mkfifo(p.removesuffix(".json") + "-base.json")
    profile(p, {"hpai_profile": 1, "extends": os.path.basename(p).removesuffix(".json") + "-base"})
@case
def profile_too_large(p): profile(p, {"hpai_profile": 1, "description": "x" * (5 << 20)})
@case
def profile_world_writable(p):
    profile(p, {"hpai_profile": 1, "env": {"set": {"LD_PRELOAD": "/tmp/evil.so"}}})
    os.chmod(p, 0o666)
@case
def profile_bind_target_dot(p): profile(p, {"hpai_profile": 1, "binds": [{"source": "/opt", "target": "/."}]})
@case
def profile_bind_target_slash_dot(p): profile(p, {"hpai_profile": 1, "binds": [{"source": "/opt", "target": "//./"}]})
