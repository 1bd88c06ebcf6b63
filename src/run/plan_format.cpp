// --dry-run output: the plan as text for people and as JSON for tools.
#include "hpai/run/plan_format.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

namespace hpai {

using nlohmann::json;

namespace {

const char* mode_name(RootMode m) {
  switch (m) {
    case RootMode::ReadOnly: return "read-only";
    case RootMode::Writable: return "writable";
    case RootMode::Overlay: return "overlay";
  }
  return "?";
}

const char* kind_name(Mount::Kind k) {
  switch (k) {
    case Mount::Kind::Bind: return "bind";
    case Mount::Kind::Tmpfs: return "tmpfs";
    case Mount::Kind::File: return "file";
    case Mount::Kind::Symlink: return "link";
  }
  return "?";
}

std::vector<std::string> mount_flags(const Mount& m) {
  std::vector<std::string> f;
  if (m.kind == Mount::Kind::Symlink) return f;
  f.emplace_back(m.read_only ? "ro" : "rw");
  if (m.kind == Mount::Kind::Bind) f.emplace_back("rec");
  if (m.kind == Mount::Kind::Tmpfs) f.push_back(m.source);
  if (m.create) f.emplace_back("create");
  return f;
}

// Variables the plan sets or changes, and host variables it removes.
void env_changes(const Plan& p, std::vector<std::pair<std::string, std::string>>& set,
                 std::vector<std::string>& unset) {
  for (const auto& [k, v] : p.env.entries())
    if (p.host_env.get(k) != v) set.emplace_back(k, v);
  for (const auto& [k, v] : p.host_env.entries())
    if (!p.env.has(k)) unset.push_back(k);
}

std::string quoted_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> env_change_lines(const Plan& p) {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> unset;
  env_changes(p, set, unset);
  std::vector<std::string> out;
  for (const auto& [k, v] : set) out.push_back("set " + k + "=" + v);
  for (const auto& k : unset) out.push_back("unset " + k);
  return out;
}

std::string plan_to_text(const Plan& p) {
  std::string out;
  out += "image:       " + p.image + " (" + mode_name(p.root_mode) +
         (p.root_mode == RootMode::Overlay ? ", tmpfs size " + p.overlay_size : "") + ")\n";
  if (!p.config.metadata_path.empty()) out += "metadata:    " + p.config.metadata_path + "\n";
  if (!p.config.import.source.empty())
    out += "source:      " + p.config.import.source + " (" + p.config.import.format + ", " + p.config.import.digest +
           ")\n";
  out += "namespaces:  user, mount\n";
  out += "uid map:     " + std::to_string(p.ids.inside_uid) + " (container) -> " + std::to_string(p.ids.outside_uid) +
         " (host)\n";
  out += "gid map:     " + std::to_string(p.ids.inside_gid) + " (container) -> " + std::to_string(p.ids.outside_gid) +
         " (host), setgroups deny\n";
  out += "mounts:\n";
  out += "  bind   " + p.image + " -> / [" + (p.root_mode == RootMode::ReadOnly ? "ro,rec" : "rw,rec") + "]\n";
  if (!p.skeleton.empty()) {
    out += "  overlay read-only layer adding mount points the image lacks:";
    for (const auto& point : p.skeleton) out += " " + point.path;
    out += "\n";
  }
  for (const auto& m : p.mounts) {
    std::string flags;
    for (const auto& f : mount_flags(m)) flags += (flags.empty() ? "" : ",") + f;
    std::string src = m.kind == Mount::Kind::Tmpfs ? "tmpfs" : m.source;
    out += std::string("  ") + kind_name(m.kind) + std::string(7 - std::strlen(kind_name(m.kind)), ' ') + src + " -> " +
           m.target + " [" + flags + "]  (" + m.origin + ")\n";
  }
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> unset;
  env_changes(p, set, unset);
  out += "environment: host environment, then:\n";
  for (const auto& [k, v] : set) out += "  set   " + k + "=" + v + "\n";
  for (const auto& k : unset) out += "  unset " + k + "\n";
  if (!p.profile_files.empty()) {
    out += "profile:    ";
    for (const auto& f : p.profile_files) out += " " + f;
    out += "\n";
  }
  for (const auto& n : p.notes) out += "  " + n + "\n";
  out += "cwd:         " + p.cwd + "\n";
  out += "command:     " + quoted_argv(p.argv) + "\n";
  return out;
}

std::string plan_to_json(const Plan& p) {
  json mounts = json::array();
  mounts.push_back({{"type", "bind"},
                    {"source", p.image},
                    {"target", "/"},
                    {"options", p.root_mode == RootMode::ReadOnly ? json{"ro", "rec"} : json{"rw", "rec"}},
                    {"origin", "image"}});
  for (const auto& m : p.mounts) {
    json j = {{"type", kind_name(m.kind)}, {"target", m.target}, {"options", mount_flags(m)}, {"origin", m.origin}};
    if (m.kind == Mount::Kind::Bind) j["source"] = m.source;
    if (m.kind == Mount::Kind::Symlink) j["link_to"] = m.source;
    if (m.kind == Mount::Kind::File) j["content"] = m.content;
    mounts.push_back(std::move(j));
  }
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> unset;
  env_changes(p, set, unset);
  json env_set = json::object();
  for (const auto& [k, v] : set) env_set[k] = v;
  json doc = {
      {"image",
       {{"path", p.image},
        {"mode", mode_name(p.root_mode)},
        {"metadata", p.config.metadata_path},
        {"source", p.config.import.source},
        {"digest", p.config.import.digest}}},
      {"namespaces", {"user", "mount"}},
      {"uid_map", {{"inside", p.ids.inside_uid}, {"outside", p.ids.outside_uid}}},
      {"gid_map", {{"inside", p.ids.inside_gid}, {"outside", p.ids.outside_gid}}},
      {"setgroups", "deny"},
      {"mounts", mounts},
      {"environment", {{"set", env_set}, {"unset", unset}, {"final", p.env.to_strings()}}},
      {"cwd", p.cwd},
      {"argv", p.argv},
  };
  if (p.root_mode == RootMode::Overlay) doc["image"]["overlay_size"] = p.overlay_size;
  json skeleton = json::array();
  for (const auto& point : p.skeleton) skeleton.push_back({{"path", point.path}, {"file", point.file}});
  doc["image"]["mount_points_added"] = skeleton;
  doc["profile"] = {{"files", p.profile_files}, {"notes", p.notes}};
  return doc.dump(2) + "\n";
}

}  // namespace hpai
