#include "hpai/site/profile_report.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/site/ld_cache.hpp"
#include "hpai/site/mpi.hpp"
#include "hpai/site/nvidia.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

using nlohmann::json;

namespace {

void report(Diagnostics& d, bool error, const SourcePos& where, const std::string& msg) {
  d.push_back({error ? ProfileDiagnostic::Severity::Error : ProfileDiagnostic::Severity::Warning, where, msg});
}

void check_binds(const std::vector<ProfileBind>& binds, const char* what, Diagnostics& d) {
  for (const auto& b : binds) {
    if (path_exists(b.source)) continue;
    report(d, b.required, b.origin,
           std::string(what) + " " + b.source + ": no such file or directory on this host" +
               (b.required ? " (mark it \"required\": false if some nodes lack it)" : "; it will be skipped"));
  }
}

void check_library(const HostPath& lib, const char* what, Diagnostics& d) {
  if (!path_exists(lib.path)) {
    report(d, true, lib.origin, std::string(what) + " " + lib.path + ": no such file on this host");
    return;
  }
  auto name = parse_library_name(lib.path.substr(lib.path.rfind('/') + 1));
  if (!name) report(d, true, lib.origin, std::string(what) + " " + lib.path + ": not a shared library name (lib*.so*)");
}

json binds_json(const std::vector<ProfileBind>& binds) {
  json a = json::array();
  for (const auto& b : binds)
    a.push_back({{"source", b.source}, {"target", b.target}, {"required", b.required}, {"read_only", b.read_only}});
  return a;
}

json devices_json(const std::vector<ProfileBind>& devices) {
  json a = json::array();
  for (const auto& d : devices) a.push_back({{"path", d.source}, {"required", d.required}});
  return a;
}

json paths_json(const std::vector<HostPath>& paths) {
  json a = json::array();
  for (const auto& p : paths) a.push_back(p.path);
  return a;
}

json env_json(const std::vector<EnvChange>& env) {
  // Extended profiles can list one name twice; the JSON keeps the last, as applied.
  json j = json::object();
  for (const auto& c : env) {
    switch (c.kind) {
      case EnvChange::Kind::Unset: j["unset"].push_back(c.name); break;
      case EnvChange::Kind::Set: j["set"][c.name] = c.value; break;
      case EnvChange::Kind::Prepend: j["prepend"][c.name] = c.value; break;
      case EnvChange::Kind::Append: j["append"][c.name] = c.value; break;
    }
  }
  return j;
}

}  // namespace

