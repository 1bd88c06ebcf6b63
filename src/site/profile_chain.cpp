// Where profiles are found (by name on $HPAI_PROFILE_PATH, the system directory, the
// recipes installed with hpai) and where a profile's "extends" chain is read and merged.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/host_fs.hpp"
#include "hpai/base/path_text.hpp"
#include "hpai/base/trust.hpp"
#include "hpai/site/profile.hpp"
#include "hpai/site/profile_file.hpp"

#ifndef HPAI_SYSTEM_PROFILE_DIR
#define HPAI_SYSTEM_PROFILE_DIR "/etc/hpai/profiles"
#endif

namespace hpai {

namespace {

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}
template <typename T>
void override_with(std::optional<T>& to, const std::optional<T>& from) {
  if (from) to = from;
}
// A section the child has: taken whole where the base has none, else merged by MERGE.
template <typename T, typename Merge>
void merge_section(std::optional<T>& base, const std::optional<T>& child, Merge merge) {
  if (!child) return;
  if (!base)
    base = child;
  else
    merge(*base, *child);
}

// CHILD extends BASE: lists add up, single settings of the child win.
void merge_into(Profile& base, const Profile& child) {
  base.name = child.name;
  append(base.files, child.files);
  if (!child.description.empty()) base.description = child.description;
  append(base.binds, child.binds);
  append(base.devices, child.devices);
  append(base.env, child.env);
  merge_section(base.mpi, child.mpi, [](ProfileMpi& m, const ProfileMpi& c) {
    override_with(m.enabled, c.enabled);
    override_with(m.family, c.family);
    override_with(m.compat, c.compat);
    override_with(m.libraries, c.libraries);
    override_with(m.prefix, c.prefix);
    override_with(m.dependencies, c.dependencies);
    append(m.binds, c.binds);
    append(m.env, c.env);
    m.origin = c.origin;
  });
  override_with(base.launcher.torch_env, child.launcher.torch_env);
  override_with(base.launcher.gpu_per_rank, child.launcher.gpu_per_rank);
  merge_section(base.nvidia, child.nvidia, [](ProfileNvidia& n, const ProfileNvidia& c) {
    override_with(n.enabled, c.enabled);
    override_with(n.capabilities, c.capabilities);
    override_with(n.ld_cache, c.ld_cache);
    append(n.libraries, c.libraries);
    append(n.binaries, c.binaries);
    append(n.devices, c.devices);
    n.origin = c.origin;
  });
}

std::string canonical(const std::string& path) { return real_path(path).value_or(path); }

constexpr int kMaxExtendsDepth = 16;

// What one profile resolution has seen: the files on the current extends path (a cycle
// if one comes again) and those merged already (a base reached twice, as in a diamond
// or a fan-out, is merged once: its lists would otherwise add up exponentially).
struct ChainState {
  std::vector<std::string> stack;
  std::vector<std::string> merged;
};

Profile read_chain(const std::string& path, const std::vector<std::string>& search_path, Diagnostics& diags,
                   ChainState& state) {
  require_trusted_file(path, "profile " + path);
  JsonSource src = JsonSource::load(path, kMaxProfile);
  ProfileFile f = parse_profile_file(src, diags);
  state.stack.push_back(canonical(path));
  Profile merged;
  bool have_base = false;
  const std::string here = std::filesystem::path(path).parent_path().string();
  for (auto [name, pos] : f.extends) {
    // A relative path means beside the extending file, as a name is looked up there
    // first, then on the search path.
    if (name.find('/') != std::string::npos && name.front() != '/') name = (here.empty() ? "." : here) + "/" + name;
    std::vector<std::string> dirs = {here.empty() ? "." : here};
    append(dirs, search_path);
    std::string base_path;
    try {
      base_path = find_profile(name, dirs);
    } catch (const Error& e) {
      diags.push_back({ProfileDiagnostic::Severity::Error, pos, e.what()});
      continue;
    }
    const std::string base_canonical = canonical(base_path);
    if (std::find(state.stack.begin(), state.stack.end(), base_canonical) != state.stack.end()) {
      diags.push_back(
          {ProfileDiagnostic::Severity::Error, pos, "\"extends\": " + name + " makes a cycle (" + base_path + ")"});
      continue;
    }
    if (std::find(state.merged.begin(), state.merged.end(), base_canonical) != state.merged.end()) continue;
    if (static_cast<int>(state.stack.size()) >= kMaxExtendsDepth) {
      diags.push_back({ProfileDiagnostic::Severity::Error, pos,
                       "\"extends\" nests deeper than " + std::to_string(kMaxExtendsDepth)});
      continue;
    }
    Profile base = read_chain(base_path, search_path, diags, state);
    if (have_base)
      merge_into(merged, base);
    else
      merged = base;
    have_base = true;
  }
  state.stack.pop_back();
  state.merged.push_back(canonical(path));
  if (!have_base) return f.own;
  merge_into(merged, f.own);
  return merged;
}

}  // namespace

std::string system_profile_dir() { return HPAI_SYSTEM_PROFILE_DIR; }

std::string installed_data_dir() {
  // Beside the binaries (BINDIR/../share/hpai), wherever the tree was installed to.
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<std::size_t>(n));
  std::string bin = exe.substr(0, exe.rfind('/'));
  return bin.substr(0, bin.rfind('/')) + "/share/hpai";
}

std::string recipe_profile_dir() { return installed_data_dir() + "/profiles"; }

std::vector<std::string> profile_search_path(const Environment& env) {
  std::vector<std::string> dirs = split_list(env.get("HPAI_PROFILE_PATH").value_or(""), ':');
  dirs.push_back(HPAI_SYSTEM_PROFILE_DIR);
  return dirs;
}

std::string find_profile(const std::string& name_or_path, const std::vector<std::string>& search_path) {
  if (name_or_path.empty()) throw Error("empty profile name", kExitUsage);
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".json")) {
    if (!path_exists(name_or_path)) throw Error("profile " + name_or_path + ": no such file");
    return name_or_path;
  }
  for (const auto& dir : search_path) {
    std::string p = dir + "/" + name_or_path + ".json";
    if (path_exists(p)) return p;
  }
  // Last, the recipes installed with hpai (never a site default: see find_default_profile).
  if (std::string p = recipe_profile_dir() + "/" + name_or_path + ".json"; path_exists(p)) return p;
  std::string dirs;
  for (const auto& d : search_path) dirs += (dirs.empty() ? "" : ", ") + d;
  throw Error("no profile named " + name_or_path + " in " + dirs + " or the recipes in " + recipe_profile_dir() +
              " (set $HPAI_PROFILE_PATH, or give the profile's path)");
}

std::optional<std::string> find_default_profile(const std::vector<std::string>& search_path) {
  for (const auto& dir : search_path) {
    std::string p = dir + "/default.json";
    if (path_exists(p)) return p;
  }
  return std::nullopt;
}

Profile read_profile(const std::string& path, const std::vector<std::string>& search_path, Diagnostics& diags) {
  ChainState state;
  return read_chain(path, search_path, diags, state);
}

Profile load_profile(const std::string& path, const std::vector<std::string>& search_path) {
  Diagnostics diags;
  Profile p = read_profile(path, search_path, diags);
  if (!has_errors(diags)) return p;
  std::string msg = "profile " + path + " has errors (hpai-profile check " + path + " lists them):";
  for (const auto& d : diags)
    if (d.severity == ProfileDiagnostic::Severity::Error) msg += "\n  " + d.str();
  throw Error(msg);
}

}  // namespace hpai
