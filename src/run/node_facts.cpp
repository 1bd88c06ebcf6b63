// The part of a plan the ranks of one node share, as the JSON message the first rank
// sends to the ranks that join its container (join.cpp), and the key that says which
// command-line options shape that container.
#include "hpai/run/node_facts.hpp"

#include <limits.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "hpai/base/error.hpp"
#include "hpai/base/version.hpp"

namespace hpai {

using nlohmann::json;

namespace {

json optional_bool(const std::optional<bool>& b) { return b ? json(*b) : json(nullptr); }
std::optional<bool> optional_bool(const json& j) {
  return j.is_null() ? std::nullopt : std::optional<bool>(j.get<bool>());
}

const char* kind_name(EnvChange::Kind k) {
  switch (k) {
    case EnvChange::Kind::Set: return "set";
    case EnvChange::Kind::Prepend: return "prepend";
    case EnvChange::Kind::Append: return "append";
    case EnvChange::Kind::Unset: return "unset";
  }
  return "?";
}

EnvChange::Kind kind_from(const std::string& name) {
  for (auto k : {EnvChange::Kind::Set, EnvChange::Kind::Prepend, EnvChange::Kind::Append, EnvChange::Kind::Unset})
    if (name == kind_name(k)) return k;
  throw Error("join: bad environment change kind \"" + name + "\" from the node's first rank");
}

}  // namespace

std::string node_key(const RunOptions& o) {
  // Files by device and inode: ranks may spell the same image differently, and one
  // stat per path is all a joining rank asks of a shared file system (a realpath is a
  // lookup per component).
  auto resolved = [](const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return path;
    return "dev " + std::to_string(st.st_dev) + " ino " + std::to_string(st.st_ino);
  };
  // IMAGE may be a name in storage (which wins over a path): a word that is no explicit
  // path stays a word, with the directory it was said in.
  std::string image = o.image;
  if (!image.starts_with('/') && !image.starts_with('.')) {
    char cwd[PATH_MAX];
    image += std::string(" in ") + (getcwd(cwd, sizeof cwd) ? cwd : "?");
  } else {
    image = resolved(image);
  }
  json binds = json::array();
  for (const auto& b : o.binds)
    binds.push_back(resolved(b.source) + ":" + b.target + (b.read_only ? ":ro" : "") + (b.create ? ":create" : ""));
  json k = {{"hpai", kVersion},
            {"image", image},
            {"storage", o.storage},
            {"binds", binds},
            {"write", o.write},
            {"write_fake", o.write_fake ? json(*o.write_fake) : json(nullptr)},
            {"private_tmp", o.private_tmp},
            {"home", o.home},
            {"no_passwd", o.no_passwd},
            {"uid", o.uid ? json(*o.uid) : json(nullptr)},
            {"gid", o.gid ? json(*o.gid) : json(nullptr)},
            {"profile", o.no_profile ? json(false)
                        : o.profile  ? json(*o.profile)
                                     : json(nullptr)},
            {"gpu", optional_bool(o.gpu)},
            {"no_mpi", o.no_mpi},
            {"no_cuda_compat", o.no_cuda_compat}};
  return k.dump();
}

std::string node_facts_to_json(const Plan& p, const std::string& key) {
  json env_changes = json::array();
  for (const auto& c : p.profile_env)
    env_changes.push_back({{"kind", kind_name(c.kind)}, {"name", c.name}, {"value", c.value}, {"origin", c.origin}});
  json j = {
      {"key", key},
      {"image", p.image},
      {"squashfs", p.squashfs},
      {"config",
       {{"env", p.config.env},
        {"workdir", p.config.workdir},
        {"entrypoint", p.config.entrypoint},
        {"user", p.config.user},
        {"cmd", p.config.cmd},
        {"metadata", p.config.metadata_path}}},
      {"profile_env", env_changes},
      {"profile_files", p.profile_files},
      {"user", p.user},
      {"nvml", p.nvml},
      {"launcher",
       {{"torch_env", optional_bool(p.launcher.torch_env)}, {"gpu_per_rank", optional_bool(p.launcher.gpu_per_rank)}}}};
  return j.dump();
}

Plan plan_from_node_facts(const std::string& text, const std::string& key, const RunOptions& o,
                          const HostContext& host) {
  Plan p;
  try {
    // Not parse_json: this is the node's first rank speaking (same uid, checked on the
    // socket) on every joining rank's start, where the depth guard's callback cost ~3% of
    // the joiner's instructions (10,500 of 352,000, callgrind).
    json j = json::parse(text);
    if (j.at("key").get<std::string>() != key)
      throw Error("join: this node's container was built with other options than this rank's\n  node: " +
                  j.at("key").get<std::string>() + "\n  rank: " + key +
                  "\nranks that share a node must run the same image with the same binds; give each job step its own "
                  "--join-tag, or --no-join");
    p.image = j.at("image").get<std::string>();
    p.squashfs = j.at("squashfs").get<bool>();
    const json& c = j.at("config");
    p.config.env = c.at("env").get<std::vector<std::string>>();
    p.config.workdir = c.at("workdir").get<std::string>();
    p.config.entrypoint = c.at("entrypoint").get<std::vector<std::string>>();
    p.config.user = c.at("user").get<std::string>();
    p.config.cmd = c.at("cmd").get<std::vector<std::string>>();
    p.config.metadata_path = c.at("metadata").get<std::string>();
    for (const json& e : j.at("profile_env"))
      p.profile_env.push_back({kind_from(e.at("kind").get<std::string>()), e.at("name").get<std::string>(),
                               e.at("value").get<std::string>(), e.at("origin").get<std::string>()});
    p.profile_files = j.at("profile_files").get<std::vector<std::string>>();
    p.user = j.at("user").get<std::string>();
    p.nvml = j.value("nvml", std::string());
    const json& l = j.at("launcher");
    p.launcher = {optional_bool(l.at("torch_env")), optional_bool(l.at("gpu_per_rank"))};
  } catch (const json::exception& e) {
    throw Error(std::string("join: malformed message from the node's first rank: ") + e.what());
  }
  finish_plan(p, o, host);
  return p;
}

}  // namespace hpai