void check_profile_host(const Profile& p, Diagnostics& d) {
  check_binds(p.binds, "bind source", d);
  check_binds(p.devices, "device", d);
  if (p.mpi && p.mpi->enabled.value_or(true)) {
    const ProfileMpi& m = *p.mpi;
    if (!m.libraries && !m.prefix)
      report(d, true, m.origin, "mpi needs \"libraries\" or \"prefix\" (where the host MPI is)");
    if (m.libraries)
      for (const auto& l : *m.libraries) check_library(l, "MPI library", d);
    if (m.prefix) {
      struct stat st {};
      if (stat(m.prefix->path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        report(d, true, m.prefix->origin, "MPI prefix " + m.prefix->path + ": no such directory on this host");
    }
    if (m.dependencies)
      for (const auto& l : *m.dependencies) check_library(l, "MPI dependency", d);
    if (m.family && m.libraries) {
      std::vector<std::string> paths;
      for (const auto& l : *m.libraries) paths.push_back(l.path);
      if (auto wrong = family_contradiction(*m.family, paths); !wrong.empty()) report(d, true, m.origin, wrong);
    }
    check_binds(m.binds, "MPI bind source", d);
  }
  if (p.nvidia && p.nvidia->enabled.value_or(GpuMode::Auto) != GpuMode::Off) {
    const ProfileNvidia& n = *p.nvidia;
    NvidiaSearch search;
    if (n.ld_cache) search.ld_cache = n.ld_cache->path;
    if (n.capabilities) search.capabilities = *n.capabilities;
    const SourcePos where = n.ld_cache ? n.ld_cache->origin : n.origin;
    try {
      if (!discover_nvidia_driver(search)) {
        bool required = n.enabled == GpuMode::On;
        report(d, required, where,
               "no NVIDIA driver libraries in " + search.ld_cache +
                   (required ? " but nvidia.enabled is true" : "; GPU support will be off on this host"));
      }
    } catch (const Error& e) {
      report(d, true, where, e.what());
    }
    for (const auto& l : n.libraries) check_library(l, "NVIDIA library", d);
    for (const auto& b : n.binaries)
      if (access(b.path.c_str(), X_OK) != 0)
        report(d, true, b.origin, "NVIDIA binary " + b.path + ": not an executable on this host");
    check_binds(n.devices, "device", d);
  }
}

json profile_to_json(const Profile& p) {
  json j = {{"hpai_profile", kProfileSchemaVersion}, {"name", p.name}};
  if (!p.description.empty()) j["description"] = p.description;
  if (!p.binds.empty()) j["binds"] = binds_json(p.binds);
  if (!p.devices.empty()) j["devices"] = devices_json(p.devices);
  if (!p.env.empty()) j["env"] = env_json(p.env);
  if (p.mpi) {
    const ProfileMpi& m = *p.mpi;
    json mj = json::object();
    if (m.enabled) mj["enabled"] = *m.enabled;
    if (m.family) mj["family"] = to_string(*m.family);
    if (m.compat) mj["compat"] = to_string(*m.compat);
    if (m.libraries) mj["libraries"] = paths_json(*m.libraries);
    if (m.prefix) mj["prefix"] = m.prefix->path;
    if (m.dependencies) mj["dependencies"] = paths_json(*m.dependencies);
    if (!m.binds.empty()) mj["binds"] = binds_json(m.binds);
    if (!m.env.empty()) mj["env"] = env_json(m.env);
    j["mpi"] = mj;
  }
  if (p.nvidia) {
    const ProfileNvidia& n = *p.nvidia;
    json nj = json::object();
    if (n.enabled) nj["enabled"] = *n.enabled == GpuMode::Auto ? json("auto") : json(*n.enabled == GpuMode::On);
    if (n.capabilities) nj["capabilities"] = *n.capabilities;
    if (n.ld_cache) nj["ld_cache"] = n.ld_cache->path;
    if (!n.libraries.empty()) nj["libraries"] = paths_json(n.libraries);
    if (!n.binaries.empty()) nj["binaries"] = paths_json(n.binaries);
    if (!n.devices.empty()) nj["devices"] = devices_json(n.devices);
    j["nvidia"] = nj;
  }
  json lj = json::object();
  if (p.launcher.torch_env) lj["torch_env"] = *p.launcher.torch_env;
  if (p.launcher.gpu_per_rank) lj["gpu_per_rank"] = *p.launcher.gpu_per_rank;
  if (!lj.empty()) j["launcher"] = lj;
  return j;
}

namespace {

json diagnostics_json(const Diagnostics& diags) {
  json a = json::array();
  for (const auto& d : diags)
    a.push_back({{"severity", d.severity == ProfileDiagnostic::Severity::Error ? "error" : "warning"},
                 {"file", d.where.file},
                 {"line", d.where.line},
                 {"column", d.where.column},
                 {"message", d.message}});
  return a;
}

}  // namespace

ProfileCheck check_profile_named(const std::string& name, const std::vector<std::string>& search, bool schema_only) {
  ProfileCheck c{name, {}};
  std::string path;
  try {
    path = find_profile(name, search);
    c.profile = path;
    Profile p = read_profile(path, search, c.diags);
    if (!schema_only && !has_errors(c.diags)) check_profile_host(p, c.diags);
  } catch (const JsonSyntaxError& e) {  // FILE:LINE:COL: error: ..., as editors read it
    c.diags.push_back({ProfileDiagnostic::Severity::Error, e.pos(), e.message()});
  } catch (const Error& e) {  // unreadable
    c.diags.push_back({ProfileDiagnostic::Severity::Error, SourcePos{path.empty() ? name : path}, e.what()});
  }
  return c;
}

std::string profile_check_line(const ProfileCheck& c) {
  return c.profile + ": " + (has_errors(c.diags) ? "INVALID" : c.diags.empty() ? "ok" : "ok (with warnings)") + "\n";
}

std::string profile_checks_json(const std::vector<ProfileCheck>& checks) {
  json all = json::array();
  for (const auto& c : checks)
    all.push_back(
        {{"profile", c.profile}, {"valid", !has_errors(c.diags)}, {"diagnostics", diagnostics_json(c.diags)}});
  return all.dump(2) + "\n";
}

std::string profile_show_json(const Profile& p) {
  json j = profile_to_json(p);
  j["files"] = p.files;
  return j.dump(2) + "\n";
}

std::string profile_listing(const std::vector<std::string>& search) {
  std::vector<std::string> dirs = search;
  dirs.push_back(recipe_profile_dir());  // listed last: recipes, active only when named
  std::string out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      out += dir + ": (none)\n";
      continue;
    }
    out += dir + ":" + (dir == recipe_profile_dir() ? " (recipes: used when named, e.g. --profile NAME)" : "") + "\n";
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      Diagnostics diags;
      std::string desc;
      try {
        desc = read_profile(f, search, diags).description;
      } catch (const Error&) {
        desc = "(unreadable)";
      }
      std::string stem = std::filesystem::path(f).stem().string();
      stem.resize(std::max<std::size_t>(stem.size(), 20), ' ');
      out += "  " + stem + " " + (has_errors(diags) ? "(INVALID) " : "") + desc + "\n";
    }
  }
  return out;
}

}  // namespace hpai
